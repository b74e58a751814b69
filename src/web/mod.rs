//! The browser API (WebAssembly): the only `#[wasm_bindgen]` code in the crate, thin over the
//! core.
//!
//! A [`Session`] holds one zoo model on one device: WebGPU (burn-wgpu) where the browser has an
//! adapter, else the single-threaded CPU backend (`flex`); [`Session::backend`] says which.
//! Images cross as encoded PNG/JPEG bytes (`Uint8Array`) and are decoded and resized here with
//! the core's Pillow-exact bilinear filter, so the page computes what the CLI computes. Results
//! are plain objects: pixels as typed arrays (`Uint8Array` RGB or class maps, `Float32Array`
//! perturbations), metrics as numbers. Every long call takes an optional `progress` callback
//! (return `false` from it to cancel) and stops at the next step after [`Session::cancel`];
//! failures reject with a `JsError` whose message quotes the bad value.
//!
//! Tensors are only read with burn's async API (`into_data_async`): blocking reads are not
//! possible on wasm.

mod catalog;
mod convert;

use std::cell::Cell;
use std::rc::Rc;

use burn::tensor::Device;
use image::RgbImage;
use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::attack::{AttackResult, Control, Progress, compare_maps, pgd_async};
use crate::defense::Defended;
use crate::error::{Error, Result};
use crate::image_io::{self, ResizeMethod};
use crate::model::zoo::{self, ModelSpec};
use crate::model::{ClassMap, Segmenter, batch_tensor};
use crate::scaling::experiment::{ScalingExperimentConfig, run_experiment_async};
use crate::scaling::map_target::{class_map, run_map_experiment_async};
pub use catalog::{list_scalers, resize_map};
use convert::{AttackOptions, ScalingOptions, ScalingTarget, Setter};

/// Route Rust panics to the browser console (a panic aborts the wasm instance; the message is
/// what the page's worker reports).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&JsValue::from_str(&format!("advseg panicked: {info}")));
    }));
}

/// The names, titles and datasets of the zoo's models, as `[{name, title, dataset, file}]`.
#[wasm_bindgen(js_name = listModels)]
pub fn list_models() -> std::result::Result<JsValue, JsError> {
    let out = Array::new();
    for m in zoo::MODELS {
        out.push(&Setter::new().str("name", m.name).str("title", m.title).str("dataset", dataset_name(m)).str("file", m.weights_file).done());
    }
    Ok(out.into())
}

fn dataset_name(spec: &ModelSpec) -> &'static str {
    match spec.dataset {
        zoo::Dataset::Voc => "voc",
        zoo::Dataset::Cityscapes => "cityscapes",
    }
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

struct Inner {
    spec: &'static ModelSpec,
    /// The device without autodiff (inputs live here).
    device: Device,
    /// The model, on the autodiff device (segmentation and attacks share it).
    model: Segmenter,
    backend: String,
    webgpu: bool,
    note: String,
    cancel: Cell<bool>,
    busy: Cell<Option<&'static str>>,
}

/// Marks a session busy for the lifetime of one operation.
struct Busy<'a>(&'a Inner);

impl<'a> Busy<'a> {
    fn enter(inner: &'a Inner, what: &'static str) -> Result<Busy<'a>> {
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
    inner: Rc<Inner>,
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
                device,
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

    /// The model: `{name, title, dataset, classes: [..], palette: [[r,g,b], ..], nativeWidth,
    /// nativeHeight, sizeRule}`.
    pub fn info(&self) -> std::result::Result<JsValue, JsError> {
        let s = self.inner.spec;
        let classes: Array = s.classes().iter().map(|c| JsValue::from_str(c)).collect();
        let palette: Array = s
            .palette()
            .iter()
            .take(s.num_classes())
            .map(|c| -> JsValue { c.iter().map(|&v| JsValue::from(v)).collect::<Array>().into() })
            .collect();
        let rule = match s.size_rule {
            zoo::SizeRule::Mod16 => "each side ≡ 0 or 15 (mod 16)".to_string(),
            zoo::SizeRule::Fixed(w, h) => format!("exactly {w}×{h}"),
        };
        Ok(Setter::new()
            .str("name", s.name)
            .str("title", s.title)
            .str("dataset", dataset_name(s))
            .val("classes", &classes)
            .val("palette", &palette)
            .num("nativeWidth", s.native_size.0 as f64)
            .num("nativeHeight", s.native_size.1 as f64)
            .str("sizeRule", &rule)
            .done())
    }

