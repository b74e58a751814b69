//! A universal perturbation from spec to report: craft `δ` on one image set
//! ([`crate::attack::universal::craft::craft_universal`]) or take a given one, then score it on that set and
//! on held-apart images — next to a random `δ` of the same radius — per image and pooled
//! ([`UniversalReport`], the CLI's `report.json` and the page's result).

use burn::tensor::Device;
use serde::Serialize;

use crate::attack::loops::outcome::{Control, Progress, StepRecord};
use crate::attack::universal::craft::{UniversalConfig, UniversalDelta, craft_universal};
use crate::attack::universal::spec::UniversalSpec;
use crate::attack::run::BatchImage;
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::image::{RgbImage01, to_tensor01};
use crate::model::SegModel;
use crate::model::predict_batched;
use crate::model::zoo::ModelSpec;

/// Scores of perturbed images (one image, or pooled over a set's pixels).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UniversalScores {
    /// The image's name (`pooled` for a set).
    pub name: String,
    /// Fraction of pixels whose class equals the clean map's.
    pub accuracy_vs_clean: f64,
    /// Fraction of labelled pixels whose class equals the ground truth (where known).
    pub accuracy_vs_ground_truth: Option<f64>,
    /// Fraction of the goal's (non-void) reference pixels reached: for `hide-class` the
    /// success rate, for `untargeted` the same as the accuracy against its reference.
    pub agreement_reference: f64,
    /// `hide-class`: pixels of the hidden class in the clean map.
    pub hidden_pixels: Option<usize>,
    /// `hide-class`: fraction of those now predicted as the background class.
    pub vanished: Option<f64>,
    /// `hide-class`: fraction of the other pixels that kept their clean class.
    pub kept: Option<f64>,
}

/// Pixel counts behind [`UniversalScores`].
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    same: usize,
    pixels: usize,
    gt_right: usize,
    gt_labelled: usize,
    has_gt: bool,
    ref_hit: usize,
    ref_valid: usize,
    hidden: usize,
    vanished: usize,
    others: usize,
    kept: usize,
}

impl Counts {
    fn of(pred: &ClassMap, clean: &ClassMap, reference: &ClassMap, gt: Option<&ClassMap>, hide: Option<(u8, u8)>) -> Counts {
        let mut c = Counts { pixels: pred.data.len(), has_gt: gt.is_some(), ..Counts::default() };
        for (p, (&v, (&cl, &r))) in pred.data.iter().zip(clean.data.iter().zip(&reference.data)).enumerate() {
            c.same += usize::from(v == cl);
            if r != VOID {
                c.ref_valid += 1;
                c.ref_hit += usize::from(v == r);
            }
            if let Some(g) = gt.map(|g| g.data[p]).filter(|&g| g != VOID) {
                c.gt_labelled += 1;
                c.gt_right += usize::from(v == g);
            }
            if let Some((class, bg)) = hide {
                if cl == class {
                    c.hidden += 1;
                    c.vanished += usize::from(v == bg);
                } else {
                    c.others += 1;
                    c.kept += usize::from(v == cl);
                }
            }
        }
        c
    }

    fn add(self, o: Counts) -> Counts {
        Counts {
            same: self.same + o.same,
            pixels: self.pixels + o.pixels,
            gt_right: self.gt_right + o.gt_right,
            gt_labelled: self.gt_labelled + o.gt_labelled,
            has_gt: self.has_gt || o.has_gt,
            ref_hit: self.ref_hit + o.ref_hit,
            ref_valid: self.ref_valid + o.ref_valid,
            hidden: self.hidden + o.hidden,
            vanished: self.vanished + o.vanished,
            others: self.others + o.others,
            kept: self.kept + o.kept,
        }
    }

    fn scores(&self, name: &str, hide: bool) -> UniversalScores {
        let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        UniversalScores {
            name: name.to_string(),
            accuracy_vs_clean: frac(self.same, self.pixels),
            accuracy_vs_ground_truth: (self.has_gt && self.gt_labelled > 0).then(|| frac(self.gt_right, self.gt_labelled)),
            agreement_reference: frac(self.ref_hit, self.ref_valid),
            hidden_pixels: hide.then_some(self.hidden),
            vanished: (hide && self.hidden > 0).then(|| frac(self.vanished, self.hidden)),
            kept: hide.then(|| frac(self.kept, self.others)),
        }
    }
}

