//! The image-scaling attack against a segmentation pipeline, and the defenses measured on it.
//!
//! The pipeline under attack takes a large image (the *full size*), downscales it with a real
//! library's scaler to the network's input size (the *model size*) and segments that. The
//! experiment (Quiring et al., "Adversarial Preprocessing: Understanding and Preventing
//! Image-Scaling Attacks", USENIX Security 2020, applied to segmentation):
//!
//! 1. brings the source to the full size and the target to the model size (Pillow bilinear
//!    where they differ, as the reference models' preprocessing does);
//! 2. crafts the attack image `A = scaling_attack(source, target)` ([`scaling_attack`]);
//! 3. segments `A` at full size (the network is fully convolutional: this is what a person, or a
//!    pipeline without downscaling, sees) and compares it with the source's full-size map;
//! 4. segments `down(A)` (the library's exact 8-bit scaler, [`Scaler::apply_u8`]) and compares
//!    it with the target's map (the network on the target at the model size);
//! 5. for each [`Defense`] — none, Quiring's median and random reconstruction of the pixels the
//!    scaler reads ([`reconstruct`]), and area scaling ([`robust_alternative`]) — runs the
//!    defended pipeline on the attack image and on the clean source and reports how far the
//!    result is from the target's map and from the clean pipeline's map;
//! 6. optionally builds the adaptive attack against the median defense
//!    ([`adaptive_median_attack`]) and runs it through the same defenses.
//!
//! Maps are compared by pixel agreement ([`crate::metrics::agreement`]) and by mIoU with the
//! reference map as ground truth ([`ConfusionMatrix`]).
//!
//! A target *map* instead of a target image is the job of [`super::map_target`]: it crafts the
//! target image with a targeted PGD at the model size, then runs this experiment on it.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::attack::{
    AttackMethod, ScalingAttackConfig, SolveStats, Timer, psnr_u8, scaling_attack,
};
use super::defense::{Reconstruction, adaptive_median_attack, reconstruct, robust_alternative};
use super::scaler::{MAX_SIDE, Scaler, ScalerKind};
use crate::error::{Error, Result};
use crate::image_io::{self, ResizeMethod};
use crate::metrics::{ConfusionMatrix, VOID, agreement};
use crate::model::zoo::ModelSpec;
use crate::model::{ClassMap, Segmenter, batch_tensor};

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

/// Agreement and mIoU of a predicted map against a reference map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MapScore {
    /// Fraction of pixels with the same class (reference void pixels skipped).
    pub agreement: f64,
    /// Mean IoU with the reference as ground truth.
    pub miou: f64,
}

impl MapScore {
    /// Compares `pred` with `reference` over `num_classes` classes. Errors on different sizes.
    pub fn compare(pred: &ClassMap, reference: &ClassMap, num_classes: usize) -> Result<MapScore> {
        if (pred.width, pred.height) != (reference.width, reference.height) {
            return Err(Error::Shape(format!(
                "cannot compare a {}x{} map with a {}x{} map",
                pred.width, pred.height, reference.width, reference.height
            )));
        }
        let mut cm = ConfusionMatrix::new(num_classes);
        cm.add(&reference.data, &pred.data)?;
        Ok(MapScore {
            agreement: agreement(&pred.data, &reference.data, Some(VOID))?,
            miou: cm.miou(),
        })
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
    pub full_map_vs_source: Option<MapScore>,
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
    pub down_map_vs_target: Option<MapScore>,
    /// The defended pipeline's map vs the same defended pipeline's map of the clean source;
    /// `None` without a source.
    pub down_map_vs_source: Option<MapScore>,
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
    pub full_map_vs_source: Option<MapScore>,
    /// `down(attack)`'s map vs the target's map (should agree).
    pub down_map_vs_target: MapScore,
    /// `down(attack)`'s map vs `down(source)`'s map.
    pub down_map_vs_source: MapScore,
    /// Baseline: `down(source)`'s map vs the target's map (the agreement without any attack).
    pub clean_down_map_vs_target: MapScore,
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

// ------------------------------------------------------------------ sizes and pipelines

/// Model size and full size for `spec` under `cfg`. Errors: ratio 0 or > 64, a model size the
/// model does not take, a full size smaller than the model size or above the scaler's limit.
pub fn resolve_sizes(spec: &ModelSpec, cfg: &ScalingExperimentConfig) -> Result<((usize, usize), (usize, usize))> {
    let model = match cfg.model_size {
        Some(s) => s,
        None if spec.accepts(256, 256) => (256, 256),
        None => spec.native_size,
    };
    spec.check_size(model.0, model.1)?;
    let full = match cfg.full_size {
        Some(f) => f,
        None => {
            if !(1..=64).contains(&cfg.ratio) {
                return Err(Error::InvalidArgument(format!(
                    "ratio = {} must be in 1..=64",
                    cfg.ratio
                )));
            }
            (model.0 * cfg.ratio, model.1 * cfg.ratio)
        }
    };
    if full.0 < model.0 || full.1 < model.1 || full.0 > MAX_SIDE || full.1 > MAX_SIDE {
        return Err(Error::InvalidArgument(format!(
            "full size {}x{} must be at least the model size {}x{} and at most {MAX_SIDE} per side",
            full.0, full.1, model.0, model.1
        )));
    }
    Ok((model, full))
}

pub(super) fn fit(img: &RgbImage, (w, h): (usize, usize), what: &str) -> Result<RgbImage> {
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Image(format!("the {what} image is empty ({}x{})", img.width(), img.height())));
    }
    if (img.width() as usize, img.height() as usize) == (w, h) {
        Ok(img.clone())
    } else {
        image_io::resize(img, w as u32, h as u32, ResizeMethod::PilBilinear)
    }
}

