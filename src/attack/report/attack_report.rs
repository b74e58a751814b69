//! [`AttackReport`]: the one result type of an attack on a batch — the CLI's `report.json`, the
//! object the page receives and what `docs/report-schema.md` documents (`schema` names its
//! version).

use serde::{Serialize, Serializer};

use crate::attack::losses::loss::LossKind;
use crate::attack::loops::outcome::{AttackResult, Outcome, StepRecord};
use crate::attack::report::budget::Budget;
use crate::attack::report::detail::{ReportDetail, detail_all, detail_one};
use crate::attack::spec::attack_spec::AttackSpec;
use crate::data::ClassMap;
use crate::error::Result;
use crate::metrics::{MapMetrics, compare_maps};

/// The schema of [`AttackReport`] (bumped on any incompatible change).
pub const ATTACK_SCHEMA: &str = "advseg.attack/2";

/// JSON has no infinity: an infinite PSNR (identical images) is written as the string `"inf"`.
pub fn finite_or_inf<S: Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if v.is_finite() { s.serialize_f64(*v) } else { s.serialize_str("inf") }
}

/// Scores of one set of maps (one image, or a whole batch pooled).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Achieved `‖x_adv − x‖∞` (largest over the images for a batch).
    pub linf: f64,
    /// Achieved `‖x_adv − x‖₂` over `3·H·W` values (largest over the images for a batch).
    pub l2: f64,
    /// PSNR in dB (peak 1; a batch: from the mean squared error).
    #[serde(serialize_with = "finite_or_inf")]
    pub psnr: f64,
    /// Against the clean prediction.
    pub vs_clean: MapMetrics,
    /// Against the target map (targeted goals).
    pub vs_target: Option<MapMetrics>,
    /// Against ground truth (images that have it).
    pub vs_ground_truth: Option<MapMetrics>,
}

/// Scores of the clean prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanScores {
    /// Against the target map (targeted goals).
    pub vs_target: Option<MapMetrics>,
    /// Against ground truth.
    pub vs_ground_truth: Option<MapMetrics>,
}

/// What a defended model makes of the clean and of the adversarial images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefendedScores {
    /// Defended prediction on clean images vs the undefended clean prediction.
    pub clean_vs_clean: MapMetrics,
    /// Defended prediction on the adversarial images vs the undefended clean prediction.
    pub vs_clean: MapMetrics,
    /// … vs the target map (targeted goals).
    pub vs_target: Option<MapMetrics>,
    /// … vs ground truth.
    pub vs_ground_truth: Option<MapMetrics>,
}

/// One image of the batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageReport {
    /// Its name (file stem, or `image N`).
    pub name: String,
    /// Where it came from (a path), if known.
    pub input: Option<String>,
    /// Whether a ground-truth map was given.
    pub has_ground_truth: bool,
    /// The clean prediction.
    pub clean: CleanScores,
    /// The real-valued adversarial image.
    pub adversarial: Scores,
    /// The adversarial image rounded to 8 bits (what a saved PNG holds).
    pub quantized: Scores,
    /// The defended model on it (with a defense).
    pub defended: Option<DefendedScores>,
    /// `sea`: the loss of the ensemble member whose result this image kept (`null` otherwise).
    pub winning_loss: Option<LossKind>,
    /// Ensembles: the index into [`AttackReport::runs`] of the run this image kept.
    pub winner: Option<usize>,
    /// Ensembles: the run the mIoU worst case chose for this image.
    pub miou_winner: Option<usize>,
    /// The iterate kept for this image (as in `history[].step`; `0`: the start — for an
    /// attack from the clean image, the image is unchanged): each run returns its most
    /// successful iterate, which need not be its last.
    pub kept_step: Option<usize>,
    /// Per-class IoU and accuracy by object size (clean and 8-bit adversarial).
    pub detail: ReportDetail,
}

/// The batch as a whole (one confusion matrix over all images).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverallReport {
    /// The clean prediction.
    pub clean: CleanScores,
    /// The real-valued adversarial images.
    pub adversarial: Scores,
    /// The 8-bit adversarial images.
    pub quantized: Scores,
    /// The defended model (with a defense).
    pub defended: Option<DefendedScores>,
    /// Ensembles: the mIoU worst case (per image the run a greedy search picks to minimise the
    /// pooled mIoU against the reference), as SEA's authors report it beside the accuracy one.
    pub miou_worst_case: Option<WorstCaseScores>,
    /// Per-class IoU and accuracy by object size, pooled (clean and 8-bit adversarial).
    pub detail: ReportDetail,
}

