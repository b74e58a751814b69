//! The page's pool of CPU workers: `Session.attackPart` attacks images `first..` of a batch in
//! one worker, `Session.mergeAttack` turns the parts into what `Session.attack` on the whole
//! batch resolves to, and `attackSplit` says whether an attack can be split at all. The rules
//! and the merging are the core's ([`crate::attack::split`]); this file only carries the parts
//! across workers.

use js_sys::{Array, Function, Promise, Uint8Array};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use wasm_bindgen::prelude::*;

use super::attack::{attacked, batch_images, browser_spec, painted};
use super::convert::{decode_all, js_err, map_bytes, to_js};
use super::progress::{observe, promise, report_stage};
use super::session::{Busy, Session};
use crate::attack::split::{self, IterateTally, Part};
use crate::attack::{AttackResult, GoalMaps, ImageStats, Outcome, Progress, StepRecord, assemble};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image::{RgbImage01, to_tensor01};
use crate::metrics::MapMetrics;
use crate::model::predict_batched;

/// Why the attack of `options` runs on one worker (a sentence), or `null` when its batch can
/// be split over the pool.
#[wasm_bindgen(js_name = attackSplit)]
pub fn attack_split(options: JsValue) -> std::result::Result<JsValue, JsError> {
    let spec = browser_spec(options).map_err(js_err)?;
    Ok(split::unsplittable(&spec).map_or(JsValue::NULL, JsValue::from_str))
}

/// An [`Outcome`] as it crosses between workers (images as little-endian `f32` bytes).
#[derive(Serialize, Deserialize)]
struct OutcomeJs {
    images: Vec<ByteBuf>,
    maps: Vec<ByteBuf>,
    per_image: Vec<ImageStats>,
    vs_clean: MapMetrics,
    vs_reference: MapMetrics,
    linf: f64,
    l2: f64,
    psnr: f64,
}

/// A finished part as it crosses between workers.
#[derive(Serialize, Deserialize)]
struct PartJs {
    targeted: bool,
    steps_run: usize,
    stopped_early: bool,
    clean_maps: Vec<ByteBuf>,
    reference_maps: Vec<ByteBuf>,
    clean_vs_reference: MapMetrics,
    adversarial: OutcomeJs,
    quantized: OutcomeJs,
    perturbation: Vec<ByteBuf>,
    history: Vec<StepRecord>,
    iterates: Vec<IterateTally>,
}

