//! The images of an experiment: labelled pairs of a folder or a dataset layout, loaded and
//! resized per model.

use super::file::resolve_images;
use super::result::Skipped;
use crate::data::relabel::{labels_dataset, relabel};
use crate::data::{ClassMap, Dataset, ImageSource};
use crate::error::{Error, Result};
use crate::image::{self as imaging, ResizeMethod, RgbImage01};

/// A loaded image with its ground truth.
#[derive(Clone)]
pub(crate) struct Item {
    pub name: String,
    pub image: image::RgbImage,
    pub gt: ClassMap,
    /// The dataset whose classes `gt` holds.
    pub labels: Dataset,
}

/// `items` with their ground truth in the classes of a model of `dataset` (VOC or Cityscapes
/// labels become person/background for the selfie models).
pub(crate) fn for_model(items: &[Item], dataset: Dataset) -> Vec<Item> {
    items
        .iter()
        .map(|it| Item { gt: relabel(it.gt.clone(), it.labels, dataset), labels: dataset, ..it.clone() })
        .collect()
}

/// Load an image and its label, which must have the image's size.
fn load_pair(p: &crate::data::folder::Pair) -> Result<Item> {
    let (image, gt) = imaging::load_pair(p)?;
    Ok(Item { name: p.name.clone(), image, gt, labels: labels_dataset(&p.label) })
}

/// The pairs of `source` in its order, at most `max`; files the layout names but that are
/// missing, and images or labels that fail to load, are reported in `skipped` and left out.
pub(crate) fn load_items(source: &ImageSource, max: Option<usize>, skipped: &mut Vec<Skipped>) -> Result<Vec<Item>> {
    let listing = source.list(resolve_images)?;
    skipped.extend(listing.missing.iter().map(|m| Skipped { image: m.path.clone(), error: format!("missing ({})", m.what) }));
    let mut items = Vec::new();
    for p in &listing.pairs {
        if max.is_some_and(|m| items.len() >= m) {
            break;
        }
        match load_pair(p) {
            Ok(it) => items.push(it),
            Err(e) => skipped.push(Skipped { image: p.image.display().to_string(), error: e.to_string() }),
        }
    }
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!("no usable labelled images in {}", source.describe())));
    }
    Ok(items)
}

/// Images of `items` resized to `w × h` (Pillow bilinear), in `[0, 1]`.
pub(crate) fn inputs(items: &[Item], w: usize, h: usize) -> Result<Vec<RgbImage01>> {
    items
        .iter()
        .map(|it| Ok(imaging::to_tensor01(&imaging::resize(&it.image, w as u32, h as u32, ResizeMethod::PilBilinear)?)))
        .collect()
}
