//! `advseg attack`: the flags become one [`AttackSpec`] (or `--spec FILE` gives it), the
//! library's [`run_attack`] runs it, and the images, maps and `report.json` are written.

use std::path::PathBuf;

use clap::ValueEnum;

use advseg::attack::{
    AttackKind, AttackSpec, ClassRef, Control, GoalKind, GoalMaps, LossKind, MapOrigin, MemberSpec, Progress, Radius, run_attack,
};
use advseg::data::ClassMap;
use advseg::defense::{DefenseSpec, MultiScaleSpec};
use advseg::error::{Error, Result};
use advseg::image::{self as imaging, RgbImage01};
use advseg::model::Segmenter;
use advseg::util::block_on;

use crate::common::{create_dir, load_batch, parse_size, progress, write_json};

/// What the attack aims for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Away from the clean prediction (or the ground truth with --vs-gt).
    Untargeted,
    /// Every image to the map of image --target-index of the batch.
    TargetedImage,
    /// One class everywhere (--target-class).
    TargetedClass,
    /// A class-index PNG (--target-map), optionally inside --mask.
    TargetedMap,
}

/// The attack family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Projected gradient descent with a fixed step (--step-size, default ε/4).
    Pgd,
    /// APGD (Croce & Hein 2020): the step starts at 2ε (targeted ε/2, or --step-size) and
    /// halves where progress stalls, with momentum.
    Apgd,
    /// SEA (Croce, Singh & Hein 2024) as its authors run it: APGD once per loss of --losses
    /// (default masked-ce, balanced-ce, js) from its own random start with the progressive
    /// radius, --steps each (default 300); per image the strongest result.
    Sea,
    /// DAG (Xie et al. 2017): L∞-normalised steps of γ (--step-size, default 0.5/255) on the
    /// pixels not yet fooled, until none is left; --eps 1 is the paper's unbounded attack.
    Dag,
    /// The worst case over the attacks of --members: per image the strongest, and the
    /// per-image choice that minimises the pooled mIoU.
    WorstCase,
}

