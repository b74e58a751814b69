//! What the page's `auto` device choice measures: which kind of WebGPU adapter the browser
//! offers (`probeAdapter`, the same classification `Session.create` applies) and the time of
//! one forward pass at a working size on a session's device (`Session.forwardSeconds`). Where
//! a hardware adapter and the CPU both exist, the page (www/calibrate.js) times one forward on
//! each and keeps the faster.

use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::convert::{js_err, to_js};
use super::progress::promise;
use super::session::{Adapter, Busy, Session, probe_adapter};
use crate::image::RgbImage01;
use crate::model::predict_batched;

/// The browser's WebGPU adapter as the device choice sees it.
#[derive(Serialize)]
struct AdapterKind {
    /// `hardware`, `software` or `missing`.
    kind: &'static str,
    /// The software adapter's description, or why there is none (empty for hardware).
    description: String,
}

/// `{kind: "hardware" | "software" | "missing", description}`: the default WebGPU adapter of
/// this scope, classified as `Session.create` classifies it (`isFallbackAdapter`, or a software
/// rasteriser's name such as SwiftShader or llvmpipe).
#[wasm_bindgen(js_name = probeAdapter)]
pub async fn probe_adapter_js() -> std::result::Result<JsValue, JsError> {
    let a = match probe_adapter().await {
        Adapter::Hardware => AdapterKind { kind: "hardware", description: String::new() },
        Adapter::Software(d) => AdapterKind { kind: "software", description: d },
        Adapter::Missing(why) => AdapterKind { kind: "missing", description: why },
    };
    to_js(&a).map_err(js_err)
}

#[wasm_bindgen]
impl Session {
    /// One forward pass of the model on a mid-grey `width × height` image, its class map read
    /// back (so a GPU has finished): resolves to the seconds it took. The first call for a size
    /// also pays WebGPU's kernel compilation; the calibration times a second one.
    #[wasm_bindgen(js_name = forwardSeconds)]
    pub fn forward_seconds(&self, width: u32, height: u32) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "calibration")?;
            let (w, h) = (width as usize, height as usize);
            inner.spec.check_size(w, h)?;
            let grey = RgbImage01::new(w, h, vec![0.5; 3 * w * h])?;
            let t0 = js_sys::Date::now();
            predict_batched(&inner.model, &[grey], 1, &inner.model.device()).await?;
            Ok(JsValue::from_f64((js_sys::Date::now() - t0) / 1000.0))
        })
    }
}