fn f32_bytes(v: &[f32]) -> ByteBuf {
    ByteBuf::from(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn maps_of(bytes: Vec<ByteBuf>, w: usize, h: usize) -> Result<Vec<ClassMap>> {
    bytes
        .into_iter()
        .map(|b| {
            let data = b.into_vec();
            if data.len() == w * h { Ok(ClassMap { width: w, height: h, data }) } else { Err(Error::Shape(format!("a part's map has {} pixels, not {w}×{h}", data.len()))) }
        })
        .collect()
}

impl OutcomeJs {
    fn from(o: &Outcome) -> Self {
        OutcomeJs {
            images: o.images.iter().map(|i| f32_bytes(&i.data)).collect(),
            maps: map_bytes(&o.maps),
            per_image: o.per_image.clone(),
            vs_clean: o.vs_clean,
            vs_reference: o.vs_reference,
            linf: o.linf,
            l2: o.l2,
            psnr: o.psnr,
        }
    }

    fn into_outcome(self, w: usize, h: usize) -> Result<Outcome> {
        Ok(Outcome {
            images: self.images.iter().map(|b| RgbImage01::new(w, h, f32s(b))).collect::<Result<_>>()?,
            maps: maps_of(self.maps, w, h)?,
            per_image: self.per_image,
            vs_clean: self.vs_clean,
            vs_reference: self.vs_reference,
            linf: self.linf,
            l2: self.l2,
            psnr: self.psnr,
        })
    }
}

impl PartJs {
    fn from(r: &AttackResult, iterates: Vec<IterateTally>) -> Result<Self> {
        let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("the part returned no 8-bit images".into()))?;
        Ok(PartJs {
            targeted: r.targeted,
            steps_run: r.steps_run,
            stopped_early: r.stopped_early,
            clean_maps: map_bytes(&r.clean_maps),
            reference_maps: map_bytes(&r.reference_maps),
            clean_vs_reference: r.clean_vs_reference,
            adversarial: OutcomeJs::from(&r.adversarial),
            quantized: OutcomeJs::from(q),
            perturbation: r.perturbation.iter().map(|p| f32_bytes(p)).collect(),
            history: r.history.clone(),
            iterates,
        })
    }

    fn into_part(self, w: usize, h: usize) -> Result<Part> {
        let result = AttackResult {
            targeted: self.targeted,
            steps_run: self.steps_run,
            stopped_early: self.stopped_early,
            clean_maps: maps_of(self.clean_maps, w, h)?,
            reference_maps: maps_of(self.reference_maps, w, h)?,
            clean_vs_reference: self.clean_vs_reference,
            adversarial: self.adversarial.into_outcome(w, h)?,
            quantized: Some(self.quantized.into_outcome(w, h)?),
            perturbation: self.perturbation.iter().map(|b| f32s(b)).collect(),
            history: self.history,
        };
        Ok(Part { result, iterates: self.iterates })
    }
}

#[wasm_bindgen]
impl Session {
    /// One part of a batch attack split over the page's workers: images `first..first + count`
    /// of the batch `images` (all of them, as for `attack`, so that a targeted-image goal finds
    /// its target image: its clean map is predicted here on its own); `options` and `targetMap`
    /// as for `attack`. `progress` sees the part's iterates. Resolves to an opaque part for
    /// `mergeAttack`.
    #[wasm_bindgen(js_name = attackPart)]
    #[allow(clippy::too_many_arguments)]
    pub fn attack_part(
        &self,
        images: Array,
        width: u32,
        height: u32,
        options: JsValue,
        target_map: Option<Uint8Array>,
        first: u32,
        count: u32,
        progress: Option<Function>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let _busy = Busy::enter(&inner, "attack")?;
            let (w, h) = (width as usize, height as usize);
            let spec = browser_spec(options)?;
            report_stage(&progress, "decoding", 0.0)?;
            let all = decode_all(inner.spec, &images, w, h)?;
            let (first, count) = (first as usize, count as usize);
            let imgs = all.get(first..first + count).filter(|p| !p.is_empty()).ok_or_else(|| {
                Error::InvalidArgument(format!("images {first}..{} are not a part of a batch of {}", first + count, all.len()))
            })?;
            let target = match spec.goal {
                crate::attack::GoalKind::TargetedImage => {
                    let k = spec.target_index.unwrap_or(1);
                    let img = k.checked_sub(1).and_then(|i| all.get(i)).ok_or_else(|| {
                        Error::InvalidArgument(format!("target_index {k} is outside the batch of {n} image(s) (1..={n})", n = all.len()))
                    })?;
                    predict_batched(&inner.model, &[to_tensor01(img)], 1, &inner.model.device()).await?.pop()
                }
                _ => None,
            };
            let maps = GoalMaps { target_map: painted(target_map, w, h)?, mask: None };
            let (mut seen, mut losses) = (Vec::new(), Vec::new());
            let mut observer = |p: &Progress| {
                seen.push(p.maps.clone());
                losses.push(p.loss);
                observe(&inner, &progress, p)
            };
            let r = split::run_part(&inner.model, &batch_images(imgs, first), &spec, maps, target, first, Some(&mut observer)).await?;
            let iterates = split::tally_iterates(&seen, &losses, &r.reference_maps, inner.spec.num_classes())?;
            report_stage(&progress, "done", 1.0)?;
            to_js(&PartJs::from(&r, iterates)?)
        })
    }

    /// The parts of a split batch (from `attackPart`, in batch order) as what `attack` on the
    /// whole batch (`images`, `options`, …) resolves to; `seconds` is the pool's wall time.
    #[wasm_bindgen(js_name = mergeAttack)]
    pub fn merge_attack(&self, images: Array, width: u32, height: u32, options: JsValue, parts: Array, seconds: f64) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let (w, h) = (width as usize, height as usize);
            let spec = browser_spec(options)?;
            let imgs = decode_all(inner.spec, &images, w, h)?;
            let parts = parts
                .iter()
                .map(|v| {
                    let p: PartJs = serde_wasm_bindgen::from_value(v).map_err(|e| Error::InvalidArgument(format!("not a part of an attack: {e}")))?;
                    p.into_part(w, h)
                })
                .collect::<Result<Vec<_>>>()?;
            let r = split::merge(parts, inner.spec.num_classes())?;
            if r.clean_maps.len() != imgs.len() {
                return Err(Error::InvalidArgument(format!("the parts hold {} images, the batch {}", r.clean_maps.len(), imgs.len())));
            }
            let out = assemble(&inner.model, &batch_images(&imgs, 0), &spec, r, None, None)?;
            attacked(out, &imgs, w, h, &inner.backend, seconds)
        })
    }
}
