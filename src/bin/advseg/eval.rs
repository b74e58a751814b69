//! `advseg eval`: mIoU and pixel accuracy on a labelled folder, or a whole experiment file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use advseg::data::{DatasetSource, ImageSource};
use advseg::error::{Error, Result};
use advseg::image as imaging;
use advseg::metrics::{ConfusionMatrix, SegMetrics};
use advseg::model::Segmenter;

use crate::common::progress;
use crate::segment::predict_image;

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
    #[arg(long, required_unless_present_any = ["experiment", "dataset"], conflicts_with = "dataset")]
    pub images: Option<PathBuf>,
    /// A dataset in its standard layout instead of --images: voc (VOCdevkit/VOC2012 with
    /// ImageSets/Segmentation/SPLIT.txt) or cityscapes (leftImg8bit/ + gtFine/).
    #[arg(long, requires = "root")]
    pub dataset: Option<String>,
    /// The dataset's root folder.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The dataset's split.
    #[arg(long, default_value = "val")]
    pub split: String,
    /// Evaluate the first N images of the split only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// An experiment file (TOML; see experiments/ and `advseg::experiment`).
    #[arg(long, conflicts_with_all = ["images", "dataset"])]
    pub experiment: Option<PathBuf>,
    /// Output directory of the experiment: results.md, results.json, and the run's units
    /// (a rerun into the same folder skips the finished ones), rows.jsonl (per-image rows).
    #[arg(long, default_value = "out/experiment")]
    pub out: PathBuf,
    /// Do only shard K of N of the experiment's units (e.g. `--shard 2/4`; a cluster array
    /// task each), saved in --out; `advseg merge` assembles the shards' folders.
    #[arg(long, requires = "experiment")]
    pub shard: Option<advseg::experiment::Shard>,
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
    if let Some(file) = &a.experiment {
        return crate::experiment::run(backend, file, &a.out, a.shard);
    }
    let source = match (&a.images, &a.dataset, &a.root) {
        (Some(dir), _, _) => ImageSource::Folder(dir.display().to_string()),
        (None, Some(name), Some(root)) => ImageSource::Dataset(DatasetSource {
            dataset: serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| Error::InvalidArgument(format!("unknown dataset '{name}' (expected voc or cityscapes)")))?,
            root: root.display().to_string(),
            split: a.split.clone(),
            limit: a.limit,
        }),
        _ => return Err(Error::InvalidArgument("eval needs --images DIR, --dataset NAME --root DIR, or --experiment FILE".into())),
    };
    folder(backend, &a.model, &source, a.json)
}

fn folder(backend: &str, model: &str, source: &ImageSource, json: bool) -> Result<()> {
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(model, &device)?;
    if source.dataset().is_some_and(|d| d != seg.spec.dataset) {
        return Err(Error::InvalidArgument(format!("model '{model}' does not predict the classes of {}", source.describe())));
    }
    let listing = source.list(|p: &str| PathBuf::from(p))?;
    let pairs = listing.pairs;
    let mut cm = ConfusionMatrix::new(seg.spec.num_classes());
    let mut skipped: Vec<String> = listing.missing.iter().map(|m| format!("{} (missing: {})", m.path, m.what)).collect();
    for s in &skipped {
        eprintln!("advseg: skipping {s}");
    }
    let n_missing = skipped.len();
    let pb = progress(pairs.len(), "eval");
    for p in &pairs {
        let r = (|| -> Result<()> {
            let (img, gt) = imaging::load_pair(p)?;
            let (_, map) = predict_image(&seg, &img, seg.spec.native_size)?;
            cm.add(&gt.data, &map.resized(gt.width, gt.height)?.data)
        })();
        if let Err(e) = r {
            pb.suspend(|| eprintln!("advseg: skipping {}: {e}", p.image.display()));
            skipped.push(format!("{}: {e}", p.image.display()));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let m = SegMetrics::from_confusion(&cm, pairs.len() + n_missing - skipped.len());
    let classes = seg.spec.classes();
    if json {
        let report = EvalReport {
            schema: "advseg.eval/1",
            model: seg.spec.name.to_string(),
            images: source.describe(),
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