/// The scalers of the defended pipelines.
struct Pipelines {
    scaler: Scaler,
    area: Scaler,
    seed: u64,
}

impl Pipelines {
    fn new(kind: ScalerKind, full: (usize, usize), model: (usize, usize), seed: u64) -> Result<Self> {
        Ok(Pipelines {
            scaler: Scaler::new(kind, full.0, full.1, model.0, model.1)?,
            area: Scaler::new(robust_alternative(kind), full.0, full.1, model.0, model.1)?,
            seed,
        })
    }

    fn scaler_of(&self, d: Defense) -> &Scaler {
        if d == Defense::AreaScaling { &self.area } else { &self.scaler }
    }

    /// The full-size image the defended pipeline scales, and the network input it makes.
    fn run(&self, d: Defense, img: &RgbImage) -> Result<(Option<RgbImage>, RgbImage)> {
        let pre = match d {
            Defense::Median => Some(reconstruct(img, &self.scaler, Reconstruction::Median)?),
            Defense::Random => Some(reconstruct(img, &self.scaler, Reconstruction::Random { seed: self.seed })?),
            Defense::None | Defense::AreaScaling => None,
        };
        let down = self.scaler_of(d).apply_u8(pre.as_ref().unwrap_or(img))?;
        Ok((pre, down))
    }
}

fn defense_list(cfg: &ScalingExperimentConfig) -> Vec<Defense> {
    let mut out = vec![Defense::None];
    for &d in &cfg.defenses {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn changed_fraction(a: &RgbImage, b: &RgbImage) -> f64 {
    let n = (a.width() as usize * a.height() as usize).max(1);
    a.as_raw().chunks_exact(3).zip(b.as_raw().chunks_exact(3)).filter(|(x, y)| x != y).count() as f64 / n as f64
}

fn abs_diff_stats(a: &RgbImage, b: &RgbImage) -> (u8, f64) {
    let n = a.as_raw().len().max(1) as f64;
    let mut max = 0u8;
    let mut sum = 0u64;
    for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
        let d = x.abs_diff(*y);
        max = max.max(d);
        sum += d as u64;
    }
    (max, sum as f64 / n)
}

pub(super) fn variant_tag(v: AttackVariant) -> &'static str {
    match v {
        AttackVariant::Standard => "attack",
        AttackVariant::AdaptiveMedian => "adaptive",
        AttackVariant::Given => "image",
    }
}

// ------------------------------------------------------------------ the experiment in phases

