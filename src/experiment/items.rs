//! The images of an experiment: labelled pairs of a folder, loaded and resized per model.

use std::path::Path;

use super::result::Skipped;
use crate::data::ClassMap;
use crate::data::folder::pairs;
use crate::error::{Error, Result};
use crate::image::{self as imaging, ResizeMethod, RgbImage01};

/// A loaded image with its ground truth.
pub(crate) struct Item {
    pub name: String,
    pub image: image::RgbImage,
    pub gt: ClassMap,
}

/// The pairs of `dir` in name order, at most `max`; images or labels that fail to load are
/// reported in `skipped` and left out.
pub(crate) fn load_items(dir: &Path, max: Option<usize>, skipped: &mut Vec<Skipped>) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for p in pairs(dir)? {
        if max.is_some_and(|m| items.len() >= m) {
            break;
        }
        let loaded = (|| -> Result<Item> {
            let image = imaging::load(&p.image)?;
            let (g, gw, gh) = imaging::load_label_png(&p.label)?;
            Ok(Item { name: p.name.clone(), image, gt: ClassMap { width: gw, height: gh, data: g } })
        })();
        match loaded {
            Ok(it) => items.push(it),
            Err(e) => skipped.push(Skipped { image: p.image.display().to_string(), error: e.to_string() }),
        }
    }
    if items.is_empty() {
        return Err(Error::InvalidArgument(format!("no usable NAME.png + NAME_label.png pairs in {}", dir.display())));
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
