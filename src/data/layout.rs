//! Where labelled images come from: a flat folder of pairs (see [`super::folder`]) or a dataset
//! in its standard layout.
//!
//! - **PASCAL VOC 2012**: `ROOT/JPEGImages/ID.jpg` with `ROOT/SegmentationClass/ID.png`
//!   (palette PNGs: index = class, 255 = void), the ids of a split listed one per line in
//!   `ROOT/ImageSets/Segmentation/SPLIT.txt`. `ROOT` may be the `VOC2012` folder itself, the
//!   `VOCdevkit` folder above it, or the folder holding `VOCdevkit`.
//! - **Cityscapes**: `ROOT/leftImg8bit/SPLIT/CITY/X_leftImg8bit.png` with
//!   `ROOT/gtFine/SPLIT/CITY/X_gtFine_labelTrainIds.png` when present, else
//!   `X_gtFine_labelIds.png`, mapped to train ids by the official table ([`CITYSCAPES_TRAIN_ID`]).
//!
//! Listing never fails on a single missing file: an image or label that is not there is reported
//! in [`Listing::missing`] with its path and left out; the other pairs are kept.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::class_map::VOID;
use super::dataset::Dataset;
use super::folder::{Pair, pairs};
use crate::error::{Error, Result};

/// How a label file's pixel values become classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LabelIds {
    /// The values are the classes (255 = void): flat folders, VOC, Cityscapes' `labelTrainIds`.
    #[default]
    Classes,
    /// Cityscapes' `labelIds`, mapped by [`CITYSCAPES_TRAIN_ID`].
    CityscapesIds,
}

/// Cityscapes' official label-id → train-id table (ids 0–33; 255 = ignored in evaluation), as
/// published with the dataset (`cityscapesScripts`, `labels.py`).
pub const CITYSCAPES_TRAIN_ID: [u8; 34] = [
    255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    255, 255, 16, 17, 18,
];

impl LabelIds {
    /// Map raw label values to classes in place (ids beyond the table become [`VOID`]).
    pub fn apply(self, values: &mut [u8]) {
        if self == LabelIds::CityscapesIds {
            for v in values {
                *v = CITYSCAPES_TRAIN_ID.get(*v as usize).copied().unwrap_or(VOID);
            }
        }
    }
}

/// A dataset in its standard layout, as an experiment file or the CLI names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSource {
    /// `voc` or `cityscapes`.
    pub dataset: Dataset,
    /// The dataset's root folder (see the module documentation).
    pub root: String,
    /// The split: `val`, `train`, … (VOC: a file of `ImageSets/Segmentation`; Cityscapes: a
    /// folder of `leftImg8bit`).
    #[serde(default = "default_split")]
    pub split: String,
    /// Use the first `limit` images of the split (in its order) only.
    #[serde(default)]
    pub limit: Option<usize>,
}

fn default_split() -> String {
    "val".into()
}

/// Labelled images: a flat folder (written as a plain path) or a [`DatasetSource`] (a table).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ImageSource {
    /// A folder of `NAME.png` + `NAME_label.png` pairs (see [`super::folder`]).
    Folder(String),
    /// A dataset in its standard layout.
    Dataset(DatasetSource),
}

impl<'de> Deserialize<'de> for ImageSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImageSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a folder path, or a table { dataset = \"voc\" | \"cityscapes\", root = …, split = …, limit = … }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<ImageSource, E> {
                Ok(ImageSource::Folder(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> std::result::Result<ImageSource, A::Error> {
                DatasetSource::deserialize(de::value::MapAccessDeserializer::new(m)).map(ImageSource::Dataset)
            }
        }
        d.deserialize_any(V)
    }
}

/// A file that a layout names but that is not there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// The missing file.
    pub path: String,
    /// What it was for (`image of ID`, `label of ID`).
    pub what: String,
}

/// The pairs of a source, and what was missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// Complete pairs, in the source's order.
    pub pairs: Vec<Pair>,
    /// Named files that are not there (their pairs are left out).
    pub missing: Vec<Missing>,
}

impl ImageSource {
    /// The dataset the labels belong to, when the layout says (a flat folder does not).
    pub fn dataset(&self) -> Option<Dataset> {
        match self {
            ImageSource::Folder(_) => None,
            ImageSource::Dataset(d) => Some(d.dataset),
        }
    }

