//! The experiment runner behind `advseg eval --experiment FILE`: clean, attacked and defended
//! (non-adaptive and adaptive) metrics per ε, targeted agreement, and the transfer matrix,
//! from one TOML file.
//!
//! ```toml
//! name = "voc-shared"
//! images = "shared:fixtures/images/voc"   # NAME.png + NAME_label.png pairs ("shared:" = ../shared)
//! models = ["espnetv2-voc", "deeplabv3-mnv2-voc"]
//! seeds = [0]                              # one run per seed where an attack uses randomness
//! batch = 2                                # images per PGD batch
//!
//! [[attacks]]
//! name = "pgd-ce"
//! goal = "untargeted"                      # or targeted-image (target_index) / targeted-class (target_class)
//! loss = "ce"                              # ce, segpgd, cospgd
//! norm = "linf"                            # linf, l2
//! eps = ["2/255", "4/255", "8/255"]
//! steps = 10
//! step_factor = 0.25                       # α = step_factor · ε
//! random_start = false
//!
//! [[defenses]]
//! name = "multi-scale"
//! multiscale = { scales = [0.5, 0.75, 1.0, 1.25], flip = true, combine = "mean" }
//!
//! [[defenses]]
//! name = "jpeg-75"
//! reconstruct = ["jpeg:75"]
//!
//! [transfer]
//! models = ["espnetv2-voc", "espnetv2-voc-s1.0", "deeplabv3-mnv2-voc"]
//! attack = "pgd-ce"
//! eps = "4/255"
//! ```
//!
//! Protocol. Every image is resized to each model's native input with Pillow's bilinear filter
//! (the reference preprocessing). Predicted maps are compared with ground truth after a
//! nearest resize to the label size, one confusion matrix over all images (void ignored).
//! Attacks run against the *undefended* model; each defense is then evaluated non-adaptively
//! (on those images) and adaptively (on images crafted against the defended model: EOT through
//! multi-scale inference, BPDA through reconstructions, see [`crate::defense`]). Targeted goals
//! also report the agreement with the target map (for `targeted-image`, over the other images).
//! The transfer matrix crafts on each source model at its size, rounds the adversarial image to
//! 8 bits (what a saved file holds), resizes it to each target model's size with Pillow's
//! bilinear filter and reports the target's mIoU against ground truth.
//!
//! The same file gives the same JSON: seeds fix every random choice and the JSON holds no
//! timings (those go to the Markdown and to [`ExperimentResult::seconds`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::attack::{self, Goal, LossKind, Norm, PgdConfig, SegModel};
use crate::defense::{Combine, DefenseConfig, Defended, MultiScaleConfig, Pipeline};
use crate::error::{Error, Result};
use crate::image_io::{self, ResizeMethod, RgbImage01};
use crate::model::{ClassMap, Segmenter, argmax_maps, batch_tensor};

/// The experiment file (TOML), as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    /// Name for the report.
    pub name: String,
    /// Free text for the report.
    #[serde(default)]
    pub description: String,
    /// Folder of `NAME.png|jpg` + `NAME_label.png` pairs (or Cityscapes' `X_leftImg8bit.png` +
    /// `X_gtFine_labelTrainIds.png`); a leading `shared:` means the shared
    /// folder (`$ADVSEG_SHARED`, default `../shared`).
    pub images: String,
    /// Zoo model names.
    pub models: Vec<String>,
    /// Seeds of the random starts (attacks without random start run once, with the first).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Images per PGD batch.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Use at most this many images (sorted by name); all when absent.
    #[serde(default)]
    pub max_images: Option<usize>,
    /// Attacks.
    #[serde(default)]
    pub attacks: Vec<AttackSpec>,
    /// Defenses.
    #[serde(default)]
    pub defenses: Vec<DefenseSpec>,
    /// Transferability matrix.
    #[serde(default)]
    pub transfer: Option<TransferSpec>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_batch() -> usize {
    2
}
fn default_steps() -> usize {
    10
}
fn default_step_factor() -> f64 {
    0.25
}
fn default_true() -> bool {
    true
}

