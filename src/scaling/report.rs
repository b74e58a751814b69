//! The settings and the report of the scaling experiment: defenses, attack variants, the
//! defense table's rows and the images and maps it produced.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::attack::{AttackMethod, ScalingAttackConfig, SolveStats};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::metrics::MapMetrics;
use crate::resize::ScalerKind;


/// A preprocessing defense of the pipeline (Quiring et al., Sec. 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Defense {
    /// The plain pipeline: the configured scaler.
    None,
    /// Median reconstruction of the read pixels, then the configured scaler.
    Median,
    /// Random reconstruction of the read pixels (seeded by
    /// [`ScalingExperimentConfig::seed`]), then the configured scaler.
    Random,
    /// The same library's robust scaler instead ([`robust_alternative`]: OpenCV `INTER_AREA`,
    /// Pillow `BOX` for Pillow `NEAREST`).
    AreaScaling,
}

impl Defense {
    /// All four, in report order.
    pub const ALL: [Defense; 4] = [Defense::None, Defense::Median, Defense::Random, Defense::AreaScaling];

    /// Name on the command line and in reports: `none`, `median`, `random`, `area-scaling`.
    pub fn name(self) -> &'static str {
        match self {
            Defense::None => "none",
            Defense::Median => "median",
            Defense::Random => "random",
            Defense::AreaScaling => "area-scaling",
        }
    }
}

impl std::fmt::Display for Defense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Defense {
    type Err = Error;

    /// Parses a [`Defense::name`] (`area` is accepted for `area-scaling`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Defense::None),
            "median" => Ok(Defense::Median),
            "random" => Ok(Defense::Random),
            "area" | "area-scaling" => Ok(Defense::AreaScaling),
            other => Err(Error::InvalidArgument(format!(
                "unknown defense '{other}' (expected none, median, random or area-scaling)"
            ))),
        }
    }
}

/// Which attack image a [`DefenseRow`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackVariant {
    /// The scaling attack ([`scaling_attack`]).
    Standard,
    /// The scaling attack adapted to the median defense ([`adaptive_median_attack`]).
    AdaptiveMedian,
    /// An image given to [`run_defenses`] (its origin is unknown).
    Given,
}

/// Parameters of [`run_experiment`] (serde: missing fields take their defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingExperimentConfig {
    /// The pipeline's scaler. Default `opencv-linear`.
    pub scaler: ScalerKind,
    /// Downscaling ratio: full size = ratio × model size when [`Self::full_size`] is `None`.
    /// Default 4.
    pub ratio: usize,
    /// The network's input size (width, height); `None`: 256×256 where the model takes it,
    /// else its native size.
    pub model_size: Option<(usize, usize)>,
    /// The full size (width, height) of source and attack images; `None`: ratio × model size.
    pub full_size: Option<(usize, usize)>,
    /// The scaling attack's parameters (ε, threads, …).
    pub attack: ScalingAttackConfig,
    /// Defenses to report ([`Defense::None`] is always reported). Default: all four.
    pub defenses: Vec<Defense>,
    /// Also build and report the adaptive attack against the median defense. Default true.
    pub adaptive_median: bool,
    /// Maximum sweeps of the adaptive attack. Default 10.
    pub adaptive_passes: usize,
    /// Segment the full-size images (source, attack, adaptive attack) where the model takes the
    /// full size. Default true.
    pub full_size_maps: bool,
    /// Seed of the random reconstruction. Default 0.
    pub seed: u64,
    /// Images per forward pass at the model size (≥ 1). Default 4.
    pub batch: usize,
}

impl Default for ScalingExperimentConfig {
    fn default() -> Self {
        ScalingExperimentConfig {
            scaler: ScalerKind::OpencvLinear,
            ratio: 4,
            model_size: None,
            full_size: None,
            attack: ScalingAttackConfig::default(),
            defenses: Defense::ALL.to_vec(),
            adaptive_median: true,
            adaptive_passes: 10,
            full_size_maps: true,
            seed: 0,
            batch: 4,
        }
    }
}


/// The scaling attack's figures in a [`ScalingReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackSummary {
    /// Decomposition used by the QP solver.
    pub method: AttackMethod,
    /// Solver wall-clock time, seconds (NaN on wasm32).
    pub seconds: f64,
    /// PSNR (dB) of the 8-bit attack image against the full-size source.
    pub psnr_vs_source: f64,
    /// `max |down(attack) − target|` with the library's exact 8-bit scaler (grey levels).
    pub max_abs_down_minus_target: u8,
    /// `‖L·A·R − T‖_∞` of the real-valued attack image.
    pub max_abs_real_down_minus_target: f64,
    /// Fraction of pixels changed in at least one channel.
    pub changed_pixels: f64,
    /// Solver statistics.
    pub stats: SolveStats,
}

/// The adaptive attack against the median defense, in a [`ScalingReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdaptiveSummary {
    /// Wall-clock time, seconds (NaN on wasm32).
    pub seconds: f64,
    /// Sweeps run.
    pub passes: usize,
    /// Fraction of (read pixel, channel) windows whose median equals the wanted value.
    pub windows_matched: f64,
    /// PSNR (dB) of the adaptive attack image against the source.
    pub psnr_vs_source: f64,
    /// Fraction of pixels that differ from the source.
    pub changed_pixels: f64,
    /// Full-size map of the adaptive attack image vs the source's full-size map.
    pub full_map_vs_source: Option<MapMetrics>,
}

