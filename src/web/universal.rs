//! `Session.universal`, `Session.segmentFrame`, `readDeltaPng`: universal perturbations in the
//! page — crafted on the batch with the core's [`run_universal`] (progress and cancel as the
//! attack), added to camera frames, saved and loaded as the CLI's `delta.png`.

use js_sys::{Array, Float32Array, Function, Promise, Uint8Array};
use serde::Serialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;

use super::convert::{decode_all, js_err, map_bytes, to_js, to_json};
use super::progress::{observe, promise, report_stage};
use super::session::{Busy, Session};
use crate::attack::{BatchImage, Progress, UniversalDelta, UniversalReport, UniversalSpec, run_universal};
use crate::error::{Error, Result};
use crate::image::RgbImage01;
use crate::model::predict_batched;

/// What `universal` resolves to (`delta` is added as a `Float32Array`).
#[derive(Serialize)]
struct Crafted<'a> {
    report: &'a UniversalReport,
    width: usize,
    height: usize,
    eps: f64,
    /// `delta.png` (the CLI's file).
    png: ByteBuf,
}

/// What `segmentFrame` resolves to.
#[derive(Serialize)]
struct Frame {
    width: usize,
    height: usize,
    /// The clean frame's class map.
    clean: ByteBuf,
    /// With a perturbation: the perturbed frame (RGB) and its class map.
    attacked_rgb: Option<ByteBuf>,
    attacked: Option<ByteBuf>,
    seconds: f64,
}

/// `{width, height, eps, delta: Float32Array}` of a perturbation.
fn delta_js(d: &UniversalDelta) -> Result<JsValue> {
    #[derive(Serialize)]
    struct Head {
        width: usize,
        height: usize,
        eps: f64,
    }
    let v = to_js(&Head { width: d.width, height: d.height, eps: d.eps })?;
    set(&v, "delta", &Float32Array::from(d.data.as_slice()).into())?;
    Ok(v)
}

fn set(target: &JsValue, key: &str, value: &JsValue) -> Result<()> {
    js_sys::Reflect::set(target, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| Error::Backend(format!("cannot set '{key}' on a result: {e:?}")))
}

/// A perturbation from the page: `3·w·h` planar values of radius `eps`.
fn delta_of(delta: &Float32Array, w: usize, h: usize, eps: f64) -> Result<UniversalDelta> {
    let data = delta.to_vec();
    if data.len() != 3 * w * h {
        return Err(Error::Shape(format!("the perturbation has {} values, a {w}×{h} frame needs {}", data.len(), 3 * w * h)));
    }
    if !(eps.is_finite() && eps > 0.0 && eps <= 1.0) {
        return Err(Error::InvalidArgument(format!("eps must lie in (0, 1], got {eps}")));
    }
    if let Some(v) = data.iter().find(|v| !(f64::from(v.abs()) <= eps + 1e-6)) {
        return Err(Error::InvalidArgument(format!("the perturbation has a value {v} beyond ±eps = {eps}")));
    }
    Ok(UniversalDelta { width: w, height: h, eps, data })
}

/// Planar `[0, 1]` RGB from interleaved RGBA (canvas `getImageData`) or RGB bytes.
fn frame01(bytes: &[u8], w: usize, h: usize) -> Result<RgbImage01> {
    let channels = match bytes.len() {
        n if n == 4 * w * h => 4,
        n if n == 3 * w * h => 3,
        n => return Err(Error::Shape(format!("a {w}×{h} frame needs {} (RGBA) or {} (RGB) bytes, got {n}", 4 * w * h, 3 * w * h))),
    };
    let plane = w * h;
    let mut data = vec![0f32; 3 * plane];
    for (i, px) in bytes.chunks_exact(channels).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = f32::from(px[c]) / 255.0;
        }
    }
    RgbImage01::new(w, h, data)
}

fn batch_of(spec: &'static crate::model::zoo::ModelSpec, images: &Array, w: usize, h: usize, what: &str) -> Result<Vec<BatchImage>> {
    Ok(decode_all(spec, images, w, h)?
        .into_iter()
        .enumerate()
        .map(|(i, image)| BatchImage { name: format!("{what} {}", i + 1), input: None, image, ground_truth: None })
        .collect())
}