/// One attack of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackSpec {
    /// Name for tables.
    pub name: String,
    /// `untargeted`, `targeted-image` or `targeted-class`.
    #[serde(default = "default_goal")]
    pub goal: String,
    /// `targeted-image`: the 1-based index (in name order) of the image whose clean map is the
    /// target of all images.
    #[serde(default)]
    pub target_index: Option<usize>,
    /// `targeted-class`: class index or name.
    #[serde(default)]
    pub target_class: Option<String>,
    /// `ce`, `segpgd` or `cospgd`.
    #[serde(default = "default_loss")]
    pub loss: String,
    /// `linf` or `l2`.
    #[serde(default = "default_norm")]
    pub norm: String,
    /// Radii, e.g. `["2/255", "4/255"]`.
    pub eps: Vec<String>,
    /// PGD steps.
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Step size as a multiple of ε.
    #[serde(default = "default_step_factor")]
    pub step_factor: f64,
    /// Random start in the ε-ball.
    #[serde(default)]
    pub random_start: bool,
}

fn default_goal() -> String {
    "untargeted".into()
}
fn default_loss() -> String {
    "ce".into()
}
fn default_norm() -> String {
    "linf".into()
}

/// One defense of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefenseSpec {
    /// Name for tables.
    pub name: String,
    /// Reconstruction steps, e.g. `["jpeg:75"]`, `["median:3"]`, `["tv:0.08"]`.
    #[serde(default)]
    pub reconstruct: Vec<String>,
    /// Multi-scale inference.
    #[serde(default)]
    pub multiscale: Option<MultiScaleSpec>,
    /// Also run the adaptive attack (EOT / BPDA) against it.
    #[serde(default = "default_true")]
    pub adaptive: bool,
}

/// Multi-scale settings in an experiment file (absent fields take [`MultiScaleConfig`]'s
/// defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiScaleSpec {
    /// Scales.
    #[serde(default)]
    pub scales: Option<Vec<f64>>,
    /// Mirror too.
    #[serde(default)]
    pub flip: Option<bool>,
    /// `mean` or `max`.
    #[serde(default)]
    pub combine: Option<String>,
}

/// The transfer matrix of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    /// Models, as sources (rows) and targets (columns).
    pub models: Vec<String>,
    /// Name of the attack of `[[attacks]]` whose settings craft the perturbations.
    pub attack: String,
    /// The radius.
    pub eps: String,
    /// Images folder, if not the experiment's (e.g. Cityscapes models need Cityscapes images).
    #[serde(default)]
    pub images: Option<String>,
}

impl ExperimentFile {
    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let f: ExperimentFile =
            toml::from_str(text).map_err(|e| Error::InvalidArgument(format!("experiment file: {e}")))?;
        f.validate()?;
        Ok(f)
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))
    }

    /// Check names and settings without loading anything heavy.
    pub fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::InvalidArgument("the experiment names no models".into()));
        }
        for m in &self.models {
            crate::model::zoo::spec(m)?;
        }
        if self.seeds.is_empty() {
            return Err(Error::InvalidArgument("seeds must list at least one seed".into()));
        }
        if self.batch == 0 {
            return Err(Error::InvalidArgument("batch must be at least 1, got 0".into()));
        }
        let mut names: Vec<&str> = Vec::new();
        for a in &self.attacks {
            if names.contains(&a.name.as_str()) {
                return Err(Error::InvalidArgument(format!("two attacks are named '{}'", a.name)));
            }
            names.push(&a.name);
            for e in &a.eps {
                a.pgd_config(attack::parse_fraction(e, "eps")?, self.seeds[0])?;
            }
            if a.eps.is_empty() {
                return Err(Error::InvalidArgument(format!("attack '{}' lists no eps", a.name)));
            }
            match a.goal.as_str() {
                "untargeted" => {}
                "targeted-image" => {
                    if a.target_index.is_none_or(|k| k == 0) {
                        return Err(Error::InvalidArgument(format!(
                            "attack '{}': targeted-image needs target_index ≥ 1 (1-based)",
                            a.name
                        )));
                    }
                }
                "targeted-class" => {
                    let c = a.target_class.as_deref().ok_or_else(|| {
                        Error::InvalidArgument(format!("attack '{}': targeted-class needs target_class", a.name))
                    })?;
                    for m in &self.models {
                        crate::model::zoo::spec(m)?.parse_class(c, "target_class")?;
                    }
                }
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "attack '{}': unknown goal '{other}' (untargeted, targeted-image, targeted-class)",
                        a.name
                    )));
                }
            }
        }
        let mut dnames: Vec<&str> = Vec::new();
        for d in &self.defenses {
            if dnames.contains(&d.name.as_str()) {
                return Err(Error::InvalidArgument(format!("two defenses are named '{}'", d.name)));
            }
            dnames.push(&d.name);
            d.config()?;
        }
        if let Some(t) = &self.transfer {
            if t.models.is_empty() {
                return Err(Error::InvalidArgument("transfer lists no models".into()));
            }
            for m in &t.models {
                crate::model::zoo::spec(m)?;
            }
            if !names.contains(&t.attack.as_str()) {
                return Err(Error::InvalidArgument(format!("transfer names attack '{}', which [[attacks]] lacks", t.attack)));
            }
            attack::parse_fraction(&t.eps, "transfer eps")?;
        }
        Ok(())
    }
}

