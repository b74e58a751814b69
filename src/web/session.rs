//! [`Session`]: one zoo model on the browser's best device (WebGPU, else the CPU backend).

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::convert::{js_err, to_js, working_size};
use crate::error::{Error, Result};
use crate::model::Segmenter;
use crate::model::zoo::{self, ModelSpec};

pub(crate) struct Inner {
    pub(crate) spec: &'static ModelSpec,
    /// The model, on the autodiff device (segmentation and attacks share it).
    pub(crate) model: Segmenter,
    pub(crate) backend: String,
    webgpu: bool,
    note: String,
    pub(crate) cancel: Cell<bool>,
    busy: Cell<Option<&'static str>>,
}

/// Marks a session busy for the lifetime of one operation.
pub(crate) struct Busy<'a>(&'a Inner);

impl<'a> Busy<'a> {
    pub(crate) fn enter(inner: &'a Inner, what: &'static str) -> Result<Busy<'a>> {
        if let Some(other) = inner.busy.get() {
            return Err(Error::InvalidArgument(format!(
                "the session is busy with '{other}': cancel it or wait before starting '{what}'"
            )));
        }
        inner.busy.set(Some(what));
        inner.cancel.set(false);
        Ok(Busy(inner))
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.set(None);
    }
}

/// A loaded model on the browser's best device.
#[wasm_bindgen]
pub struct Session {
    pub(crate) inner: Rc<Inner>,
}

/// Why WebGPU cannot be used in this global scope (window or worker), or `None` when
/// `navigator.gpu` offers an adapter.
async fn webgpu_missing() -> Option<String> {
    let get = |v: &JsValue, key: &str| js_sys::Reflect::get(v, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null());
    let Some(gpu) = get(&js_sys::global(), "navigator").and_then(|n| get(&n, "gpu")) else {
        return Some("this browser has no WebGPU (navigator.gpu is missing)".into());
    };
    let request = get(&gpu, "requestAdapter").and_then(|f| f.dyn_into::<Function>().ok())?;
    let promise = request.call0(&gpu).ok()?.dyn_into::<Promise>().ok()?;
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(a) if !a.is_null() && !a.is_undefined() => None,
        _ => Some("this browser offers no WebGPU adapter (GPU disabled or blocklisted)".into()),
    }
}

/// The device for `backend` (`auto`, `webgpu` or `cpu`), its description and a note on why
/// WebGPU was not used where it was not.
async fn pick_device(backend: &str) -> Result<(Device, bool, String)> {
    let want_gpu = match backend {
        "auto" | "" => None,
        "webgpu" | "wgpu" | "gpu" => Some(true),
        "cpu" | "flex" => Some(false),
        other => {
            return Err(Error::InvalidArgument(format!("unknown backend '{other}' (expected auto, webgpu or cpu)")));
        }
    };
    if want_gpu == Some(false) {
        return Ok((crate::backend::cpu(), false, "CPU backend requested".into()));
    }
    let why = if let Some(why) = webgpu_missing().await {
        why
    } else {
        match crate::backend::webgpu().await {
            Ok(d) => return Ok((d, true, String::new())),
            Err(e) => format!("WebGPU could not be initialised: {e}"),
        }
    };
    if want_gpu == Some(true) {
        return Err(Error::Backend(why));
    }
    Ok((crate::backend::cpu(), false, why))
}

/// The model as the page sees it.
#[derive(Serialize)]
struct ModelInfo {
    name: &'static str,
    title: &'static str,
    dataset: crate::data::Dataset,
    classes: &'static [&'static str],
    palette: Vec<[u8; 3]>,
    native_width: usize,
    native_height: usize,
    size_rule: String,
}

#[wasm_bindgen]
impl Session {
    /// Load `model` (a zoo name, e.g. `espnetv2-voc`) from its weights file's bytes (checked
    /// against the manifest's sha256) on `backend`: `auto` (WebGPU where an adapter exists,
    /// else CPU), `webgpu` (fail without it) or `cpu`.
    pub async fn create(model: String, weights: Vec<u8>, backend: String) -> std::result::Result<Session, JsError> {
        let spec = zoo::spec(&model).map_err(js_err)?;
        let (device, webgpu, note) = pick_device(&backend).await.map_err(js_err)?;
        let seg = Segmenter::from_bytes(spec, &weights, &crate::backend::autodiff(&device)).map_err(js_err)?;
        let backend = if webgpu {
            format!("WebGPU: {}", crate::backend::describe(&device))
        } else {
            crate::backend::describe(&device)
        };
        Ok(Session {
            inner: Rc::new(Inner {
                spec,
                model: seg,
                backend,
                webgpu,
                note,
                cancel: Cell::new(false),
                busy: Cell::new(None),
            }),
        })
    }

    /// The device in use: `WebGPU: <adapter> [...]` or `CPU (flex)`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend.clone()
    }

    /// Whether the session runs on WebGPU.
    #[wasm_bindgen(getter)]
    pub fn webgpu(&self) -> bool {
        self.inner.webgpu
    }

    /// Why WebGPU is not in use (empty when it is).
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> String {
        self.inner.note.clone()
    }

    /// The model: `{name, title, dataset, classes: [..], palette: [[r,g,b], ..], native_width,
    /// native_height, size_rule}`.
    pub fn info(&self) -> std::result::Result<JsValue, JsError> {
        let s = self.inner.spec;
        let size_rule = match s.size_rule {
            zoo::SizeRule::Mod16 => "each side ≡ 0 or 15 (mod 16)".to_string(),
            zoo::SizeRule::Fixed(w, h) => format!("exactly {w}×{h}"),
        };
        to_js(&ModelInfo {
            name: s.name,
            title: s.title,
            dataset: s.dataset,
            classes: s.classes(),
            palette: s.palette().into_iter().take(s.num_classes()).collect(),
            native_width: s.native_size.0,
            native_height: s.native_size.1,
            size_rule,
        })
        .map_err(js_err)
    }

    /// The input size `[w, h]` the model works at for a `width × height` image: the aspect
    /// ratio kept with the longer side at most `max_side` (0: the model's native longer side),
    /// then snapped to a size the model takes (DeepLab: always 257×257).
    #[wasm_bindgen(js_name = inputSize)]
    pub fn input_size(&self, width: u32, height: u32, max_side: u32) -> std::result::Result<Vec<u32>, JsError> {
        let (w, h) = working_size(self.inner.spec, width as usize, height as usize, max_side as usize).map_err(js_err)?;
        Ok(vec![w as u32, h as u32])
    }

    /// Ask the running operation to stop at its next step (it then rejects with `cancelled`).
    pub fn cancel(&self) {
        self.inner.cancel.set(true);
    }
}