/// Adversarial attack (PGD family or APGD) on a batch of images: writes NAME_adv.png (8-bit),
/// NAME_clean_map.png, NAME_adv_map.png, NAME_perturbation.png (amplified), NAME_target_map.png
/// (targeted modes), NAME_defended_map.png (with a defense) and report.json into --out. Metrics
/// against ground truth wherever NAME_label.png lies beside NAME.png.
#[derive(clap::Args)]
pub struct AttackArgs {
    /// Zoo model name (see `advseg models`).
    #[arg(long, default_value = "espnetv2-voc")]
    pub model: String,
    /// The whole attack as a TOML or JSON file (the keys of an experiment's [[attacks]]
    /// entry, see docs/report-schema.md); replaces the attack flags below.
    #[arg(long, conflicts_with_all = ["kind", "mode", "eps", "step_size", "steps", "loss", "norm", "random_start", "seed",
        "early_stop", "grid_steps", "members", "progress_every", "restarts", "radius_schedule", "losses", "vs_gt", "target_index", "target_gt", "target_class", "target_map", "mask",
        "keep_outside", "keep_unpainted", "reconstruct", "multiscale", "adaptive"])]
    pub spec: Option<PathBuf>,
    /// Attack family: apgd, pgd, sea or dag.
    #[arg(long, value_enum, default_value = "apgd")]
    pub kind: Kind,
    /// Attack goal.
    #[arg(long, value_enum, default_value = "untargeted")]
    pub mode: Mode,
    /// Perturbation budget ε in [0, 1] pixel units: a number or a fraction such as 8/255.
    #[arg(long, default_value = "8/255", allow_hyphen_values = true)]
    pub eps: String,
    /// Step size α (number or fraction); default ε/4 (dag: 0.5/255).
    #[arg(long, allow_hyphen_values = true)]
    pub step_size: Option<String>,
    /// Gradient steps (per run; default 10, sea 300 per loss).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Loss: ce, segpgd, cospgd, masked-ce, balanced-ce or js.
    #[arg(long, default_value = "ce")]
    pub loss: String,
    /// sea: the ensemble's losses, comma-separated (default masked-ce,balanced-ce,js; on
    /// PASCAL VOC models masked-ce,balanced-ce-voc,js).
    #[arg(long)]
    pub losses: Option<String>,
    /// worst-case: its attacks, comma-separated KIND or KIND-LOSS (e.g.
    /// sea,apgd-segpgd,pgd-cospgd,dag); --steps applies to each.
    #[arg(long)]
    pub members: Option<String>,
    /// Run the attack this many times (the later ones from random starts) and keep per image
    /// the strongest result.
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// apgd / sea: SEA's progressive radius (2ε, 1.5ε, then ε; default: sea only).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub radius_schedule: Option<bool>,
    /// Threat model: linf or l2.
    #[arg(long, default_value = "linf")]
    pub norm: String,
    /// Start from a random point of the ε-ball (default: sea only; `--random-start false`
    /// turns it off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub random_start: Option<bool>,
    /// Seed of the random start.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop once every image's success rate reaches this fraction.
    #[arg(long)]
    pub early_stop: Option<f64>,
    /// Gradient steps on the 8-bit grid inside the ball after the attack, for the saved images.
    #[arg(long, default_value_t = 0)]
    pub grid_steps: usize,
    /// Read the loss and class maps back (progress, history) every this many steps only (PGD,
    /// APGD); each read stalls a GPU.
    #[arg(long, default_value_t = 1)]
    pub progress_every: usize,
    /// Untargeted: attack the ground truth (NAME_label.png) instead of the clean prediction.
    #[arg(long)]
    pub vs_gt: bool,
    /// targeted-image: the 1-based position, among the IMAGE arguments, of the image whose map
    /// is the target.
    #[arg(long, default_value_t = 1)]
    pub target_index: usize,
    /// targeted-image: use that image's ground truth instead of its predicted map.
    #[arg(long)]
    pub target_gt: bool,
    /// targeted-class: class index or name (e.g. 15 or person).
    #[arg(long)]
    pub target_class: Option<String>,
    /// targeted-map: class-index PNG (255 = don't care), nearest-resized to the input size.
    #[arg(long)]
    pub target_map: Option<PathBuf>,
    /// targeted-map: pixels left at 255 keep their clean class (instead of being free).
    #[arg(long)]
    pub keep_unpainted: bool,
    /// Targeted modes: restrict the target to the non-black pixels of this PNG.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// With --mask: ask the attack to keep the clean prediction outside the mask (default:
    /// ignore those pixels).
    #[arg(long)]
    pub keep_outside: bool,
    /// Defense: reconstruction steps in front of the model, e.g. jpeg:75,median:3.
    #[arg(long)]
    pub reconstruct: Option<String>,
    /// Defense: multi-scale inference (scales 0.5, 0.75, 1.0, 1.25 with mirroring).
    #[arg(long)]
    pub multiscale: bool,
    /// With a defense: craft the perturbation against the defended model (EOT / BPDA).
    #[arg(long)]
    pub adaptive: bool,
    /// Input size WxH (default: the model's native size).
    #[arg(long)]
    pub size: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Image files (PNG or JPEG), attacked as one batch.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

