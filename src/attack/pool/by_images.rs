//! A batch attack split into parts — the page's pool of CPU workers attacks images `k..k+m`
//! of a batch in each worker — and the parts merged back into the result of the whole batch.
//!
//! A split is exact only where every image of the batch is attacked on its own: APGD
//! (per-image losses, step sizes and kept iterates — see the test
//! `batch_order_and_each_image_is_attacked_on_its_own` in [`crate::attack::loops::apgd`]),
//! without early stop (it waits for the whole batch), restarts (their seeds are drawn per
//! batch), a defense (its maps and EOT members stay together) or a ground-truth target. PGD's
//! loss is the mean over the whole batch's valid pixels and DAG stops when no pixel of the batch
//! is left; an ensemble (SEA, a worst case) chooses its mIoU worst case over the whole batch —
//! it shares its runs instead ([`super::by_members`]). [`unsplittable`] says why.
//!
//! What makes the parts agree with one run on the whole batch:
//! - the random start is drawn for the whole `[N, 3, H, W]` batch from one SplitMix64 stream; a
//!   part starting at image `k` skips the `k` images' draws ([`part_seed`]);
//! - a targeted-image goal takes the target image's clean map, which the part receives
//!   (predicted once) as an explicit map, as a batch within a larger set does;
//! - [`merge`] recomputes every pooled number from the per-image values the way the loops do
//!   (`compare_maps` over all maps, largest norms, PSNR from the per-image MSEs), and the
//!   history from per-iterate tallies of each part ([`tally_iterates`]): the agreement and the
//!   mIoU exactly; the loss, a mean over the batch's valid pixels, as the parts' losses
//!   weighted by their valid pixels (equal up to rounding).

use serde::{Deserialize, Serialize};

use crate::attack::loops::common::{Observer, pooled_outcome};
use crate::attack::loops::outcome::{AttackResult, Outcome, StepRecord};
use crate::attack::run::{BatchImage, GoalMaps, Setup};
use crate::attack::spec::attack_spec::{AttackKind, AttackSpec, GoalKind, MapOrigin};
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::metrics::{self, ConfusionMatrix, compare_maps};
use crate::model::Segmenter;
use crate::util::SplitMix64;

/// Why `spec` must attack its batch in one piece (`None`: its images can be split).
pub fn unsplittable(spec: &AttackSpec) -> Option<&'static str> {
    if spec.defense.is_some() {
        return Some("a defense keeps its maps and EOT members on one worker");
    }
    if spec.early_stop.is_some() {
        return Some("early stop waits for every image of the batch");
    }
    if spec.restarts > 1 {
        return Some("restarts draw their seeds for the whole batch");
    }
    if spec.kind.is_ensemble() {
        return Some("an ensemble's mIoU worst case is chosen over the whole batch (its runs can be shared instead)");
    }
    if spec.goal == GoalKind::TargetedImage && spec.target_source != MapOrigin::Predicted {
        return Some("a ground-truth target image needs the whole batch");
    }
    match spec.kind {
        AttackKind::Pgd => Some("PGD's loss is the mean over the whole batch"),
        AttackKind::Dag => Some("DAG stops when no pixel of the batch is left"),
        AttackKind::Apgd | AttackKind::Sea | AttackKind::WorstCase => None,
    }
}

/// The seed of the part whose first image is image `first` of the batch: its random start is
/// the slice of the whole batch's (images of `width × height`).
pub fn part_seed(spec: &AttackSpec, first: usize, width: usize, height: usize) -> u64 {
    SplitMix64::seed_after(spec.seed, first as u64 * spec.norm.draws_per_image(3 * width * height))
}

/// One iterate of a part, tallied against the part's reference maps: what [`merge`] needs to
/// rebuild the batch's history line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterateTally {
    /// The part's loss at this iterate (a mean over its valid pixels).
    pub loss: f64,
    /// Per image, the fraction of valid pixels on the reference.
    pub agreement: Vec<f64>,
    /// The confusion counts of the part's maps against the references (row-major).
    pub counts: Vec<u64>,
    /// The part's valid (non-void) reference pixels.
    pub valid: u64,
}

/// The tallies of the iterates a part's observer saw (`observed[j]` = the maps of iterate
/// `j`, `losses[j]` its loss) against the part's `reference` maps.
pub fn tally_iterates(observed: &[Vec<ClassMap>], losses: &[f64], reference: &[ClassMap], num_classes: usize) -> Result<Vec<IterateTally>> {
    let valid = reference.iter().map(|r| r.data.iter().filter(|&&c| c != VOID).count() as u64).sum();
    observed
        .iter()
        .zip(losses)
        .map(|(maps, &loss)| {
            let mut cm = ConfusionMatrix::new(num_classes);
            let mut agreement = Vec::with_capacity(maps.len());
            for (m, r) in maps.iter().zip(reference) {
                cm.add(&r.data, &m.data)?;
                agreement.push(metrics::agreement(&m.data, &r.data, Some(VOID))?);
            }
            Ok(IterateTally { loss, agreement, counts: cm.counts().to_vec(), valid })
        })
        .collect()
}