/// Everything computed before the network runs: the images to segment, by name.
struct Prepared {
    spec: &'static ModelSpec,
    cfg: ScalingExperimentConfig,
    model: (usize, usize),
    full: (usize, usize),
    source_size: (usize, usize),
    target_size: (usize, usize),
    source: RgbImage,
    target: RgbImage,
    attack: super::attack::ScalingAttackResult,
    adaptive: Option<(super::defense::AdaptiveMedianResult, f64)>,
    /// (defense, variant, psnr vs source of the pre-scaling image, network input)
    rows: Vec<(Defense, AttackVariant, f64, RgbImage)>,
    /// clean pipeline input per defense
    clean: Vec<(Defense, RgbImage)>,
    full_maps: bool,
    defense_seconds: f64,
}

impl Prepared {
    /// The images to segment, in a fixed order: model-size ones first, then full-size ones.
    fn jobs(&self) -> Vec<(String, &RgbImage)> {
        let mut jobs: Vec<(String, &RgbImage)> = vec![("target".into(), &self.target)];
        for (d, img) in &self.clean {
            jobs.push((format!("{}_source", d.name()), img));
        }
        for (d, v, _, img) in &self.rows {
            jobs.push((format!("{}_{}", d.name(), variant_tag(*v)), img));
        }
        if self.full_maps {
            jobs.push(("source_full".into(), &self.source));
            jobs.push(("attack_full".into(), &self.attack.attack_u8));
            if let Some((a, _)) = &self.adaptive {
                jobs.push(("adaptive_full".into(), &a.image));
            }
        }
        jobs
    }
}

fn prepare(
    spec: &'static ModelSpec,
    source: &RgbImage,
    target: &RgbImage,
    cfg: &ScalingExperimentConfig,
) -> Result<Prepared> {
    let (model, full) = resolve_sizes(spec, cfg)?;
    if cfg.batch == 0 {
        return Err(Error::InvalidArgument("batch = 0: at least one image per forward pass".into()));
    }
    let source_size = (source.width() as usize, source.height() as usize);
    let target_size = (target.width() as usize, target.height() as usize);
    let src = fit(source, full, "source")?;
    let tgt = fit(target, model, "target")?;
    let pipes = Pipelines::new(cfg.scaler, full, model, cfg.seed)?;
    let attack = scaling_attack(&src, &tgt, &pipes.scaler, &cfg.attack)?;
    let adaptive = if cfg.adaptive_median {
        let t = Timer::start();
        let a = adaptive_median_attack(&attack.attack_u8, &pipes.scaler, cfg.adaptive_passes)?;
        Some((a, t.seconds()))
    } else {
        None
    };
    let t = Timer::start();
    let mut rows = Vec::new();
    let mut clean = Vec::new();
    for d in defense_list(cfg) {
        clean.push((d, pipes.run(d, &src)?.1));
        let mut variants = vec![(AttackVariant::Standard, &attack.attack_u8)];
        if let Some((a, _)) = &adaptive {
            variants.push((AttackVariant::AdaptiveMedian, &a.image));
        }
        for (v, img) in variants {
            let (pre, down) = pipes.run(d, img)?;
            let psnr = psnr_u8(pre.as_ref().unwrap_or(img), &src)?;
            rows.push((d, v, psnr, down));
        }
    }
    let defense_seconds = t.seconds();
    let full_maps = cfg.full_size_maps && spec.accepts(full.0, full.1);
    Ok(Prepared {
        spec,
        cfg: cfg.clone(),
        model,
        full,
        source_size,
        target_size,
        source: src,
        target: tgt,
        attack,
        adaptive,
        rows,
        clean,
        full_maps,
        defense_seconds,
    })
}

