//! Accuracy by object size: how well a prediction keeps small, medium and large objects of a
//! reference map (ground truth, the clean prediction or a target).
//!
//! An *object* is a connected component of one class in the reference map, **4-connected**
//! (a pixel touches its left, right, upper and lower neighbours; diagonal neighbours are
//! separate objects). Void pixels (255) belong to no object. Each object falls in a bucket by
//! its pixel count as a fraction of the image area, with COCO's limits (`32²` and `96²`
//! pixels) taken relative to COCO's typical 640×480 image, so that they scale with the input
//! size:
//!
//! | bucket | area of the object |
//! |---|---|
//! | small | `< 1024 / 307200` ≈ 0.33 % of the image |
//! | medium | `< 9216 / 307200` = 3 % of the image |
//! | large | the rest |
//!
//! A bucket's accuracy is the fraction of its objects' pixels that the prediction gives the
//! object's class, pooled over all objects (and images) of the bucket — large objects weigh
//! by their size within their bucket only.

use serde::{Deserialize, Serialize};

use crate::data::{ClassMap, VOID, nearest_resize_map};
use crate::error::{Error, Result};

/// Largest fraction of the image area of a small object (exclusive): COCO's `32²` of 640×480.
pub const SMALL_MAX_FRACTION: f64 = 1024.0 / 307_200.0;
/// Largest fraction of the image area of a medium object (exclusive): COCO's `96²` of 640×480.
pub const MEDIUM_MAX_FRACTION: f64 = 9216.0 / 307_200.0;

/// One connected component of a class map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Its class.
    pub class: u8,
    /// Its pixels (row-major indices).
    pub pixels: Vec<usize>,
}

/// The 4-connected components of every class of `map` (void pixels excluded), in the order of
/// their first pixel (row-major).
pub fn components(map: &ClassMap) -> Vec<Component> {
    let (w, h) = (map.width, map.height);
    let mut seen = vec![false; map.data.len()];
    let mut out = Vec::new();
    for start in 0..map.data.len() {
        let class = map.data[start];
        if seen[start] || class == VOID {
            continue;
        }
        seen[start] = true;
        let mut pixels = vec![start];
        let mut next = 0;
        while next < pixels.len() {
            let p = pixels[next];
            next += 1;
            let (x, y) = (p % w, p / w);
            let neighbours = [
                (x > 0).then(|| p - 1),
                (x + 1 < w).then(|| p + 1),
                (y > 0).then(|| p - w),
                (y + 1 < h).then(|| p + w),
            ];
            for q in neighbours.into_iter().flatten() {
                if !seen[q] && map.data[q] == class {
                    seen[q] = true;
                    pixels.push(q);
                }
            }
        }
        out.push(Component { class, pixels });
    }
    out
}

/// The size bucket of an object of `pixels` pixels in an image of `area` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeBucket {
    /// Below [`SMALL_MAX_FRACTION`] of the image.
    Small,
    /// Below [`MEDIUM_MAX_FRACTION`].
    Medium,
    /// The rest.
    Large,
}

impl SizeBucket {
    /// The bucket of an object of `pixels` pixels in an image of `area` pixels.
    pub fn of(pixels: usize, area: usize) -> SizeBucket {
        let f = pixels as f64 / area.max(1) as f64;
        if f < SMALL_MAX_FRACTION {
            SizeBucket::Small
        } else if f < MEDIUM_MAX_FRACTION {
            SizeBucket::Medium
        } else {
            SizeBucket::Large
        }
    }
}

/// The objects of one size bucket and how well a prediction keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BucketScore {
    /// Objects in the bucket.
    pub objects: usize,
    /// Their pixels.
    pub pixels: u64,
    /// Of those, pixels predicted as their object's class.
    pub correct: u64,
    /// `correct / pixels`; `None` (JSON `null`) for an empty bucket.
    pub accuracy: Option<f64>,
}

impl BucketScore {
    fn add(&mut self, pixels: u64, correct: u64) {
        self.objects += 1;
        self.pixels += pixels;
        self.correct += correct;
        self.accuracy = Some(self.correct as f64 / self.pixels as f64);
    }

    /// Add the objects of `other` (the same as adding its images here).
    fn merge(&mut self, other: &BucketScore) {
        self.objects += other.objects;
        self.pixels += other.pixels;
        self.correct += other.correct;
        self.accuracy = (self.objects > 0).then(|| self.correct as f64 / self.pixels as f64);
    }
}

/// Accuracy by object size (see the module documentation), accumulated over images.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SizeAccuracy {
    /// Objects below 0.33 % of the image.
    pub small: BucketScore,
    /// Objects from 0.33 % to 3 %.
    pub medium: BucketScore,
    /// Objects of 3 % and more.
    pub large: BucketScore,
}

impl SizeAccuracy {
    /// Add one image: `pred` against the objects of `reference` (a prediction of another size
    /// is nearest-resized to the reference size first, as [`super::compare_maps`] does).
    pub fn add(&mut self, pred: &ClassMap, reference: &ClassMap) -> Result<()> {
        let resized;
        let p: &[u8] = if (pred.width, pred.height) == (reference.width, reference.height) {
            &pred.data
        } else {
            resized = nearest_resize_map(&pred.data, pred.width, pred.height, reference.width, reference.height)?;
            &resized
        };
        if p.len() != reference.data.len() {
            return Err(Error::Shape(format!("a prediction of {} pixels for a reference of {}", p.len(), reference.data.len())));
        }
        let area = reference.data.len();
        for c in components(reference) {
            let correct = c.pixels.iter().filter(|&&i| p[i] == c.class).count() as u64;
            let bucket = match SizeBucket::of(c.pixels.len(), area) {
                SizeBucket::Small => &mut self.small,
                SizeBucket::Medium => &mut self.medium,
                SizeBucket::Large => &mut self.large,
            };
            bucket.add(c.pixels.len() as u64, correct);
        }
        Ok(())
    }
}

