//! Scores of predicted class maps against reference maps (ground truth, the clean prediction
//! or a target): agreement, mIoU and pixel accuracy, per image or pooled over a batch.

use serde::{Deserialize, Serialize};

use super::confusion::ConfusionMatrix;
use crate::data::{ClassMap, VOID, nearest_resize_map};
use crate::error::{Error, Result};

/// Fraction of pixels on which two class maps agree.
///
/// Pixels where `b == ignore` (when `ignore` is `Some`) are skipped. Returns 0.0 when no pixel is
/// left (empty maps, or every pixel ignored). Different lengths give [`Error::Shape`].
pub fn agreement(a: &[u8], b: &[u8], ignore: Option<u8>) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::Shape(format!(
            "class maps have different sizes: {} vs {} pixels",
            a.len(),
            b.len()
        )));
    }
    let mut total = 0u64;
    let mut same = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        if Some(y) == ignore {
            continue;
        }
        total += 1;
        if x == y {
            same += 1;
        }
    }
    Ok(if total == 0 {
        0.0
    } else {
        same as f64 / total as f64
    })
}

/// Summary of a segmentation evaluation, ready to be written as JSON.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SegMetrics {
    /// Mean IoU (see [`ConfusionMatrix::miou`]).
    pub miou: f64,
    /// Pixel accuracy over labelled pixels (see [`ConfusionMatrix::pixel_accuracy`]).
    pub pixel_accuracy: f64,
    /// Number of images that were accumulated.
    pub n_images: usize,
    /// Number of labelled (non-void) ground-truth pixels.
    pub n_labelled_pixels: u64,
    /// IoU of every class, `None` (JSON `null`) where the class has an empty union.
    pub per_class_iou: Vec<Option<f64>>,
}

impl SegMetrics {
    /// Summarise a confusion matrix accumulated over `n_images` images.
    pub fn from_confusion(cm: &ConfusionMatrix, n_images: usize) -> Self {
        SegMetrics {
            miou: cm.miou(),
            pixel_accuracy: cm.pixel_accuracy(),
            n_images,
            n_labelled_pixels: cm.n_labelled(),
            per_class_iou: cm.iou_per_class(),
        }
    }
}



/// Segmentation metrics of predicted maps against reference maps (ground truth, clean
/// prediction or target); reference pixels equal to [`VOID`] are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MapMetrics {
    /// Mean IoU of one confusion matrix accumulated over all images.
    pub miou: f64,
    /// Pixel accuracy of that pooled confusion matrix.
    pub pixel_accuracy: f64,
    /// Mean over images of the per-image fraction of agreeing (non-void) pixels.
    pub agreement: f64,
}

impl MapMetrics {
    /// One predicted map against one reference map of the same size ([`compare_maps`] of a
    /// single pair, without its resize: different sizes are an [`Error::Shape`]).
    pub fn compare(pred: &ClassMap, reference: &ClassMap, num_classes: usize) -> Result<MapMetrics> {
        if (pred.width, pred.height) != (reference.width, reference.height) {
            return Err(Error::Shape(format!(
                "cannot compare a {}x{} map with a {}x{} map",
                pred.width, pred.height, reference.width, reference.height
            )));
        }
        compare_maps(std::slice::from_ref(pred), std::slice::from_ref(reference), num_classes)
    }
}