#[wasm_bindgen]
impl Session {
    /// Craft one universal perturbation on `images` (encoded, resized to `width × height`) for
    /// `options` (a universal spec: `{goal: "untargeted" | "hide-class", class, background,
    /// eps: "8/255", steps, step_size, loss, batch_size, seed}`), then score it on `images`
    /// and `heldOut` (may be empty). Progress as `attack` (return `false` to cancel). Resolves
    /// to `{report, width, height, eps, png, delta: Float32Array}` (planar RGB, `3·w·h`).
    pub fn universal(
        &self,
        images: Array,
        held_out: Option<Array>,
        width: u32,
        height: u32,
        options: JsValue,
        progress: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "universal")?;
            let (w, h) = (width as usize, height as usize);
            let spec = UniversalSpec::from_json_value(to_json(options)?)?;
            let t0 = js_sys::Date::now();
            report_stage(&progress, "decoding", 0.0)?;
            let crafting = batch_of(inner.spec, &images, w, h, "image")?;
            let held = match held_out.filter(|a| a.length() > 0) {
                Some(a) => batch_of(inner.spec, &a, w, h, "held-out image")?,
                None => Vec::new(),
            };
            let mut observer = |p: &Progress| observe(&inner, &progress, p);
            let device = inner.model.device();
            let (mut report, delta) =
                run_universal(&inner.model, inner.spec, &spec, &crafting, &held, None, &device, Some(&mut observer)).await?;
            report_stage(&progress, "done", 1.0)?;
            report.backend = inner.backend.clone();
            report.seconds = (js_sys::Date::now() - t0) / 1000.0;
            let v = to_js(&Crafted { report: &report, width: w, height: h, eps: delta.eps, png: ByteBuf::from(delta.to_png()?) })?;
            set(&v, "delta", &Float32Array::from(delta.data.as_slice()).into())?;
            Ok(v)
        })
    }

    /// Segment one frame already at the working size `width × height` (`rgba`: canvas
    /// `getImageData` bytes, or RGB), and with `delta` (planar, `3·w·h` values within ±`eps`)
    /// the frame plus `delta` (clamped to [0, 1]) in the same forward pass. Resolves to
    /// `{width, height, clean, attacked_rgb, attacked, seconds}` (maps: class per pixel).
    #[wasm_bindgen(js_name = segmentFrame)]
    pub fn segment_frame(&self, rgba: Uint8Array, width: u32, height: u32, delta: Option<Float32Array>, eps: Option<f64>) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "segment frame")?;
            let (w, h) = (width as usize, height as usize);
            inner.spec.check_size(w, h)?;
            let t0 = js_sys::Date::now();
            let x = frame01(&rgba.to_vec(), w, h)?;
            let mut batch = vec![x.clone()];
            if let Some(d) = &delta {
                batch.push(delta_of(d, w, h, eps.unwrap_or(1.0))?.apply(&x)?);
            }
            let maps = predict_batched(&inner.model, &batch, 2, &inner.model.device()).await?;
            let mut maps = map_bytes(&maps).into_iter();
            let clean = maps.next().ok_or_else(|| Error::Backend("no clean map".into()))?;
            let attacked_rgb = match batch.get(1) {
                Some(a) => Some(ByteBuf::from(crate::image::from_tensor01(a)?.into_raw())),
                None => None,
            };
            to_js(&Frame { width: w, height: h, clean, attacked_rgb, attacked: maps.next(), seconds: (js_sys::Date::now() - t0) / 1000.0 })
        })
    }
}

/// Read a `delta.png` (written by `advseg universal` or the page): `{width, height, eps,
/// delta: Float32Array}`.
#[wasm_bindgen(js_name = readDeltaPng)]
pub fn read_delta_png(bytes: Uint8Array) -> std::result::Result<JsValue, JsError> {
    UniversalDelta::from_png(&bytes.to_vec()).and_then(|d| delta_js(&d)).map_err(js_err)
}
