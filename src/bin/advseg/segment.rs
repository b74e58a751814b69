//! `advseg segment`: colour maps, overlays and class shares of images.

use std::path::{Path, PathBuf};

use advseg::data::ClassMap;
use advseg::data::folder::stem;
use advseg::error::{Error, Result};
use advseg::image::{self as imaging, ResizeMethod};
use advseg::model::Segmenter;
use advseg::model::zoo::ModelSpec;
use advseg::util::block_on;

use crate::common::{create_dir, parse_size, progress};

/// Segment images: writes NAME_map.png (colour map) and NAME_overlay.png into --out, prints
/// per-class pixel shares.
#[derive(clap::Args)]
pub struct SegmentArgs {
    /// Zoo model name (see `advseg models`).
    #[arg(long, default_value = "espnetv2-voc")]
    pub model: String,
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Input size WxH (default: the model's native size). Images are resized to it with
    /// Pillow's bilinear filter, as the reference pipeline does.
    #[arg(long)]
    pub size: Option<String>,
    /// Image files (PNG or JPEG).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// Decode, resize to the model input with Pillow's bilinear filter, predict.
pub fn predict_file(seg: &Segmenter, path: &Path, size: (usize, usize)) -> Result<(image::RgbImage, ClassMap)> {
    predict_image(seg, &imaging::load(path)?, size)
}

/// The prediction for `img` resized to `size` (Pillow bilinear), with the resized image.
pub fn predict_image(seg: &Segmenter, img: &image::RgbImage, size: (usize, usize)) -> Result<(image::RgbImage, ClassMap)> {
    let resized = imaging::resize(img, size.0 as u32, size.1 as u32, ResizeMethod::PilBilinear)?;
    let x = advseg::model::batch_tensor(&[imaging::to_tensor01(&resized)], &seg.device())?;
    let map = block_on(seg.predict(x))?.into_iter().next().ok_or_else(|| Error::Backend("no prediction".into()))?;
    Ok((resized, map))
}

pub fn run(backend: &str, a: &SegmentArgs) -> Result<()> {
    let device = advseg::backend::by_name(backend)?;
    let seg = Segmenter::load(&a.model, &device)?;
    let size = match &a.size {
        Some(s) => parse_size(s)?,
        None => seg.spec.native_size,
    };
    seg.spec.check_size(size.0, size.1)?;
    create_dir(&a.out)?;
    let palette = seg.spec.palette();
    let pb = progress(a.images.len(), "segment");
    let mut failures = 0;
    for path in &a.images {
        match predict_file(&seg, path, size) {
            Ok((resized, map)) => {
                let name = stem(path);
                let colour = imaging::colorize(&map.data, map.width, map.height, &palette)?;
                imaging::save_png(&colour, &a.out.join(format!("{name}_map.png")))?;
                imaging::save_png(&imaging::overlay(&resized, &colour, 0.5)?, &a.out.join(format!("{name}_overlay.png")))?;
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
    if failures == a.images.len() {
        return Err(Error::InvalidArgument(format!("none of the {} images could be segmented", a.images.len())));
    }
    println!("wrote colour maps and overlays to {}", a.out.display());
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
