//! The browser API (WebAssembly): the only `#[wasm_bindgen]` code in the crate, thin over the
//! core.
//!
//! A [`Session`] holds one zoo model on one device: WebGPU (burn-wgpu) where the browser has an
//! adapter, else the single-threaded CPU backend (`flex`); [`Session::backend`] says which.
//! Images cross as encoded PNG/JPEG bytes (`Uint8Array`) and are decoded and resized here with
//! the core's Pillow-exact bilinear filter, so the page computes what the CLI computes. Options
//! are the core's specs ([`crate::attack::AttackSpec`], [`crate::scaling::ScalingSpec`]) read
//! through JSON; results are the core's report types serialised with serde-wasm-bindgen
//! (pixels as `Uint8Array`). Every long call takes an optional `progress` callback (return
//! `false` from it to cancel) and stops at the next step after [`Session::cancel`]; failures
//! reject with a `JsError` whose message quotes the bad value.
//!
//! Tensors are only read with burn's async API (`into_data_async`): blocking reads are not
//! possible on wasm.

mod attack;
mod calibrate;
mod catalog;
mod convert;
mod pool;
mod progress;
mod scaling;
mod segment;
mod session;
mod universal;
mod warm_up;

pub use calibrate::probe_adapter_js;
pub use catalog::{list_attacks, list_scalers, resize_map};
pub use pool::attack_split;
pub use session::{Session, register_onnx};
pub use universal::read_delta_png;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::model::zoo;
use convert::{js_err, to_js};

/// Route Rust panics to the browser console (a panic aborts the wasm instance; the message is
/// what the page's worker reports).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&JsValue::from_str(&format!("advseg panicked: {info}")));
    }));
}

/// One model of the zoo as the page lists it.
#[derive(Serialize)]
struct ModelEntry {
    name: &'static str,
    title: &'static str,
    dataset: crate::data::Dataset,
    file: &'static str,
}

/// The names, titles and datasets of the zoo's models, as `[{name, title, dataset, file}]`.
#[wasm_bindgen(js_name = listModels)]
pub fn list_models() -> std::result::Result<JsValue, JsError> {
    let list: Vec<ModelEntry> = zoo::MODELS
        .iter()
        .map(|m| ModelEntry { name: m.name, title: m.title, dataset: m.dataset, file: m.weights_file })
        .collect();
    to_js(&list).map_err(js_err)
}