    /// The input size `[w, h]` the model works at for a `width × height` image: the aspect
    /// ratio kept with the longer side at most `max_side` (0: the model's native longer side),
    /// then snapped to a size the model takes (DeepLab: always 257×257).
    #[wasm_bindgen(js_name = inputSize)]
    pub fn input_size(&self, width: u32, height: u32, max_side: u32) -> std::result::Result<Vec<u32>, JsError> {
        let (w, h) = convert::working_size(self.inner.spec, width as usize, height as usize, max_side as usize).map_err(js_err)?;
        Ok(vec![w as u32, h as u32])
    }

    /// Ask the running operation to stop at its next step (it then rejects with `cancelled`).
    pub fn cancel(&self) {
        self.inner.cancel.set(true);
    }

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
            let imgs = decode_all(&inner, &images, w, h)?;
            check_cancel(&inner)?;
            report_stage(&progress, "segmenting", 0.3)?;
            let maps = segment_images(&inner, &imgs).await?;
            report_stage(&progress, "done", 1.0)?;
            Ok(Setter::new()
                .num("width", w as f64)
                .num("height", h as f64)
                .val("images", &rgb_list(&imgs))
                .val("maps", &map_list(&maps))
                .num("seconds", (js_sys::Date::now() - t0) / 1000.0)
                .done())
        })
    }

    /// PGD on a batch of encoded images resized to `width × height`. `options` (all optional):
    /// `{mode: "untargeted" | "targeted-image" | "targeted-class" | "targeted-map",
    /// targetIndex, targetClass, eps (in /255), steps, stepSize (in /255; default eps/4), loss:
    /// "ce" | "segpgd" | "cospgd", norm: "linf" | "l2", randomStart, seed, keepUnpainted}`;
    /// `targetMap` (mode `targeted-map`): `width·height` class indices, 255 = unpainted.
    /// Resolves to the images, maps, metrics and per-step history (see the README).
    pub fn attack(
        &self,
        images: Array,
        width: u32,
        height: u32,
        options: JsValue,
        target_map: Option<Uint8Array>,
        progress: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "attack")?;
            let (w, h) = (width as usize, height as usize);
            let opts: AttackOptions = convert::options(options)?;
            let map = target_map.map(|m| m.to_vec());
            let goal = opts.goal(inner.spec.num_classes(), images.length() as usize, w, h, map)?;
            let cfg = opts.pgd_config()?;
            let defense = opts.defense()?.map(|d| Defended::new(inner.model.clone(), &d).map(|m| (m, d.label()))).transpose()?;
            let t0 = js_sys::Date::now();
            report_stage(&progress, "decoding", 0.0)?;
            let imgs = decode_all(&inner, &images, w, h)?;
            let x = to_batch(&imgs, &inner.device)?;
            let mut observer = |p: &Progress| observe(&inner, &progress, p);
            let result = match &defense {
                // the adaptive attack differentiates through the defended model (EOT)
                Some((d, _)) if opts.adaptive => pgd_async(d, x, &goal, &cfg, Some(&mut observer)).await?,
                _ => pgd_async(&inner.model, x, &goal, &cfg, Some(&mut observer)).await?,
            };
            let defended = match &defense {
                None => None,
                Some((d, label)) => {
                    report_stage(&progress, "defending", 0.95)?;
                    let q = result.quantized.as_ref().ok_or_else(|| Error::Backend("the attack returned no 8-bit images".into()))?;
                    let device = crate::backend::autodiff(&inner.device);
                    let clean01: Vec<_> = imgs.iter().map(image_io::to_tensor01).collect();
                    let clean = d.predict_async(&clean01, &device).await?;
                    let adv = d.predict_async(&q.images, &device).await?;
                    Some(DefendedMaps { label: label.clone(), clean, adv })
                }
            };
            let seconds = (js_sys::Date::now() - t0) / 1000.0;
            attack_result(&imgs, &result, &opts, defended.as_ref(), inner.spec.num_classes(), seconds)
        })
    }

    /// The image-scaling attack (Quiring et al.) against this model's pipeline: hide `target`
    /// (encoded image), or — `options.target` = `"class"` / `"map"` — an image that targeted
    /// PGD crafts towards `options.targetClass` or `wantedMap` (model-size class indices, 255 =
    /// don't care), in `source`. `options`: `{scaler, ratio, eps (grey levels of the downscaled
    /// image), target, targetClass, pgd: {eps, steps, ...}}`. Resolves to the full-size attack
    /// image (PNG), the downscaled images the model sees and their maps, and the scores.
    #[wasm_bindgen(js_name = scalingAttack)]
    pub fn scaling_attack(
        &self,
        source: Uint8Array,
        target: Option<Uint8Array>,
        options: JsValue,
        wanted_map: Option<Uint8Array>,
        progress: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "scaling attack")?;
            let opts: ScalingOptions = convert::options(options)?;
            let cfg = opts.experiment_config()?;
            let t0 = js_sys::Date::now();
            report_stage(&progress, "decoding", 0.0)?;
            let src = image_io::decode(&source.to_vec()).map_err(|e| prefix(e, "source image"))?;
            let (report, wanted) = match opts.target_kind()? {
                ScalingTarget::Image => {
                    let bytes = target.ok_or_else(|| {
                        Error::InvalidArgument("the scaling attack needs a target image (options.target is 'image')".into())
                    })?;
                    let tgt = image_io::decode(&bytes.to_vec()).map_err(|e| prefix(e, "target image"))?;
                    report_stage(&progress, "solving the scaling attack", 0.1)?;
                    (run_experiment_async(&inner.model, &src, &tgt, &cfg).await?, None)
                }
                kind => {
                    let (mw, mh) = crate::scaling::experiment::resolve_sizes(inner.spec, &cfg)?.0;
                    let wanted = match kind {
                        ScalingTarget::Class => class_map(opts.class(inner.spec.num_classes())?, mw, mh),
                        _ => convert::painted_map(wanted_map.map(|m| m.to_vec()), mw, mh, inner.spec.num_classes())?,
                    };
                    let pgd = opts.pgd.pgd_config()?;
                    let mut observer = |p: &Progress| observe(&inner, &progress, p);
                    let r = run_map_experiment_async(&inner.model, &src, &wanted, &pgd, &cfg, Some(&mut observer)).await?;
                    let scores = Setter::new()
                        .val("clean", &convert::score(&r.clean_vs_wanted))
                        .val("target", &convert::score(&r.target_vs_wanted))
                        .val("attack", &convert::score(&r.attack_vs_wanted))
                        .num("craftSteps", r.craft.steps_run as f64)
                        .num("craftLinf", f64::from(r.craft.linf_grey_levels))
                        .num("craftPsnr", r.craft.psnr_vs_down_source)
                        .done();
                    (r.scaling, Some((r.wanted, scores)))
                }
            };
            report_stage(&progress, "done", 1.0)?;
            convert::scaling_result(&report, wanted, (js_sys::Date::now() - t0) / 1000.0)
        })
    }
}

