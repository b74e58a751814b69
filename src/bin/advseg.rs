//! `advseg`: the native command line over the library.
//!
//! ```text
//! advseg segment --model espnetv2-voc IMAGE... --out DIR
//! advseg eval --model espnetv2-voc --images DIR [--json]
//! advseg models
//! advseg scale-attack --model espnetv2-voc --scaler opencv-linear --source S --target T --ratio 4 --out DIR
//! advseg scale-defend --model espnetv2-voc --scaler opencv-linear --image A [--source S] [--target T] --out DIR
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use advseg::error::{Error, Result};
use advseg::image_io::{self, ResizeMethod};
use advseg::metrics::{ConfusionMatrix, SegMetrics};
use advseg::model::zoo::{self, ModelSpec};
use advseg::model::{Segmenter, batch_tensor};
use advseg::scaling::{
    Defense, DefenseRow, ScalingArtifacts, ScalingAttackConfig, ScalingExperimentConfig,
    ScalingReport, run_defenses, run_experiment,
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
    /// Evaluate on a folder of NAME.png / NAME_label.png pairs: mIoU and pixel accuracy.
    Eval {
        /// Zoo model name.
        #[arg(long, default_value = "espnetv2-voc")]
        model: String,
        /// Folder with NAME.(png|jpg) and NAME_label.png (class indices, 255 = void).
        #[arg(long)]
        images: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
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
        #[arg(long)]
        target: PathBuf,
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
        Command::Segment { model, out, size, images } => segment(&cli.backend, &model, &out, size.as_deref(), &images),
        Command::Eval { model, images, json } => eval(&cli.backend, &model, &images, json),
        Command::ScaleAttack {
            model,
            scaler,
            source,
            target,
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
            scale_attack(&cli.backend, &model, &source, &target, &cfg, &out)
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

fn scale_attack(
    backend: &str,
    model: &str,
    source: &Path,
    target: &Path,
    cfg: &ScalingExperimentConfig,
    out: &Path,
) -> Result<()> {
    let src = image_io::load(source)?;
    let tgt = image_io::load(target)?;
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(model, &device)?;
    let report = run_experiment(&seg, &src, &tgt, cfg)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
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
    write_artifacts(seg.spec, a, out)?;
    write_json(&report, &out.join("report.json"))?;
    print_experiment(&report);
    println!("wrote images, maps and report.json to {}", out.display());
    Ok(())
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