/// The scores of an ensemble's mIoU worst case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstCaseScores {
    /// The real-valued images chosen.
    pub adversarial: Scores,
    /// Their 8-bit versions.
    pub quantized: Option<Scores>,
}

/// The defense of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefenseInfo {
    /// A description, e.g. `jpeg:75 → ms(0.5,1)+flip/mean`.
    pub label: String,
    /// Whether the perturbation was crafted against the defended model.
    pub adaptive: bool,
}

/// Everything an attack on a batch reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    /// [`ATTACK_SCHEMA`].
    pub schema: &'static str,
    /// Zoo name of the attacked model.
    pub model: String,
    /// The attack as run.
    pub spec: AttackSpec,
    /// ε as a number.
    pub eps: f64,
    /// Input size `[width, height]`.
    pub input_size: [usize; 2],
    /// Whether the goal was targeted.
    pub targeted: bool,
    /// `targeted-image`: the name of the target image.
    pub target_image: Option<String>,
    /// `targeted-class`: the class index.
    pub target_class: Option<u8>,
    /// `targeted-class`: the class name.
    pub target_class_name: Option<String>,
    /// Gradient steps taken.
    pub steps_run: usize,
    /// Ensembles (SEA's losses, restarts, a worst case's attacks): the labels of the top-level
    /// runs, in order (`images[].winner` indexes them); empty for a single run.
    pub runs: Vec<String>,
    /// Whether the saved 8-bit images keep ε (they do; see [`Budget`]).
    pub budget: Budget,
    /// Whether the loop ended early.
    pub stopped_early: bool,
    /// The model's class names (index = class), for the per-class IoU lists.
    pub classes: Vec<String>,
    /// Images in the batch.
    pub n_images: usize,
    /// How many of them have ground truth.
    pub n_images_with_ground_truth: usize,
    /// Per image, in batch order.
    pub images: Vec<ImageReport>,
    /// The batch pooled.
    pub overall: OverallReport,
    /// The defense, if any.
    pub defense: Option<DefenseInfo>,
    /// One record per iterate.
    pub history: Vec<StepRecord>,
    /// The device (filled by the front end).
    pub backend: String,
    /// Wall-clock seconds (filled by the front end).
    pub seconds: f64,
}

/// The maps a report compares against, per image.
pub(crate) struct References<'a> {
    pub clean: &'a [ClassMap],
    pub targets: Option<&'a [ClassMap]>,
    pub ground_truth: &'a [Option<ClassMap>],
    pub num_classes: usize,
}