impl SizeAccuracy {
    /// Add the objects of `other` (accumulated over other images): the same counts and
    /// accuracies as adding all the images to one.
    pub fn merge(&mut self, other: &SizeAccuracy) {
        self.small.merge(&other.small);
        self.medium.merge(&other.medium);
        self.large.merge(&other.large);
    }
}

/// Accuracy by object size of `preds` against `refs` (same count and order), pooled over the
/// images.
pub fn accuracy_by_size(preds: &[ClassMap], refs: &[ClassMap]) -> Result<SizeAccuracy> {
    if preds.len() != refs.len() {
        return Err(Error::Shape(format!("{} predicted maps but {} reference maps", preds.len(), refs.len())));
    }
    let mut acc = SizeAccuracy::default();
    for (p, r) in preds.iter().zip(refs) {
        acc.add(p, r)?;
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(w: usize, h: usize, data: Vec<u8>) -> ClassMap {
        ClassMap { width: w, height: h, data }
    }

    #[test]
    fn components_are_4_connected_per_class_and_skip_void() {
        // 1 1 0
        // 0 1 0      class 1: one object of 3; class 0: one of 2 (right column) and four
        // 2 0 2      single pixels; class 2: three single pixels (only diagonal neighbours);
        // 0 2 255    void belongs to no object
        let m = map(3, 4, vec![1, 1, 0, 0, 1, 0, 2, 0, 2, 0, 2, VOID]);
        let c = components(&m);
        let sizes: Vec<(u8, usize)> = c.iter().map(|c| (c.class, c.pixels.len())).collect();
        assert_eq!(sizes, vec![(1, 3), (0, 2), (0, 1), (2, 1), (0, 1), (2, 1), (0, 1), (2, 1)]);
        assert_eq!(c.iter().map(|c| c.pixels.len()).sum::<usize>(), 11);
    }

    #[test]
    fn buckets_follow_cocos_limits_as_fractions() {
        let area = 640 * 480;
        assert_eq!(SizeBucket::of(1023, area), SizeBucket::Small);
        assert_eq!(SizeBucket::of(1024, area), SizeBucket::Medium);
        assert_eq!(SizeBucket::of(9215, area), SizeBucket::Medium);
        assert_eq!(SizeBucket::of(9216, area), SizeBucket::Large);
        // scaled to 100×100: small < 33.3 pixels, medium < 300
        assert_eq!(SizeBucket::of(33, 10_000), SizeBucket::Small);
        assert_eq!(SizeBucket::of(34, 10_000), SizeBucket::Medium);
        assert_eq!(SizeBucket::of(300, 10_000), SizeBucket::Large);
    }

    #[test]
    fn accuracy_per_bucket_pools_pixels_and_resizes() {
        // 100×100 reference: background 0, a 5×5 class-1 square (25 px: small), a 10×10 class-2
        // square (100 px: medium); the rest (9875 px) large
        let mut r = vec![0u8; 10_000];
        for y in 0..5 {
            for x in 0..5 {
                r[y * 100 + x] = 1;
            }
        }
        for y in 50..60 {
            for x in 50..60 {
                r[y * 100 + x] = 2;
            }
        }
        let reference = map(100, 100, r.clone());
        // prediction: the small square lost entirely, half the medium one kept
        let mut p = r.clone();
        for v in p.iter_mut().take(500).filter(|v| **v == 1) {
            *v = 0;
        }
        for y in 50..55 {
            for x in 50..60 {
                p[y * 100 + x] = 0;
            }
        }
        let a = accuracy_by_size(&[map(100, 100, p.clone())], std::slice::from_ref(&reference)).unwrap();
        assert_eq!((a.small.objects, a.small.pixels, a.small.correct, a.small.accuracy), (1, 25, 0, Some(0.0)));
        assert_eq!((a.medium.objects, a.medium.accuracy), (1, Some(0.5)));
        assert_eq!((a.large.objects, a.large.pixels, a.large.accuracy), (1, 9875, Some(1.0)));
        // two images pool; an empty bucket is null in JSON
        let b = accuracy_by_size(&[map(100, 100, p), map(2, 1, vec![0, 0])], &[reference, map(2, 1, vec![0, 0])]).unwrap();
        assert_eq!((b.large.objects, b.large.pixels), (2, 9877));
        // merging per-image parts gives the pooled counts and accuracies
        let mut m = SizeAccuracy::default();
        m.merge(&a);
        m.merge(&accuracy_by_size(&[map(2, 1, vec![0, 0])], &[map(2, 1, vec![0, 0])]).unwrap());
        assert_eq!(m, b);
        let j = serde_json::to_value(SizeAccuracy::default()).unwrap();
        assert!(j["small"]["accuracy"].is_null(), "{j}");
        // a prediction at half size is resized to the reference
        let half = accuracy_by_size(&[map(1, 1, vec![3])], &[map(2, 2, vec![3, 3, 3, VOID])]).unwrap();
        assert_eq!(half.large.accuracy, Some(1.0));
        assert!(accuracy_by_size(&[], &[map(1, 1, vec![0])]).is_err());
    }
}
