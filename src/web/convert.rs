//! Conversions at the wasm boundary: options objects in (serde), result objects out.

use js_sys::{Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::attack::{Goal, ImageStats, LossKind, MapMetrics, Mask, Norm, PgdConfig};
use crate::defense::{DefenseConfig, MultiScaleConfig, Pipeline};
use crate::error::{Error, Result};
use crate::image_io;
use crate::metrics::VOID;
use crate::model::ClassMap;
use crate::model::zoo::ModelSpec;
use crate::scaling::experiment::{MapScore, ScalingExperimentConfig, ScalingReport};
use crate::scaling::scaler::ScalerKind;

/// Builds a plain JS object field by field.
pub(crate) struct Setter(Object);

impl Setter {
    pub(crate) fn new() -> Self {
        Setter(Object::new())
    }

    pub(crate) fn val(self, key: &str, value: &JsValue) -> Self {
        // Reflect.set on a fresh plain object cannot fail
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), value);
        self
    }

    pub(crate) fn num(self, key: &str, value: f64) -> Self {
        self.val(key, &JsValue::from_f64(value))
    }

    pub(crate) fn str(self, key: &str, value: &str) -> Self {
        self.val(key, &JsValue::from_str(value))
    }

    pub(crate) fn bool(self, key: &str, value: bool) -> Self {
        self.val(key, &JsValue::from_bool(value))
    }

    pub(crate) fn done(self) -> JsValue {
        self.0.into()
    }
}

/// An options object's known keys (serde-wasm-bindgen only reads the fields it knows, so
/// misspelt keys are caught here).
pub(crate) trait Known {
    const KEYS: &'static [&'static str];
}

/// Fail on a key of the JS object `value` that is not in `known`, quoting it.
fn check_keys(value: &JsValue, known: &[&str], what: &str) -> Result<()> {
    if !value.is_object() {
        return Err(Error::InvalidArgument(format!("{what} must be an object, got {}", value.js_typeof().as_string().unwrap_or_default())));
    }
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(Error::InvalidArgument(format!("unknown {what} key '{key}' (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

/// Deserialise an options object (`undefined`/`null`: all defaults); unknown keys and wrong
/// types are errors that name them.
pub(crate) fn options<T: for<'de> Deserialize<'de> + Default + Known>(value: JsValue) -> Result<T> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    check_keys(&value, T::KEYS, "option")?;
    if let Ok(pgd) = Reflect::get(&value, &JsValue::from_str("pgd"))
        && !pgd.is_undefined()
        && T::KEYS.contains(&"pgd")
    {
        check_keys(&pgd, AttackOptions::KEYS, "PGD option")?;
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::InvalidArgument(format!("bad options: {e}")))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value.serialize(&ser).map_err(|e| Error::Backend(format!("cannot convert a result for JavaScript: {e}")))
}

/// The working size of a `width × height` image for `spec` (see `Session::inputSize`).
pub(crate) fn working_size(spec: &ModelSpec, width: usize, height: usize, max_side: usize) -> Result<(usize, usize)> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidArgument(format!("image size {width}×{height} is empty")));
    }
    let limit = if max_side == 0 { spec.native_size.0.max(spec.native_size.1) } else { max_side };
    if !(16..=4096).contains(&limit) {
        return Err(Error::InvalidArgument(format!("max side {max_side} must be in 16..=4096 (or 0 for the model's own)")));
    }
    let scale = (limit as f64 / width.max(height) as f64).min(1.0);
    let (w, h) = ((width as f64 * scale).round() as usize, (height as f64 * scale).round() as usize);
    Ok(spec.nearest_valid_size(w.max(1), h.max(1)))
}

/// The settings of a PGD run as the page sends them (ε and step size in /255).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AttackOptions {
    pub mode: String,
    pub target_index: usize,
    pub target_class: u32,
    pub eps: f64,
    pub steps: usize,
    pub step_size: Option<f64>,
    pub loss: String,
    pub norm: String,
    pub random_start: bool,
    pub seed: u64,
    pub keep_unpainted: bool,
    /// Defense: multi-scale inference (scales 0.5, 0.75, 1.0, 1.25 by default).
    pub multiscale: bool,
    /// Defense: the multi-scale scales (default 0.5, 0.75, 1.0, 1.25).
    pub scales: Option<Vec<f64>>,
    /// Defense: mirror too (multi-scale only).
    pub flip: bool,
    /// Defense: reconstruction steps, e.g. `jpeg:75,median:3` (empty: none).
    pub reconstruct: String,
    /// Attack the defended model itself (EOT through multi-scale inference).
    pub adaptive: bool,
}

impl Default for AttackOptions {
    fn default() -> Self {
        AttackOptions {
            mode: "untargeted".into(),
            target_index: 0,
            target_class: 0,
            eps: 8.0,
            steps: 10,
            step_size: None,
            loss: "ce".into(),
            norm: "linf".into(),
            random_start: false,
            seed: 0,
            keep_unpainted: true,
            multiscale: false,
            scales: None,
            flip: true,
            reconstruct: String::new(),
            adaptive: false,
        }
    }
}

