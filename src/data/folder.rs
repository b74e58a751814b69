//! Image folders with ground truth: which files form image / label pairs.
//!
//! Two namings are accepted in one flat folder: `NAME.png|jpg|jpeg` with `NAME_label.png`
//! (class indices, 255 = void), and Cityscapes' `CITY_leftImg8bit.png` with
//! `CITY_gtFine_labelTrainIds.png`.

use std::path::{Path, PathBuf};

use super::layout::LabelIds;
use crate::error::{Error, Result};

/// Suffix of Cityscapes' train-id label files.
pub const CITY_LABEL: &str = "_gtFine_labelTrainIds";

/// One image with its label file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    /// The image's file stem (`0`, `frankfurt_000000_000294_leftImg8bit`).
    pub name: String,
    /// The image file.
    pub image: PathBuf,
    /// Its label file.
    pub label: PathBuf,
    /// How the label file's values become classes.
    pub labels: LabelIds,
}

/// The file stem of `path` as text.
pub fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()
}

/// The label file of image `name` in `dir`: `NAME_label.png`, or Cityscapes'
/// `CITY_gtFine_labelTrainIds.png` for `CITY_leftImg8bit`.
pub fn label_path(dir: &Path, name: &str) -> PathBuf {
    match name.strip_suffix("_leftImg8bit") {
        Some(city) => dir.join(format!("{city}{CITY_LABEL}.png")),
        None => dir.join(format!("{name}_label.png")),
    }
}

/// Whether `path` names an image that may have a label (PNG or JPEG, not itself a label).
fn is_image(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    let stem = stem(path);
    matches!(ext.as_str(), "png" | "jpg" | "jpeg") && !stem.ends_with("_label") && !stem.ends_with(CITY_LABEL)
}

/// The image / label pairs of `dir`, sorted by image path; images without a label file are
/// left out. An unreadable folder is an [`Error::Io`]; a folder without any pair an
/// [`Error::InvalidArgument`] naming it.
pub fn pairs(dir: &Path) -> Result<Vec<Pair>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut images: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| is_image(p)).collect();
    images.sort();
    let out: Vec<Pair> = images
        .into_iter()
        .filter_map(|image| {
            let name = stem(&image);
            let label = label_path(dir, &name);
            label.is_file().then_some(Pair { name, image, label, labels: LabelIds::Classes })
        })
        .collect();
    if out.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no NAME.png + NAME_label.png (or CITY_leftImg8bit.png + CITY{CITY_LABEL}.png) pairs in {}",
            dir.display()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names() {
        let d = Path::new("d");
        assert_eq!(label_path(d, "0"), d.join("0_label.png"));
        assert_eq!(label_path(d, "frankfurt_1_leftImg8bit"), d.join("frankfurt_1_gtFine_labelTrainIds.png"));
    }

    #[test]
    fn pairs_of_both_namings_sorted_unlabelled_left_out() {
        let dir = std::env::temp_dir().join(format!("advseg-pairs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["b.png", "b_label.png", "a.jpg", "a_label.png", "lonely.png", "x_leftImg8bit.png", "x_gtFine_labelTrainIds.png", "notes.txt"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let names: Vec<String> = pairs(&dir).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["a", "b", "x_leftImg8bit"]);
        std::fs::remove_dir_all(&dir).unwrap();
        let e = pairs(&dir).unwrap_err().to_string();
        assert!(e.contains(&dir.display().to_string()), "{e}");
    }
}
