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

/// What `navigator.gpu` offers in this global scope (window or worker).
pub(crate) enum Adapter {
    /// No WebGPU, or no adapter: why.
    Missing(String),
    /// Only a software emulation (SwiftShader, llvmpipe, …): its description.
    Software(String),
    /// A hardware adapter.
    Hardware,
}

/// Whether an adapter description names a software rasteriser.
fn is_software_name(desc: &str) -> bool {
    let d = desc.to_ascii_lowercase();
    ["swiftshader", "llvmpipe", "lavapipe", "softpipe", "software", "microsoft basic render"].iter().any(|s| d.contains(s))
}

fn js_get(v: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// Where to get WebGPU when the browser has none.
const USE_WEBGPU: &str = "for WebGPU use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu)";

/// Ask `navigator.gpu` for its default adapter and classify it: `isFallbackAdapter` (on the
/// adapter, or on `adapter.info` in newer browsers) or a software rasteriser's name in
/// `adapter.info` make it [`Adapter::Software`]. A missing one says why, and where the browser
/// is the reason, what to use instead.
pub(crate) async fn probe_adapter() -> Adapter {
    if cfg!(not(feature = "gpu")) {
        return Adapter::Missing(crate::backend::NO_GPU.into());
    }
    let Some(gpu) = js_get(&js_sys::global(), "navigator").and_then(|n| js_get(&n, "gpu")) else {
        return Adapter::Missing(format!("this browser has no WebGPU (navigator.gpu is missing); {USE_WEBGPU}"));
    };
    let promise = js_get(&gpu, "requestAdapter")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(&gpu).ok())
        .and_then(|p| p.dyn_into::<Promise>().ok());
    let adapter = match promise {
        Some(p) => wasm_bindgen_futures::JsFuture::from(p).await.ok().filter(|a| !a.is_null() && !a.is_undefined()),
        None => None,
    };
    let Some(adapter) = adapter else {
        return Adapter::Missing(format!("this browser offers no WebGPU adapter (GPU disabled or blocklisted); {USE_WEBGPU}"));
    };
    let info = js_get(&adapter, "info");
    let flag = |v: &Option<JsValue>| v.as_ref().and_then(|v| js_get(v, "isFallbackAdapter")).is_some_and(|f| f.is_truthy());
    let desc: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|k| info.as_ref().and_then(|i| js_get(i, k)).and_then(|v| v.as_string()))
        .filter(|s| !s.is_empty())
        .collect();
    let desc = desc.join(" ");
    if flag(&Some(adapter.clone())) || flag(&info) || is_software_name(&desc) {
        Adapter::Software(if desc.is_empty() { "a fallback adapter".into() } else { desc })
    } else {
        Adapter::Hardware
    }
}

/// The device for `backend` (`auto`, `webgpu` or `cpu`), whether it is WebGPU, and a note on
/// why WebGPU was not used where it was not. `auto` takes WebGPU only on a hardware adapter: a
/// software one (Chromium's SwiftShader on a machine without a GPU) is 60–90× slower than the
/// CPU backend; asking for `webgpu` explicitly still uses it.
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
    let why = match probe_adapter().await {
        Adapter::Missing(why) => why,
        Adapter::Software(desc) if want_gpu.is_none() => format!(
            "the browser's only WebGPU adapter is a software emulation ({desc}), far slower than the CPU \
             backend; choose WebGPU in the backend menu to use it anyway"
        ),
        Adapter::Software(_) | Adapter::Hardware => match crate::backend::webgpu().await {
            Ok(d) => return Ok((d, true, String::new())),
            Err(e) => format!("WebGPU could not be initialised: {e}"),
        },
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
            zoo::SizeRule::Multiple(m) => format!("each side a multiple of {m}"),
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

/// An ONNX model the page registered, as [`register_onnx`] returns it.
#[derive(Serialize)]
struct OnnxEntry {
    name: &'static str,
    title: &'static str,
    classes: &'static [&'static str],
    native_width: usize,
    native_height: usize,
    /// Which sizes it takes.
    size_rule: String,
    /// Score channels.
    outputs: usize,
    /// Steps run per forward pass.
    steps: usize,
    /// BatchNormalizations folded into convolutions.
    folded: usize,
}

/// Read an ONNX network from its bytes (`name`: the file's name, the key `Session.create` then
/// takes, with empty weights), described by its metadata with `description` (a JSON object of
/// the keys in docs/onnx.md, or undefined) on top; checked by one forward pass on the CPU.
/// Registering again under the same name replaces the model. Bad files reject with a message
/// naming the problem; nothing is registered then.
#[wasm_bindgen(js_name = registerOnnx)]
pub fn register_onnx(name: String, bytes: Vec<u8>, description: Option<String>) -> std::result::Result<JsValue, JsError> {
    use crate::model::onnx::{OnnxDescription, OnnxModel, registry};
    let over = match description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => OnnxDescription::from_json(d).map_err(js_err)?,
        None => OnnxDescription::default(),
    };
    let model = OnnxModel::from_bytes(&name, &name, &bytes, None, &over).map_err(js_err)?;
    let (steps, folded) = (model.plan.steps.len(), model.plan.folded);
    let spec = registry::register(model);
    let size_rule = match spec.size_rule {
        zoo::SizeRule::Multiple(m) => format!("each side a multiple of {m}"),
        _ => format!("exactly {}×{}", spec.native_size.0, spec.native_size.1),
    };
    to_js(&OnnxEntry {
        name: spec.name,
        title: spec.title,
        classes: spec.classes(),
        native_width: spec.native_size.0,
        native_height: spec.native_size.1,
        size_rule,
        outputs: spec.num_outputs,
        steps,
        folded,
    })
    .map_err(js_err)
}
