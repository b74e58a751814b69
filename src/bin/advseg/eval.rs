//! `advseg eval`: mIoU and pixel accuracy on a labelled folder, or a whole experiment file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use advseg::error::{Error, Result};
use advseg::image as imaging;
use advseg::metrics::{ConfusionMatrix, SegMetrics};
use advseg::model::Segmenter;

use crate::common::{create_dir, fmt_seconds, progress};
use crate::segment::predict_file;

/// Evaluate on a folder of NAME.png / NAME_label.png pairs: mIoU and pixel accuracy. With
/// --experiment FILE: run an experiment (models × attacks × ε × defenses, non-adaptive and
/// adaptive, transfer matrix) and write results.md and results.json into --out.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// Zoo model name.
    #[arg(long, default_value = "espnetv2-voc")]
    pub model: String,
    /// Folder with NAME.(png|jpg) and NAME_label.png (class indices, 255 = void), or
    /// Cityscapes' CITY_leftImg8bit.png and CITY_gtFine_labelTrainIds.png.
    #[arg(long, required_unless_present = "experiment")]
    pub images: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// An experiment file (TOML; see experiments/ and `advseg::experiment`).
    #[arg(long, conflicts_with = "images")]
    pub experiment: Option<PathBuf>,
    /// Output directory of the experiment's results.md and results.json.
    #[arg(long, default_value = "out/experiment")]
    pub out: PathBuf,
}

/// The report of `eval --json`.
#[derive(Serialize)]
struct EvalReport {
    schema: &'static str,
    model: String,
    images: String,
    n_images: usize,
    miou: f64,
    pixel_accuracy: f64,
    n_labelled_pixels: u64,
    per_class_iou: BTreeMap<String, Option<f64>>,
    skipped: Vec<String>,
}

pub fn run(backend: &str, a: &EvalArgs) -> Result<()> {
    match (&a.experiment, &a.images) {
        (Some(file), _) => experiment(backend, file, &a.out),
        (None, Some(images)) => folder(backend, &a.model, images, a.json),
        (None, None) => Err(Error::InvalidArgument("eval needs --images DIR or --experiment FILE".into())),
    }
}

fn folder(backend: &str, model: &str, dir: &Path, json: bool) -> Result<()> {
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(model, &device)?;
    let pairs = advseg::data::folder::pairs(dir)?;
    let mut cm = ConfusionMatrix::new(seg.spec.num_classes());
    let mut skipped = Vec::new();
    let pb = progress(pairs.len(), "eval");
    for p in &pairs {
        let r = (|| -> Result<()> {
            let (_, map) = predict_file(&seg, &p.image, seg.spec.native_size)?;
            let (gt, gw, gh) = imaging::load_label_png(&p.label)?;
            cm.add(&gt, &map.resized(gw, gh)?.data)
        })();
        if let Err(e) = r {
            pb.suspend(|| eprintln!("advseg: skipping {}: {e}", p.image.display()));
            skipped.push(p.image.display().to_string());
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let m = SegMetrics::from_confusion(&cm, pairs.len() - skipped.len());
    let classes = seg.spec.classes();
    if json {
        let report = EvalReport {
            schema: "advseg.eval/1",
            model: seg.spec.name.to_string(),
            images: dir.display().to_string(),
            n_images: m.n_images,
            miou: m.miou,
            pixel_accuracy: m.pixel_accuracy,
            n_labelled_pixels: m.n_labelled_pixels,
            per_class_iou: classes.iter().map(|c| c.to_string()).zip(m.per_class_iou.iter().copied()).collect(),
            skipped,
        };
        let text = serde_json::to_string(&report).map_err(|e| Error::InvalidArgument(format!("cannot serialise the report: {e}")))?;
        println!("{text}");
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

fn experiment(backend: &str, file: &Path, out: &Path) -> Result<()> {
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
    create_dir(out)?;
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
