//! `advseg scale-attack`: the image-scaling attack on the downscale-then-segment pipeline.

use std::path::PathBuf;

use advseg::attack::{AttackKind, AttackSpec, ClassRef, Control, GoalKind, Progress, Radius};
use advseg::data::ClassMap;
use advseg::error::{Error, Result};
use advseg::image as imaging;
use advseg::model::{Segmenter, zoo};
use advseg::scaling::{
    ScalingAttackConfig, ScalingExperimentConfig, ScalingSpec, ScalingTarget, run_experiment, run_map_experiment,
};
use advseg::util::block_on;

use crate::common::{create_dir, parse_size, pct, progress, write_json};
use crate::scaling_output::{parse_defenses, print_experiment, write_scaling};

/// Image-scaling attack (Quiring et al. 2020) on the downscale-then-segment pipeline: hides
/// --target in --source, segments the attack image at full size and after downscaling, runs
/// the defenses and the adaptive attack against the median defense. Writes attack.png,
/// attack_down.png, target.png, adaptive.png, input_*.png (network inputs), map_*.png
/// (colour maps) and report.json into --out.
#[derive(clap::Args)]
pub struct ScaleAttackArgs {
    /// Zoo model name.
    #[arg(long, default_value = "espnetv2-voc")]
    pub model: String,
    /// The pipeline's scaler, e.g. opencv-linear, opencv-nearest, pillow-bilinear.
    #[arg(long, default_value = "opencv-linear")]
    pub scaler: String,
    /// Source image (what a person sees); resized to the full size if needed.
    #[arg(long)]
    pub source: PathBuf,
    /// Target image (what the network should see); resized to the model size if needed.
    /// Exactly one of --target, --target-map and --target-class.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Wanted class map instead of a target image: a class-index PNG (255 = don't care),
    /// nearest-resized to the model size. A targeted PGD crafts the target image from the
    /// downscaled source, then the scaling attack hides it.
    #[arg(long)]
    pub target_map: Option<PathBuf>,
    /// Wanted class everywhere (index or name) instead of a target image; as --target-map.
    #[arg(long)]
    pub target_class: Option<String>,
    /// ε of the targeted PGD of --target-map / --target-class, e.g. 16/255.
    #[arg(long, default_value = "16/255")]
    pub pgd_eps: String,
    /// Steps of that PGD (step size ε/4).
    #[arg(long, default_value_t = 30)]
    pub pgd_steps: usize,
    /// Loss of that PGD: ce, segpgd or cospgd.
    #[arg(long, default_value = "ce")]
    pub pgd_loss: String,
    /// Downscaling ratio: full size = ratio × model size.
    #[arg(long, default_value_t = 4)]
    pub ratio: usize,
    /// Model input size WxH (default 256x256, or the model's fixed size).
    #[arg(long)]
    pub size: Option<String>,
    /// Allowed deviation of the downscaled attack image from the target (grey levels).
    #[arg(long, default_value_t = 1.0)]
    pub eps: f64,
    /// Defenses to report, comma-separated: none, median, random, area-scaling.
    #[arg(long, default_value = "none,median,random,area-scaling")]
    pub defenses: String,
    /// Skip the adaptive attack against the median defense.
    #[arg(long)]
    pub no_adaptive: bool,
    /// Skip the full-size maps (the costliest forward passes).
    #[arg(long)]
    pub no_full_maps: bool,
    /// Seed of the random reconstruction.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Solver threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,}

impl ScaleAttackArgs {
    /// The attack the flags describe, validated.
    pub fn spec(&self) -> Result<ScalingSpec> {
        let target = match (&self.target, &self.target_map, &self.target_class) {
            (Some(_), None, None) => ScalingTarget::Image,
            (None, Some(_), None) => ScalingTarget::Map,
            (None, None, Some(_)) => ScalingTarget::Class,
            _ => {
                return Err(Error::InvalidArgument(
                    "give exactly one of --target IMAGE, --target-map MAP.png and --target-class C".into(),
                ));
            }
        };
        let spec = ScalingSpec {
            pipeline: ScalingExperimentConfig {
                scaler: self.scaler.parse()?,
                ratio: self.ratio,
                model_size: self.size.as_deref().map(parse_size).transpose()?,
                full_size: None,
                attack: ScalingAttackConfig { eps: self.eps, threads: self.threads, ..Default::default() },
                defenses: parse_defenses(&self.defenses)?,
                adaptive_median: !self.no_adaptive,
                full_size_maps: !self.no_full_maps,
                seed: self.seed,
                ..Default::default()
            },
            target,
            target_class: self.target_class.as_ref().map(|c| match c.parse::<u32>() {
                Ok(i) => ClassRef::Index(i),
                Err(_) => ClassRef::Name(c.clone()),
            }),
            target_map: self.target_map.as_ref().map(|p| p.display().to_string()),
            craft: AttackSpec {
                kind: AttackKind::Pgd,
                goal: GoalKind::TargetedMap,
                eps: vec![Radius::parse(&self.pgd_eps, "--pgd-eps")?],
                steps: Some(self.pgd_steps),
                loss: self.pgd_loss.parse()?,
                ..AttackSpec::default()
            },
        };
        spec.validate()?;
        Ok(spec)
    }
}

pub fn run(backend: &str, a: &ScaleAttackArgs) -> Result<()> {
    let spec = a.spec()?;
    let cfg = &spec.pipeline;
    let pgd = spec.craft_config()?;
    let src = imaging::load(&a.source)?;
    let device = advseg::backend::by_name(backend)?;
    let out = &a.out;
    let wanted = match spec.target {
        ScalingTarget::Image => {
            let tgt = imaging::load(a.target.as_ref().ok_or_else(|| Error::InvalidArgument("--target is missing".into()))?)?;
            let seg = Segmenter::load(&a.model, &device)?;
            let report = block_on(run_experiment(&seg, &src, &tgt, cfg))?;
            create_dir(out)?;
            write_scaling(seg.spec, &report, out)?;
            write_json(&report, &out.join("report.json"))?;
            print_experiment(&report);
            println!("wrote images, maps and report.json to {}", out.display());
            return Ok(());
        }
        ScalingTarget::Map => {
            let path = spec.target_map.as_deref().unwrap_or_default();
            let (data, w, h) = imaging::load_label_png(std::path::Path::new(path))?;
            ClassMap { width: w, height: h, data }
        }
        ScalingTarget::Class => {
            let model = zoo::spec(&a.model)?;
            let (mw, mh) = advseg::scaling::pipeline::resolve_sizes(model, cfg)?.0;
            let class = spec.target_class.as_ref().ok_or_else(|| Error::InvalidArgument("--target-class is missing".into()))?;
            advseg::scaling::class_map(class.resolve(model)?, mw, mh)
        }
    };
    let seg = Segmenter::load(&a.model, &advseg::backend::autodiff(&device))?;
    let pb = progress(pgd.total_steps(spec.craft.kind) + 1, "crafting the target image");
    let mut observer = |p: &Progress| {
        pb.set_position(p.step as u64 + 1);
        pb.set_message(format!("crafting the target image (PGD), agreement {:.1} %", 100.0 * p.mean_agreement));
        Control::Continue
    };
    let report = block_on(run_map_experiment(&seg, &src, &wanted, spec.craft.kind, &pgd, cfg, Some(&mut observer)))?;
    pb.finish_and_clear();
    create_dir(out)?;
    write_scaling(seg.spec, &report.scaling, out)?;
    let w = &report.wanted;
    let colour = imaging::colorize(&w.data, w.width, w.height, &seg.spec.palette())?;
    imaging::save_png(&colour, &out.join("map_wanted.png"))?;
    write_json(&report, &out.join("report.json"))?;
    let c = &report.craft;
    println!(
        "target image crafted by PGD from down(source): {} steps, ε = {:.4}, max change {} grey levels, PSNR {:.2} dB",
        c.steps_run, c.eps, c.linf_grey_levels, c.psnr_vs_down_source
    );
    println!(
        "vs the wanted map: clean pipeline {}, crafted target {}, attack image through the pipeline {}",
        pct(report.clean_vs_wanted.agreement),
        pct(report.target_vs_wanted.agreement),
        pct(report.attack_vs_wanted.agreement)
    );
    print_experiment(&report.scaling);
    for r in &report.defenses_vs_wanted {
        println!("  {:<13} {:<16} map vs wanted {}", r.defense.name(), format!("{:?}", r.variant), pct(r.map_vs_wanted.agreement));
    }
    println!("wrote images, maps and report.json to {}", out.display());
    Ok(())
}