fn finish(p: Prepared, maps: Vec<ClassMap>, forward_seconds: f64, total: &Timer) -> Result<ScalingReport> {
    let names: Vec<String> = p.jobs().into_iter().map(|(n, _)| n).collect();
    if names.len() != maps.len() {
        return Err(Error::Backend(format!("{} maps for {} images", maps.len(), names.len())));
    }
    let maps: Vec<(String, ClassMap)> = names.into_iter().zip(maps).collect();
    let get = |name: &str| -> Result<&ClassMap> {
        maps.iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::Backend(format!("map '{name}' was not computed")))
    };
    let k = p.spec.num_classes();
    let target_map = get("target")?;
    let mut defenses = Vec::new();
    for (d, v, psnr, down) in &p.rows {
        let map = get(&format!("{}_{}", d.name(), variant_tag(*v)))?;
        let clean = get(&format!("{}_source", d.name()))?;
        let (max, mean) = abs_diff_stats(down, &p.target);
        defenses.push(DefenseRow {
            defense: *d,
            variant: *v,
            scaler: if *d == Defense::AreaScaling { robust_alternative(p.cfg.scaler) } else { p.cfg.scaler },
            psnr_vs_source: Some(*psnr),
            max_abs_down_minus_target: Some(max),
            mean_abs_down_minus_target: Some(mean),
            down_map_vs_target: Some(MapScore::compare(map, target_map, k)?),
            down_map_vs_source: Some(MapScore::compare(map, clean, k)?),
        });
    }
    let full_map_vs_source = if p.full_maps {
        Some(MapScore::compare(get("attack_full")?, get("source_full")?, k)?)
    } else {
        None
    };
    let adaptive = match &p.adaptive {
        Some((a, secs)) => Some(AdaptiveSummary {
            seconds: *secs,
            passes: a.passes,
            windows_matched: a.windows_matched as f64 / a.windows.max(1) as f64,
            psnr_vs_source: psnr_u8(&a.image, &p.source)?,
            changed_pixels: changed_fraction(&a.image, &p.source),
            full_map_vs_source: if p.full_maps {
                Some(MapScore::compare(get("adaptive_full")?, get("source_full")?, k)?)
            } else {
                None
            },
        }),
        None => None,
    };
    let attack_map = get("none_attack")?;
    let source_map = get("none_source")?;
    let report_attack = AttackSummary {
        method: p.attack.method,
        seconds: p.attack.solve_seconds,
        psnr_vs_source: p.attack.psnr_vs_source,
        max_abs_down_minus_target: p.attack.max_abs_down_minus_target,
        max_abs_real_down_minus_target: p.attack.max_abs_real_down_minus_target,
        changed_pixels: changed_fraction(&p.attack.attack_u8, &p.source),
        stats: p.attack.stats.clone(),
    };
    let down_map_vs_target = MapScore::compare(attack_map, target_map, k)?;
    let down_map_vs_source = MapScore::compare(attack_map, source_map, k)?;
    let clean_down_map_vs_target = MapScore::compare(source_map, target_map, k)?;
    let mut inputs = vec![("target".to_string(), p.target.clone())];
    for (d, img) in &p.clean {
        inputs.push((format!("{}_source", d.name()), img.clone()));
    }
    for (d, v, _, img) in &p.rows {
        inputs.push((format!("{}_{}", d.name(), variant_tag(*v)), img.clone()));
    }
    let seconds = ExperimentSeconds {
        attack: p.attack.solve_seconds,
        adaptive: p.adaptive.as_ref().map_or(0.0, |a| a.1),
        defenses: p.defense_seconds,
        forward: forward_seconds,
        total: total.seconds(),
    };
    Ok(ScalingReport {
        model: p.spec.name.to_string(),
        scaler: p.cfg.scaler,
        source_size: p.source_size,
        target_size: p.target_size,
        full_size: p.full,
        model_size: p.model,
        eps: p.cfg.attack.eps,
        attack: report_attack,
        full_map_vs_source,
        down_map_vs_target,
        down_map_vs_source,
        clean_down_map_vs_target,
        adaptive,
        defenses,
        seconds,
        artifacts: ScalingArtifacts {
            source: p.source,
            target: p.target,
            attack: p.attack.attack_u8,
            adaptive: p.adaptive.map(|(a, _)| a.image),
            inputs,
            maps,
        },
    })
}

/// Splits `jobs` into forward batches: consecutive images of one size, at most `batch` each.
fn batches(sizes: &[(u32, u32)], batch: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sizes.len() {
        if i == sizes.len() || sizes[i] != sizes[start] || i - start >= batch {
            if start < i {
                out.push(start..i);
            }
            start = i;
        }
    }
    out
}

/// Segments 8-bit images (grouped into batches of one size) with the model.
#[cfg(not(target_arch = "wasm32"))]
pub fn segment_images(seg: &Segmenter, images: &[&RgbImage], batch: usize) -> Result<Vec<ClassMap>> {
    crate::attack::block_on(segment_images_async(seg, images, batch))
}