/// One perturbation's scores on a set: per image and pooled over all pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredSet {
    /// Per image.
    pub per_image: Vec<UniversalScores>,
    /// Pooled over the set's pixels.
    pub pooled: UniversalScores,
}

/// A set's scores under the universal `δ` and under a random `δ` of the same radius (every
/// value `±ε`, seeded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetEval {
    /// The images' names.
    pub images: Vec<String>,
    /// Under the universal perturbation.
    pub universal: ScoredSet,
    /// Under the random perturbation.
    pub random: ScoredSet,
    /// The clean maps' accuracy against the ground truth, pooled (where known).
    pub clean_accuracy_vs_ground_truth: Option<f64>,
}

/// What a universal run reports (`docs/report-schema.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UniversalReport {
    /// The zoo model.
    pub model: String,
    /// The device (set by the front end).
    pub backend: String,
    /// Input width (and `δ`'s).
    pub width: usize,
    /// Input height.
    pub height: usize,
    /// The spec as run.
    pub spec: UniversalSpec,
    /// The radius.
    pub eps: f64,
    /// The step size α.
    pub alpha: f64,
    /// Steps taken (0 for a given `δ`).
    pub steps_run: usize,
    /// The step whose `δ` was kept: the most successful on the crafting set (0 for a given `δ`).
    pub kept_step: usize,
    /// Whether `δ` was given rather than crafted.
    pub given_delta: bool,
    /// Wall-clock seconds (set by the front end).
    pub seconds: f64,
    /// Per step: the mini-batch's loss and agreement with its references before the step.
    pub history: Vec<StepRecord>,
    /// The crafting set.
    pub crafting: SetEval,
    /// Images held apart from crafting (none: `null`).
    pub held_out: Option<SetEval>,
}

/// The images of a set at their common size, planar `[0, 1]`.
fn planar(set: &[BatchImage], w: usize, h: usize) -> Result<Vec<RgbImage01>> {
    set.iter()
        .map(|b| {
            let x = to_tensor01(&b.image);
            if (x.width, x.height) != (w, h) {
                return Err(Error::Shape(format!("{} is {}×{}, the perturbation is {w}×{h}", b.name, x.width, x.height)));
            }
            Ok(x)
        })
        .collect()
}

/// Score `delta` and a random `δ` of its radius on `set`.
async fn evaluate<M: SegModel + ?Sized>(
    model: &M,
    spec_model: &ModelSpec,
    spec: &UniversalSpec,
    delta: &UniversalDelta,
    set: &[BatchImage],
    device: &Device,
) -> Result<SetEval> {
    let xs = planar(set, delta.width, delta.height)?;
    let bs = spec.batch_size;
    let clean = predict_batched(model, &xs, bs, device).await?;
    let gts: Vec<Option<ClassMap>> =
        set.iter().map(|b| b.ground_truth.as_ref().map(|g| g.resized(delta.width, delta.height)).transpose()).collect::<Result<_>>()?;
    let (references, _) = spec.references(spec_model, &clean, &gts)?;
    let hide = spec.hide_classes(spec_model)?;
    let random = UniversalDelta::random_signs(delta.width, delta.height, delta.eps, spec.seed);
    let mut scored = Vec::with_capacity(2);
    for d in [delta, &random] {
        let adv = xs.iter().map(|x| d.apply(x)).collect::<Result<Vec<_>>>()?;
        let maps = predict_batched(model, &adv, bs, device).await?;
        let counts: Vec<Counts> =
            (0..set.len()).map(|i| Counts::of(&maps[i], &clean[i], &references[i], gts[i].as_ref(), hide)).collect();
        let pooled = counts.iter().fold(Counts::default(), |a, &c| a.add(c));
        scored.push(ScoredSet {
            per_image: counts.iter().zip(set).map(|(c, b)| c.scores(&b.name, hide.is_some())).collect(),
            pooled: pooled.scores("pooled", hide.is_some()),
        });
    }
    let clean_counts = (0..set.len()).fold(Counts::default(), |a, i| a.add(Counts::of(&clean[i], &clean[i], &references[i], gts[i].as_ref(), hide)));
    let clean_accuracy_vs_ground_truth = clean_counts.scores("clean", false).accuracy_vs_ground_truth;
    let random = scored.pop().ok_or_else(|| Error::Backend("no random scores".into()))?;
    let universal = scored.pop().ok_or_else(|| Error::Backend("no universal scores".into()))?;
    Ok(SetEval { images: set.iter().map(|b| b.name.clone()).collect(), universal, random, clean_accuracy_vs_ground_truth })
}

