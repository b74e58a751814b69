//! What one piece of work measured on a run of images, in a form that adds up exactly: the
//! confusion counts against ground truth, the object counts by size, and the per-image rows.
//! Tallies of consecutive image ranges merged in order give bit for bit the scores of the
//! whole set computed at once — which is what lets shards be merged into the single run's JSON.

use serde::{Deserialize, Serialize};

use super::items::Item;
use super::result::{ImageScore, Score};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::metrics::{ConfusionMatrix, MapDetail, MapMetrics, SizeAccuracy};
use crate::util::Exact;

/// One image's row in a tally (floats as exact text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageTally {
    /// The image's name.
    pub image: String,
    /// mIoU of the image alone against its ground truth.
    pub miou: Exact,
    /// Pixel accuracy against its ground truth.
    pub pixel_accuracy: Exact,
    /// Agreement with its target map (targeted goals; none for the target image itself).
    pub target_agreement: Option<Exact>,
}

/// Counts and rows of some maps against the ground truth (and targets) of their images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Classes of the confusion matrix.
    pub n_classes: usize,
    /// Its raw counts (see [`ConfusionMatrix::counts`]).
    pub confusion: Vec<u64>,
    /// Objects of the ground truth by size, and how many of their pixels the maps keep.
    pub sizes: SizeAccuracy,
    /// Whether the maps were compared with targets (a targeted goal).
    pub targeted: bool,
    /// Per image, in order.
    pub images: Vec<ImageTally>,
}

impl Tally {
    /// The tally of `maps` against `items`' ground truth, and against `targets` where given
    /// (the image `skip`, the target image itself, left out of the agreement).
    pub(crate) fn of(maps: &[ClassMap], items: &[Item], targets: Option<&[ClassMap]>, skip: Option<usize>, k: usize) -> Result<Tally> {
        if maps.len() != items.len() || targets.is_some_and(|t| t.len() != maps.len()) {
            return Err(Error::Shape(format!("{} maps for {} images", maps.len(), items.len())));
        }
        let mut cm = ConfusionMatrix::new(k);
        let mut sizes = SizeAccuracy::default();
        let mut images = Vec::new();
        for (i, (m, it)) in maps.iter().zip(items).enumerate() {
            let resized = m.resized(it.gt.width, it.gt.height)?;
            cm.add(&it.gt.data, &resized.data)?;
            sizes.add(m, &it.gt)?;
            let own = MapMetrics::compare(&resized, &it.gt, k)?;
            let target_agreement = match targets {
                Some(t) if Some(i) != skip => Some(Exact(compare_one(m, &t[i], k)?.agreement)),
                _ => None,
            };
            images.push(ImageTally {
                image: it.name.clone(),
                miou: Exact(own.miou),
                pixel_accuracy: Exact(own.pixel_accuracy),
                target_agreement,
            });
        }
        Ok(Tally { n_classes: k, confusion: cm.counts().to_vec(), sizes, targeted: targets.is_some(), images })
    }

    /// An empty tally of `k` classes (the start of a merge).
    pub fn empty(k: usize, targeted: bool) -> Tally {
        Tally { n_classes: k, confusion: vec![0; k * (k + 1)], sizes: SizeAccuracy::default(), targeted, images: Vec::new() }
    }

    /// Append `other` (the images after these).
    pub fn merge(&mut self, other: &Tally) -> Result<()> {
        let mut cm = self.matrix()?;
        cm.merge(&other.matrix()?)?;
        self.confusion = cm.counts().to_vec();
        self.sizes.merge(&other.sizes);
        self.targeted |= other.targeted;
        self.images.extend(other.images.iter().cloned());
        Ok(())
    }

