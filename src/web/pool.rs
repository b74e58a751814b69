//! The page's pool of CPU workers: `Session.attack` with a `part` ([`PartSelector`]) runs some
//! images of a batch, or some runs of an ensemble, in one worker; `Session.mergeAttack` turns
//! the parts into what `Session.attack` on the whole batch resolves to; `attackSplit` says how
//! an attack can be split. The rules and the merging are the core's ([`crate::attack::pool`]);
//! this file only carries the parts across workers.

use js_sys::{Array, Function, Promise, Uint8Array};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::attack::{attacked, batch_images, browser_spec, painted};
use super::convert::{decode_all, js_err, map_bytes, to_js};
use super::progress::{observe, promise, report_stage};
use super::session::{Inner, Session};
use crate::attack::pool::by_images::{self as split, IterateTally, Part};
use crate::attack::pool::by_members as split_members;
use crate::attack::{AttackResult, GoalMaps, ImageStats, Outcome, Progress, StepRecord, assemble};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image::{RgbImage01, to_tensor01};
use crate::metrics::MapMetrics;
use crate::model::predict_batched;

/// How the attack of some options can be split over the pool.
#[derive(Serialize)]
struct Split {
    /// Why its batch cannot be split by images (absent: it can).
    by_images: Option<&'static str>,
    /// Its top-level runs (restarts, SEA's losses).
    runs: usize,
    /// Why it cannot be split by runs (absent: it can).
    by_runs: Option<&'static str>,
}

/// How the attack of `options` can be split over the page's workers: `{by_images, runs,
/// by_runs}`, `by_*` a sentence saying why not, absent where it can.
#[wasm_bindgen(js_name = attackSplit)]
pub fn attack_split(options: JsValue) -> std::result::Result<JsValue, JsError> {
    let spec = browser_spec(options).map_err(js_err)?;
    let split = Split {
        by_images: split::unsplittable(&spec),
        runs: split_members::run_count(&spec).map_err(js_err)?,
        by_runs: split_members::unsplittable_runs(&spec),
    };
    to_js(&split).map_err(js_err)
}

/// The images (little-endian `f32` bytes) and maps of an [`Outcome`] as they cross between
/// workers.
#[derive(Serialize)]
struct PixelsJs {
    images: Vec<ByteBuf>,
    maps: Vec<ByteBuf>,
}

/// A finished part as it crosses between workers: the small fields in `meta` (read back with
/// serde), the pixels apart (read back as `Uint8Array`s directly by [`byte_lists`]:
/// serde-wasm-bindgen would convert them value by value).
#[derive(Serialize)]
struct PartJs {
    meta: PartMeta,
    clean_maps: Vec<ByteBuf>,
    reference_maps: Vec<ByteBuf>,
    perturbation: Vec<ByteBuf>,
    adversarial: PixelsJs,
    quantized: PixelsJs,
}

/// The per-image statistics and pooled values of an [`Outcome`].
#[derive(Serialize, Deserialize)]
struct OutcomeMeta {
    per_image: Vec<ImageStats>,
    vs_clean: MapMetrics,
    vs_reference: MapMetrics,
    linf: f64,
    l2: f64,
    psnr: f64,
}

/// Everything of a part but its pixels.
#[derive(Serialize, Deserialize)]
struct PartMeta {
    targeted: bool,
    steps_run: usize,
    stopped_early: bool,
    clean_vs_reference: MapMetrics,
    adversarial: OutcomeMeta,
    quantized: OutcomeMeta,
    history: Vec<StepRecord>,
    iterates: Vec<IterateJs>,
}

/// An [`IterateTally`] with its confusion counts as little-endian `u64` bytes (serde-wasm-bindgen
/// reads a long JS array back element by element, ~0.5 ms per value here).
#[derive(Serialize, Deserialize)]
struct IterateJs {
    loss: f64,
    agreement: Vec<f64>,
    counts: ByteBuf,
    valid: u64,
}

impl From<IterateTally> for IterateJs {
    fn from(t: IterateTally) -> Self {
        let counts = ByteBuf::from(t.counts.iter().flat_map(|c| c.to_le_bytes()).collect::<Vec<u8>>());
        IterateJs { loss: t.loss, agreement: t.agreement, counts, valid: t.valid }
    }
}

impl TryFrom<IterateJs> for IterateTally {
    type Error = Error;

    fn try_from(t: IterateJs) -> Result<Self> {
        if t.counts.len() % 8 != 0 {
            return Err(Error::InvalidArgument(format!("not a part of an attack: {} bytes of confusion counts", t.counts.len())));
        }
        let counts = t.counts.chunks_exact(8).map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect();
        Ok(IterateTally { loss: t.loss, agreement: t.agreement, counts, valid: t.valid })
    }
}