/// Craft a universal `δ` for `spec` on `crafting` (or take `given`), then score it on
/// `crafting` and `held_out` (may be empty). All images must have one size (the model's
/// input); `model` should be on an autodiff `device`. The observer sees each crafting step.
pub async fn run_universal<M: SegModel + ?Sized>(
    model: &M,
    spec_model: &ModelSpec,
    spec: &UniversalSpec,
    crafting: &[BatchImage],
    held_out: &[BatchImage],
    given: Option<UniversalDelta>,
    device: &Device,
    observer: Option<&mut dyn FnMut(&Progress) -> Control>,
) -> Result<(UniversalReport, UniversalDelta)> {
    spec.validate()?;
    let first = crafting.first().ok_or_else(|| Error::InvalidArgument("no images to craft the perturbation on".into()))?;
    let (w, h) = (first.image.width() as usize, first.image.height() as usize);
    spec_model.check_size(w, h)?;
    let (delta, history, steps_run, kept_step) = match given.clone() {
        Some(d) => {
            if (d.width, d.height) != (w, h) {
                return Err(Error::Shape(format!("the given perturbation is {}×{}, the images are {w}×{h}", d.width, d.height)));
            }
            (d, Vec::new(), 0, 0)
        }
        None => {
            let xs = planar(crafting, w, h)?;
            let clean = predict_batched(model, &xs, spec.batch_size, device).await?;
            let gts: Vec<Option<ClassMap>> =
                crafting.iter().map(|b| b.ground_truth.as_ref().map(|g| g.resized(w, h)).transpose()).collect::<Result<_>>()?;
            let (references, targeted) = spec.references(spec_model, &clean, &gts)?;
            let cfg = UniversalConfig {
                eps: spec.eps.value,
                alpha: spec.alpha(),
                steps: spec.steps,
                batch_size: spec.batch_size,
                loss: spec.loss,
                seed: spec.seed,
                random_start: spec.random_start,
            };
            let c = craft_universal(model, &xs, &references, targeted, &cfg, device, observer).await?;
            (c.delta, c.history, c.steps_run, c.kept_step)
        }
    };
    let crafting_eval = evaluate(model, spec_model, spec, &delta, crafting, device).await?;
    let held = if held_out.is_empty() { None } else { Some(evaluate(model, spec_model, spec, &delta, held_out, device).await?) };
    let report = UniversalReport {
        model: spec_model.name.to_string(),
        backend: String::new(),
        width: w,
        height: h,
        spec: spec.clone(),
        eps: delta.eps,
        alpha: spec.alpha(),
        steps_run,
        kept_step,
        given_delta: given.is_some(),
        seconds: 0.0,
        history,
        crafting: crafting_eval,
        held_out: held,
    };
    Ok((report, delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(data: Vec<u8>) -> ClassMap {
        ClassMap { width: data.len(), height: 1, data }
    }

    #[test]
    fn counts_score_hiding_and_accuracy() {
        // clean: person (1) at 0..2; the perturbed map turns pixel 0 to background, pixel 3 to person
        let clean = m(vec![1, 1, 0, 0]);
        let pred = m(vec![0, 1, 0, 1]);
        let reference = m(vec![0, 0, 0, 0]);
        let gt = m(vec![1, VOID, 0, 0]);
        let c = Counts::of(&pred, &clean, &reference, Some(&gt), Some((1, 0)));
        let s = c.scores("a", true);
        assert_eq!(s.accuracy_vs_clean, 0.5);
        assert_eq!(s.accuracy_vs_ground_truth, Some(1.0 / 3.0));
        assert_eq!(s.agreement_reference, 0.5);
        assert_eq!((s.hidden_pixels, s.vanished, s.kept), (Some(2), Some(0.5), Some(0.5)));
        let pooled = c.add(Counts::of(&clean, &clean, &reference, None, Some((1, 0)))).scores("pooled", true);
        assert_eq!(pooled.accuracy_vs_clean, 6.0 / 8.0);
        assert_eq!(pooled.vanished, Some(0.25));
        let plain = Counts::of(&pred, &clean, &clean, None, None).scores("b", false);
        assert_eq!((plain.hidden_pixels, plain.vanished, plain.kept, plain.accuracy_vs_ground_truth), (None, None, None, None));
        assert_eq!(plain.agreement_reference, plain.accuracy_vs_clean);
    }
}