    /// The tallies `parts` merged in order.
    pub fn merged<'a>(k: usize, parts: impl IntoIterator<Item = &'a Tally>) -> Result<Tally> {
        let mut all = Tally::empty(k, false);
        for p in parts {
            all.merge(p)?;
        }
        Ok(all)
    }

    fn matrix(&self) -> Result<ConfusionMatrix> {
        ConfusionMatrix::from_counts(self.n_classes, self.confusion.clone())
    }

    /// mIoU and pixel accuracy of the pooled counts; for targeted goals the mean agreement of
    /// the images with their targets (0 when no image is left), summed in image order as
    /// [`crate::metrics::compare_maps`] does.
    pub fn score(&self) -> Result<Score> {
        let cm = self.matrix()?;
        let target_agreement = self.targeted.then(|| {
            let a: Vec<f64> = self.images.iter().filter_map(|r| r.target_agreement.map(|e| e.0)).collect();
            let mut sum = 0.0;
            for v in &a {
                sum += v;
            }
            if a.is_empty() { 0.0 } else { sum / a.len() as f64 }
        });
        Ok(Score { miou: cm.miou(), pixel_accuracy: cm.pixel_accuracy(), target_agreement })
    }

    /// The per-image rows.
    pub fn image_scores(&self) -> Vec<ImageScore> {
        self.images
            .iter()
            .map(|r| ImageScore {
                image: r.image.clone(),
                miou: r.miou.0,
                pixel_accuracy: r.pixel_accuracy.0,
                target_agreement: r.target_agreement.map(|e| e.0),
            })
            .collect()
    }

    /// IoU per class and accuracy by object size.
    pub fn detail(&self) -> Result<MapDetail> {
        let mut sizes = SizeAccuracy::default();
        sizes.merge(&self.sizes);
        Ok(MapDetail { per_class_iou: self.matrix()?.iou_per_class(), by_size: sizes })
    }
}

fn compare_one(a: &ClassMap, b: &ClassMap, k: usize) -> Result<MapMetrics> {
    crate::metrics::compare_maps(std::slice::from_ref(a), std::slice::from_ref(b), k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare_maps;

    fn item(name: &str, w: usize, gt: Vec<u8>) -> Item {
        let h = gt.len() / w;
        Item { name: name.into(), image: image::RgbImage::new(w as u32, h as u32), gt: ClassMap { width: w, height: h, data: gt }, labels: crate::data::Dataset::Voc }
    }
    fn map(w: usize, data: Vec<u8>) -> ClassMap {
        ClassMap { width: w, height: data.len() / w, data }
    }

    #[test]
    fn merged_parts_equal_the_whole_bit_for_bit() {
        let items = [
            item("a", 2, vec![0, 1, 1, 2]),
            item("b", 2, vec![2, 2, 0, crate::data::VOID]),
            item("c", 3, vec![1, 1, 0, 0, 2, 2]),
        ];
        // the second prediction is at half size: resized to its label like the whole-set scores
        let maps = [map(2, vec![0, 1, 2, 2]), map(1, vec![2]), map(3, vec![1, 0, 0, 0, 2, 1])];
        let targets = [map(2, vec![1, 1, 1, 1]), map(2, vec![2, 0, 2, 0]), map(3, vec![1, 1, 1, 0, 0, 0])];
        // the whole set at once: one confusion matrix; the agreement over the images but the target
        let gts: Vec<ClassMap> = items.iter().map(|it| it.gt.clone()).collect();
        let whole = compare_maps(&maps, &gts, 3).unwrap();
        let agreement = compare_maps(&[maps[0].clone(), maps[2].clone()], &[targets[0].clone(), targets[2].clone()], 3).unwrap().agreement;
        let parts = [
            Tally::of(&maps[..2], &items[..2], Some(&targets[..2]), Some(1), 3).unwrap(),
            Tally::of(&maps[2..], &items[2..], Some(&targets[2..]), None, 3).unwrap(),
        ];
        // through JSON, as shards write them
        let parts: Vec<Tally> = parts.iter().map(|p| serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap()).collect();
        let merged = Tally::merged(3, &parts).unwrap();
        let s = merged.score().unwrap();
        assert_eq!((s.miou.to_bits(), s.pixel_accuracy.to_bits()), (whole.miou.to_bits(), whole.pixel_accuracy.to_bits()));
        assert_eq!(s.target_agreement.map(f64::to_bits), Some(agreement.to_bits()));
        let rows = merged.image_scores();
        for (i, r) in rows.iter().enumerate() {
            let own = compare_maps(&maps[i..=i], &gts[i..=i], 3).unwrap();
            assert_eq!((r.image.as_str(), r.miou, r.pixel_accuracy), (items[i].name.as_str(), own.miou, own.pixel_accuracy));
            let t = (i != 1).then(|| compare_maps(&maps[i..=i], &targets[i..=i], 3).unwrap().agreement);
            assert_eq!(r.target_agreement, t);
        }
        assert_eq!(merged.detail().unwrap(), MapDetail::of(&maps, &gts, 3).unwrap());
        // untargeted: no agreement; a bad count is a shape error
        assert_eq!(Tally::of(&maps, &items, None, None, 3).unwrap().score().unwrap().target_agreement, None);
        assert!(Tally::of(&maps[..1], &items, None, None, 3).is_err());
    }
}