impl AttackSpec {
    /// The PGD settings at radius `eps` and `seed`.
    pub fn pgd_config(&self, eps: f64, seed: u64) -> Result<PgdConfig> {
        if !(self.step_factor.is_finite() && self.step_factor > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "attack '{}': step_factor must be > 0, got {}",
                self.name, self.step_factor
            )));
        }
        let loss: LossKind = self.loss.parse()?;
        let norm: Norm = self.norm.parse()?;
        let cfg = PgdConfig::new()
            .with_eps(eps)
            .with_step_size(Some(self.step_factor * eps).filter(|a| *a > 0.0))
            .with_steps(self.steps)
            .with_loss(loss)
            .with_norm(norm)
            .with_random_start(self.random_start)
            .with_seed(seed);
        cfg.validate()?;
        Ok(cfg)
    }

    fn is_targeted(&self) -> bool {
        self.goal != "untargeted"
    }
}

impl DefenseSpec {
    /// The defense it describes.
    pub fn config(&self) -> Result<DefenseConfig> {
        let pipeline = Pipeline(self.reconstruct.iter().map(|s| s.parse()).collect::<Result<_>>()?);
        let multiscale = match &self.multiscale {
            None => None,
            Some(m) => {
                let mut c = MultiScaleConfig::new();
                if let Some(s) = &m.scales {
                    c.scales = s.clone();
                }
                if let Some(f) = m.flip {
                    c.flip = f;
                }
                if let Some(k) = &m.combine {
                    c.combine = k.parse::<Combine>()?;
                }
                Some(c)
            }
        };
        if pipeline.is_empty() && multiscale.is_none() {
            return Err(Error::InvalidArgument(format!(
                "defense '{}' does nothing: give reconstruct or multiscale",
                self.name
            )));
        }
        let cfg = DefenseConfig::new().with_reconstruct(pipeline).with_multiscale(multiscale);
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Resolve an images path of an experiment file.
pub fn resolve_images(path: &str) -> PathBuf {
    match path.strip_prefix("shared:") {
        Some(rest) => std::env::var_os("ADVSEG_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared"))
            .join(rest),
        None => PathBuf::from(path),
    }
}

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
    /// Per defense.
    pub defenses: Vec<DefenseScore>,
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

/// A loaded image with its ground truth.
struct Item {
    name: String,
    image: image::RgbImage,
    gt: ClassMap,
}

/// Suffix of Cityscapes' train-id label files.
const CITY_LABEL: &str = "_gtFine_labelTrainIds";

/// The label file of image `name`: `NAME_label.png`, or Cityscapes'
/// `CITY_gtFine_labelTrainIds.png` for `CITY_leftImg8bit`.
fn label_path(dir: &Path, name: &str) -> PathBuf {
    match name.strip_suffix("_leftImg8bit") {
        Some(city) => dir.join(format!("{city}{CITY_LABEL}.png")),
        None => dir.join(format!("{name}_label.png")),
    }
}

fn load_items(dir: &Path, max: Option<usize>, skipped: &mut Vec<Skipped>) -> Result<Vec<Item>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
            let stem = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            matches!(ext.as_str(), "png" | "jpg" | "jpeg") && !stem.ends_with("_label") && !stem.ends_with(CITY_LABEL)
        })
        .collect();
    paths.sort();
    let mut items = Vec::new();
    for p in paths {
        let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        let label = label_path(dir, &name);
        if !label.is_file() {
            continue;
        }
        if max.is_some_and(|m| items.len() >= m) {
            break;
        }
        let loaded = (|| -> Result<Item> {
            let image = image_io::load(&p)?;
            let (g, gw, gh) = image_io::load_label_png(&label)?;
            Ok(Item { name: name.clone(), image, gt: ClassMap { width: gw, height: gh, data: g } })
        })();
        match loaded {
            Ok(it) => items.push(it),
            Err(e) => skipped.push(Skipped { image: p.display().to_string(), error: e.to_string() }),
        }
    }
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no usable NAME.png + NAME_label.png pairs in {}",
            dir.display()
        )));
    }
    Ok(items)
}