/// Compare predicted maps with reference maps, image by image (same order and count).
///
/// A prediction whose size differs from its reference is first resized to the reference size
/// with Pillow's nearest neighbour ([`nearest_resize_map`]), as the evaluation protocol does
/// with ground truth. One confusion matrix over `num_classes` classes accumulates all images;
/// reference pixels equal to [`VOID`] are ignored, void predictions count as wrong.
pub fn compare_maps(preds: &[ClassMap], refs: &[ClassMap], num_classes: usize) -> Result<MapMetrics> {
    if preds.len() != refs.len() {
        return Err(Error::Shape(format!(
            "{} predicted maps but {} reference maps",
            preds.len(),
            refs.len()
        )));
    }
    let mut cm = ConfusionMatrix::new(num_classes);
    let mut agree = 0.0;
    for (p, r) in preds.iter().zip(refs) {
        let resized;
        let pred: &[u8] = if (p.width, p.height) == (r.width, r.height) {
            &p.data
        } else {
            resized = nearest_resize_map(&p.data, p.width, p.height, r.width, r.height)?;
            &resized
        };
        cm.add(&r.data, pred)?;
        agree += agreement(pred, &r.data, Some(VOID))?;
    }
    Ok(MapMetrics {
        miou: cm.miou(),
        pixel_accuracy: cm.pixel_accuracy(),
        agreement: if preds.is_empty() { 0.0 } else { agree / preds.len() as f64 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(w: usize, h: usize, data: Vec<u8>) -> ClassMap {
        ClassMap { width: w, height: h, data }
    }

    #[test]
    fn agreement_with_and_without_ignore() {
        let a = [0u8, 1, 2, 3, 4];
        let b = [0u8, 1, 9, 255, 255];
        assert!((agreement(&a, &b, None).unwrap() - 0.4).abs() < 1e-12);
        assert!((agreement(&a, &b, Some(255)).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(agreement(&[1, 2], &[255, 255], Some(255)).unwrap(), 0.0);
        assert_eq!(agreement(&[], &[], None).unwrap(), 0.0);
        assert!(
            matches!(agreement(&a, &b[..3], None), Err(Error::Shape(m)) if m.contains("5 vs 3"))
        );
    }

    #[test]
    fn seg_metrics_from_confusion_and_json() {
        let mut cm = ConfusionMatrix::new(3);
        cm.add(&[0, 0, 1, 1, 255], &[0, 0, 1, 0, 2]).unwrap();
        let m = SegMetrics::from_confusion(&cm, 1);
        assert_eq!(m.n_images, 1);
        assert_eq!(m.n_labelled_pixels, 4);
        assert_eq!(m.per_class_iou, vec![Some(2.0 / 3.0), Some(0.5), None]);
        assert!((m.miou - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert!((m.pixel_accuracy - 0.75).abs() < 1e-12);
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("null"), "{json}");
        let back: SegMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn compare_maps_pools_and_resizes() {
        let pred = [map(2, 2, vec![0, 1, 1, 1]), map(1, 1, vec![1])];
        // the second prediction is 1×1 and gets resized to the 2×2 reference
        let refs = [map(2, 2, vec![0, 1, 0, VOID]), map(2, 2, vec![1, 1, 0, 0])];
        let m = compare_maps(&pred, &refs, 2).unwrap();
        // image 1: 2 of 3 valid pixels agree; image 2: 2 of 4
        assert!((m.agreement - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert!((m.pixel_accuracy - 4.0 / 7.0).abs() < 1e-12);
        // class 0: tp 1, fn 3 (gt 0 predicted 1), fp 0 → 1/4; class 1: tp 3, fp 3 → 3/6
        assert!((m.miou - (0.25 + 0.5) / 2.0).abs() < 1e-12, "{m:?}");
        assert!(matches!(compare_maps(&pred[..1], &refs, 2), Err(Error::Shape(s)) if s.contains("1 predicted")));
    }

    #[test]
    fn map_score() {
        let a = ClassMap { width: 2, height: 2, data: vec![0, 1, 1, 1] };
        let b = ClassMap { width: 2, height: 2, data: vec![0, 1, 0, 255] };
        let s = MapMetrics::compare(&a, &b, 21).unwrap();
        assert!((s.agreement - 2.0 / 3.0).abs() < 1e-12);
        // class 0: tp 1, fn 1 → 1/2; class 1: tp 1, fp 1 → 1/2
        assert!((s.miou - 0.5).abs() < 1e-12, "{s:?}");
        let c = ClassMap { width: 1, height: 4, data: vec![0; 4] };
        assert!(MapMetrics::compare(&a, &c, 21).is_err());
    }
}