    /// A short description for reports: the folder, or `voc val (ROOT)`.
    pub fn describe(&self) -> String {
        match self {
            ImageSource::Folder(dir) => dir.clone(),
            ImageSource::Dataset(d) => {
                format!("{} {} ({})", d.dataset.name(), d.split, d.root)
            }
        }
    }

    /// List the pairs, with paths resolved by `resolve` (e.g. a `shared:` prefix).
    pub fn list(&self, resolve: impl Fn(&str) -> PathBuf) -> Result<Listing> {
        match self {
            ImageSource::Folder(dir) => Ok(Listing { pairs: pairs(&resolve(dir))?, missing: Vec::new() }),
            ImageSource::Dataset(d) => {
                let root = resolve(&d.root);
                let mut l = match d.dataset {
                    Dataset::Voc => voc(&root, &d.split)?,
                    Dataset::Cityscapes => cityscapes(&root, &d.split)?,
                    Dataset::Selfie => {
                        return Err(Error::InvalidArgument(format!(
                            "dataset 'selfie' has no standard layout (root '{}'): use a flat folder of images",
                            d.root
                        )));
                    }
                };
                if let Some(n) = d.limit {
                    l.pairs.truncate(n);
                }
                Ok(l)
            }
        }
    }
}

/// The `VOC2012` folder under `root` (itself, `root/VOC2012` or `root/VOCdevkit/VOC2012`).
fn voc_dir(root: &Path) -> Result<PathBuf> {
    [root.to_path_buf(), root.join("VOC2012"), root.join("VOCdevkit").join("VOC2012")]
        .into_iter()
        .find(|d| d.join("ImageSets").join("Segmentation").is_dir())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} is not a PASCAL VOC root: no ImageSets/Segmentation in it, in VOC2012/ or in VOCdevkit/VOC2012/",
                root.display()
            ))
        })
}

/// The pairs of a VOC split, in the order of its list file.
fn voc(root: &Path, split: &str) -> Result<Listing> {
    let dir = voc_dir(root)?;
    let list = dir.join("ImageSets").join("Segmentation").join(format!("{split}.txt"));
    let text = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
    let mut out = Listing::default();
    for id in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let image = dir.join("JPEGImages").join(format!("{id}.jpg"));
        let label = dir.join("SegmentationClass").join(format!("{id}.png"));
        push_pair(&mut out, id, image, label, LabelIds::Classes);
    }
    if out.pairs.is_empty() && out.missing.is_empty() {
        return Err(Error::InvalidArgument(format!("{} lists no image", list.display())));
    }
    Ok(out)
}

/// Add the pair, or report what of it is missing.
fn push_pair(out: &mut Listing, name: &str, image: PathBuf, label: PathBuf, labels: LabelIds) {
    let mut complete = true;
    for (path, what) in [(&image, "image"), (&label, "label")] {
        if !path.is_file() {
            out.missing.push(Missing { path: path.display().to_string(), what: format!("{what} of {name}") });
            complete = false;
        }
    }
    if complete {
        out.pairs.push(Pair { name: name.to_string(), image, label, labels });
    }
}

/// Sorted entries of a folder that `keep` accepts.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| keep(p)).collect();
    v.sort();
    Ok(v)
}

