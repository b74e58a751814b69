//! The run-time part of the zoo: ONNX models registered under a key (natively the path given
//! as `--model`, in the page the dropped file's name), each with its [`ModelSpec`] — made once
//! and kept for the life of the process (a handful of small leaked values), so everything that
//! takes a `&'static ModelSpec` takes an ONNX model unchanged.

use std::sync::{Arc, Mutex};

use super::describe::OnnxDescription;
use super::model::{OnnxModel, Sizes};
use crate::error::{Error, Result};
use crate::model::zoo::{Arch, Labels, ModelSpec, SizeRule};

struct Entry {
    key: String,
    spec: &'static ModelSpec,
    model: Arc<OnnxModel>,
}

static MODELS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static OVERRIDES: Mutex<Option<OnnxDescription>> = Mutex::new(None);

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// The zoo entry of a loaded model.
fn spec_of(m: &OnnxModel) -> &'static ModelSpec {
    let classes: Vec<&'static str> = m.labels.classes.iter().map(|c| leak(c)).collect();
    let labels: &'static Labels = Box::leak(Box::new(Labels {
        classes: Box::leak(classes.into_boxed_slice()),
        palette: Box::leak(m.labels.palette.clone().into_boxed_slice()),
        from_dataset: m.labels.from_dataset,
    }));
    let (native_size, size_rule) = match m.sizes {
        Sizes::Fixed(w, h) => ((w, h), SizeRule::Fixed(w, h)),
        Sizes::Free { multiple, native } => (native, SizeRule::Multiple(multiple)),
    };
    Box::leak(Box::new(ModelSpec {
        name: leak(&m.key),
        title: leak(&m.title),
        arch: Arch::Onnx,
        dataset: m.labels.dataset,
        weights_file: leak(&m.key),
        num_outputs: m.labels.outputs,
        native_size,
        size_rule,
        labels: Some(labels),
    }))
}

/// Register `model` under its key (replacing an earlier one of the same key); its zoo entry.
pub fn register(model: OnnxModel) -> &'static ModelSpec {
    let spec = spec_of(&model);
    let mut all = MODELS.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|e| e.key != model.key);
    all.push(Entry { key: model.key.clone(), spec, model: Arc::new(model) });
    spec
}

/// The zoo entry registered under `key`.
pub fn spec(key: &str) -> Option<&'static ModelSpec> {
    MODELS.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|e| e.key == key).map(|e| e.spec)
}

/// The model registered under `key`.
pub fn model(key: &str) -> Result<Arc<OnnxModel>> {
    MODELS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.model.clone())
        .ok_or_else(|| Error::Model(format!("no ONNX model is loaded under '{key}'")))
}

/// Keys of the registered models.
pub fn keys() -> Vec<String> {
    MODELS.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|e| e.key.clone()).collect()
}

/// Description keys applied to every ONNX file loaded from now on (the CLI's `--model-set`),
/// over the file's metadata and sidecar.
pub fn set_overrides(d: OnnxDescription) {
    *OVERRIDES.lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
}

/// Whether `name` names an ONNX file rather than a zoo model.
pub fn is_onnx_path(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".onnx")
}

/// The sidecar description of `path`: `NAME.toml` beside `NAME.onnx`, if there is one.
#[cfg(not(target_arch = "wasm32"))]
pub fn sidecar(path: &std::path::Path) -> Result<OnnxDescription> {
    let side = path.with_extension("toml");
    if !side.is_file() {
        return Ok(OnnxDescription::default());
    }
    let text = std::fs::read_to_string(&side).map_err(|e| Error::io(&side, e))?;
    OnnxDescription::from_toml(&text, &side.display().to_string())
}

/// Load the ONNX file `path` (metadata, then its sidecar, then the overrides) and register it
/// under `path` as given; the registered entry when it was loaded before.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_path(path: &str) -> Result<&'static ModelSpec> {
    if let Some(s) = spec(path) {
        return Ok(s);
    }
    // `shared:REST` is REST under ../shared (or $ADVSEG_SHARED), as in experiment files
    let resolved = match path.strip_prefix("shared:") {
        Some(rest) => std::env::var_os("ADVSEG_SHARED").map(std::path::PathBuf::from).unwrap_or_else(|| "../shared".into()).join(rest),
        None => std::path::PathBuf::from(path),
    };
    let p = resolved.as_path();
    let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
    if meta.len() > super::read::MAX_BYTES {
        return Err(super::read::too_large(path, meta.len()));
    }
    let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
    let mut desc = sidecar(p)?;
    if let Some(o) = OVERRIDES.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        desc.merge(o);
    }
    let file = p.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| path.to_string());
    let model = OnnxModel::from_bytes(path, &file, &bytes, Some(p), &desc)?;
    Ok(register(model))
}