/// Images of `items` resized to `w × h` (Pillow bilinear), in `[0, 1]`.
fn inputs(items: &[Item], w: usize, h: usize) -> Result<Vec<RgbImage01>> {
    items
        .iter()
        .map(|it| Ok(image_io::to_tensor01(&image_io::resize(&it.image, w as u32, h as u32, ResizeMethod::PilBilinear)?)))
        .collect()
}

/// Predicted maps of `model` on `images`, `batch` at a time.
fn predict(model: &dyn SegModel, images: &[RgbImage01], batch: usize, device: &burn::tensor::Device) -> Result<Vec<ClassMap>> {
    let mut maps = Vec::with_capacity(images.len());
    for chunk in images.chunks(batch) {
        let x = batch_tensor(chunk, device)?;
        maps.extend(argmax_maps(model.logits(x)?, model.num_classes())?);
    }
    Ok(maps)
}

/// Scores of `maps` against ground truth (and the target maps, where given; `skip` excluded).
fn score(maps: &[ClassMap], items: &[Item], targets: Option<&[ClassMap]>, skip: Option<usize>, k: usize) -> Result<Score> {
    let gts: Vec<ClassMap> = items.iter().map(|it| it.gt.clone()).collect();
    let m = attack::compare_maps(maps, &gts, k)?;
    let target_agreement = match targets {
        None => None,
        Some(t) => {
            let keep: Vec<usize> = (0..maps.len()).filter(|&i| Some(i) != skip).collect();
            let p: Vec<ClassMap> = keep.iter().map(|&i| maps[i].clone()).collect();
            let r: Vec<ClassMap> = keep.iter().map(|&i| t[i].clone()).collect();
            Some(if p.is_empty() { 0.0 } else { attack::compare_maps(&p, &r, k)?.agreement })
        }
    };
    Ok(Score { miou: m.miou, pixel_accuracy: m.pixel_accuracy, target_agreement })
}

/// The outcome of one attack run over all images (in chunks).
struct Crafted {
    images: Vec<RgbImage01>,
    maps: Vec<ClassMap>,
    targets: Vec<ClassMap>,
    linf: f64,
    mse_sum: f64,
}

fn craft(
    model: &dyn SegModel,
    images: &[RgbImage01],
    goal: &Goal,
    cfg: &PgdConfig,
    batch: usize,
    device: &burn::tensor::Device,
) -> Result<Crafted> {
    let mut out = Crafted { images: Vec::new(), maps: Vec::new(), targets: Vec::new(), linf: 0.0, mse_sum: 0.0 };
    for chunk in images.chunks(batch) {
        let x = batch_tensor(chunk, device)?;
        let r = attack::pgd(model, x, goal, cfg, None)?;
        let o = r.adversarial;
        out.linf = out.linf.max(o.linf);
        for s in &o.per_image {
            out.mse_sum += 10f64.powf(-s.psnr / 10.0);
        }
        out.images.extend(o.images);
        out.maps.extend(o.maps);
        out.targets.extend(r.reference_maps);
    }
    Ok(out)
}

fn psnr_of(mse_sum: f64, n: usize) -> f64 {
    -10.0 * (mse_sum / n.max(1) as f64).log10()
}

/// The goal of `a` on `seg` for `images` (the target image's clean map comes from `clean`).
fn goal_for(a: &AttackSpec, seg: &Segmenter, clean: &[ClassMap]) -> Result<(Goal, Option<usize>)> {
    Ok(match a.goal.as_str() {
        "targeted-image" => {
            let k = a.target_index.unwrap_or(1);
            let map = clean.get(k - 1).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "attack '{}': target_index {k} is beyond the {} images",
                    a.name,
                    clean.len()
                ))
            })?;
            (Goal::to_maps(vec![map.clone()]), Some(k - 1))
        }
        "targeted-class" => {
            let c = seg.spec.parse_class(a.target_class.as_deref().unwrap_or_default(), "target_class")?;
            (Goal::to_class(c), None)
        }
        _ => (Goal::untargeted(), None),
    })
}