/// The pairs of a Cityscapes split, sorted by city and file name.
fn cityscapes(root: &Path, split: &str) -> Result<Listing> {
    let images = root.join("leftImg8bit").join(split);
    let labels = root.join("gtFine").join(split);
    let mut out = Listing::default();
    for city in sorted_entries(&images, |p| p.is_dir())? {
        let city_name = city.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        for image in sorted_entries(&city, |p| p.to_string_lossy().ends_with("_leftImg8bit.png"))? {
            let name = super::folder::stem(&image);
            let base = name.trim_end_matches("_leftImg8bit");
            let dir = labels.join(&city_name);
            let train = dir.join(format!("{base}_gtFine_labelTrainIds.png"));
            let (label, ids) = if train.is_file() {
                (train, LabelIds::Classes)
            } else {
                (dir.join(format!("{base}_gtFine_labelIds.png")), LabelIds::CityscapesIds)
            };
            push_pair(&mut out, &name, image, label, ids);
        }
    }
    if out.pairs.is_empty() && out.missing.is_empty() {
        return Err(Error::InvalidArgument(format!("no CITY/X_leftImg8bit.png images under {}", images.display())));
    }
    Ok(out)
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("advseg-layout-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn voc_lists_the_split_in_order_and_reports_missing_files() {
        let root = tmp("voc");
        let voc = root.join("VOCdevkit/VOC2012");
        touch(&voc.join("ImageSets/Segmentation/val.txt"));
        std::fs::write(voc.join("ImageSets/Segmentation/val.txt"), "b\na\n\nc\n").unwrap();
        for f in ["JPEGImages/a.jpg", "JPEGImages/b.jpg", "SegmentationClass/a.png", "SegmentationClass/b.png", "JPEGImages/c.jpg"] {
            touch(&voc.join(f));
        }
        for r in [root.clone(), root.join("VOCdevkit"), voc.clone()] {
            let l = ImageSource::Dataset(DatasetSource { dataset: Dataset::Voc, root: r.display().to_string(), split: "val".into(), limit: None })
                .list(|p: &str| PathBuf::from(p))
                .unwrap();
            assert_eq!(l.pairs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
            assert_eq!(l.missing.len(), 1);
            assert!(l.missing[0].path.ends_with("SegmentationClass/c.png") && l.missing[0].what == "label of c", "{:?}", l.missing);
        }
        let e = ImageSource::Dataset(DatasetSource { dataset: Dataset::Voc, root: root.display().to_string(), split: "test".into(), limit: None })
            .list(|p: &str| PathBuf::from(p))
            .unwrap_err()
            .to_string();
        assert!(e.contains("test.txt"), "{e}");
        let e = super::voc(&root.join("nowhere"), "val").unwrap_err().to_string();
        assert!(e.contains("nowhere") && e.contains("not a PASCAL VOC root"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn cityscapes_prefers_train_ids_and_maps_label_ids() {
        let root = tmp("city");
        touch(&root.join("leftImg8bit/val/lindau/lindau_1_leftImg8bit.png"));
        touch(&root.join("leftImg8bit/val/bonn/bonn_2_leftImg8bit.png"));
        touch(&root.join("leftImg8bit/val/bonn/bonn_3_leftImg8bit.png"));
        touch(&root.join("gtFine/val/lindau/lindau_1_gtFine_labelIds.png"));
        touch(&root.join("gtFine/val/bonn/bonn_2_gtFine_labelTrainIds.png"));
        touch(&root.join("gtFine/val/bonn/bonn_2_gtFine_labelIds.png"));
        let src = ImageSource::Dataset(DatasetSource { dataset: Dataset::Cityscapes, root: root.display().to_string(), split: "val".into(), limit: Some(5) });
        let l = src.list(|p: &str| PathBuf::from(p)).unwrap();
        let got: Vec<_> = l.pairs.iter().map(|p| (p.name.as_str(), p.labels)).collect();
        assert_eq!(got, [("bonn_2_leftImg8bit", LabelIds::Classes), ("lindau_1_leftImg8bit", LabelIds::CityscapesIds)]);
        assert_eq!(l.missing.len(), 1, "{:?}", l.missing);
        assert!(l.missing[0].path.ends_with("bonn_3_gtFine_labelIds.png"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn label_ids_map_to_train_ids() {
        let mut v = [7, 8, 26, 33, 0, 6, 34, 255];
        LabelIds::CityscapesIds.apply(&mut v);
        assert_eq!(v, [0, 1, 13, 18, 255, 255, 255, 255]);
        let mut w = [3, 255];
        LabelIds::Classes.apply(&mut w);
        assert_eq!(w, [3, 255]);
    }

    #[test]
    fn sources_parse_from_a_path_or_a_table_and_quote_bad_keys() {
        #[derive(Deserialize)]
        struct F {
            images: ImageSource,
        }
        let f: F = toml::from_str(r#"images = "shared:fixtures/images/voc""#).unwrap();
        assert_eq!(f.images, ImageSource::Folder("shared:fixtures/images/voc".into()));
        let f: F = toml::from_str(r#"images = { dataset = "cityscapes", root = "/d", limit = 3 }"#).unwrap();
        assert_eq!(
            f.images,
            ImageSource::Dataset(DatasetSource { dataset: Dataset::Cityscapes, root: "/d".into(), split: "val".into(), limit: Some(3) })
        );
        let e = toml::from_str::<F>(r#"images = { dataset = "coco", root = "/d" }"#).err().unwrap().to_string();
        assert!(e.contains("coco"), "{e}");
        let e = toml::from_str::<F>(r#"images = { dataset = "voc", root = "/d", splitt = "val" }"#).err().unwrap().to_string();
        assert!(e.contains("splitt"), "{e}");
    }
}