impl AttackArgs {
    /// The attack the flags (or `--spec`) describe, validated.
    pub fn spec(&self) -> Result<AttackSpec> {
        if let Some(path) = &self.spec {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let spec = if json { AttackSpec::from_json(&text) } else { AttackSpec::from_toml(&text) };
            return spec.map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())));
        }
        let goal = match self.mode {
            Mode::Untargeted => GoalKind::Untargeted,
            Mode::TargetedImage => GoalKind::TargetedImage,
            Mode::TargetedClass => GoalKind::TargetedClass,
            Mode::TargetedMap => GoalKind::TargetedMap,
        };
        let origin = |gt: bool| if gt { MapOrigin::GroundTruth } else { MapOrigin::Predicted };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let defense = (self.reconstruct.is_some() || self.multiscale).then(|| DefenseSpec {
            name: None,
            reconstruct: self.reconstruct.as_deref().map_or(Vec::new(), |r| r.split(',').map(|s| s.trim().to_string()).collect()),
            multiscale: self.multiscale.then(MultiScaleSpec::default),
            adaptive: self.adaptive,
        });
        if defense.is_none() && self.adaptive {
            return Err(Error::InvalidArgument("--adaptive needs a defense (--reconstruct or --multiscale)".into()));
        }
        let kind = match self.kind {
            Kind::Pgd => AttackKind::Pgd,
            Kind::Apgd => AttackKind::Apgd,
            Kind::Sea => AttackKind::Sea,
            Kind::Dag => AttackKind::Dag,
            Kind::WorstCase => AttackKind::WorstCase,
        };
        let losses = self.losses.as_deref().map(|l| l.split(',').map(|s| s.trim().parse()).collect::<Result<Vec<_>>>()).transpose()?;
        let spec = AttackSpec {
            kind,
            goal,
            reference: self.vs_gt.then_some(MapOrigin::GroundTruth),
            target_index: (goal == GoalKind::TargetedImage).then_some(self.target_index),
            target_source: origin(self.target_gt),
            target_class: self.target_class.as_ref().map(|c| match c.parse::<u32>() {
                Ok(i) => ClassRef::Index(i),
                Err(_) => ClassRef::Name(c.clone()),
            }),
            target_map: path(&self.target_map),
            keep_unpainted: self.keep_unpainted,
            mask: path(&self.mask),
            keep_outside: self.keep_outside,
            loss: self.loss.parse()?,
            norm: self.norm.parse()?,
            eps: vec![Radius::parse(&self.eps, "--eps")?],
            steps: self.steps.filter(|_| kind != AttackKind::WorstCase),
            step_size: self.step_size.as_deref().map(|s| Radius::parse(s, "--step-size")).transpose()?,
            random_start: self.random_start,
            seed: self.seed,
            early_stop: self.early_stop,
            grid_steps: self.grid_steps,
            progress_every: self.progress_every,
            restarts: self.restarts,
            radius_schedule: self.radius_schedule,
            losses,
            members: self
                .members
                .as_deref()
                .map(|m| parse_members(m).map(|list| list.into_iter().map(|m| MemberSpec { steps: self.steps, ..m }).collect()))
                .transpose()?,
            defense,
            ..AttackSpec::default()
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// `--members sea,apgd-segpgd,pgd-cospgd,dag`: each KIND or KIND-LOSS (with `--steps`, each
/// member runs that many steps).
fn parse_members(text: &str) -> Result<Vec<MemberSpec>> {
    text.split(',')
        .map(|m| {
            let m = m.trim();
            let (kind, loss) = match m.split_once('-') {
                Some((k, l)) if ["pgd", "apgd"].contains(&k) => (k, Some(l.parse::<LossKind>()?)),
                _ => (m, None),
            };
            let kind = AttackKind::ALL.into_iter().find(|k| k.name() == kind).ok_or_else(|| {
                Error::InvalidArgument(format!("--members: unknown attack '{m}' (KIND or KIND-LOSS: sea, dag, apgd-segpgd, pgd-cospgd, …)"))
            })?;
            Ok(MemberSpec { kind, loss, ..MemberSpec::default() })
        })
        .collect()
}

/// Amplified view of a perturbation: 0.5 + δ / (2·max|δ|) per value (grey = unchanged).
fn perturbation_view(delta: &[f32], w: usize, h: usize) -> Result<image::RgbImage> {
    let m = delta.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let data = delta.iter().map(|v| 0.5 + v / (2.0 * m)).collect();
    imaging::from_tensor01(&RgbImage01::new(w, h, data)?)
}

pub fn run(backend: &str, a: &AttackArgs) -> Result<()> {
    let start = std::time::Instant::now();
    let spec = a.spec()?;
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(&a.model, &advseg::backend::autodiff(&device))?;
    let (w, h) = match &a.size {
        Some(s) => parse_size(s)?,
        None => seg.spec.native_size,
    };
    seg.spec.check_size(w, h)?;
    let batch = load_batch(&a.images, w, h, seg.spec.dataset)?;
    let (target_map, mask) = spec.read_goal_files(w, h)?;
    create_dir(&a.out)?;
    let pb = progress(spec.total_steps()?, "attack");
    let mut observer = |p: &Progress| {
        pb.set_position(p.step as u64);
        pb.set_message(format!("attack loss {:.3} agreement {:.3}", p.loss, p.mean_agreement));
        Control::Continue
    };
    let out = block_on(run_attack(&seg, &batch, &spec, GoalMaps { target_map, mask }, Some(&mut observer)))?;
    pb.finish_and_clear();
    let mut report = out.report;
    report.backend = advseg::backend::describe(&device);
    report.seconds = start.elapsed().as_secs_f64();

    let palette = seg.spec.palette();
    let im = &out.images;
    for (i, it) in batch.iter().enumerate() {
        let save = |img: &image::RgbImage, suffix: &str| imaging::save_png(img, &a.out.join(format!("{}_{suffix}.png", it.name)));
        let colour = |m: &ClassMap| imaging::colorize(&m.data, m.width, m.height, &palette);
        save(&im.adversarial[i], "adv")?;
        save(&colour(&im.clean_maps[i])?, "clean_map")?;
        save(&colour(&im.adversarial_maps[i])?, "adv_map")?;
        save(&perturbation_view(&im.perturbation[i], w, h)?, "perturbation")?;
        if report.targeted {
            save(&colour(&im.reference_maps[i])?, "target_map")?;
        }
        if let Some((_, adv)) = &im.defended {
            save(&colour(&adv[i])?, "defended_map")?;
        }
    }
    write_json(&report, &a.out.join("report.json"))?;
    print_summary(&report, &a.out);
    Ok(())
}

fn print_summary(r: &advseg::attack::AttackReport, out: &std::path::Path) {
    let (adv, q) = (&r.overall.adversarial, &r.overall.quantized);
    println!(
        "{} {} {} {} ε={} ({:.5}) {} steps, loss {}: agreement with clean {:.4} → 8-bit {:.4}",
        r.model,
        serde_json::to_value(r.spec.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        serde_json::to_value(r.spec.goal).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        r.spec.norm,
        r.spec.eps.first().map_or("", |e| e.text.as_str()),
        r.eps,
        r.steps_run,
        if r.spec.kind == AttackKind::Sea { "per image (sea)".to_string() } else { r.spec.loss.to_string() },
        adv.vs_clean.agreement,
        q.vs_clean.agreement
    );
    if let (Some(c), Some(a), Some(qt)) = (&r.overall.clean.vs_target, &adv.vs_target, &q.vs_target) {
        println!("  agreement with target: clean {:.4} → adversarial {:.4} (8-bit {:.4})", c.agreement, a.agreement, qt.agreement);
    }
    if let (Some(c), Some(a), Some(qg)) = (&r.overall.clean.vs_ground_truth, &adv.vs_ground_truth, &q.vs_ground_truth) {
        println!("  mIoU vs ground truth: clean {:.4} → adversarial {:.4} (8-bit {:.4})", c.miou, a.miou, qg.miou);
    }
    if let (Some(d), Some(info)) = (&r.overall.defended, &r.defense) {
        println!(
            "  defended ({}, {}): agreement with clean {:.4} on clean images, {:.4} on adversarial ones",
            info.label,
            if info.adaptive { "adaptive attack" } else { "non-adaptive attack" },
            d.clean_vs_clean.agreement,
            d.vs_clean.agreement
        );
    }
    let winners: Vec<String> =
        r.images.iter().filter_map(|i| i.winning_loss.map(|l| format!("{} {l}", i.name))).collect();
    if !winners.is_empty() {
        println!("  winning loss per image: {}", winners.join(", "));
    }
    println!("  linf {:.5}  l2 {:.4}  psnr {:.2} dB; wrote {}", q.linf, q.l2, q.psnr, out.display());
}
