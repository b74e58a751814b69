//! `advseg`: the native command line over the library.
//!
//! ```text
//! advseg segment --model espnetv2-voc IMAGE... --out DIR
//! advseg eval --model espnetv2-voc --images DIR [--json]
//! advseg attack --model espnetv2-voc --mode untargeted --eps 8/255 --steps 10 --loss ce IMAGE... --out DIR
//! advseg models
//! advseg scale-attack --model espnetv2-voc --scaler opencv-linear --source S --target T --ratio 4 --out DIR
//! advseg scale-attack --model espnetv2-voc --source S --target-map MAP.png|--target-class person --out DIR
//! advseg scale-defend --model espnetv2-voc --scaler opencv-linear --image A [--source S] [--target T] --out DIR
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use advseg::attack;
use advseg::error::{Error, Result};
use advseg::image_io::{self, ResizeMethod};
use advseg::metrics::{ConfusionMatrix, SegMetrics};
use advseg::model::zoo::{self, ModelSpec};
use advseg::model::{ClassMap, Segmenter, batch_tensor};
#[path = "advseg/weights.rs"]
mod weights;

use advseg::scaling::{
    Defense, DefenseRow, ScalingArtifacts, ScalingAttackConfig, ScalingExperimentConfig,
    ScalingReport, run_defenses, run_experiment, run_map_experiment,
};