/// [`segment_images`] reading the maps asynchronously (all targets, required on wasm).
pub async fn segment_images_async(seg: &Segmenter, images: &[&RgbImage], batch: usize) -> Result<Vec<ClassMap>> {
    let device = seg_device(seg);
    let sizes: Vec<(u32, u32)> = images.iter().map(|i| i.dimensions()).collect();
    let mut out = Vec::with_capacity(images.len());
    for r in batches(&sizes, batch.max(1)) {
        let t: Vec<_> = images[r].iter().map(|i| image_io::to_tensor01(i)).collect();
        out.extend(seg.predict_async(batch_tensor(&t, &device)?).await?);
    }
    Ok(out)
}

pub(super) fn seg_device(seg: &Segmenter) -> burn::tensor::Device {
    use burn::module::Module;
    seg.net.devices().into_iter().next().unwrap_or_else(crate::backend::cpu)
}

/// Runs the segmentation experiment (see the module documentation): the scaling attack hiding
/// `target` in `source` for `seg`'s pipeline, the maps at full and model size, the adaptive
/// attack and the defense table. `source` is resized to the full size and `target` to the model
/// size (Pillow bilinear) where they differ.
///
/// Errors: invalid sizes or configuration ([`resolve_sizes`], [`scaling_attack`]), empty images,
/// backend failures.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_experiment(
    seg: &Segmenter,
    source: &RgbImage,
    target: &RgbImage,
    cfg: &ScalingExperimentConfig,
) -> Result<ScalingReport> {
    crate::attack::block_on(run_experiment_async(seg, source, target, cfg))
}

/// [`run_experiment`] reading the network's outputs asynchronously (all targets).
pub async fn run_experiment_async(
    seg: &Segmenter,
    source: &RgbImage,
    target: &RgbImage,
    cfg: &ScalingExperimentConfig,
) -> Result<ScalingReport> {
    let total = Timer::start();
    let p = prepare(seg.spec, source, target, cfg)?;
    let t = Timer::start();
    let maps = {
        let jobs = p.jobs();
        let imgs: Vec<&RgbImage> = jobs.iter().map(|(_, i)| *i).collect();
        segment_images_async(seg, &imgs, cfg.batch).await?
    };
    let fwd = t.seconds();
    finish(p, maps, fwd, &total)
}

