//! `Session.segment`: class maps of encoded images.

use js_sys::{Array, Function, Promise};
use serde::Serialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;

use super::convert::{decode_all, map_bytes, rgb_bytes, to_js};
use super::progress::{check_cancel, promise, report_stage};
use super::session::{Busy, Session};
use crate::image::to_tensor01;
use crate::model::predict_batched;

/// What `segment` resolves to.
#[derive(Serialize)]
struct Segmented {
    width: usize,
    height: usize,
    /// The resized images, RGB.
    images: Vec<ByteBuf>,
    /// Their class maps.
    maps: Vec<ByteBuf>,
    seconds: f64,
}

#[wasm_bindgen]
impl Session {
    /// Segment encoded images (`Uint8Array` PNG/JPEG each), resized to `width × height`.
    /// Resolves to `{width, height, images: [Uint8Array RGB], maps: [Uint8Array classes],
    /// seconds}`.
    pub fn segment(&self, images: Array, width: u32, height: u32, progress: Option<Function>) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "segment")?;
            let (w, h) = (width as usize, height as usize);
            let t0 = js_sys::Date::now();
            report_stage(&progress, "decoding", 0.0)?;
            let imgs = decode_all(inner.spec, &images, w, h)?;
            check_cancel(&inner)?;
            report_stage(&progress, "segmenting", 0.3)?;
            let x: Vec<_> = imgs.iter().map(to_tensor01).collect();
            let maps = predict_batched(&inner.model, &x, x.len(), &inner.model.device()).await?;
            report_stage(&progress, "done", 1.0)?;
            to_js(&Segmented {
                width: w,
                height: h,
                images: rgb_bytes(&imgs),
                maps: map_bytes(&maps),
                seconds: (js_sys::Date::now() - t0) / 1000.0,
            })
        })
    }
}
