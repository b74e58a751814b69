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

/// A usable labelled pair of the set, not held in memory: its files and the hash of their
/// bytes (what keys the finished work of a resumable run).
#[derive(Clone, Debug)]
pub(crate) struct ItemRef {
    pub pair: crate::data::folder::Pair,
    /// sha256 of the image and label files (hex, 32 characters).
    pub hash: String,
}

impl ItemRef {
    /// The image's name.
    pub fn name(&self) -> &str {
        &self.pair.name
    }
}

/// The pairs of `source` in its order, at most `max`, each loaded once to check it (then
/// dropped: a dataset does not fit in memory); files the layout names but that are missing,
/// and images or labels that fail to load, are reported in `skipped` and left out.
pub(crate) fn scan_items(source: &ImageSource, max: Option<usize>, skipped: &mut Vec<Skipped>) -> Result<Vec<ItemRef>> {
    let listing = source.list(resolve_images)?;
    skipped.extend(listing.missing.iter().map(|m| Skipped { image: m.path.clone(), error: format!("missing ({})", m.what) }));
    let mut items = Vec::new();
    for p in &listing.pairs {
        if max.is_some_and(|m| items.len() >= m) {
            break;
        }
        match load_pair(p).and_then(|_| file_hash(p)) {
            Ok(hash) => items.push(ItemRef { pair: p.clone(), hash }),
            Err(e) => skipped.push(Skipped { image: p.image.display().to_string(), error: e.to_string() }),
        }
    }
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!("no usable labelled images in {}", source.describe())));
    }
    Ok(items)
}

/// sha256 of a pair's image and label bytes and of how its label values are read.
fn file_hash(p: &crate::data::folder::Pair) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for f in [&p.image, &p.label] {
        let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    h.update(format!("{:?}", p.labels).as_bytes());
    Ok(h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// Load `refs` (checked by [`scan_items`]) into memory.
pub(crate) fn load(refs: &[ItemRef]) -> Result<Vec<Item>> {
    refs.iter().map(|r| load_pair(&r.pair)).collect()
}

/// Images of `items` resized to `w × h` (Pillow bilinear), in `[0, 1]`.
pub(crate) fn inputs(items: &[Item], w: usize, h: usize) -> Result<Vec<RgbImage01>> {
    items
        .iter()
        .map(|it| Ok(imaging::to_tensor01(&imaging::resize(&it.image, w as u32, h as u32, ResizeMethod::PilBilinear)?)))
        .collect()
}