/// One part of a split batch: `images` are images `first..first + images.len()` of it;
/// `target` is the target image's clean map for a targeted-image goal. The observer sees the
/// part's iterates. Errors as [`super::run_attack`], and for a spec that cannot be split.
pub async fn run_part(
    model: &Segmenter,
    images: &[BatchImage],
    spec: &AttackSpec,
    maps: GoalMaps,
    target: Option<ClassMap>,
    first: usize,
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    if let Some(why) = unsplittable(spec) {
        return Err(Error::InvalidArgument(format!("this attack cannot be split over workers: {why}")));
    }
    let head = images.first().ok_or_else(|| Error::InvalidArgument("no images given (an empty batch)".into()))?;
    let seed = part_seed(spec, first, head.image.width() as usize, head.image.height() as usize);
    let target = if spec.goal == GoalKind::TargetedImage {
        Some(target.ok_or_else(|| Error::InvalidArgument("a part of a targeted-image attack needs the target image's map".into()))?)
    } else {
        None
    };
    Setup::new(model, images, spec, maps, target, seed)?.run(model, observer).await
}

/// A finished part: its result and the tallies of its iterates.
#[derive(Debug, Clone)]
pub struct Part {
    /// The part's result.
    pub result: AttackResult,
    /// One tally per history line of `result`.
    pub iterates: Vec<IterateTally>,
}

/// The parts of a batch (in batch order) as the result of the whole batch.
pub fn merge(parts: Vec<Part>, num_classes: usize) -> Result<AttackResult> {
    let head = parts.first().ok_or_else(|| Error::InvalidArgument("no parts to merge".into()))?;
    let (targeted, len) = (head.result.targeted, head.result.history.len());
    for p in &parts {
        if p.result.targeted != targeted || p.result.history.len() != len || p.iterates.len() != len || p.result.quantized.is_none() {
            return Err(Error::InvalidArgument("the parts of a batch ran different attacks".into()));
        }
    }
    let history = merge_history(&parts, num_classes)?;
    let steps_run = parts.iter().map(|p| p.result.steps_run).max().unwrap_or(0);
    let stopped_early = parts.iter().any(|p| p.result.stopped_early);
    let (mut clean_maps, mut reference_maps, mut perturbation) = (Vec::new(), Vec::new(), Vec::new());
    let (mut adversarial, mut quantized) = (Vec::new(), Vec::new());
    for p in parts {
        let r = p.result;
        clean_maps.extend(r.clean_maps);
        reference_maps.extend(r.reference_maps);
        perturbation.extend(r.perturbation);
        adversarial.push(r.adversarial);
        quantized.extend(r.quantized);
    }
    Ok(AttackResult {
        targeted,
        steps_run,
        stopped_early,
        clean_vs_reference: compare_maps(&clean_maps, &reference_maps, num_classes)?,
        adversarial: merge_outcomes(adversarial, &clean_maps, &reference_maps, num_classes)?,
        quantized: Some(merge_outcomes(quantized, &clean_maps, &reference_maps, num_classes)?),
        clean_maps,
        reference_maps,
        perturbation,
        history,
        miou_worst_case: None,
    })
}

/// The history lines of the whole batch from the parts' tallies.
fn merge_history(parts: &[Part], num_classes: usize) -> Result<Vec<StepRecord>> {
    let len = parts[0].iterates.len();
    (0..len)
        .map(|j| {
            let mut cm = ConfusionMatrix::new(num_classes);
            let (mut agreement, mut weighted, mut valid) = (Vec::new(), 0.0, 0u64);
            for p in parts {
                let t = &p.iterates[j];
                cm.merge(&ConfusionMatrix::from_counts(num_classes, t.counts.clone())?)?;
                agreement.extend_from_slice(&t.agreement);
                weighted += t.loss * t.valid as f64;
                valid += t.valid;
            }
            Ok(StepRecord {
                step: parts[0].result.history[j].step,
                loss: weighted / valid.max(1) as f64,
                mean_agreement: agreement.iter().sum::<f64>() / agreement.len().max(1) as f64,
                miou: cm.miou(),
            })
        })
        .collect()
}