/// Runs the defended pipelines of `cfg.defenses` (and the plain one) on a given full-size
/// `image` — e.g. a suspected attack image — and reports what each makes of it: against the
/// target's map when `target` is given, against the clean pipelines on `source` when given.
/// `image` fixes the full size (`cfg.full_size`/`ratio` are ignored); `source` is resized to it
/// and `target` to the model size where they differ.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_defenses(
    seg: &Segmenter,
    image: &RgbImage,
    source: Option<&RgbImage>,
    target: Option<&RgbImage>,
    cfg: &ScalingExperimentConfig,
) -> Result<DefenseReport> {
    let full = (image.width() as usize, image.height() as usize);
    let mut c = cfg.clone();
    c.full_size = Some(full);
    let (model, full) = resolve_sizes(seg.spec, &c)?;
    let pipes = Pipelines::new(cfg.scaler, full, model, cfg.seed)?;
    let src = source.map(|s| fit(s, full, "source")).transpose()?;
    let tgt = target.map(|t| fit(t, model, "target")).transpose()?;
    let mut inputs: Vec<(String, RgbImage)> = Vec::new();
    let mut psnrs = Vec::new();
    if let Some(t) = &tgt {
        inputs.push(("target".into(), t.clone()));
    }
    let list = defense_list(cfg);
    for &d in &list {
        let (pre, down) = pipes.run(d, image)?;
        psnrs.push(src.as_ref().map(|s| psnr_u8(pre.as_ref().unwrap_or(image), s)).transpose()?);
        inputs.push((format!("{}_image", d.name()), down));
        if let Some(s) = &src {
            inputs.push((format!("{}_source", d.name()), pipes.run(d, s)?.1));
        }
    }
    let imgs: Vec<&RgbImage> = inputs.iter().map(|(_, i)| i).collect();
    let maps = segment_images(seg, &imgs, cfg.batch.max(1))?;
    let k = seg.spec.num_classes();
    let find = |name: &str| inputs.iter().position(|(n, _)| n == name);
    let mut rows = Vec::new();
    for (i, &d) in list.iter().enumerate() {
        let Some(ii) = find(&format!("{}_image", d.name())) else { continue };
        let map = &maps[ii];
        let down = &inputs[ii].1;
        let (stats, vs_t) = match (&tgt, find("target")) {
            (Some(t), Some(ti)) => (Some(abs_diff_stats(down, t)), Some(MapScore::compare(map, &maps[ti], k)?)),
            _ => (None, None),
        };
        let vs_s = match find(&format!("{}_source", d.name())) {
            Some(si) => Some(MapScore::compare(map, &maps[si], k)?),
            None => None,
        };
        rows.push(DefenseRow {
            defense: d,
            variant: AttackVariant::Given,
            scaler: pipes.scaler_of(d).kind,
            psnr_vs_source: psnrs[i],
            max_abs_down_minus_target: stats.map(|s| s.0),
            mean_abs_down_minus_target: stats.map(|s| s.1),
            down_map_vs_target: vs_t,
            down_map_vs_source: vs_s,
        });
    }
    let maps: Vec<(String, ClassMap)> = inputs.iter().map(|(n, _)| n.clone()).zip(maps).collect();
    Ok(DefenseReport {
        model: seg.spec.name.to_string(),
        scaler: cfg.scaler,
        full_size: full,
        model_size: model,
        defenses: rows,
        artifacts: ScalingArtifacts {
            source: src.unwrap_or_else(|| image.clone()),
            target: tgt.unwrap_or_default(),
            attack: image.clone(),
            adaptive: None,
            inputs,
            maps,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo;

    #[test]
    fn sizes_and_names() {
        let voc = zoo::spec("espnetv2-voc").unwrap();
        let cfg = ScalingExperimentConfig::default();
        assert_eq!(resolve_sizes(voc, &cfg).unwrap(), ((256, 256), (1024, 1024)));
        let dl = zoo::spec("deeplabv3-mnv2-voc").unwrap();
        assert_eq!(resolve_sizes(dl, &cfg).unwrap(), ((257, 257), (1028, 1028)));
        let bad = ScalingExperimentConfig { ratio: 0, ..Default::default() };
        assert!(resolve_sizes(voc, &bad).unwrap_err().to_string().contains("ratio = 0"));
        let bad = ScalingExperimentConfig { model_size: Some((250, 250)), ..Default::default() };
        assert!(resolve_sizes(voc, &bad).unwrap_err().to_string().contains("250×250"));
        let bad = ScalingExperimentConfig { full_size: Some((100, 2000)), ..Default::default() };
        assert!(resolve_sizes(voc, &bad).unwrap_err().to_string().contains("100x2000"));
        for d in Defense::ALL {
            assert_eq!(d.name().parse::<Defense>().unwrap(), d);
        }
        assert_eq!("area".parse::<Defense>().unwrap(), Defense::AreaScaling);
        assert!("blur".parse::<Defense>().unwrap_err().to_string().contains("'blur'"));
        let mut cfg = ScalingExperimentConfig { defenses: vec![Defense::Median, Defense::None, Defense::Median], ..Default::default() };
        assert_eq!(defense_list(&cfg), vec![Defense::None, Defense::Median]);
        cfg.defenses.clear();
        assert_eq!(defense_list(&cfg), vec![Defense::None]);
    }

    #[test]
    fn batches_split_by_size_and_count() {
        let s = [(4, 4), (4, 4), (4, 4), (8, 8), (8, 8), (4, 4)];
        assert_eq!(batches(&s, 2), vec![0..2, 2..3, 3..5, 5..6]);
        assert_eq!(batches(&s, 8), vec![0..3, 3..5, 5..6]);
        assert!(batches(&[], 2).is_empty());
    }

    #[test]
    fn map_score() {
        let a = ClassMap { width: 2, height: 2, data: vec![0, 1, 1, 1] };
        let b = ClassMap { width: 2, height: 2, data: vec![0, 1, 0, 255] };
        let s = MapScore::compare(&a, &b, 21).unwrap();
        assert!((s.agreement - 2.0 / 3.0).abs() < 1e-12);
        // class 0: tp 1, fn 1 → 1/2; class 1: tp 1, fp 1 → 1/2
        assert!((s.miou - 0.5).abs() < 1e-12, "{s:?}");
        let c = ClassMap { width: 1, height: 4, data: vec![0; 4] };
        assert!(MapScore::compare(&a, &c, 21).is_err());
    }
}
