//! What an attack run produces: the observer's view of each iterate ([`Progress`] in,
//! [`Control`] out), per-image statistics and the full [`AttackResult`].

use serde::{Deserialize, Serialize};

use crate::attack::losses::loss::LossKind;
use crate::data::ClassMap;
use crate::image::RgbImage01;
use crate::metrics::MapMetrics;

/// What the observer tells the loop after each iterate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now and return the current (or best, with `keep_best`) iterate as the result.
    Stop,
    /// Abort: the attack returns [`Error::Cancelled`].
    Cancel,
}

/// Live state of an attack, reported once per iterate `x_t` (`t = 0` is the starting point,
/// `t = steps` the final iterate).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Iterate index `t` in `0..=steps`: the number of gradient steps taken so far.
    pub step: usize,
    /// Configured number of steps.
    pub steps: usize,
    /// Loss of `x_t` against the reference map (mean over valid pixels; untargeted attacks
    /// push it up, targeted ones down).
    pub loss: f64,
    /// Per image: fraction of valid pixels whose prediction equals the reference map.
    pub agreement: Vec<f64>,
    /// Mean of [`Self::agreement`].
    pub mean_agreement: f64,
    /// mIoU of the current predictions against the reference map (pooled over the batch).
    pub miou: f64,
    /// Whether the attack is targeted (then agreement should rise, else fall).
    pub targeted: bool,
    /// Per image: the predicted class map of `x_t` (what the page's batch grid draws live).
    pub maps: Vec<ClassMap>,
}

/// One line of [`AttackResult::history`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Iterate index `t`.
    pub step: usize,
    /// Loss of `x_t`.
    pub loss: f64,
    /// Mean agreement of `x_t`'s predictions with the reference map.
    pub mean_agreement: f64,
    /// mIoU of `x_t`'s predictions against the reference map.
    pub miou: f64,
}

/// Per-image statistics of an adversarial image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageStats {
    /// Achieved `‖x_adv − x‖∞`.
    pub linf: f64,
    /// Achieved `‖x_adv − x‖₂` over the image's `3·H·W` values.
    pub l2: f64,
    /// PSNR of `x_adv` against `x` in dB (peak 1; infinite when identical).
    pub psnr: f64,
    /// Fraction of pixels whose prediction equals the clean prediction.
    pub agreement_clean: f64,
    /// Fraction of valid pixels whose prediction equals the reference map of the goal.
    pub agreement_reference: f64,
    /// SEA: the loss of the ensemble member whose result this image kept (`None` elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winning_loss: Option<LossKind>,
    /// Ensembles (SEA, restarts, worst case): the index of the top-level run this image kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<usize>,
    /// The index `t` of the iterate kept for this image (as in the history, counted over all
    /// runs of an ensemble): the loop's most successful iterate, the start (0, or a run's first
    /// iterate) included. `None` for 8-bit images and where unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_step: Option<usize>,
}

/// Adversarial images and what the model makes of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The adversarial images, in batch order.
    pub images: Vec<RgbImage01>,
    /// Their predicted maps.
    pub maps: Vec<ClassMap>,
    /// Per-image statistics, in batch order.
    pub per_image: Vec<ImageStats>,
    /// Predictions against the clean predictions.
    pub vs_clean: MapMetrics,
    /// Predictions against the goal's reference maps (target maps for targeted goals).
    pub vs_reference: MapMetrics,
    /// Largest achieved L∞ norm over the batch.
    pub linf: f64,
    /// Largest achieved L2 norm over the batch.
    pub l2: f64,
    /// PSNR of the whole batch in dB, from the mean squared error over all its images (an
    /// unchanged image contributes 0, so one image left alone does not make it infinite).
    pub psnr: f64,
}

/// Everything a PGD run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackResult {
    /// Whether the goal was targeted.
    pub targeted: bool,
    /// Gradient steps actually taken.
    pub steps_run: usize,
    /// Whether the loop ended before `steps` (early stop or [`Control::Stop`]).
    pub stopped_early: bool,
    /// Clean predictions, in batch order.
    pub clean_maps: Vec<ClassMap>,
    /// The goal's reference maps at the input size ([`VOID`] = ignored pixel): the clean
    /// prediction or ground truth (untargeted), the target map (targeted).
    pub reference_maps: Vec<ClassMap>,
    /// Clean predictions against the reference maps.
    pub clean_vs_reference: MapMetrics,
    /// The real-valued adversarial images.
    pub adversarial: Outcome,
    /// The adversarial images rounded to 8 bits inside the ε-ball (what a saved PNG holds), when
    /// [`crate::attack::PgdConfig::quantize`] is set; their norms are measured on the grid and
    /// never exceed ε (see [`crate::attack::loops::quantize`]).
    pub quantized: Option<Outcome>,
    /// `x_adv − x` per image (planar CHW, like [`RgbImage01::data`]), of the real-valued images.
    pub perturbation: Vec<Vec<f32>>,
    /// One record per iterate.
    pub history: Vec<StepRecord>,
    /// Ensembles of several runs: the mIoU worst case (see [`MiouWorstCase`]).
    pub miou_worst_case: Option<MiouWorstCase>,
}

/// An ensemble's second worst case, as SEA's authors report it: per image the run that a greedy
/// search picks to minimise the pooled mIoU against the reference (targeted: to maximise it),
/// instead of each image's own lowest accuracy ([`AttackResult::adversarial`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MiouWorstCase {
    /// Per image, the index of the run chosen.
    pub winners: Vec<usize>,
    /// The chosen real-valued images, scored.
    pub adversarial: Outcome,
    /// Their 8-bit versions, scored (with `quantize`).
    pub quantized: Option<Outcome>,
}