/// `future_to_promise` for a future whose errors are the crate's.
fn promise<F>(fut: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    future_to_promise(async move { fut.await.map_err(|e| JsValue::from(js_err(e))) })
}

fn prefix(e: Error, what: &str) -> Error {
    match e {
        Error::Image(m) => Error::Image(format!("{what}: {m}")),
        other => other,
    }
}

fn check_cancel(inner: &Inner) -> Result<()> {
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

fn report_stage(progress: &Option<Function>, stage: &str, fraction: f64) -> Result<()> {
    match call_progress(progress, &Setter::new().str("stage", stage).num("fraction", fraction).done()) {
        Control::Cancel => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

/// The PGD observer: forwards each iterate to `progress`, cancels on request.
fn observe(inner: &Inner, progress: &Option<Function>, p: &Progress) -> Control {
    let agreement: Array = p.agreement.iter().map(|&a| JsValue::from(a)).collect();
    let value = Setter::new()
        .str("stage", "attack")
        .num("fraction", p.step as f64 / p.steps.max(1) as f64)
        .num("step", p.step as f64)
        .num("steps", p.steps as f64)
        .num("loss", p.loss)
        .num("agreement", p.mean_agreement)
        .val("agreements", &agreement)
        .num("miou", p.miou)
        .bool("targeted", p.targeted)
        .num("time", js_sys::Date::now())
        .done();
    if inner.cancel.get() || call_progress(progress, &value) == Control::Cancel {
        Control::Cancel
    } else {
        Control::Continue
    }
}

/// Decode every `Uint8Array` of `images` and resize it to `w × h` (Pillow bilinear).
fn decode_all(inner: &Inner, images: &Array, w: usize, h: usize) -> Result<Vec<RgbImage>> {
    if images.length() == 0 {
        return Err(Error::InvalidArgument("no images given (an empty list)".into()));
    }
    inner.spec.check_size(w, h)?;
    images
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes = v.dyn_into::<Uint8Array>().map_err(|v| {
                Error::InvalidArgument(format!("image {} is not a Uint8Array but {:?}", i + 1, v.js_typeof().as_string()))
            })?;
            let img = image_io::decode(&bytes.to_vec()).map_err(|e| prefix(e, &format!("image {}", i + 1)))?;
            image_io::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear)
        })
        .collect()
}

