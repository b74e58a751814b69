//! `Session.warmUp`: compile the attack's kernels for a working size before the user runs it.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::progress::promise;
use super::session::{Busy, Session};
use crate::attack::{AttackSpec, warm_up};

#[wasm_bindgen]
impl Session {
    /// Run one step of the default attack on a mid-grey `batch × width × height` input and
    /// discard it (see [`crate::attack::warm_up()`]): on WebGPU every kernel is compiled on its
    /// first run for a shape, so the page calls this after segmenting, and the user's first
    /// attack step then costs what the later ones do. Resolves to the seconds it took.
    #[wasm_bindgen(js_name = warmUp)]
    pub fn warm_up(&self, batch: u32, width: u32, height: u32) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "warm-up")?;
            let t0 = js_sys::Date::now();
            let device = inner.model.device();
            let kind = AttackSpec::default().kind;
            warm_up(&inner.model, &device, kind, batch as usize, width as usize, height as usize).await?;
            Ok(JsValue::from_f64((js_sys::Date::now() - t0) / 1000.0))
        })
    }
}
