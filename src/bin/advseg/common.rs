//! Helpers every subcommand uses: progress bars, sizes, JSON files, loading a batch.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use advseg::attack::BatchImage;
use advseg::data::ClassMap;
use advseg::data::folder::{label_path, stem};
use advseg::data::relabel::{labels_dataset, relabel};
use advseg::data::Dataset;
use advseg::error::{Error, Result};
use advseg::image::{self as imaging, ResizeMethod};

/// A progress bar on stderr with `what` as its message.
pub fn progress(n: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise} (ETA {eta})") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

/// `--model-set KEY=VALUE` pairs: the description of every ONNX file given as `--model`.
pub fn describe_onnx(pairs: &[String]) -> Result<()> {
    if !pairs.is_empty() {
        advseg::model::onnx::registry::set_overrides(advseg::model::onnx::OnnxDescription::from_pairs(pairs)?);
    }
    Ok(())
}

/// `384x384` → `(384, 384)`.
pub fn parse_size(s: &str) -> Result<(usize, usize)> {
    let bad = || Error::InvalidArgument(format!("--size '{s}' is not WIDTHxHEIGHT, e.g. 384x384"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?))
}

/// Seconds as `42 s` or `3.5 min`.
pub fn fmt_seconds(s: f64) -> String {
    if s < 120.0 { format!("{s:.0} s") } else { format!("{:.1} min", s / 60.0) }
}

/// A fraction as `12.3 %`.
pub fn pct(x: f64) -> String {
    format!("{:5.1} %", 100.0 * x)
}

/// Write `value` as pretty JSON.
pub fn write_json(value: &impl serde::Serialize, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::InvalidArgument(format!("cannot serialise the report: {e}")))?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Create the output folder.
pub fn create_dir(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))
}

/// Load image files as one batch at `w × h` (Pillow bilinear), in argument order, each with its
/// ground truth where `NAME_label.png` (or Cityscapes' label file) lies beside it. Every image
/// must load (positions matter); repeated names get a `-N` suffix. Labels are put in the
/// classes of `dataset` (VOC/Cityscapes people → person for the selfie models).
pub fn load_batch(paths: &[PathBuf], w: usize, h: usize, dataset: Dataset) -> Result<Vec<BatchImage>> {
    let mut items: Vec<BatchImage> = Vec::new();
    for path in paths {
        let img = imaging::load(path)?;
        let image = imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear)?;
        let mut name = stem(path);
        if items.iter().any(|it| it.name == name) {
            name = format!("{name}-{}", items.len() + 1);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let label = label_path(dir, &stem(path));
        let ground_truth = if label.is_file() {
            let (g, gw, gh) = imaging::load_label_png(&label)?;
            Some(relabel(ClassMap { width: gw, height: gh, data: g }, labels_dataset(&label), dataset))
        } else {
            None
        };
        items.push(BatchImage { name, input: Some(path.display().to_string()), image, ground_truth });
    }
    Ok(items)
}
