//! Promises, progress callbacks and cancellation at the wasm boundary.

use js_sys::{Function, Promise};
use serde::Serialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{js_err, map_bytes, to_js};
use super::session::Inner;
use crate::attack::{Control, Progress};
use crate::error::{Error, Result};

/// `future_to_promise` for a future whose errors are the crate's.
pub(crate) fn promise<F>(fut: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { fut.await.map_err(|e| JsValue::from(js_err(e))) })
}

pub(crate) fn check_cancel(inner: &Inner) -> Result<()> {
    if inner.cancel.get() { Err(Error::Cancelled) } else { Ok(()) }
}

/// Call `progress` (if any) with `value`; `false` from it, or a throw, cancels.
fn call_progress(progress: &Option<Function>, value: &JsValue) -> Control {
    match progress {
        None => Control::Continue,
        Some(f) => match f.call1(&JsValue::NULL, value) {
            Ok(v) if v.as_bool() == Some(false) => Control::Cancel,
            Ok(_) => Control::Continue,
            Err(_) => Control::Cancel,
        },
    }
}

#[derive(Serialize)]
struct Stage<'a> {
    stage: &'a str,
    fraction: f64,
}

pub(crate) fn report_stage(progress: &Option<Function>, stage: &str, fraction: f64) -> Result<()> {
    match call_progress(progress, &to_js(&Stage { stage, fraction })?) {
        Control::Cancel => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

/// One iterate as the page's chart sees it.
#[derive(Serialize)]
struct Step<'a> {
    stage: &'static str,
    fraction: f64,
    step: usize,
    steps: usize,
    loss: f64,
    agreement: f64,
    agreements: &'a [f64],
    miou: f64,
    targeted: bool,
    time: f64,
    /// Per image, the class map of this iterate (`Uint8Array`s): the batch grid draws them live.
    maps: Vec<ByteBuf>,
}

/// The PGD observer: forwards each iterate to `progress`, cancels on request.
pub(crate) fn observe(inner: &Inner, progress: &Option<Function>, p: &Progress) -> Control {
    let step = Step {
        stage: "attack",
        fraction: p.step as f64 / p.steps.max(1) as f64,
        step: p.step,
        steps: p.steps,
        loss: p.loss,
        agreement: p.mean_agreement,
        agreements: &p.agreement,
        miou: p.miou,
        targeted: p.targeted,
        time: js_sys::Date::now(),
        maps: map_bytes(&p.maps),
    };
    let value = match to_js(&step) {
        Ok(v) => v,
        Err(e) => {
            // cannot happen for this plain struct; say so rather than report a silent null
            web_sys::console::error_1(&JsValue::from_str(&format!("advseg: progress not sent: {e}")));
            return Control::Cancel;
        }
    };
    if inner.cancel.get() || call_progress(progress, &value) == Control::Cancel {
        Control::Cancel
    } else {
        Control::Continue
    }
}