/// Run an experiment on `device` (any backend; autodiff is added). `on_progress` sees each
/// task as it starts.
pub fn run(
    exp: &ExperimentFile,
    device: &burn::tensor::Device,
    on_progress: &mut dyn FnMut(&ExperimentProgress),
) -> Result<ExperimentResult> {
    exp.validate()?;
    let ad = crate::backend::autodiff(device);
    let mut skipped = Vec::new();
    let items = load_items(&resolve_images(&exp.images), exp.max_images, &mut skipped)?;
    let n = items.len();
    let defenses: Vec<(String, DefenseConfig, bool)> =
        exp.defenses.iter().map(|d| Ok((d.name.clone(), d.config()?, d.adaptive))).collect::<Result<_>>()?;
    let n_adaptive = defenses.iter().filter(|d| d.2).count();
    let runs_per_attack: usize = exp
        .attacks
        .iter()
        .map(|a| a.eps.len() * if a.random_start { exp.seeds.len() } else { 1 })
        .sum();
    let transfer_items = match &exp.transfer {
        Some(t) => match &t.images {
            Some(dir) => Some(load_items(&resolve_images(dir), exp.max_images, &mut skipped)?),
            None => None,
        },
        None => None,
    };
    let total = exp.models.len() * (1 + defenses.len() + runs_per_attack * (1 + defenses.len() + n_adaptive))
        + exp.transfer.as_ref().map_or(0, |t| t.models.len() * (2 + t.models.len()));
    let mut done = 0usize;
    let mut tick = |msg: String, done: &mut usize| {
        on_progress(&ExperimentProgress { done: *done, total, message: msg });
        *done += 1;
    };
    let mut seconds = Vec::new();

    let mut models = Vec::new();
    for name in &exp.models {
        let t0 = std::time::Instant::now();
        let seg = Segmenter::load(name, &ad)?;
        let k = seg.spec.num_classes();
        let (w, h) = seg.spec.native_size;
        let x = inputs(&items, w, h)?;
        tick(format!("{name}: clean"), &mut done);
        let clean_maps = predict(&seg, &x, exp.batch, &ad)?;
        let clean = score(&clean_maps, &items, None, None, k)?;
        let defended: Vec<(String, Defended, bool)> = defenses
            .iter()
            .map(|(dn, cfg, adaptive)| Ok((dn.clone(), Defended::new(seg.clone(), cfg)?, *adaptive)))
            .collect::<Result<_>>()?;
        let mut clean_defended = Vec::new();
        for (dn, d, _) in &defended {
            tick(format!("{name}: clean, {dn}"), &mut done);
            clean_defended.push((dn.clone(), score(&predict(d, &x, exp.batch, &ad)?, &items, None, None, k)?));
        }
        let mut rows = Vec::new();
        for a in &exp.attacks {
            let (goal, skip) = goal_for(a, &seg, &clean_maps)?;
            let seeds: &[u64] = if a.random_start { &exp.seeds } else { &exp.seeds[..1] };
            for eps_s in &a.eps {
                let eps = attack::parse_fraction(eps_s, "eps")?;
                for &seed in seeds {
                    let cfg = a.pgd_config(eps, seed)?;
                    tick(format!("{name}: {} ε={eps_s} seed {seed}", a.name), &mut done);
                    let c = craft(&seg, &x, &goal, &cfg, exp.batch, &ad)?;
                    let targets = a.is_targeted().then_some(c.targets.as_slice());
                    let attacked = score(&c.maps, &items, targets, skip, k)?;
                    let clean_target_agreement = match targets {
                        Some(_) => score(&clean_maps, &items, targets, skip, k)?.target_agreement,
                        None => None,
                    };
                    let mut dscores = Vec::new();
                    for (dn, d, adaptive) in &defended {
                        tick(format!("{name}: {} ε={eps_s}, {dn} (non-adaptive)", a.name), &mut done);
                        let non_adaptive = score(&predict(d, &c.images, exp.batch, &ad)?, &items, targets, skip, k)?;
                        let adaptive = if *adaptive {
                            tick(format!("{name}: {} ε={eps_s}, {dn} (adaptive)", a.name), &mut done);
                            let ca = craft(d, &x, &goal, &cfg, exp.batch, &ad)?;
                            Some(score(&ca.maps, &items, a.is_targeted().then_some(ca.targets.as_slice()), skip, k)?)
                        } else {
                            None
                        };
                        dscores.push(DefenseScore { defense: dn.clone(), non_adaptive, adaptive });
                    }
                    rows.push(AttackRow {
                        attack: a.name.clone(),
                        eps: eps_s.clone(),
                        eps_value: eps,
                        seed,
                        attacked,
                        clean_target_agreement,
                        linf: c.linf,
                        psnr: psnr_of(c.mse_sum, n),
                        defenses: dscores,
                    });
                }
            }
        }
        seconds.push((name.clone(), t0.elapsed().as_secs_f64()));
        models.push(ModelResult { model: name.clone(), input_size: (w, h), n_images: n, clean, clean_defended, attacks: rows });
    }

    let transfer = match &exp.transfer {
        None => None,
        Some(t) => {
            let t0 = std::time::Instant::now();
            let titems = transfer_items.as_deref().unwrap_or(&items);
            let r = transfer_matrix(exp, t, titems, &ad, &mut |m| tick(m, &mut done))?;
            seconds.push(("transfer".into(), t0.elapsed().as_secs_f64()));
            Some(r)
        }
    };
    on_progress(&ExperimentProgress { done: total, total, message: "done".into() });
    Ok(ExperimentResult {
        experiment: exp.clone(),
        images: items.iter().map(|it| it.name.clone()).collect(),
        skipped,
        models,
        transfer,
        seconds,
    })
}