impl Known for AttackOptions {
    const KEYS: &'static [&'static str] = &[
        "mode", "targetIndex", "targetClass", "eps", "steps", "stepSize", "loss", "norm", "randomStart", "seed", "keepUnpainted",
        "multiscale", "scales", "flip", "reconstruct", "adaptive",
    ];
}

impl AttackOptions {
    /// The PGD settings (8-bit results on), every value checked.
    pub(crate) fn pgd_config(&self) -> Result<PgdConfig> {
        if !(1..=1000).contains(&self.steps) {
            return Err(Error::InvalidArgument(format!("steps = {} must be in 1..=1000", self.steps)));
        }
        if !self.eps.is_finite() || self.eps <= 0.0 {
            return Err(Error::InvalidArgument(format!("ε = {}/255 must be a finite number > 0", self.eps)));
        }
        let cfg = PgdConfig::new()
            .with_eps(self.eps / 255.0)
            .with_steps(self.steps)
            .with_step_size(self.step_size.map(|s| s / 255.0))
            .with_loss(self.loss.parse::<LossKind>()?)
            .with_norm(self.norm.parse::<Norm>()?)
            .with_random_start(self.random_start)
            .with_seed(self.seed)
            .with_quantize(true);
        cfg.validate()?;
        Ok(cfg)
    }

    /// The goal for a batch of `n` images of `w × h`; `map` is the painted map of
    /// `targeted-map` (`w·h` class indices, 255 = unpainted).
    pub(crate) fn goal(&self, num_classes: usize, n: usize, w: usize, h: usize, map: Option<Vec<u8>>) -> Result<Goal> {
        match self.mode.as_str() {
            "untargeted" => Ok(Goal::untargeted()),
            "targeted-image" => {
                if self.target_index >= n {
                    return Err(Error::InvalidArgument(format!(
                        "target image {} is not in the batch of {n} image(s)",
                        self.target_index + 1
                    )));
                }
                Ok(Goal::to_image(self.target_index))
            }
            "targeted-class" => Ok(Goal::to_class(class_index(self.target_class, num_classes)?)),
            "targeted-map" => {
                let map = painted_map(map, w, h, num_classes)?;
                let mask = Mask::new(w, h, map.data.iter().map(|&c| c != VOID).collect())?;
                let goal = Goal::to_maps(vec![map]);
                Ok(if self.keep_unpainted { goal.within(mask, true) } else { goal })
            }
            other => Err(Error::InvalidArgument(format!(
                "unknown attack mode '{other}' (expected untargeted, targeted-image, targeted-class or targeted-map)"
            ))),
        }
    }

    /// The defense the options ask for, if any (every value checked).
    pub(crate) fn defense(&self) -> Result<Option<DefenseConfig>> {
        let pipeline = Pipeline::parse(&self.reconstruct)?;
        if !self.multiscale && pipeline.is_empty() {
            if self.adaptive {
                return Err(Error::InvalidArgument("adaptive is set but no defense is chosen".into()));
            }
            return Ok(None);
        }
        let multiscale = self.multiscale.then(|| {
            let c = MultiScaleConfig::new().with_flip(self.flip);
            match &self.scales {
                Some(s) => c.with_scales(s.clone()),
                None => c,
            }
        });
        if self.adaptive && !pipeline.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "the adaptive attack through '{pipeline}' (BPDA) runs in the native CLI (advseg eval --experiment); \
                 in the browser the adaptive attack covers multi-scale inference only"
            )));
        }
        let cfg = DefenseConfig::new().with_reconstruct(pipeline).with_multiscale(multiscale);
        cfg.validate()?;
        Ok(Some(cfg))
    }

    pub(crate) fn to_js(&self) -> Result<JsValue> {
        to_js(self)
    }
}

fn class_index(class: u32, num_classes: usize) -> Result<u8> {
    if class as usize >= num_classes {
        return Err(Error::InvalidArgument(format!(
            "target class {class} is out of range: the model has {num_classes} classes (0..={})",
            num_classes - 1
        )));
    }
    Ok(class as u8)
}

/// A painted map of `w × h` class indices (255 = unpainted), checked.
pub(crate) fn painted_map(map: Option<Vec<u8>>, w: usize, h: usize, num_classes: usize) -> Result<ClassMap> {
    let data = map.ok_or_else(|| Error::InvalidArgument("targeted-map mode needs a painted target map".into()))?;
    if data.len() != w * h {
        return Err(Error::Shape(format!(
            "the painted map has {} pixels but the working size {w}×{h} has {}",
            data.len(),
            w * h
        )));
    }
    if let Some((i, &c)) = data.iter().enumerate().find(|&(_, &c)| c != VOID && usize::from(c) >= num_classes) {
        return Err(Error::InvalidArgument(format!(
            "the painted map has class {c} at pixel ({}, {}): the model has {num_classes} classes",
            i % w,
            i / w
        )));
    }
    if data.iter().all(|&c| c == VOID) {
        return Err(Error::InvalidArgument("the painted map is empty: paint some pixels with a class first".into()));
    }
    Ok(ClassMap { width: w, height: h, data })
}