/// Outcomes of consecutive parts as one, the pooled values computed as the loops compute them.
fn merge_outcomes(parts: Vec<Outcome>, clean: &[ClassMap], reference: &[ClassMap], num_classes: usize) -> Result<Outcome> {
    let (mut images, mut maps, mut per_image) = (Vec::new(), Vec::new(), Vec::new());
    for o in parts {
        images.extend(o.images);
        maps.extend(o.maps);
        per_image.extend(o.per_image);
    }
    pooled_outcome(images, maps, per_image, clean, reference, num_classes)
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use burn::tensor::Tensor;

    use super::*;
    use crate::attack::loops::apgd::apgd;
    use crate::attack::loops::norm::Norm;
    use crate::attack::loops::outcome::{Control, Progress};
    use crate::attack::loops::testing::{Toy, batch};
    use crate::attack::settings::PgdConfig;
    use crate::attack::spec::goal::Goal;
    use crate::backend;

    /// APGD with a random start on images `first..first + count` of `x`, tallied.
    fn part(x: &[f32], dims: [usize; 4], first: usize, count: usize, goal: &Goal, cfg: &PgdConfig) -> Part {
        let d = backend::cpu();
        let [_, c, h, w] = dims;
        let per = c * h * w;
        let xs = Tensor::<4>::from_data(burn::tensor::TensorData::new(x[first * per..(first + count) * per].to_vec(), [count, c, h, w]), &d);
        let seed = SplitMix64::seed_after(cfg.seed, first as u64 * cfg.norm.draws_per_image(per));
        let cfg = cfg.clone().with_seed(seed);
        let (mut seen, mut losses) = (Vec::new(), Vec::new());
        let mut obs = |p: &Progress| {
            seen.push(p.maps.clone());
            losses.push(p.loss);
            Control::Continue
        };
        let result = crate::util::block_on(apgd(&Toy::new(&d), xs, goal, &cfg, Some(&mut obs))).unwrap();
        let iterates = tally_iterates(&seen, &losses, &result.reference_maps, 3).unwrap();
        Part { result, iterates }
    }

    #[test]
    fn parts_merge_into_the_whole_batchs_result() {
        let d = backend::cpu();
        let dims = [4, 3, 4, 5];
        let (xh, x) = batch(21, 4, 4, 5, &d);
        for goal in [Goal::untargeted(), Goal::to_class(1)] {
            for norm in [Norm::Linf, Norm::L2] {
                let eps = if norm == Norm::L2 { 0.3 } else { 0.05 };
                let cfg = PgdConfig::new().with_eps(eps).with_steps(4).with_norm(norm).with_random_start(true).with_seed(77).with_quantize(true);
                let whole = crate::util::block_on(apgd(&Toy::new(&d), x.clone(), &goal, &cfg, None)).unwrap();
                let parts = vec![part(&xh, dims, 0, 1, &goal, &cfg), part(&xh, dims, 1, 2, &goal, &cfg), part(&xh, dims, 3, 1, &goal, &cfg)];
                let merged = merge(parts, 3).unwrap();
                let what = format!("{goal:?} {norm}");
                assert_eq!(merged.perturbation, whole.perturbation, "{what}");
                assert_eq!(merged.adversarial, whole.adversarial, "{what}");
                assert_eq!(merged.quantized, whole.quantized, "{what}");
                assert_eq!((&merged.clean_maps, &merged.reference_maps), (&whole.clean_maps, &whole.reference_maps), "{what}");
                assert_eq!(merged.clean_vs_reference, whole.clean_vs_reference, "{what}");
                assert_eq!(merged.history.len(), whole.history.len(), "{what}");
                for (m, w) in merged.history.iter().zip(&whole.history) {
                    assert_eq!((m.step, m.mean_agreement, m.miou), (w.step, w.mean_agreement, w.miou), "{what}");
                    assert!((m.loss - w.loss).abs() <= 1e-6 * w.loss.abs().max(1.0), "{what}: loss {} vs {}", m.loss, w.loss);
                }
            }
        }
    }

    #[test]
    fn only_attacks_on_independent_images_split() {
        let spec = |json: &str| AttackSpec::from_json(json).unwrap();
        assert_eq!(unsplittable(&spec(r#"{"kind": "apgd", "random_start": true}"#)), None);
        assert_eq!(unsplittable(&spec(r#"{"kind": "apgd", "goal": "targeted-image", "target_index": 2}"#)), None);
        let ensembles = [r#"{"kind": "sea"}"#, r#"{"kind": "worst-case", "members": [{"kind": "apgd"}]}"#];
        for json in [r#"{"kind": "pgd"}"#, r#"{"kind": "dag"}"#, r#"{"early_stop": 0.9}"#, r#"{"restarts": 2}"#].into_iter().chain(ensembles) {
            assert!(unsplittable(&spec(json)).is_some(), "{json}");
        }
    }
}
