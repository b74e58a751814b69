//! `advseg scale-defend`: the defended pipelines on a given (suspected attack) image.

use std::path::PathBuf;

use advseg::error::Result;
use advseg::image as imaging;
use advseg::model::Segmenter;
use advseg::scaling::{ScalingExperimentConfig, run_defenses};
use advseg::util::block_on;

use crate::common::{create_dir, parse_size, write_json};
use crate::scaling_output::{parse_defenses, print_rows, write_artifacts};

/// Runs the defended pipelines on a given (suspected attack) image: median / random
/// reconstruction and area scaling. Writes input_*.png, map_*.png and report.json into --out.
#[derive(clap::Args)]
pub struct ScaleDefendArgs {
    /// Zoo model name.
    #[arg(long, default_value = "espnetv2-voc")]
    pub model: String,
    /// The pipeline's scaler.
    #[arg(long, default_value = "opencv-linear")]
    pub scaler: String,
    /// The full-size image to defend.
    #[arg(long)]
    pub image: PathBuf,
    /// The clean source, if known (rows then compare with the clean pipeline and give PSNR).
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// The attacker's target, if known (rows then compare with the target's map).
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Model input size WxH (default 256x256, or the model's fixed size).
    #[arg(long)]
    pub size: Option<String>,
    /// Defenses, comma-separated: median, random, area-scaling (none is always included).
    #[arg(long, default_value = "median,random,area-scaling")]
    pub defenses: String,
    /// Seed of the random reconstruction.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,}

pub fn run(backend: &str, a: &ScaleDefendArgs) -> Result<()> {
    let cfg = ScalingExperimentConfig {
        scaler: a.scaler.parse()?,
        model_size: a.size.as_deref().map(parse_size).transpose()?,
        defenses: parse_defenses(&a.defenses)?,
        seed: a.seed,
        ..Default::default()
    };
    let img = imaging::load(&a.image)?;
    let src = a.source.as_deref().map(imaging::load).transpose()?;
    let tgt = a.target.as_deref().map(imaging::load).transpose()?;
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(&a.model, &device)?;
    let report = block_on(run_defenses(&seg, &img, src.as_ref(), tgt.as_ref(), &cfg))?;
    create_dir(&a.out)?;
    write_artifacts(seg.spec, &report.artifacts, &a.out)?;
    write_json(&report, &a.out.join("report.json"))?;
    println!(
        "{} / {}: {}x{} -> {}x{}",
        report.model, report.scaler, report.full_size.0, report.full_size.1, report.model_size.0, report.model_size.1
    );
    print_rows(&report.defenses);
    println!("wrote maps and report.json to {}", a.out.display());
    Ok(())
}
