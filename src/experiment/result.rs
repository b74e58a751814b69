//! What an experiment produces: per model, the clean and attacked scores with every defense
//! (non-adaptive and adaptive), and the transfer matrix; JSON without timings.

use serde::{Deserialize, Serialize};

use super::file::ExperimentFile;
use crate::error::{Error, Result};
use crate::metrics::MapDetail;

/// `mIoU` and pixel accuracy against ground truth, plus agreement with a target where the
/// goal has one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// mIoU against ground truth.
    pub miou: f64,
    /// Pixel accuracy against ground truth.
    pub pixel_accuracy: f64,
    /// Mean agreement with the target map (targeted attacks only).
    pub target_agreement: Option<f64>,
}

/// One image's scores against its ground truth (and its target agreement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    /// The image's name.
    pub image: String,
    /// mIoU of the image alone against its ground truth.
    pub miou: f64,
    /// Pixel accuracy against its ground truth.
    pub pixel_accuracy: f64,
    /// Agreement with its target map (targeted attacks; not for the target image itself).
    pub target_agreement: Option<f64>,
}

/// A defense's numbers for one attack setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefenseScore {
    /// Defense name.
    pub defense: String,
    /// Images crafted against the undefended model, fed to the defended one.
    pub non_adaptive: Score,
    /// Images crafted against the defended model (EOT / BPDA); absent when disabled.
    pub adaptive: Option<Score>,
}

/// One attack setting (attack × ε × seed) on one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackRow {
    /// Attack name.
    pub attack: String,
    /// Untargeted attacks: what they push away from, `ground-truth` or `clean` (the clean
    /// prediction); absent for targeted attacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// ε as written.
    pub eps: String,
    /// ε as a number.
    pub eps_value: f64,
    /// Seed.
    pub seed: u64,
    /// The undefended model on the adversarial images.
    pub attacked: Score,
    /// Clean images against the target (targeted attacks only).
    pub clean_target_agreement: Option<f64>,
    /// Largest achieved L∞ over the images.
    pub linf: f64,
    /// PSNR over all adversarial images (pooled MSE), dB.
    pub psnr: f64,
    /// Wall-clock seconds the crafting took (all images; not the scoring or the defenses). In
    /// results.md only, not in the JSON, so that results stay reproducible.
    #[serde(skip)]
    pub seconds: f64,
    /// Per defense.
    pub defenses: Vec<DefenseScore>,
    /// The undefended model on each adversarial image, in the order of
    /// [`ExperimentResult::images`].
    #[serde(default)]
    pub per_image: Vec<ImageScore>,
    /// The undefended model on the adversarial images against ground truth: IoU per class and
    /// accuracy by object size, pooled over the images.
    #[serde(default)]
    pub detail: MapDetail,
}

/// Everything measured on one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// Zoo name.
    pub model: String,
    /// Input size (width, height).
    pub input_size: (usize, usize),
    /// Images evaluated.
    pub n_images: usize,
    /// The undefended model on clean images.
    pub clean: Score,
    /// Each defense on clean images (what it costs when nobody attacks).
    pub clean_defended: Vec<(String, Score)>,
    /// Attack settings.
    pub attacks: Vec<AttackRow>,
    /// The model's class names (index = class, as in the per-class IoU lists).
    #[serde(default)]
    pub classes: Vec<String>,
    /// The undefended model on each clean image.
    #[serde(default)]
    pub clean_per_image: Vec<ImageScore>,
    /// The undefended model on clean images against ground truth: IoU per class and accuracy
    /// by object size.
    #[serde(default)]
    pub clean_detail: MapDetail,
}

/// The transfer matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferResult {
    /// Models (rows: source, columns: target).
    pub models: Vec<String>,
    /// Attack name.
    pub attack: String,
    /// ε as written.
    pub eps: String,
    /// Images used.
    pub n_images: usize,
    /// mIoU of each target model on clean images.
    pub clean_miou: Vec<f64>,
    /// `miou[i][j]`: mIoU of model `j` on the images crafted against model `i`.
    pub miou: Vec<Vec<f64>>,
    /// Pixel accuracy, same layout.
    pub pixel_accuracy: Vec<Vec<f64>>,
}

/// An image that could not be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file.
    pub image: String,
    /// Why.
    pub error: String,
}

/// The whole experiment's result (the JSON report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    /// The experiment as read.
    pub experiment: ExperimentFile,
    /// Image names used, in order.
    pub images: Vec<String>,
    /// Images skipped, with the reason.
    pub skipped: Vec<Skipped>,
    /// Per model.
    pub models: Vec<ModelResult>,
    /// Transfer matrix, if asked for.
    pub transfer: Option<TransferResult>,
    /// Wall-clock seconds per part (not serialised, so reports are reproducible).
    #[serde(skip)]
    pub seconds: Vec<(String, f64)>,
}

/// Progress of a running experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentProgress {
    /// Tasks done.
    pub done: usize,
    /// Tasks in all.
    pub total: usize,
    /// What runs now.
    pub message: String,
}

impl ExperimentResult {
    /// The JSON report (no timings: the same file gives the same text).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::InvalidArgument(format!("JSON encoding failed: {e}")))
    }
}