/// The list of byte arrays at `path` in a part (`["adversarial", "images"]`, …).
fn byte_lists(part: &JsValue, path: &[&str]) -> Result<Vec<Vec<u8>>> {
    let bad = || Error::InvalidArgument(format!("not a part of an attack: no byte arrays at {}", path.join(".")));
    let mut v = part.clone();
    for key in path {
        v = js_sys::Reflect::get(&v, &JsValue::from_str(key)).map_err(|_| bad())?;
    }
    let list = v.dyn_into::<Array>().map_err(|_| bad())?;
    list.iter().map(|b| b.dyn_into::<Uint8Array>().map(|u| u.to_vec()).map_err(|_| bad())).collect()
}

fn f32_bytes(v: &[f32]) -> ByteBuf {
    ByteBuf::from(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn maps_of(bytes: Vec<Vec<u8>>, w: usize, h: usize) -> Result<Vec<ClassMap>> {
    bytes
        .into_iter()
        .map(|data| {
            if data.len() == w * h {
                Ok(ClassMap { width: w, height: h, data })
            } else {
                Err(Error::Shape(format!("a part's map has {} pixels, not {w}×{h}", data.len())))
            }
        })
        .collect()
}

fn pixels(o: &Outcome) -> PixelsJs {
    PixelsJs { images: o.images.iter().map(|i| f32_bytes(&i.data)).collect(), maps: map_bytes(&o.maps) }
}

fn outcome_meta(o: &Outcome) -> OutcomeMeta {
    OutcomeMeta { per_image: o.per_image.clone(), vs_clean: o.vs_clean, vs_reference: o.vs_reference, linf: o.linf, l2: o.l2, psnr: o.psnr }
}

/// The outcome at `key` of a part.
fn outcome_of(part: &JsValue, key: &str, meta: OutcomeMeta, w: usize, h: usize) -> Result<Outcome> {
    Ok(Outcome {
        images: byte_lists(part, &[key, "images"])?.iter().map(|b| RgbImage01::new(w, h, f32s(b))).collect::<Result<_>>()?,
        maps: maps_of(byte_lists(part, &[key, "maps"])?, w, h)?,
        per_image: meta.per_image,
        vs_clean: meta.vs_clean,
        vs_reference: meta.vs_reference,
        linf: meta.linf,
        l2: meta.l2,
        psnr: meta.psnr,
    })
}

/// A part from `attack` with a `part` as the core's [`Part`].
fn part_of(part: &JsValue, w: usize, h: usize) -> Result<Part> {
    let meta = js_sys::Reflect::get(part, &JsValue::from_str("meta")).unwrap_or(JsValue::UNDEFINED);
    let meta: PartMeta = serde_wasm_bindgen::from_value(meta).map_err(|e| Error::InvalidArgument(format!("not a part of an attack: {e}")))?;
    let result = AttackResult {
        targeted: meta.targeted,
        steps_run: meta.steps_run,
        stopped_early: meta.stopped_early,
        clean_maps: maps_of(byte_lists(part, &["clean_maps"])?, w, h)?,
        reference_maps: maps_of(byte_lists(part, &["reference_maps"])?, w, h)?,
        clean_vs_reference: meta.clean_vs_reference,
        adversarial: outcome_of(part, "adversarial", meta.adversarial, w, h)?,
        quantized: Some(outcome_of(part, "quantized", meta.quantized, w, h)?),
        perturbation: byte_lists(part, &["perturbation"])?.iter().map(|b| f32s(b)).collect(),
        history: meta.history,
        miou_worst_case: None,
    };
    Ok(Part { result, iterates: meta.iterates.into_iter().map(IterateTally::try_from).collect::<Result<_>>()? })
}

impl PartJs {
    fn from(r: &AttackResult, iterates: Vec<IterateTally>) -> Result<Self> {
        let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("the part returned no 8-bit images".into()))?;
        Ok(PartJs {
            meta: PartMeta {
                targeted: r.targeted,
                steps_run: r.steps_run,
                stopped_early: r.stopped_early,
                clean_vs_reference: r.clean_vs_reference,
                adversarial: outcome_meta(&r.adversarial),
                quantized: outcome_meta(q),
                history: r.history.clone(),
                iterates: iterates.into_iter().map(IterateJs::from).collect(),
            },
            clean_maps: map_bytes(&r.clean_maps),
            reference_maps: map_bytes(&r.reference_maps),
            perturbation: r.perturbation.iter().map(|p| f32_bytes(p)).collect(),
            adversarial: pixels(&r.adversarial),
            quantized: pixels(q),
        })
    }
}

/// Which part of an attack a worker runs (the `part` argument of `Session.attack`): some
/// images of the batch (`{images: [first, count]}`) or some top-level runs of an ensemble
/// (`{runs: [first, count]}`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum PartSelector {
    /// Images `first..first + count` of the batch.
    Images([usize; 2]),
    /// Runs `first..first + count` of the ensemble, each on the whole batch.
    Runs([usize; 2]),
}