/// The `[N, 3, H, W]` tensor in `[0, 1]` of same-size images.
fn to_batch(imgs: &[RgbImage], device: &Device) -> Result<burn::tensor::Tensor<4>> {
    batch_tensor(&imgs.iter().map(image_io::to_tensor01).collect::<Vec<_>>(), device)
}

async fn segment_images(inner: &Inner, imgs: &[RgbImage]) -> Result<Vec<ClassMap>> {
    inner.model.predict_async(to_batch(imgs, &crate::backend::autodiff(&inner.device))?).await
}

fn rgb_list(imgs: &[RgbImage]) -> Array {
    imgs.iter().map(|i| JsValue::from(Uint8Array::from(i.as_raw().as_slice()))).collect()
}

fn map_list(maps: &[ClassMap]) -> Array {
    maps.iter().map(|m| JsValue::from(Uint8Array::from(m.data.as_slice()))).collect()
}

/// What the defended model makes of the clean and the adversarial images.
struct DefendedMaps {
    label: String,
    clean: Vec<ClassMap>,
    adv: Vec<ClassMap>,
}

/// The JS object of an attack's result.
fn attack_result(
    originals: &[RgbImage],
    r: &AttackResult,
    opts: &AttackOptions,
    defended: Option<&DefendedMaps>,
    num_classes: usize,
    seconds: f64,
) -> Result<JsValue> {
    // the 8-bit images (what the PNG download holds) are the result shown; pgd_config always
    // asks for them
    let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("the attack returned no 8-bit images".into()))?;
    let adv: Vec<RgbImage> = q.images.iter().map(image_io::from_tensor01).collect::<Result<_>>()?;
    let pngs: Array = adv
        .iter()
        .map(|i| image_io::encode_png(i).map(|b| JsValue::from(Uint8Array::from(b.as_slice()))))
        .collect::<Result<_>>()?;
    let perturbation: Array = r.perturbation.iter().map(|p| JsValue::from(js_sys::Float32Array::from(p.as_slice()))).collect();
    let history: Array = r
        .history
        .iter()
        .map(|s| Setter::new().num("step", s.step as f64).num("loss", s.loss).num("agreement", s.mean_agreement).num("miou", s.miou).done())
        .collect();
    let per_image: Array = q.per_image.iter().map(convert::image_stats).collect();
    let defense = match defended {
        None => JsValue::NULL,
        Some(d) => Setter::new()
            .str("label", &d.label)
            .bool("adaptive", opts.adaptive)
            .val("cleanMaps", &map_list(&d.clean))
            .val("adversarialMaps", &map_list(&d.adv))
            .val("cleanVsClean", &convert::map_metrics(&compare_maps(&d.clean, &r.clean_maps, num_classes)?))
            .val("vsClean", &convert::map_metrics(&compare_maps(&d.adv, &r.clean_maps, num_classes)?))
            .val("vsReference", &convert::map_metrics(&compare_maps(&d.adv, &r.reference_maps, num_classes)?))
            .done(),
    };
    Ok(Setter::new()
        .num("width", originals[0].width() as f64)
        .num("height", originals[0].height() as f64)
        .bool("targeted", r.targeted)
        .num("stepsRun", r.steps_run as f64)
        .num("seconds", seconds)
        .val("options", &opts.to_js()?)
        .val("images", &rgb_list(originals))
        .val("adversarial", &rgb_list(&adv))
        .val("pngs", &pngs)
        .val("perturbation", &perturbation)
        .val("cleanMaps", &map_list(&r.clean_maps))
        .val("referenceMaps", &map_list(&r.reference_maps))
        .val("adversarialMaps", &map_list(&q.maps))
        .val("cleanVsReference", &convert::map_metrics(&r.clean_vs_reference))
        .val("vsClean", &convert::map_metrics(&q.vs_clean))
        .val("vsReference", &convert::map_metrics(&q.vs_reference))
        .num("linf", q.linf)
        .num("l2", q.l2)
        .num("psnr", q.psnr)
        .val("perImage", &per_image)
        .val("history", &history)
        .val("defense", &defense)
        .done())
}

/// The default scaling experiment of the page: no defenses (the issue-4 defenses are wired
/// separately), no adaptive attack, maps at the model size only.
pub(crate) fn page_experiment() -> ScalingExperimentConfig {
    ScalingExperimentConfig {
        defenses: Vec::new(),
        adaptive_median: false,
        full_size_maps: false,
        batch: 1,
        ..ScalingExperimentConfig::default()
    }
}