/// What the scaling attack hides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalingTarget {
    Image,
    Class,
    Map,
}

/// Settings of the scaling attack as the page sends them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ScalingOptions {
    pub scaler: String,
    pub ratio: usize,
    /// ε of the QP in grey levels of the downscaled image.
    pub eps: f64,
    pub target: String,
    pub target_class: u32,
    pub pgd: AttackOptions,
}

impl Default for ScalingOptions {
    fn default() -> Self {
        ScalingOptions {
            scaler: "opencv-linear".into(),
            ratio: 3,
            eps: 1.0,
            target: "image".into(),
            target_class: 0,
            pgd: AttackOptions { mode: "targeted-map".into(), eps: 16.0, steps: 10, ..AttackOptions::default() },
        }
    }
}

impl Known for ScalingOptions {
    const KEYS: &'static [&'static str] = &["scaler", "ratio", "eps", "target", "targetClass", "pgd"];
}

impl ScalingOptions {
    pub(crate) fn experiment_config(&self) -> Result<ScalingExperimentConfig> {
        let scaler = ScalerKind::ALL.iter().copied().find(|k| k.name() == self.scaler).ok_or_else(|| {
            let names: Vec<&str> = ScalerKind::ALL.iter().map(|k| k.name()).collect();
            Error::InvalidArgument(format!("unknown scaler '{}' (expected one of {})", self.scaler, names.join(", ")))
        })?;
        if !(2..=8).contains(&self.ratio) {
            return Err(Error::InvalidArgument(format!("ratio = {} must be in 2..=8 in the browser", self.ratio)));
        }
        if !self.eps.is_finite() || self.eps < 0.0 {
            return Err(Error::InvalidArgument(format!("scaling ε = {} grey levels must be a finite number ≥ 0", self.eps)));
        }
        let mut cfg = super::page_experiment();
        cfg.scaler = scaler;
        cfg.ratio = self.ratio;
        cfg.attack.eps = self.eps;
        Ok(cfg)
    }

    pub(crate) fn target_kind(&self) -> Result<ScalingTarget> {
        match self.target.as_str() {
            "image" => Ok(ScalingTarget::Image),
            "class" => Ok(ScalingTarget::Class),
            "map" => Ok(ScalingTarget::Map),
            other => Err(Error::InvalidArgument(format!("unknown scaling target '{other}' (expected image, class or map)"))),
        }
    }

    pub(crate) fn class(&self, num_classes: usize) -> Result<u8> {
        class_index(self.target_class, num_classes)
    }
}

pub(crate) fn map_metrics(m: &MapMetrics) -> JsValue {
    Setter::new().num("miou", m.miou).num("pixelAccuracy", m.pixel_accuracy).num("agreement", m.agreement).done()
}

pub(crate) fn image_stats(s: &ImageStats) -> JsValue {
    Setter::new()
        .num("linf", s.linf)
        .num("l2", s.l2)
        .num("psnr", s.psnr)
        .num("agreementClean", s.agreement_clean)
        .num("agreementReference", s.agreement_reference)
        .done()
}

pub(crate) fn score(s: &MapScore) -> JsValue {
    Setter::new().num("agreement", s.agreement).num("miou", s.miou).done()
}

fn image_js(img: &image::RgbImage) -> Result<JsValue> {
    Ok(Setter::new()
        .num("width", f64::from(img.width()))
        .num("height", f64::from(img.height()))
        .val("rgb", &Uint8Array::from(img.as_raw().as_slice()).into())
        .done())
}

fn map_js(map: &ClassMap) -> JsValue {
    Setter::new()
        .num("width", map.width as f64)
        .num("height", map.height as f64)
        .val("classes", &Uint8Array::from(map.data.as_slice()).into())
        .done()
}

/// The JS object of a scaling experiment: images (full-size source and attack, the model-size
/// inputs), maps, the attack PNG and the report's numbers.
pub(crate) fn scaling_result(r: &ScalingReport, wanted: Option<(ClassMap, JsValue)>, seconds: f64) -> Result<JsValue> {
    let a = &r.artifacts;
    let inputs = Object::new();
    for (name, img) in &a.inputs {
        let _ = Reflect::set(&inputs, &JsValue::from_str(name), &image_js(img)?);
    }
    let maps = Object::new();
    for (name, m) in &a.maps {
        let _ = Reflect::set(&maps, &JsValue::from_str(name), &map_js(m));
    }
    let png = image_io::encode_png(&a.attack)?;
    let mut out = Setter::new()
        .val("report", &to_js(r)?)
        .val("source", &image_js(&a.source)?)
        .val("target", &image_js(&a.target)?)
        .val("attack", &image_js(&a.attack)?)
        .val("png", &Uint8Array::from(png.as_slice()).into())
        .val("inputs", &inputs.into())
        .val("maps", &maps.into())
        .num("seconds", seconds);
    if let Some((map, scores)) = wanted {
        out = out.val("wanted", &map_js(&map)).val("wantedScores", &scores);
    }
    Ok(out.done())
}