fn transfer_matrix(
    exp: &ExperimentFile,
    t: &TransferSpec,
    items: &[Item],
    ad: &burn::tensor::Device,
    tick: &mut dyn FnMut(String),
) -> Result<TransferResult> {
    let a = exp
        .attacks
        .iter()
        .find(|a| a.name == t.attack)
        .ok_or_else(|| Error::InvalidArgument(format!("transfer attack '{}' not found", t.attack)))?;
    let eps = attack::parse_fraction(&t.eps, "transfer eps")?;
    let cfg = a.pgd_config(eps, exp.seeds[0])?;
    let segs: Vec<Segmenter> = t.models.iter().map(|m| Segmenter::load(m, ad)).collect::<Result<_>>()?;
    // each model's inputs and clean maps: the clean row, and the start and goal of its attack
    let mut clean_miou = Vec::new();
    let mut clean_runs = Vec::new();
    for s in &segs {
        tick(format!("transfer: clean {}", s.spec.name));
        let (w, h) = s.spec.native_size;
        let x = inputs(items, w, h)?;
        let maps = predict(s, &x, exp.batch, ad)?;
        clean_miou.push(score(&maps, items, None, None, s.spec.num_classes())?.miou);
        clean_runs.push((x, maps));
    }
    let (mut miou, mut pa) = (Vec::new(), Vec::new());
    for (src, (x, clean)) in segs.iter().zip(&clean_runs) {
        tick(format!("transfer: craft on {}", src.spec.name));
        let (goal, _) = goal_for(a, src, clean)?;
        let c = craft(src, x, &goal, &cfg, exp.batch, ad)?;
        let adv8: Vec<image::RgbImage> = c.images.iter().map(image_io::from_tensor01).collect::<Result<_>>()?;
        let (mut row_m, mut row_p) = (Vec::new(), Vec::new());
        for dst in &segs {
            tick(format!("transfer: {} → {}", src.spec.name, dst.spec.name));
            let (dw, dh) = dst.spec.native_size;
            let xd: Vec<RgbImage01> = adv8
                .iter()
                .map(|im| Ok(image_io::to_tensor01(&image_io::resize(im, dw as u32, dh as u32, ResizeMethod::PilBilinear)?)))
                .collect::<Result<_>>()?;
            let s = score(&predict(dst, &xd, exp.batch, ad)?, items, None, None, dst.spec.num_classes())?;
            row_m.push(s.miou);
            row_p.push(s.pixel_accuracy);
        }
        miou.push(row_m);
        pa.push(row_p);
    }
    Ok(TransferResult {
        models: t.models.clone(),
        attack: t.attack.clone(),
        eps: t.eps.clone(),
        n_images: items.len(),
        clean_miou,
        miou,
        pixel_accuracy: pa,
    })
}

fn cell(s: &Score) -> String {
    format!("{:.4} / {:.4}", s.miou, s.pixel_accuracy)
}

fn agree(v: Option<f64>) -> String {
    v.map_or("–".into(), |a| format!("{a:.4}"))
}