#[derive(Parser)]
#[command(name = "advseg", version, about = "Adversarial attacks and defenses on semantic segmentation networks")]
struct Cli {
    /// Compute backend: cpu (burn flex) or wgpu (Vulkan/Metal/DX12).
    #[arg(long, global = true, default_value = "cpu")]
    backend: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the models of the zoo.
    Models,
    /// Model weights: fetch (shared copy or converted originals), convert, hash.
    Weights(weights::WeightsArgs),
    /// Segment images: writes NAME_map.png (colour map) and NAME_overlay.png into --out, prints
    /// per-class pixel shares.
    Segment {
        /// Zoo model name (see `advseg models`).
        #[arg(long, default_value = "espnetv2-voc")]
        model: String,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Input size WxH (default: the model's native size). Images are resized to it with
        /// Pillow's bilinear filter, as the reference pipeline does.
        #[arg(long)]
        size: Option<String>,
        /// Image files (PNG or JPEG).
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Evaluate on a folder of NAME.png / NAME_label.png pairs: mIoU and pixel accuracy. With
    /// --experiment FILE: run an experiment (models × attacks × ε × defenses, non-adaptive and
    /// adaptive, transfer matrix) and write results.md and results.json into --out.
    Eval {
        /// Zoo model name.
        #[arg(long, default_value = "espnetv2-voc")]
        model: String,
        /// Folder with NAME.(png|jpg) and NAME_label.png (class indices, 255 = void).
        #[arg(long, required_unless_present = "experiment")]
        images: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// An experiment file (TOML; see experiments/ and `advseg::experiment`).
        #[arg(long, conflicts_with = "images")]
        experiment: Option<PathBuf>,
        /// Output directory of the experiment's results.md and results.json.
        #[arg(long, default_value = "out/experiment")]
        out: PathBuf,
    },
    /// Adversarial attack (PGD family) on a batch of images: writes NAME_adv.png (8-bit),
    /// NAME_clean_map.png, NAME_adv_map.png, NAME_perturbation.png (amplified), NAME_target_map.png
    /// (targeted modes) and report.json into --out. Metrics against ground truth wherever
    /// NAME_label.png lies beside NAME.png.
    Attack(AttackArgs),
    /// Image-scaling attack (Quiring et al. 2020) on the downscale-then-segment pipeline: hides
    /// --target in --source, segments the attack image at full size and after downscaling, runs
    /// the defenses and the adaptive attack against the median defense. Writes attack.png,
    /// attack_down.png, target.png, adaptive.png, input_*.png (network inputs), map_*.png
    /// (colour maps) and report.json into --out.
    ScaleAttack {
        /// Zoo model name.
        #[arg(long, default_value = "espnetv2-voc")]
        model: String,
        /// The pipeline's scaler, e.g. opencv-linear, opencv-nearest, pillow-bilinear.
        #[arg(long, default_value = "opencv-linear")]
        scaler: String,
        /// Source image (what a person sees); resized to the full size if needed.
        #[arg(long)]
        source: PathBuf,
        /// Target image (what the network should see); resized to the model size if needed.
        /// Exactly one of --target, --target-map and --target-class.
        #[arg(long)]
        target: Option<PathBuf>,
        /// Wanted class map instead of a target image: a class-index PNG (255 = don't care),
        /// nearest-resized to the model size. A targeted PGD crafts the target image from the
        /// downscaled source, then the scaling attack hides it.
        #[arg(long)]
        target_map: Option<PathBuf>,
        /// Wanted class everywhere (index or name) instead of a target image; as --target-map.
        #[arg(long)]
        target_class: Option<String>,
        /// ε of the targeted PGD of --target-map / --target-class, e.g. 16/255.
        #[arg(long, default_value = "16/255")]
        pgd_eps: String,
        /// Steps of that PGD (step size ε/4).
        #[arg(long, default_value_t = 30)]
        pgd_steps: usize,
        /// Loss of that PGD: ce, segpgd or cospgd.
        #[arg(long, default_value = "ce")]
        pgd_loss: String,
        /// Downscaling ratio: full size = ratio × model size.
        #[arg(long, default_value_t = 4)]
        ratio: usize,
        /// Model input size WxH (default 256x256, or the model's fixed size).
        #[arg(long)]
        size: Option<String>,
        /// Allowed deviation of the downscaled attack image from the target (grey levels).
        #[arg(long, default_value_t = 1.0)]
        eps: f64,
        /// Defenses to report, comma-separated: none, median, random, area-scaling.
        #[arg(long, default_value = "none,median,random,area-scaling")]
        defenses: String,
        /// Skip the adaptive attack against the median defense.
        #[arg(long)]
        no_adaptive: bool,
        /// Skip the full-size maps (the costliest forward passes).
        #[arg(long)]
        no_full_maps: bool,
        /// Seed of the random reconstruction.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Solver threads (0 = all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Runs the defended pipelines on a given (suspected attack) image: median / random
    /// reconstruction and area scaling. Writes input_*.png, map_*.png and report.json into --out.
    ScaleDefend {
        /// Zoo model name.
        #[arg(long, default_value = "espnetv2-voc")]
        model: String,
        /// The pipeline's scaler.
        #[arg(long, default_value = "opencv-linear")]
        scaler: String,
        /// The full-size image to defend.
        #[arg(long)]
        image: PathBuf,
        /// The clean source, if known (rows then compare with the clean pipeline and give PSNR).
        #[arg(long)]
        source: Option<PathBuf>,
        /// The attacker's target, if known (rows then compare with the target's map).
        #[arg(long)]
        target: Option<PathBuf>,
        /// Model input size WxH (default 256x256, or the model's fixed size).
        #[arg(long)]
        size: Option<String>,
        /// Defenses, comma-separated: median, random, area-scaling (none is always included).
        #[arg(long, default_value = "median,random,area-scaling")]
        defenses: String,
        /// Seed of the random reconstruction.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
}

/// What the attack aims for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Away from the clean prediction (or the ground truth with --vs-gt).
    Untargeted,
    /// Every image to the map of image --target-index of the batch.
    TargetedImage,
    /// One class everywhere (--target-class).
    TargetedClass,
    /// A class-index PNG (--target-map), optionally inside --mask.
    TargetedMap,
}

#[derive(clap::Args)]
struct AttackArgs {
    /// Zoo model name (see `advseg models`).
    #[arg(long, default_value = "espnetv2-voc")]
    model: String,
    /// Attack goal.
    #[arg(long, value_enum, default_value = "untargeted")]
    mode: Mode,
    /// Perturbation budget ε in [0, 1] pixel units: a number or a fraction such as 8/255.
    #[arg(long, default_value = "8/255", allow_hyphen_values = true)]
    eps: String,
    /// Step size α (number or fraction); default ε/4.
    #[arg(long, allow_hyphen_values = true)]
    step_size: Option<String>,
    /// Number of PGD steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Loss: ce, segpgd or cospgd.
    #[arg(long, default_value = "ce")]
    loss: String,
    /// Threat model: linf or l2.
    #[arg(long, default_value = "linf")]
    norm: String,
    /// Start from a random point of the ε-ball.
    #[arg(long)]
    random_start: bool,
    /// Seed of the random start.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop once every image's success rate reaches this fraction.
    #[arg(long)]
    early_stop: Option<f64>,
    /// Keep each image's best iterate instead of the last one.
    #[arg(long)]
    keep_best: bool,
    /// Untargeted: attack the ground truth (NAME_label.png) instead of the clean prediction.
    #[arg(long)]
    vs_gt: bool,
    /// targeted-image: the 1-based position, among the IMAGE arguments, of the image whose map
    /// is the target.
    #[arg(long, default_value_t = 1)]
    target_index: usize,
    /// targeted-image: use that image's ground truth instead of its predicted map.
    #[arg(long)]
    target_gt: bool,
    /// targeted-class: class index or name (e.g. 15 or person).
    #[arg(long)]
    target_class: Option<String>,
    /// targeted-map: class-index PNG (255 = don't care), nearest-resized to the input size.
    #[arg(long)]
    target_map: Option<PathBuf>,
    /// Targeted modes: restrict the target to the non-black pixels of this PNG.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// With --mask: ask the attack to keep the clean prediction outside the mask (default:
    /// ignore those pixels).
    #[arg(long)]
    keep_outside: bool,
    /// Input size WxH (default: the model's native size).
    #[arg(long)]
    size: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Image files (PNG or JPEG), attacked as one batch.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("advseg: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Models => {
            for m in zoo::MODELS {
                let (w, h) = m.native_size;
                println!("{:<20} {w}x{h}  {}", m.name, m.title);
            }
            Ok(())
        }
        Command::Weights(args) => weights::run(&args),
        Command::Segment { model, out, size, images } => segment(&cli.backend, &model, &out, size.as_deref(), &images),
        Command::Eval { model, images, json, experiment, out } => match (experiment, images) {
            (Some(file), _) => eval_experiment(&cli.backend, &file, &out),
            (None, Some(images)) => eval(&cli.backend, &model, &images, json),
            (None, None) => Err(Error::InvalidArgument("eval needs --images DIR or --experiment FILE".into())),
        },
        Command::Attack(args) => attack(&cli.backend, &args),
        Command::ScaleAttack {
            model,
            scaler,
            source,
            target,
            target_map,
            target_class,
            pgd_eps,
            pgd_steps,
            pgd_loss,
            ratio,
            size,
            eps,
            defenses,
            no_adaptive,
            no_full_maps,
            seed,
            threads,
            out,
        } => {
            let cfg = ScalingExperimentConfig {
                scaler: scaler.parse()?,
                ratio,
                model_size: size.as_deref().map(parse_size).transpose()?,
                full_size: None,
                attack: ScalingAttackConfig { eps, threads, ..Default::default() },
                defenses: parse_defenses(&defenses)?,
                adaptive_median: !no_adaptive,
                full_size_maps: !no_full_maps,
                seed,
                ..Default::default()
            };
            let wanted = match (target, target_map, target_class) {
                (Some(t), None, None) => ScaleTarget::Image(t),
                (None, Some(m), None) => ScaleTarget::Map(m),
                (None, None, Some(c)) => ScaleTarget::Class(c),
                _ => {
                    return Err(Error::InvalidArgument(
                        "give exactly one of --target IMAGE, --target-map MAP.png and --target-class C".into(),
                    ));
                }
            };
            let pgd = attack::PgdConfig::new()
                .with_eps(parse_fraction(&pgd_eps, "--pgd-eps")?)
                .with_steps(pgd_steps)
                .with_loss(pgd_loss.parse()?);
            scale_attack(&cli.backend, &model, &source, &wanted, &pgd, &cfg, &out)
        }
        Command::ScaleDefend { model, scaler, image, source, target, size, defenses, seed, out } => {
            let cfg = ScalingExperimentConfig {
                scaler: scaler.parse()?,
                model_size: size.as_deref().map(parse_size).transpose()?,
                defenses: parse_defenses(&defenses)?,
                seed,
                ..Default::default()
            };
            scale_defend(&cli.backend, &model, &image, source.as_deref(), target.as_deref(), &cfg, &out)
        }
    }
}

fn eval_experiment(backend: &str, file: &Path, out: &Path) -> Result<()> {
    let exp = advseg::experiment::ExperimentFile::load(file)?;
    let device = advseg::backend::by_name(backend)?;
    let start = std::time::Instant::now();
    let pb = progress(1, "experiment");
    // without a terminal (CI logs) the bar is hidden: print one line per task instead
    let lines = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut on_progress = |p: &advseg::experiment::ExperimentProgress| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
        pb.set_message(p.message.clone());
        if lines {
            eprintln!("[{}/{} {}] {}", p.done, p.total, fmt_seconds(start.elapsed().as_secs_f64()), p.message);
        }
    };
    let result = advseg::experiment::run(&exp, &device, &mut on_progress)?;
    pb.finish_and_clear();
    for s in &result.skipped {
        eprintln!("advseg: skipped {}: {}", s.image, s.error);
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let md = format!(
        "{}\nCommand: `advseg --backend {backend} eval --experiment {}` ({} in all, {}).\n",
        result.to_markdown(),
        file.display(),
        fmt_seconds(start.elapsed().as_secs_f64()),
        advseg::backend::describe(&device)
    );
    let (md_path, json_path) = (out.join("results.md"), out.join("results.json"));
    std::fs::write(&md_path, &md).map_err(|e| Error::io(&md_path, e))?;
    std::fs::write(&json_path, result.to_json()?).map_err(|e| Error::io(&json_path, e))?;
    println!("{md}");
    println!("wrote {} and {}", md_path.display(), json_path.display());
    Ok(())
}

fn fmt_seconds(s: f64) -> String {
    if s < 120.0 { format!("{s:.0} s") } else { format!("{:.1} min", s / 60.0) }
}

fn parse_defenses(s: &str) -> Result<Vec<Defense>> {
    s.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect()
}

/// Colour maps and network inputs of a scaling experiment, written as PNGs into `out`.
fn write_artifacts(spec: &ModelSpec, a: &ScalingArtifacts, out: &Path) -> Result<()> {
    let palette = spec.palette();
    for (name, img) in &a.inputs {
        image_io::save_png(img, &out.join(format!("input_{name}.png")))?;
    }
    for (name, map) in &a.maps {
        let colour = image_io::colorize(&map.data, map.width, map.height, &palette)?;
        image_io::save_png(&colour, &out.join(format!("map_{name}.png")))?;
    }
    Ok(())
}

fn write_json(value: &impl serde::Serialize, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::InvalidArgument(format!("cannot serialise the report: {e}")))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn pct(x: f64) -> String {
    format!("{:5.1} %", 100.0 * x)
}

fn print_rows(rows: &[DefenseRow]) {
    println!("{:<13} {:<16} {:<16} {:>10} {:>10} {:>14} {:>14}", "defense", "attack", "scaler", "PSNR", "max|d-T|", "map vs target", "map vs clean");
    for r in rows {
        println!(
            "{:<13} {:<16} {:<16} {:>10} {:>10} {:>14} {:>14}",
            r.defense.name(),
            format!("{:?}", r.variant),
            r.scaler.name(),
            r.psnr_vs_source.map_or("-".into(), |p| format!("{p:.2} dB")),
            r.max_abs_down_minus_target.map_or("-".into(), |m| m.to_string()),
            r.down_map_vs_target.map_or("-".into(), |m| pct(m.agreement)),
            r.down_map_vs_source.map_or("-".into(), |m| pct(m.agreement)),
        );
    }
}

fn print_experiment(r: &ScalingReport) {
    println!(
        "{} / {}: {}x{} -> {}x{}, attack ({:?}) {:.2} s, PSNR(attack, source) {:.2} dB, max |down(attack) - target| {}",
        r.model,
        r.scaler,
        r.full_size.0,
        r.full_size.1,
        r.model_size.0,
        r.model_size.1,
        r.attack.method,
        r.attack.seconds,
        r.attack.psnr_vs_source,
        r.attack.max_abs_down_minus_target
    );
    if let Some(f) = r.full_map_vs_source {
        println!("full-size map vs source map:   agreement {}  mIoU {:.3}", pct(f.agreement), f.miou);
    }
    println!("downscaled map vs target map:  agreement {}  mIoU {:.3}", pct(r.down_map_vs_target.agreement), r.down_map_vs_target.miou);
    println!("downscaled map vs source map:  agreement {}  mIoU {:.3}", pct(r.down_map_vs_source.agreement), r.down_map_vs_source.miou);
    if let Some(a) = &r.adaptive {
        println!(
            "adaptive attack vs median: PSNR {:.2} dB, {} of the pixels changed, {} of the windows matched",
            a.psnr_vs_source,
            pct(a.changed_pixels),
            pct(a.windows_matched)
        );
    }
    print_rows(&r.defenses);
}

/// What `scale-attack` should make the pipeline see.
enum ScaleTarget {
    /// A target image.
    Image(PathBuf),
    /// A wanted class-index map (PNG).
    Map(PathBuf),
    /// One wanted class everywhere (index or name).
    Class(String),
}

fn scale_attack(
    backend: &str,
    model: &str,
    source: &Path,
    target: &ScaleTarget,
    pgd: &attack::PgdConfig,
    cfg: &ScalingExperimentConfig,
    out: &Path,
) -> Result<()> {
    let src = image_io::load(source)?;
    let device = advseg::backend::by_name(backend)?;
    let wanted = match target {
        ScaleTarget::Image(t) => {
            let tgt = image_io::load(t)?;
            let seg = Segmenter::load(model, &device)?;
            let report = run_experiment(&seg, &src, &tgt, cfg)?;
            std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
            write_scaling(seg.spec, &report, out)?;
            write_json(&report, &out.join("report.json"))?;
            print_experiment(&report);
            println!("wrote images, maps and report.json to {}", out.display());
            return Ok(());
        }
        ScaleTarget::Map(path) => {
            let (data, w, h) = image_io::load_label_png(path)?;
            ClassMap { width: w, height: h, data }
        }
        ScaleTarget::Class(c) => {
            let spec = zoo::spec(model)?;
            let (mw, mh) = advseg::scaling::experiment::resolve_sizes(spec, cfg)?.0;
            advseg::scaling::class_map(parse_class(spec, c)?, mw, mh)
        }
    };
    let seg = Segmenter::load(model, &advseg::backend::autodiff(&device))?;
    let pb = progress(pgd.steps + 1, "crafting the target image (PGD)");
    let mut observer = |p: &attack::Progress| {
        pb.set_position(p.step as u64 + 1);
        pb.set_message(format!("crafting the target image (PGD), agreement {:.1} %", 100.0 * p.mean_agreement));
        attack::Control::Continue
    };
    let report = run_map_experiment(&seg, &src, &wanted, pgd, cfg, Some(&mut observer))?;
    pb.finish_and_clear();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_scaling(seg.spec, &report.scaling, out)?;
    let w = &report.wanted;
    let colour = image_io::colorize(&w.data, w.width, w.height, &seg.spec.palette())?;
    image_io::save_png(&colour, &out.join("map_wanted.png"))?;
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

/// The images of a scaling experiment: attack, source, target, the downscaled attack, the
/// adaptive attack, network inputs and colour maps.
fn write_scaling(spec: &ModelSpec, report: &ScalingReport, out: &Path) -> Result<()> {
    let a = &report.artifacts;
    image_io::save_png(&a.attack, &out.join("attack.png"))?;
    image_io::save_png(&a.source, &out.join("source.png"))?;
    image_io::save_png(&a.target, &out.join("target.png"))?;
    if let Some((_, down)) = a.inputs.iter().find(|(n, _)| n == "none_attack") {
        image_io::save_png(down, &out.join("attack_down.png"))?;
    }
    if let Some(ad) = &a.adaptive {
        image_io::save_png(ad, &out.join("adaptive.png"))?;
    }
    write_artifacts(spec, a, out)
}

fn scale_defend(
    backend: &str,
    model: &str,
    image: &Path,
    source: Option<&Path>,
    target: Option<&Path>,
    cfg: &ScalingExperimentConfig,
    out: &Path,
) -> Result<()> {
    let img = image_io::load(image)?;
    let src = source.map(image_io::load).transpose()?;
    let tgt = target.map(image_io::load).transpose()?;
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(model, &device)?;
    let report = run_defenses(&seg, &img, src.as_ref(), tgt.as_ref(), cfg)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    write_artifacts(seg.spec, &report.artifacts, out)?;
    write_json(&report, &out.join("report.json"))?;
    println!(
        "{} / {}: {}x{} -> {}x{}",
        report.model, report.scaler, report.full_size.0, report.full_size.1, report.model_size.0, report.model_size.1
    );
    print_rows(&report.defenses);
    println!("wrote maps and report.json to {}", out.display());
    Ok(())
}

fn progress(n: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

fn parse_size(s: &str) -> Result<(usize, usize)> {
    let bad = || Error::InvalidArgument(format!("--size '{s}' is not WIDTHxHEIGHT, e.g. 384x384"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?))
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into())
}

/// Decode, resize to the model input with Pillow's bilinear filter, predict.
fn predict_file(seg: &Segmenter, path: &Path, size: (usize, usize)) -> Result<(image::RgbImage, advseg::model::ClassMap)> {
    let img = image_io::load(path)?;
    let resized = image_io::resize(&img, size.0 as u32, size.1 as u32, ResizeMethod::PilBilinear)?;
    let device = seg_device(seg);
    let x = batch_tensor(&[image_io::to_tensor01(&resized)], &device)?;
    let map = seg.predict(x)?.into_iter().next().ok_or_else(|| Error::Backend("no prediction".into()))?;
    Ok((resized, map))
}

fn seg_device(seg: &Segmenter) -> burn::tensor::Device {
    use burn::module::Module;
    seg.net.devices().into_iter().next().unwrap_or_else(advseg::backend::cpu)
}

fn segment(backend: &str, model: &str, out: &Path, size: Option<&str>, images: &[PathBuf]) -> Result<()> {
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(model, &device)?;
    let size = match size {
        Some(s) => parse_size(s)?,
        None => seg.spec.native_size,
    };
    seg.spec.check_size(size.0, size.1)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let palette = seg.spec.palette();
    let pb = progress(images.len(), "segment");
    let mut failures = 0;
    for path in images {
        match predict_file(&seg, path, size) {
            Ok((resized, map)) => {
                let name = stem(path);
                let colour = image_io::colorize(&map.data, map.width, map.height, &palette)?;
                image_io::save_png(&colour, &out.join(format!("{name}_map.png")))?;
                image_io::save_png(&image_io::overlay(&resized, &colour, 0.5)?, &out.join(format!("{name}_overlay.png")))?;
                pb.suspend(|| print_shares(seg.spec, path, &map.data));
            }
            Err(e) => {
                failures += 1;
                pb.suspend(|| eprintln!("advseg: skipping {}: {e}", path.display()));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    if failures == images.len() {
        return Err(Error::InvalidArgument(format!("none of the {} images could be segmented", images.len())));
    }
    println!("wrote colour maps and overlays to {}", out.display());
    Ok(())
}

fn print_shares(spec: &ModelSpec, path: &Path, map: &[u8]) {
    let classes = spec.classes();
    let mut counts = vec![0usize; classes.len() + 1];
    for &c in map {
        counts[(c as usize).min(classes.len())] += 1;
    }
    println!("{}:", path.display());
    let total = map.len().max(1) as f64;
    let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    for i in order {
        let name = classes.get(i).copied().unwrap_or("void");
        println!("  {:<14} {:6.2} %", name, 100.0 * counts[i] as f64 / total);
    }
}

/// Image / label pairs of a folder, sorted by name.
fn pairs(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let p = entry.path();
        let name = stem(&p);
        let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if name.ends_with("_label") || !matches!(ext.as_str(), "png" | "jpg" | "jpeg") {
            continue;
        }
        let label = dir.join(format!("{name}_label.png"));
        if label.is_file() {
            out.push((p, label));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no NAME.png + NAME_label.png pairs in {}",
            dir.display()
        )));
    }
    Ok(out)
}

fn eval(backend: &str, model: &str, dir: &Path, json: bool) -> Result<()> {
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(model, &device)?;
    let pairs = pairs(dir)?;
    let n_classes = seg.spec.num_classes();
    let mut cm = ConfusionMatrix::new(n_classes);
    let mut skipped = Vec::new();
    let pb = progress(pairs.len(), "eval");
    for (img, label) in &pairs {
        let r = (|| -> Result<()> {
            let (_, map) = predict_file(&seg, img, seg.spec.native_size)?;
            let (gt, gw, gh) = image_io::load_label_png(label)?;
            let pred = advseg::metrics::nearest_resize_map(&map.data, map.width, map.height, gw, gh)?;
            cm.add(&gt, &pred)
        })();
        if let Err(e) = r {
            pb.suspend(|| eprintln!("advseg: skipping {}: {e}", img.display()));
            skipped.push(img.display().to_string());
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let m = SegMetrics::from_confusion(&cm, pairs.len() - skipped.len());
    let classes = seg.spec.classes();
    if json {
        let per_class: serde_json::Map<String, serde_json::Value> = classes
            .iter()
            .zip(&m.per_class_iou)
            .map(|(name, iou)| (name.to_string(), iou.map_or(serde_json::Value::Null, |v| serde_json::json!(v))))
            .collect();
        let obj = serde_json::json!({
            "model": seg.spec.name,
            "images": dir.display().to_string(),
            "n_images": m.n_images,
            "miou": m.miou,
            "pixel_accuracy": m.pixel_accuracy,
            "n_labelled_pixels": m.n_labelled_pixels,
            "per_class_iou": per_class,
            "skipped": skipped,
        });
        println!("{obj}");
    } else {
        println!("model {}  images {}  mIoU {:.4}  pixel accuracy {:.4}", seg.spec.name, m.n_images, m.miou, m.pixel_accuracy);
        for (name, iou) in classes.iter().zip(&m.per_class_iou) {
            if let Some(v) = iou {
                println!("  {name:<14} IoU {v:.4}");
            }
        }
        if !skipped.is_empty() {
            println!("skipped {} image(s): {}", skipped.len(), skipped.join(", "));
        }
    }
    Ok(())
}

fn parse_fraction(s: &str, what: &str) -> Result<f64> {
    attack::parse_fraction(s, what)
}

fn parse_class(spec: &ModelSpec, s: &str) -> Result<u8> {
    spec.parse_class(s, "--target-class")
}

/// Nearest-resize a class map to `w × h`.
fn fit_map(map: Vec<u8>, mw: usize, mh: usize, w: usize, h: usize) -> Result<ClassMap> {
    let data = if (mw, mh) == (w, h) { map } else { advseg::metrics::nearest_resize_map(&map, mw, mh, w, h)? };
    Ok(ClassMap { width: w, height: h, data })
}

/// One image of the attacked batch.
struct Item {
    name: String,
    path: PathBuf,
    resized: image::RgbImage,
    gt: Option<ClassMap>,
}

fn metrics_one(pred: &ClassMap, reference: &ClassMap, k: usize) -> Result<serde_json::Value> {
    let m = attack::compare_maps(std::slice::from_ref(pred), std::slice::from_ref(reference), k)?;
    Ok(serde_json::to_value(m).unwrap_or_default())
}

/// Metrics of `maps` (one per item) against ground truth, pooled over the items that have it.
fn gt_metrics(items: &[Item], maps: &[ClassMap], k: usize) -> Result<serde_json::Value> {
    let (p, g): (Vec<ClassMap>, Vec<ClassMap>) =
        items.iter().zip(maps).filter_map(|(it, m)| it.gt.clone().map(|g| (m.clone(), g))).unzip();
    if g.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::to_value(attack::compare_maps(&p, &g, k)?).unwrap_or_default())
}

/// JSON of one outcome (per image and overall).
fn outcome_json(
    o: &attack::Outcome,
    items: &[Item],
    r: &attack::AttackResult,
    k: usize,
) -> Result<(Vec<serde_json::Value>, serde_json::Value)> {
    let mut per = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let s = &o.per_image[i];
        per.push(serde_json::json!({
            "linf": s.linf, "l2": s.l2, "psnr": json_f64(s.psnr),
            "vs_clean": metrics_one(&o.maps[i], &r.clean_maps[i], k)?,
            "vs_target": if r.targeted { metrics_one(&o.maps[i], &r.reference_maps[i], k)? } else { serde_json::Value::Null },
            "vs_ground_truth": match &it.gt { Some(g) => metrics_one(&o.maps[i], g, k)?, None => serde_json::Value::Null },
        }));
    }
    let overall = serde_json::json!({
        "linf": o.linf, "l2": o.l2, "psnr": json_f64(o.psnr),
        "vs_clean": o.vs_clean,
        "vs_target": if r.targeted { serde_json::to_value(o.vs_reference).unwrap_or_default() } else { serde_json::Value::Null },
        "vs_ground_truth": gt_metrics(items, &o.maps, k)?,
    });
    Ok((per, overall))
}

/// JSON has no infinity: identical images (PSNR ∞) become the string "inf".
fn json_f64(v: f64) -> serde_json::Value {
    if v.is_finite() { serde_json::json!(v) } else { serde_json::json!("inf") }
}

/// Amplified view of a perturbation: 0.5 + δ / (2·max|δ|) per value (grey = unchanged).
fn perturbation_view(delta: &[f32], w: usize, h: usize) -> Result<image::RgbImage> {
    let m = delta.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    let data = delta.iter().map(|v| 0.5 + v / (2.0 * m)).collect();
    image_io::from_tensor01(&image_io::RgbImage01::new(w, h, data)?)
}

fn attack(backend: &str, a: &AttackArgs) -> Result<()> {
    use advseg::attack::{Control, Goal, Mask, PgdConfig};
    let start = std::time::Instant::now();
    let eps = parse_fraction(&a.eps, "--eps")?;
    let step_size = a.step_size.as_deref().map(|s| parse_fraction(s, "--step-size")).transpose()?;
    let cfg = PgdConfig::new()
        .with_eps(eps)
        .with_step_size(step_size)
        .with_steps(a.steps)
        .with_loss(a.loss.parse()?)
        .with_norm(a.norm.parse()?)
        .with_random_start(a.random_start)
        .with_seed(a.seed)
        .with_early_stop(a.early_stop)
        .with_keep_best(a.keep_best)
        .with_quantize(true);
    cfg.validate()?;
    let device = advseg::backend::by_name(backend)?;
    let ad = advseg::backend::autodiff(&device);
    let seg = Segmenter::load(&a.model, &ad)?;
    let (w, h) = match &a.size {
        Some(s) => parse_size(s)?,
        None => seg.spec.native_size,
    };
    seg.spec.check_size(w, h)?;
    let k = seg.spec.num_classes();

    // the batch, in argument order (every image must load: positions matter)
    let mut items: Vec<Item> = Vec::new();
    for path in &a.images {
        let img = image_io::load(path)?;
        let resized = image_io::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear)?;
        let mut name = stem(path);
        if items.iter().any(|it| it.name == name) {
            name = format!("{name}-{}", items.len() + 1);
        }
        let label = path.with_file_name(format!("{}_label.png", stem(path)));
        let gt = if label.is_file() {
            let (g, gw, gh) = image_io::load_label_png(&label)?;
            Some(ClassMap { width: gw, height: gh, data: g })
        } else {
            None
        };
        items.push(Item { name, path: path.clone(), resized, gt });
    }
    let n = items.len();
    let mask = match &a.mask {
        None => None,
        Some(p) => {
            let m = image_io::load(p)?;
            let (mw, mh) = (m.width() as usize, m.height() as usize);
            let flags: Vec<u8> = m.pixels().map(|px| u8::from(px.0.iter().any(|&v| v > 127))).collect();
            Some(Mask::from_map(&fit_map(flags, mw, mh, w, h)?))
        }
    };
    let (goal, target_desc) = match a.mode {
        Mode::Untargeted => {
            if a.vs_gt {
                let gts = items
                    .iter()
                    .map(|it| {
                        it.gt.clone().ok_or_else(|| {
                            Error::InvalidArgument(format!("--vs-gt needs a ground-truth map beside {}", it.path.display()))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                (Goal::untargeted_vs_ground_truth(gts), serde_json::json!({"reference": "ground_truth"}))
            } else {
                (Goal::untargeted(), serde_json::json!({"reference": "clean_prediction"}))
            }
        }
        Mode::TargetedImage => {
            if a.target_index == 0 || a.target_index > n {
                return Err(Error::InvalidArgument(format!(
                    "--target-index {} is outside the batch of {n} images (1..={n})",
                    a.target_index
                )));
            }
            let idx = a.target_index - 1;
            let goal = if a.target_gt {
                let gt = items[idx].gt.clone().ok_or_else(|| {
                    Error::InvalidArgument(format!("--target-gt needs a ground-truth map beside {}", items[idx].path.display()))
                })?;
                Goal::to_image_ground_truth(idx, gt)
            } else {
                Goal::to_image(idx)
            };
            let desc = serde_json::json!({"target_index": a.target_index, "target_image": items[idx].name,
                "source": if a.target_gt { "ground_truth" } else { "predicted" }});
            (goal, desc)
        }
        Mode::TargetedClass => {
            let c = a
                .target_class
                .as_deref()
                .ok_or_else(|| Error::InvalidArgument("--mode targeted-class needs --target-class".into()))?;
            let c = parse_class(seg.spec, c)?;
            (Goal::to_class(c), serde_json::json!({"target_class": c, "target_class_name": seg.spec.classes()[usize::from(c)]}))
        }
        Mode::TargetedMap => {
            let p = a
                .target_map
                .as_ref()
                .ok_or_else(|| Error::InvalidArgument("--mode targeted-map needs --target-map".into()))?;
            let (m, mw, mh) = image_io::load_label_png(p)?;
            (Goal::to_maps(vec![fit_map(m, mw, mh, w, h)?]), serde_json::json!({"target_map": p.display().to_string()}))
        }
    };
    let goal = match mask {
        Some(m) if goal.is_targeted() => goal.within(m, a.keep_outside),
        Some(_) => return Err(Error::InvalidArgument("--mask only applies to targeted modes".into())),
        None => goal,
    };

    let images01: Vec<_> = items.iter().map(|it| image_io::to_tensor01(&it.resized)).collect();
    let x = batch_tensor(&images01, &device)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    let pb = progress(cfg.steps, "attack");
    let mut observer = |p: &attack::Progress| {
        pb.set_position(p.step as u64);
        pb.set_message(format!("attack loss {:.3} agreement {:.3}", p.loss, p.mean_agreement));
        Control::Continue
    };
    let r = attack::pgd(&seg, x, &goal, &cfg, Some(&mut observer))?;
    pb.finish_and_clear();
    let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("no quantized outcome".into()))?;

    // files
    let palette = seg.spec.palette();
    for (i, it) in items.iter().enumerate() {
        let save = |img: &image::RgbImage, suffix: &str| image_io::save_png(img, &a.out.join(format!("{}_{suffix}.png", it.name)));
        save(&image_io::from_tensor01(&q.images[i])?, "adv")?;
        let colour = |m: &ClassMap| image_io::colorize(&m.data, m.width, m.height, &palette);
        save(&colour(&r.clean_maps[i])?, "clean_map")?;
        save(&colour(&q.maps[i])?, "adv_map")?;
        save(&perturbation_view(&r.perturbation[i], w, h)?, "perturbation")?;
        if r.targeted {
            save(&colour(&r.reference_maps[i])?, "target_map")?;
        }
    }

    // report
    let (adv_per, adv_all) = outcome_json(&r.adversarial, &items, &r, k)?;
    let (q_per, q_all) = outcome_json(q, &items, &r, k)?;
    let per_image: Vec<serde_json::Value> = items
        .iter()
        .enumerate()
        .map(|(i, it)| -> Result<serde_json::Value> {
            Ok(serde_json::json!({
                "name": it.name,
                "input": it.path.display().to_string(),
                "has_ground_truth": it.gt.is_some(),
                "clean": {
                    "vs_target": if r.targeted { metrics_one(&r.clean_maps[i], &r.reference_maps[i], k)? } else { serde_json::Value::Null },
                    "vs_ground_truth": match &it.gt { Some(g) => metrics_one(&r.clean_maps[i], g, k)?, None => serde_json::Value::Null },
                },
                "adversarial": adv_per[i],
                "quantized": q_per[i],
            }))
        })
        .collect::<Result<_>>()?;
    let report = serde_json::json!({
        "model": seg.spec.name,
        "backend": backend,
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "mode_cli": a.mode.to_possible_value().map(|v| v.get_name().to_string()),
        "goal": target_desc,
        "eps": eps,
        "eps_arg": a.eps,
        "input_size": [w, h],
        "config": serde_json::to_value(&cfg).unwrap_or_default(),
        "steps_run": r.steps_run,
        "stopped_early": r.stopped_early,
        "seconds": start.elapsed().as_secs_f64(),
        "n_images": n,
        "n_images_with_ground_truth": items.iter().filter(|it| it.gt.is_some()).count(),
        "images": per_image,
        "overall": {
            "clean": {
                "vs_target": if r.targeted { serde_json::to_value(r.clean_vs_reference).unwrap_or_default() } else { serde_json::Value::Null },
                "vs_ground_truth": gt_metrics(&items, &r.clean_maps, k)?,
            },
            "adversarial": adv_all,
            "quantized": q_all,
        },
        "history": r.history,
    });
    let path = a.out.join("report.json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| Error::io(&path, e))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;

    let get = |v: &serde_json::Value, f: &str| v[f]["miou"].as_f64();
    println!(
        "{} {} {} ε={} ({:.5}) {} steps, loss {}: agreement with clean {:.4} → 8-bit {:.4}",
        seg.spec.name,
        a.mode.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default(),
        cfg.norm,
        a.eps,
        eps,
        r.steps_run,
        cfg.loss,
        r.adversarial.vs_clean.agreement,
        q.vs_clean.agreement
    );
    if r.targeted {
        println!(
            "  agreement with target: clean {:.4} → adversarial {:.4} (8-bit {:.4})",
            r.clean_vs_reference.agreement, r.adversarial.vs_reference.agreement, q.vs_reference.agreement
        );
    }
    if let (Some(c), Some(adv), Some(qm)) = (
        get(&report["overall"]["clean"], "vs_ground_truth"),
        get(&report["overall"]["adversarial"], "vs_ground_truth"),
        get(&report["overall"]["quantized"], "vs_ground_truth"),
    ) {
        println!("  mIoU vs ground truth: clean {c:.4} → adversarial {adv:.4} (8-bit {qm:.4})");
    }
    println!("  linf {:.5}  l2 {:.4}  psnr {:.2} dB; wrote {}", q.linf, q.l2, q.psnr, a.out.display());
    Ok(())
}
