//! `Session.scalingAttack`: the image-scaling attack against this model's pipeline, with the
//! page's options as a [`ScalingSpec`] (the same keys as the CLI's `scale-attack`).

use std::collections::BTreeMap;

use js_sys::{Function, Promise, Uint8Array};
use serde::Serialize;
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;

use super::convert::{ImageJs, MapJs, decode, to_js, to_json};
use super::progress::{observe, promise, report_stage};
use super::session::{Busy, Session};
use crate::attack::Progress;
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image::encode_png;
use crate::scaling::map_target::MapTargetReport;
use crate::scaling::{ScalingReport, ScalingSpec, ScalingTarget, class_map, run_experiment, run_map_experiment};

/// What `scalingAttack` resolves to: the report, the images and maps the pipeline saw.
#[derive(Serialize)]
struct Scaled<'a> {
    report: &'a ScalingReport,
    /// With a wanted map: how every map scores against it, and how the target was crafted.
    wanted: Option<Wanted<'a>>,
    source: ImageJs,
    target: ImageJs,
    attack: ImageJs,
    png: ByteBuf,
    inputs: BTreeMap<String, ImageJs>,
    maps: BTreeMap<String, MapJs>,
    seconds: f64,
}

#[derive(Serialize)]
struct Wanted<'a> {
    map: MapJs,
    report: &'a MapTargetReport,
}

fn scaled<'a>(report: &'a ScalingReport, wanted: Option<&'a MapTargetReport>, seconds: f64) -> Result<JsValue> {
    let a = &report.artifacts;
    to_js(&Scaled {
        report,
        wanted: wanted.map(|w| Wanted { map: MapJs::from(&w.wanted), report: w }),
        source: ImageJs::from(&a.source),
        target: ImageJs::from(&a.target),
        attack: ImageJs::from(&a.attack),
        png: ByteBuf::from(encode_png(&a.attack)?),
        inputs: a.inputs.iter().map(|(n, i)| (n.clone(), ImageJs::from(i))).collect(),
        maps: a.maps.iter().map(|(n, m)| (n.clone(), MapJs::from(m))).collect(),
        seconds,
    })
}

/// The page's pipeline: no defenses (the page wires its own), no adaptive attack, maps at the
/// model size only, one image per forward pass — unless the options say otherwise.
fn page_defaults() -> serde_json::Value {
    serde_json::json!({"pipeline": {"defenses": [], "adaptive_median": false, "full_size_maps": false, "batch": 1, "ratio": 3}})
}

/// `options` over the page's defaults (objects merged key by key).
fn merged(mut base: serde_json::Value, options: serde_json::Value) -> serde_json::Value {
    match (&mut base, options) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                let old = b.remove(&k).unwrap_or(serde_json::Value::Null);
                b.insert(k, if old.is_object() && v.is_object() { merged(old, v) } else { v });
            }
            base
        }
        (_, o) => o,
    }
}

#[wasm_bindgen]
impl Session {
    /// The image-scaling attack (Quiring et al.) against this model's pipeline: hide `target`
    /// (encoded image), or — `options.target` = `"class"` / `"map"` — an image that a targeted
    /// PGD crafts towards `options.target_class` or `wantedMap` (model-size class indices, 255 =
    /// don't care), in `source`. `options` is a scaling spec: `{pipeline: {scaler, ratio,
    /// attack: {eps}}, target, target_class, craft: {eps, steps, …}}`. Resolves to the report,
    /// the full-size attack image (PNG), the downscaled images the model sees and their maps.
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
            let spec = ScalingSpec::from_json_value(merged(page_defaults(), to_json(options)?))?;
            let cfg = &spec.pipeline;
            let t0 = js_sys::Date::now();
            report_stage(&progress, "decoding", 0.0)?;
            let src = decode(&source, "source image")?;
            let seconds = |t0: f64| (js_sys::Date::now() - t0) / 1000.0;
            if spec.target == ScalingTarget::Image {
                let bytes = target.ok_or_else(|| {
                    Error::InvalidArgument("the scaling attack needs a target image (options.target is 'image')".into())
                })?;
                let tgt = decode(&bytes, "target image")?;
                report_stage(&progress, "solving the scaling attack", 0.1)?;
                let report = run_experiment(&inner.model, &src, &tgt, cfg).await?;
                report_stage(&progress, "done", 1.0)?;
                return scaled(&report, None, seconds(t0));
            }
            let (mw, mh) = crate::scaling::pipeline::resolve_sizes(inner.spec, cfg)?.0;
            let wanted = match spec.target {
                ScalingTarget::Class => {
                    let c = spec.target_class.as_ref().ok_or_else(|| Error::InvalidArgument("target = class needs target_class".into()))?;
                    class_map(c.resolve(inner.spec)?, mw, mh)
                }
                _ => {
                    let m = wanted_map.ok_or_else(|| Error::InvalidArgument("target = map needs a painted map".into()))?;
                    ClassMap { width: mw, height: mh, data: m.to_vec() }
                }
            };
            if wanted.data.len() != mw * mh {
                return Err(Error::Shape(format!("the painted map has {} pixels, the model size {mw}×{mh} has {}", wanted.data.len(), mw * mh)));
            }
            let pgd = spec.craft_config()?;
            let mut observer = |p: &Progress| observe(&inner, &progress, p);
            let r = run_map_experiment(&inner.model, &src, &wanted, spec.craft.kind, &pgd, cfg, Some(&mut observer)).await?;
            report_stage(&progress, "done", 1.0)?;
            scaled(&r.scaling, Some(&r), seconds(t0))
        })
    }
}