impl ExperimentResult {
    /// The JSON report (no timings: the same file gives the same text).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::InvalidArgument(format!("JSON encoding failed: {e}")))
    }

    /// The Markdown tables.
    pub fn to_markdown(&self) -> String {
        let e = &self.experiment;
        let mut s = format!("## Experiment `{}`\n\n", e.name);
        if !e.description.is_empty() {
            s += &format!("{}\n\n", e.description);
        }
        let plural = |n: usize| if n == 1 { "image" } else { "images" };
        s += &format!("{} {} from `{}`: {}.", self.images.len(), plural(self.images.len()), e.images, self.images.join(", "));
        if !self.skipped.is_empty() {
            let sk: Vec<String> = self.skipped.iter().map(|k| format!("{} ({})", k.image, k.error)).collect();
            s += &format!(" Skipped: {}.", sk.join("; "));
        }
        s += " Cells: mIoU / pixel accuracy against ground truth.\n\n";
        for m in &self.models {
            s += &format!("### {} ({}×{})\n\n", m.model, m.input_size.0, m.input_size.1);
            let mut head = "| attack | ε | seed | undefended |".to_string();
            let mut sep = "|---|---|---|---|".to_string();
            for (dn, _) in &m.clean_defended {
                head += &format!(" {dn}: non-adaptive | {dn}: adaptive |");
                sep += "---|---|";
            }
            s += &format!("{head}\n{sep}\n| clean | 0 | – | {} |", cell(&m.clean));
            for (_, sc) in &m.clean_defended {
                s += &format!(" {} | – |", cell(sc));
            }
            s += "\n";
            for r in &m.attacks {
                s += &format!("| {} | {} | {} | {} |", r.attack, r.eps, r.seed, cell(&r.attacked));
                for d in &r.defenses {
                    s += &format!(" {} | {} |", cell(&d.non_adaptive), d.adaptive.as_ref().map_or("–".into(), cell));
                }
                s += "\n";
            }
            s += "\n";
            let targeted: Vec<&AttackRow> = m.attacks.iter().filter(|r| r.attacked.target_agreement.is_some()).collect();
            if !targeted.is_empty() {
                let mut head = "| targeted attack | ε | seed | clean | undefended |".to_string();
                let mut sep = "|---|---|---|---|---|".to_string();
                for (dn, _) in &m.clean_defended {
                    head += &format!(" {dn}: non-adaptive | {dn}: adaptive |");
                    sep += "---|---|";
                }
                s += &format!("Agreement with the target map:\n\n{head}\n{sep}\n");
                for r in targeted {
                    s += &format!(
                        "| {} | {} | {} | {} | {} |",
                        r.attack,
                        r.eps,
                        r.seed,
                        agree(r.clean_target_agreement),
                        agree(r.attacked.target_agreement)
                    );
                    for d in &r.defenses {
                        s += &format!(
                            " {} | {} |",
                            agree(d.non_adaptive.target_agreement),
                            agree(d.adaptive.and_then(|a| a.target_agreement))
                        );
                    }
                    s += "\n";
                }
                s += "\n";
            }
            s += "Achieved norms:";
            for r in &m.attacks {
                s += &format!(" {} ε={}: L∞ {:.5}, PSNR {:.2} dB;", r.attack, r.eps, r.linf, r.psnr);
            }
            s += "\n\n";
        }
        if let Some(t) = &self.transfer {
            s += &format!(
                "### Transfer matrix ({} at ε = {}, {} {}): mIoU of the column model on images crafted against the row model\n\n",
                t.attack,
                t.eps,
                t.n_images,
                plural(t.n_images)
            );
            s += &format!("| source \\ target | {} |\n|---|{}\n", t.models.join(" | "), "---|".repeat(t.models.len()));
            let clean: Vec<String> = t.clean_miou.iter().map(|v| format!("{v:.4}")).collect();
            s += &format!("| (clean) | {} |\n", clean.join(" | "));
            for (i, row) in t.miou.iter().enumerate() {
                let cells: Vec<String> = row
                    .iter()
                    .enumerate()
                    .map(|(j, v)| if i == j { format!("**{v:.4}**") } else { format!("{v:.4}") })
                    .collect();
                s += &format!("| {} | {} |\n", t.models[i], cells.join(" | "));
            }
            s += "\n";
        }
        if !self.seconds.is_empty() {
            let parts: Vec<String> = self.seconds.iter().map(|(p, v)| format!("{p} {v:.0} s")).collect();
            s += &format!("Wall-clock time: {}.\n", parts.join(", "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
images = "shared:fixtures/images/voc"
models = ["deeplabv3-mnv2-voc"]

[[attacks]]
name = "a"
eps = ["4/255"]

[[defenses]]
name = "ms"
multiscale = { scales = [1.0], flip = true }

[[defenses]]
name = "jpeg"
reconstruct = ["jpeg:75"]
adaptive = false

[transfer]
models = ["deeplabv3-mnv2-voc"]
attack = "a"
eps = "2/255"
"#;

    #[test]
    fn parses_with_defaults() {
        let f = ExperimentFile::parse(GOOD).unwrap();
        assert_eq!(f.seeds, vec![0]);
        assert_eq!(f.batch, 2);
        let a = &f.attacks[0];
        let cfg = a.pgd_config(4.0 / 255.0, 0).unwrap();
        assert_eq!(cfg.steps, 10);
        assert!((cfg.alpha() - 1.0 / 255.0).abs() < 1e-12);
        let ms = f.defenses[0].config().unwrap();
        assert_eq!(ms.multiscale.as_ref().unwrap().scales, vec![1.0]);
        assert!(!f.defenses[1].adaptive);
        assert_eq!(f.defenses[1].config().unwrap().label(), "jpeg:75");
    }

    #[test]
    fn bad_files_are_explained() {
        for (edit, needle) in [
            (("deeplabv3-mnv2-voc\"]", "unicornnet\"]"), "'unicornnet'"),
            (("eps = [\"4/255\"]", "eps = [\"x\"]"), "'x'"),
            (("name = \"a\"\n", "name = \"a\"\ngoal = \"sideways\"\n"), "'sideways'"),
            (("name = \"a\"\n", "name = \"a\"\ngoal = \"targeted-class\"\ntarget_class = \"unicorn\"\n"), "'unicorn'"),
            (("name = \"a\"\n", "name = \"a\"\ngoal = \"targeted-image\"\n"), "target_index"),
            (("reconstruct = [\"jpeg:75\"]", "reconstruct = [\"jpeg:0\"]"), "got 0"),
            (("attack = \"a\"", "attack = \"b\""), "'b'"),
            (("name = \"t\"", "name = \"t\"\ncolour = 1"), "colour"),
            (("multiscale = { scales = [1.0], flip = true }", ""), "does nothing"),
        ] {
            let text = GOOD.replacen(edit.0, edit.1, 1);
            let e = ExperimentFile::parse(&text).unwrap_err().to_string();
            assert!(e.contains(needle), "{edit:?}: {e}");
        }
    }

    #[test]
    fn label_names() {
        let d = Path::new("d");
        assert_eq!(label_path(d, "0"), d.join("0_label.png"));
        assert_eq!(label_path(d, "frankfurt_1_leftImg8bit"), d.join("frankfurt_1_gtFine_labelTrainIds.png"));
    }

    #[test]
    fn shared_prefix_resolves() {
        let p = resolve_images("plain/dir");
        assert_eq!(p, PathBuf::from("plain/dir"));
        assert!(resolve_images("shared:fixtures").ends_with("fixtures"));
    }

    #[test]
    fn markdown_has_every_table() {
        let s = Score { miou: 0.5, pixel_accuracy: 0.9, target_agreement: None };
        let r = ExperimentResult {
            experiment: ExperimentFile::parse(GOOD).unwrap(),
            images: vec!["0".into()],
            skipped: vec![Skipped { image: "bad.png".into(), error: "broken".into() }],
            models: vec![ModelResult {
                model: "m".into(),
                input_size: (257, 257),
                n_images: 1,
                clean: s,
                clean_defended: vec![("ms".into(), s)],
                attacks: vec![AttackRow {
                    attack: "a".into(),
                    eps: "4/255".into(),
                    eps_value: 4.0 / 255.0,
                    seed: 0,
                    attacked: Score { target_agreement: Some(0.7), ..s },
                    clean_target_agreement: Some(0.1),
                    linf: 0.0157,
                    psnr: 40.0,
                    defenses: vec![DefenseScore { defense: "ms".into(), non_adaptive: s, adaptive: None }],
                }],
            }],
            transfer: Some(TransferResult {
                models: vec!["m".into(), "n".into()],
                attack: "a".into(),
                eps: "4/255".into(),
                n_images: 1,
                clean_miou: vec![0.9, 0.8],
                miou: vec![vec![0.1, 0.5], vec![0.4, 0.2]],
                pixel_accuracy: vec![vec![0.2, 0.6], vec![0.5, 0.3]],
            }),
            seconds: vec![("m".into(), 3.0)],
        };
        let md = r.to_markdown();
        for needle in ["### m (257×257)", "ms: non-adaptive", "| clean | 0 | – | 0.5000 / 0.9000 |", "Agreement with the target map", "| 0.1000 | 0.7000 |", "**0.1000**", "Skipped: bad.png (broken)", "m 3 s"] {
            assert!(md.contains(needle), "{needle} missing in\n{md}");
        }
        let json = r.to_json().unwrap();
        assert!(!json.contains("seconds"));
        let back: ExperimentResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back.models, r.models);
    }
}