/// A finished part as it crosses between workers: what was run and its results.
#[derive(Serialize)]
struct PartsJs {
    /// `images` or `runs`.
    part: &'static str,
    results: Vec<PartJs>,
}

/// Run the part `selector` of the attack of `options` on the batch `images` (all of them, so
/// that a targeted-image goal finds its target image: its clean map is predicted here on its
/// own). Resolves to an opaque part for `Session.mergeAttack`.
pub(crate) async fn attack_part(
    inner: &Inner,
    images: &Array,
    (w, h): (usize, usize),
    options: JsValue,
    target_map: Option<Uint8Array>,
    selector: PartSelector,
    progress: &Option<Function>,
) -> Result<JsValue> {
    let spec = browser_spec(options)?;
    report_stage(progress, "decoding", 0.0)?;
    let all = decode_all(inner.spec, images, w, h)?;
    let maps = GoalMaps { target_map: painted(target_map, w, h)?, mask: None };
    let out = match selector {
        PartSelector::Images([first, count]) => {
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
            let (mut seen, mut losses) = (Vec::new(), Vec::new());
            let mut observer = |p: &Progress| {
                seen.push(p.maps.clone());
                losses.push(p.loss);
                observe(inner, progress, p)
            };
            let r = split::run_part(&inner.model, &batch_images(imgs, first), &spec, maps, target, first, Some(&mut observer)).await?;
            let iterates = split::tally_iterates(&seen, &losses, &r.reference_maps, inner.spec.num_classes())?;
            PartsJs { part: "images", results: vec![PartJs::from(&r, iterates)?] }
        }
        PartSelector::Runs([first, count]) => {
            let mut observer = |p: &Progress| observe(inner, progress, p);
            let runs = split_members::run_runs(&inner.model, &batch_images(&all, 0), &spec, maps, first, count, Some(&mut observer)).await?;
            PartsJs { part: "runs", results: runs.iter().map(|r| PartJs::from(r, Vec::new())).collect::<Result<Vec<_>>>()? }
        }
    };
    report_stage(progress, "done", 1.0)?;
    to_js(&out)
}

#[wasm_bindgen]
impl Session {
    /// The parts of an attack split over the page's workers (from `attack` with a `part`, in
    /// order: images in batch order, or runs in run order) as what `attack` on the whole batch
    /// (`images`, `options`, …) resolves to; `seconds` is the pool's wall time.
    #[wasm_bindgen(js_name = mergeAttack)]
    pub fn merge_attack(&self, images: Array, width: u32, height: u32, options: JsValue, parts: Array, seconds: f64) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let (w, h) = (width as usize, height as usize);
            let (mut by_images, mut by_runs) = (Vec::new(), Vec::new());
            for p in parts.iter() {
                let kind = js_sys::Reflect::get(&p, &JsValue::from_str("part")).ok().and_then(|v| v.as_string()).unwrap_or_default();
                let results = js_sys::Reflect::get(&p, &JsValue::from_str("results")).map_err(|_| Error::InvalidArgument("not a part of an attack".into()))?;
                let results = results.dyn_into::<Array>().map_err(|_| Error::InvalidArgument("not a part of an attack: no results".into()))?;
                for v in results.iter() {
                    match kind.as_str() {
                        "images" => by_images.push(part_of(&v, w, h)?),
                        "runs" => by_runs.push(part_of(&v, w, h)?.result),
                        other => return Err(Error::InvalidArgument(format!("not a part of an attack: part '{other}'"))),
                    }
                }
            }
            let r = match (by_images.is_empty(), by_runs.is_empty()) {
                (false, true) => split::merge(by_images, inner.spec.num_classes())?,
                (true, false) => split_members::merge_runs(by_runs, inner.spec.num_classes())?,
                _ => return Err(Error::InvalidArgument("mergeAttack takes the parts of one split: all by images or all by runs".into())),
            };
            merged(&inner, images, w, h, options, r, seconds)
        })
    }
}

/// The whole batch's result from merged parts, as `attack` resolves to it.
fn merged(inner: &Inner, images: Array, w: usize, h: usize, options: JsValue, r: AttackResult, seconds: f64) -> Result<JsValue> {
    let spec = browser_spec(options)?;
    let imgs = decode_all(inner.spec, &images, w, h)?;
    if r.clean_maps.len() != imgs.len() {
        return Err(Error::InvalidArgument(format!("the parts hold {} images, the batch {}", r.clean_maps.len(), imgs.len())));
    }
    let out = assemble(&inner.model, &batch_images(&imgs, 0), &spec.for_model(inner.spec), r, None, None)?;
    attacked(out, &imgs, w, h, &inner.backend, seconds)
}
