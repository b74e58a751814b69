//! `Session.attack`: the core's [`run_attack`] on encoded images, with the page's options as an
//! [`AttackSpec`] (the same keys as the CLI's `--spec` file and an experiment's attacks).

use js_sys::{Array, Function, Promise, Uint8Array};
use serde::Serialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;

use super::convert::{decode_all, map_bytes, rgb_bytes, to_js, to_json};
use super::progress::{observe, promise, report_stage};
use super::pool::{PartSelector, attack_part};
use super::session::{Busy, Session};
use crate::attack::{AttackOutput, AttackReport, AttackSpec, BatchImage, GoalMaps, Progress, run_attack};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image::encode_png;
use image::RgbImage;

/// What `attack` resolves to: the report (as the CLI's `report.json`) and the pixels.
#[derive(Serialize)]
struct Attacked<'a> {
    report: &'a AttackReport,
    width: usize,
    height: usize,
    /// The resized originals, RGB.
    images: Vec<ByteBuf>,
    /// The 8-bit adversarial images, RGB.
    adversarial: Vec<ByteBuf>,
    /// The same as PNG files.
    pngs: Vec<ByteBuf>,
    clean_maps: Vec<ByteBuf>,
    adversarial_maps: Vec<ByteBuf>,
    /// The goal's reference maps (the target maps for targeted goals).
    reference_maps: Vec<ByteBuf>,
    /// With a defense: the defended model on the clean and the adversarial images.
    defended_clean_maps: Option<Vec<ByteBuf>>,
    defended_adversarial_maps: Option<Vec<ByteBuf>>,
}

/// What `attack` (and `mergeAttack`, for a batch split over workers) resolves to, from the
/// core's output: the report with the device and the seconds filled in, and the pixels.
pub(crate) fn attacked(out: AttackOutput, imgs: &[RgbImage], w: usize, h: usize, backend: &str, seconds: f64) -> Result<JsValue> {
    let mut report = out.report;
    report.backend = backend.to_string();
    report.seconds = seconds;
    let o = &out.images;
    let pngs = o.adversarial.iter().map(|i| encode_png(i).map(ByteBuf::from)).collect::<Result<Vec<_>>>()?;
    to_js(&Attacked {
        report: &report,
        width: w,
        height: h,
        images: rgb_bytes(imgs),
        adversarial: rgb_bytes(&o.adversarial),
        pngs,
        clean_maps: map_bytes(&o.clean_maps),
        adversarial_maps: map_bytes(&o.adversarial_maps),
        reference_maps: map_bytes(&o.reference_maps),
        defended_clean_maps: o.defended.as_ref().map(|(c, _)| map_bytes(c)),
        defended_adversarial_maps: o.defended.as_ref().map(|(_, a)| map_bytes(a)),
    })
}

/// The batch's images as the core takes them (`image 1`, `image 2`, … in batch order).
pub(crate) fn batch_images(imgs: &[RgbImage], first: usize) -> Vec<BatchImage> {
    imgs.iter()
        .enumerate()
        .map(|(i, im)| BatchImage { name: format!("image {}", first + i + 1), input: None, image: im.clone(), ground_truth: None })
        .collect()
}

/// The page's options as an attack spec, with the browser's limits checked.
pub(crate) fn browser_spec(options: JsValue) -> Result<AttackSpec> {
    let spec = AttackSpec::from_json_value(to_json(options)?)?;
    if spec.target_map.is_some() || spec.mask.is_some() {
        return Err(Error::InvalidArgument(
            "target_map and mask name files: in the browser paint the target map instead".into(),
        ));
    }
    if let Some(d) = spec.defense.as_ref().filter(|d| d.adaptive && !d.reconstruct.is_empty()) {
        return Err(Error::InvalidArgument(format!(
            "the adaptive attack through '{}' (BPDA) runs in the native CLI (advseg attack --adaptive, \
             advseg eval --experiment); in the browser the adaptive attack covers multi-scale inference only",
            d.reconstruct.join(",")
        )));
    }
    Ok(spec)
}

/// A painted map of `w × h` class indices (255 = unpainted).
pub(crate) fn painted(map: Option<Uint8Array>, w: usize, h: usize) -> Result<Option<ClassMap>> {
    let Some(m) = map else { return Ok(None) };
    let data = m.to_vec();
    if data.len() != w * h {
        return Err(Error::Shape(format!(
            "the painted map has {} pixels but the working size {w}×{h} has {}",
            data.len(),
            w * h
        )));
    }
    Ok(Some(ClassMap { width: w, height: h, data }))
}

#[wasm_bindgen]
impl Session {
    /// An attack on a batch of encoded images resized to `width × height`. `options` is an
    /// attack spec (all keys optional): `{goal: "untargeted" | "targeted-image" |
    /// "targeted-class" | "targeted-map", target_index (1-based), target_class, keep_unpainted,
    /// eps: "8/255", steps, step_size, loss, norm, random_start, seed, defense: {reconstruct,
    /// multiscale: {scales, flip}, adaptive}}`; `targetMap` (goal `targeted-map`): `width·height`
    /// class indices, 255 = unpainted. Resolves to `{report, width, height, images, adversarial,
    /// pngs, clean_maps, adversarial_maps, reference_maps, defended_*}` (see
    /// docs/report-schema.md). With `part` (the worker pool: `{images: [first, count]}` or
    /// `{runs: [first, count]}`, see `attackSplit`) it runs only that part and resolves to an
    /// opaque part for `mergeAttack`.
    #[allow(clippy::too_many_arguments)]
    pub fn attack(
        &self,
        images: Array,
        width: u32,
        height: u32,
        options: JsValue,
        target_map: Option<Uint8Array>,
        progress: Option<Function>,
        part: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "attack")?;
            let (w, h) = (width as usize, height as usize);
            if !part.is_undefined() && !part.is_null() {
                let selector: PartSelector = serde_wasm_bindgen::from_value(part)
                    .map_err(|e| Error::InvalidArgument(format!("part must be {{images: [first, count]}} or {{runs: [first, count]}}: {e}")))?;
                return attack_part(&inner, &images, (w, h), options, target_map, selector, &progress).await;
            }
            let spec = browser_spec(options)?;
            let t0 = js_sys::Date::now();
            report_stage(&progress, "decoding", 0.0)?;
            let imgs = decode_all(inner.spec, &images, w, h)?;
            let batch = batch_images(&imgs, 0);
            let maps = GoalMaps { target_map: painted(target_map, w, h)?, mask: None };
            let mut observer = |p: &Progress| observe(&inner, &progress, p);
            let out = run_attack(&inner.model, &batch, &spec, maps, Some(&mut observer)).await?;
            report_stage(&progress, "done", 1.0)?;
            attacked(out, &imgs, w, h, &inner.backend, (js_sys::Date::now() - t0) / 1000.0)
        })
    }
}