impl References<'_> {
    fn one(&self, maps: &[ClassMap], refs: &[ClassMap], i: usize) -> Result<MapMetrics> {
        compare_maps(std::slice::from_ref(&maps[i]), std::slice::from_ref(&refs[i]), self.num_classes)
    }

    fn gt_one(&self, maps: &[ClassMap], i: usize) -> Result<Option<MapMetrics>> {
        self.ground_truth
            .get(i)
            .and_then(Option::as_ref)
            .map(|g| compare_maps(std::slice::from_ref(&maps[i]), std::slice::from_ref(g), self.num_classes))
            .transpose()
    }

    /// Pooled over the images that have ground truth (`None` if none has).
    fn gt_all(&self, maps: &[ClassMap]) -> Result<Option<MapMetrics>> {
        let (p, g): (Vec<ClassMap>, Vec<ClassMap>) = maps
            .iter()
            .zip(self.ground_truth)
            .filter_map(|(m, g)| g.clone().map(|g| (m.clone(), g)))
            .unzip();
        if g.is_empty() { Ok(None) } else { compare_maps(&p, &g, self.num_classes).map(Some) }
    }

    fn target_one(&self, maps: &[ClassMap], i: usize) -> Result<Option<MapMetrics>> {
        self.targets.map(|t| self.one(maps, t, i)).transpose()
    }

    fn target_all(&self, maps: &[ClassMap]) -> Result<Option<MapMetrics>> {
        self.targets.map(|t| compare_maps(maps, t, self.num_classes)).transpose()
    }

    pub(crate) fn clean_one(&self, i: usize) -> Result<CleanScores> {
        Ok(CleanScores { vs_target: self.target_one(self.clean, i)?, vs_ground_truth: self.gt_one(self.clean, i)? })
    }

    pub(crate) fn clean_all(&self) -> Result<CleanScores> {
        Ok(CleanScores { vs_target: self.target_all(self.clean)?, vs_ground_truth: self.gt_all(self.clean)? })
    }

    pub(crate) fn outcome_one(&self, o: &Outcome, i: usize) -> Result<Scores> {
        let s = &o.per_image[i];
        Ok(Scores {
            linf: s.linf,
            l2: s.l2,
            psnr: s.psnr,
            vs_clean: self.one(&o.maps, self.clean, i)?,
            vs_target: self.target_one(&o.maps, i)?,
            vs_ground_truth: self.gt_one(&o.maps, i)?,
        })
    }

    pub(crate) fn outcome_all(&self, o: &Outcome) -> Result<Scores> {
        Ok(Scores {
            linf: o.linf,
            l2: o.l2,
            psnr: o.psnr,
            vs_clean: compare_maps(&o.maps, self.clean, self.num_classes)?,
            vs_target: self.target_all(&o.maps)?,
            vs_ground_truth: self.gt_all(&o.maps)?,
        })
    }

    pub(crate) fn defended_one(&self, clean: &[ClassMap], adv: &[ClassMap], i: usize) -> Result<DefendedScores> {
        Ok(DefendedScores {
            clean_vs_clean: self.one(clean, self.clean, i)?,
            vs_clean: self.one(adv, self.clean, i)?,
            vs_target: self.target_one(adv, i)?,
            vs_ground_truth: self.gt_one(adv, i)?,
        })
    }

    pub(crate) fn defended_all(&self, clean: &[ClassMap], adv: &[ClassMap]) -> Result<DefendedScores> {
        Ok(DefendedScores {
            clean_vs_clean: compare_maps(clean, self.clean, self.num_classes)?,
            vs_clean: compare_maps(adv, self.clean, self.num_classes)?,
            vs_target: self.target_all(adv)?,
            vs_ground_truth: self.gt_all(adv)?,
        })
    }
}

/// The images of a report: names and paths, in batch order.
pub(crate) struct Named<'a> {
    pub names: &'a [String],
    pub inputs: &'a [Option<String>],
}

/// Build the per-image and overall parts of a report from a PGD result (`r.quantized` must be
/// set) and, with a defense, the defended maps of the clean and the 8-bit adversarial images.
pub(crate) fn scores(
    r: &AttackResult,
    refs: &References<'_>,
    named: &Named<'_>,
    defended: Option<(&[ClassMap], &[ClassMap])>,
) -> Result<(Vec<ImageReport>, OverallReport)> {
    let q = r.quantized.as_ref().ok_or_else(|| crate::error::Error::Backend("the attack returned no 8-bit images".into()))?;
    let mut images = Vec::with_capacity(r.clean_maps.len());
    for i in 0..r.clean_maps.len() {
        images.push(ImageReport {
            name: named.names[i].clone(),
            input: named.inputs.get(i).cloned().flatten(),
            has_ground_truth: refs.ground_truth.get(i).is_some_and(Option::is_some),
            clean: refs.clean_one(i)?,
            adversarial: refs.outcome_one(&r.adversarial, i)?,
            quantized: refs.outcome_one(q, i)?,
            defended: defended.map(|(c, a)| refs.defended_one(c, a, i)).transpose()?,
            winning_loss: r.adversarial.per_image[i].winning_loss,
            winner: r.adversarial.per_image[i].winner,
            miou_winner: r.miou_worst_case.as_ref().map(|m| m.winners[i]),
            kept_step: r.adversarial.per_image[i].kept_step,
            detail: detail_one(refs, &q.maps, i)?,
        });
    }
    let overall = OverallReport {
        clean: refs.clean_all()?,
        adversarial: refs.outcome_all(&r.adversarial)?,
        quantized: refs.outcome_all(q)?,
        defended: defended.map(|(c, a)| refs.defended_all(c, a)).transpose()?,
        miou_worst_case: r
            .miou_worst_case
            .as_ref()
            .map(|m| -> Result<WorstCaseScores> {
                Ok(WorstCaseScores { adversarial: refs.outcome_all(&m.adversarial)?, quantized: m.quantized.as_ref().map(|q| refs.outcome_all(q)).transpose()? })
            })
            .transpose()?,
        detail: detail_all(refs, &q.maps)?,
    };
    Ok((images, overall))
}