/// One line of the defense table: a (defense, attack image) pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefenseRow {
    /// The defense.
    pub defense: Defense,
    /// The attack image.
    pub variant: AttackVariant,
    /// The scaler of the defended pipeline.
    pub scaler: ScalerKind,
    /// PSNR (dB) of the full-size image the defended pipeline scales (after reconstruction)
    /// against the source; `None` when no source is known.
    pub psnr_vs_source: Option<f64>,
    /// `max |down − target|` of the defended pipeline's input; `None` without a target.
    pub max_abs_down_minus_target: Option<u8>,
    /// Mean `|down − target|` (grey levels); `None` without a target.
    pub mean_abs_down_minus_target: Option<f64>,
    /// The defended pipeline's map vs the target's map; `None` without a target.
    pub down_map_vs_target: Option<MapMetrics>,
    /// The defended pipeline's map vs the same defended pipeline's map of the clean source;
    /// `None` without a source.
    pub down_map_vs_source: Option<MapMetrics>,
}

/// Images and maps behind a report (not serialised), for writing them out.
#[derive(Debug, Clone)]
pub struct ScalingArtifacts {
    /// The source at full size.
    pub source: RgbImage,
    /// The target at model size.
    pub target: RgbImage,
    /// The 8-bit attack image (full size).
    pub attack: RgbImage,
    /// The adaptive attack image, if built.
    pub adaptive: Option<RgbImage>,
    /// Model-size images fed to the network, by name (`target`, `none_attack`, …).
    pub inputs: Vec<(String, RgbImage)>,
    /// Class maps by name: `target`, `source_full`, `attack_full`, `adaptive_full`, and
    /// `{defense}_{source|attack|adaptive}` at the model size.
    pub maps: Vec<(String, ClassMap)>,
}

impl ScalingArtifacts {
    /// The map of that name, if computed.
    pub fn map(&self, name: &str) -> Option<&ClassMap> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }
}

/// Timings of an experiment, seconds (NaN on wasm32).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExperimentSeconds {
    /// The scaling attack.
    pub attack: f64,
    /// The adaptive attack.
    pub adaptive: f64,
    /// Reconstructions and downscaling of all defended pipelines.
    pub defenses: f64,
    /// All forward passes of the network.
    pub forward: f64,
    /// Everything.
    pub total: f64,
}

/// Result of [`run_experiment`] (serialisable; [`Self::artifacts`] is skipped).
#[derive(Debug, Clone, Serialize)]
pub struct ScalingReport {
    /// Zoo model name.
    pub model: String,
    /// The pipeline's scaler.
    pub scaler: ScalerKind,
    /// Size (width, height) of the source as given.
    pub source_size: (usize, usize),
    /// Size of the target as given.
    pub target_size: (usize, usize),
    /// Full size (width, height) of source and attack image.
    pub full_size: (usize, usize),
    /// The network's input size.
    pub model_size: (usize, usize),
    /// ε of the attack (grey levels).
    pub eps: f64,
    /// The scaling attack.
    pub attack: AttackSummary,
    /// The attack image's full-size map vs the source's full-size map (should agree); `None`
    /// when not computed (model takes no such size, or disabled).
    pub full_map_vs_source: Option<MapMetrics>,
    /// `down(attack)`'s map vs the target's map (should agree).
    pub down_map_vs_target: MapMetrics,
    /// `down(attack)`'s map vs `down(source)`'s map.
    pub down_map_vs_source: MapMetrics,
    /// Baseline: `down(source)`'s map vs the target's map (the agreement without any attack).
    pub clean_down_map_vs_target: MapMetrics,
    /// The adaptive attack against the median defense, if built.
    pub adaptive: Option<AdaptiveSummary>,
    /// The defense table: every defense × attack variant.
    pub defenses: Vec<DefenseRow>,
    /// Timings.
    pub seconds: ExperimentSeconds,
    /// Images and maps.
    #[serde(skip)]
    pub artifacts: ScalingArtifacts,
}

impl ScalingReport {
    /// The row of `defense` against `variant`, if reported.
    pub fn row(&self, defense: Defense, variant: AttackVariant) -> Option<&DefenseRow> {
        self.defenses.iter().find(|r| r.defense == defense && r.variant == variant)
    }
}

/// Result of [`run_defenses`] on a given (possibly attacked) image.
#[derive(Debug, Clone, Serialize)]
pub struct DefenseReport {
    /// Zoo model name.
    pub model: String,
    /// The pipeline's scaler.
    pub scaler: ScalerKind,
    /// Full size (the image's size).
    pub full_size: (usize, usize),
    /// The network's input size.
    pub model_size: (usize, usize),
    /// One row per defense (variant [`AttackVariant::Given`]).
    pub defenses: Vec<DefenseRow>,
    /// Images and maps (`target`, `{defense}_{source|image}`).
    #[serde(skip)]
    pub artifacts: ScalingArtifacts,
}

