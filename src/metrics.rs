//! Semantic-segmentation and perturbation metrics.
//!
//! Class maps are `u8` per pixel, row-major. In ground-truth maps the value [`VOID`] (255) marks
//! unlabelled pixels, which every metric ignores. Perturbation metrics compare two `f32` images
//! whose values are in `[0, 1]` (any layout, as long as both slices use the same one).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The "void" / "ignore" label of ground-truth maps (Pascal VOC convention).
pub const VOID: u8 = 255;

/// Confusion matrix of a semantic segmentation: rows are ground-truth classes, columns predictions.
///
/// Layout of [`ConfusionMatrix::counts`]: `n_classes` rows of `n_classes + 1` columns, row-major.
/// Entry `(g, p)` for `p < n_classes` counts labelled pixels of ground-truth class `g` predicted as
/// class `p`. The extra last column (`p == n_classes`) counts pixels of class `g` for which the
/// prediction was the void value 255: such a prediction never matches, so it lowers the pixel
/// accuracy and is a false negative of class `g`, but it is nobody's false positive.
/// Ground-truth void pixels (255) are not counted at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    n_classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero confusion matrix for classes `0..n_classes`.
    pub fn new(n_classes: usize) -> Self {
        ConfusionMatrix {
            n_classes,
            counts: vec![0; n_classes * (n_classes + 1)],
        }
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The raw counts: `n_classes` rows (ground truth) of `n_classes + 1` columns (prediction;
    /// the last column counts void predictions), row-major.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Count of labelled pixels with ground truth `gt` predicted as `pred`; `pred == n_classes`
    /// selects the void-prediction column. Out-of-range indices give 0.
    pub fn count(&self, gt: usize, pred: usize) -> u64 {
        if gt >= self.n_classes || pred > self.n_classes {
            return 0;
        }
        self.counts[gt * (self.n_classes + 1) + pred]
    }

    /// Accumulate one image: `gt` and `pred` are class maps of the same length (row-major).
    ///
    /// Ground-truth pixels equal to 255 are ignored. A prediction of 255 counts as wrong (see the
    /// type's documentation). Any other value `>= n_classes`, in either map, is an error
    /// ([`Error::InvalidArgument`]), as is a length mismatch ([`Error::Shape`]). On error the matrix
    /// is left unchanged.
    pub fn add(&mut self, gt: &[u8], pred: &[u8]) -> Result<()> {
        if gt.len() != pred.len() {
            return Err(Error::Shape(format!(
                "ground truth has {} pixels but prediction has {}",
                gt.len(),
                pred.len()
            )));
        }
        let n = self.n_classes;
        // Validate first so that an error leaves the matrix untouched.
        for (i, (&g, &p)) in gt.iter().zip(pred).enumerate() {
            if g != VOID && usize::from(g) >= n {
                return Err(Error::InvalidArgument(format!(
                    "ground-truth value {g} at pixel {i} is not a class (n_classes = {n}) nor the void label 255"
                )));
            }
            if p != VOID && usize::from(p) >= n {
                return Err(Error::InvalidArgument(format!(
                    "predicted value {p} at pixel {i} is not a class (n_classes = {n}) nor the void label 255"
                )));
            }
        }
        let cols = n + 1;
        for (&g, &p) in gt.iter().zip(pred) {
            if g == VOID {
                continue;
            }
            let col = if p == VOID { n } else { usize::from(p) };
            self.counts[usize::from(g) * cols + col] += 1;
        }
        Ok(())
    }

    /// Add the counts of `other` (which must have the same number of classes, else
    /// [`Error::Shape`]).
    pub fn merge(&mut self, other: &ConfusionMatrix) -> Result<()> {
        if other.n_classes != self.n_classes {
            return Err(Error::Shape(format!(
                "cannot merge a confusion matrix of {} classes into one of {} classes",
                other.n_classes, self.n_classes
            )));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += *b;
        }
        Ok(())
    }

    /// Number of labelled (non-void ground truth) pixels accumulated so far.
    pub fn n_labelled(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Intersection over union of every class: `TP / (TP + FP + FN)`, or `None` for a class that
    /// appears neither in the ground truth nor in the predictions (union 0).
    pub fn iou_per_class(&self) -> Vec<Option<f64>> {
        let n = self.n_classes;
        let cols = n + 1;
        (0..n)
            .map(|c| {
                let tp = self.counts[c * cols + c];
                let row: u64 = self.counts[c * cols..(c + 1) * cols].iter().sum();
                let col: u64 = (0..n).map(|g| self.counts[g * cols + c]).sum();
                let union = row + col - tp;
                if union == 0 {
                    None
                } else {
                    Some(tp as f64 / union as f64)
                }
            })
            .collect()
    }

    /// Mean IoU over the classes whose union is non-zero (a class that is predicted but absent
    /// from the ground truth therefore counts, with IoU 0). Returns 0.0 when no class has a
    /// non-zero union (nothing accumulated), never NaN.
    pub fn miou(&self) -> f64 {
        let ious: Vec<f64> = self.iou_per_class().into_iter().flatten().collect();
        if ious.is_empty() {
            0.0
        } else {
            ious.iter().sum::<f64>() / ious.len() as f64
        }
    }

    /// Fraction of labelled pixels whose prediction equals the ground truth (void predictions
    /// count as wrong). Returns 0.0 when there is no labelled pixel.
    pub fn pixel_accuracy(&self) -> f64 {
        let total = self.n_labelled();
        if total == 0 {
            return 0.0;
        }
        let cols = self.n_classes + 1;
        let correct: u64 = (0..self.n_classes).map(|c| self.counts[c * cols + c]).sum();
        correct as f64 / total as f64
    }
}

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

fn check_same_len(a: &[f32], b: &[f32]) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::Shape(format!(
            "images have different sizes: {} vs {} values",
            a.len(),
            b.len()
        )));
    }
    Ok(())
}

/// L∞ distance `max |a - b|` (0.0 for empty slices). Different lengths give [`Error::Shape`].
pub fn linf(a: &[f32], b: &[f32]) -> Result<f64> {
    check_same_len(a, b)?;
    Ok(a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
        .fold(0.0, f64::max))
}

/// L2 distance: Euclidean norm of `a - b` over all values, in the images' `[0, 1]` units
/// (0.0 for empty slices). Different lengths give [`Error::Shape`].
pub fn l2(a: &[f32], b: &[f32]) -> Result<f64> {
    check_same_len(a, b)?;
    Ok(sum_sq(a, b).sqrt())
}

fn sum_sq(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Peak signal-to-noise ratio in dB with peak 1.0: `10 log10(1 / MSE)`.
///
/// Identical images give `f64::INFINITY`. Different lengths give [`Error::Shape`]; empty slices
/// give [`Error::InvalidArgument`] (the MSE is undefined).
pub fn psnr(a: &[f32], b: &[f32]) -> Result<f64> {
    check_same_len(a, b)?;
    if a.is_empty() {
        return Err(Error::InvalidArgument(
            "psnr of empty images (0 values)".into(),
        ));
    }
    let mse = sum_sq(a, b) / a.len() as f64;
    Ok(if mse == 0.0 {
        f64::INFINITY
    } else {
        -10.0 * mse.log10()
    })
}

/// Source index of every destination index for a nearest-neighbour resize from `src` to `dst`
/// samples, computed exactly like Pillow's `Image.resize(..., NEAREST)` (its affine "scale" path):
/// the sampling position starts at `0.5 * src / dst` and advances by `src / dst` (f64 running
/// sum), and the index is its integer part, clamped to `src - 1`. Mathematically this is
/// `floor((i + 0.5) * src / dst)`. `src` and `dst` must be non-zero (the callers check).
pub(crate) fn nearest_source_indices(src: usize, dst: usize) -> Vec<usize> {
    let scale = src as f64 / dst as f64;
    let mut pos = scale * 0.5;
    let last = src.saturating_sub(1);
    let mut out = Vec::with_capacity(dst);
    for _ in 0..dst {
        // `pos` is never negative; `as usize` truncates like Pillow's `(int)` cast.
        out.push((pos as usize).min(last));
        pos += scale;
    }
    out
}

/// Resize a class map (`w x h`, row-major) to `new_w x new_h` with nearest neighbour, the way
/// Pillow's `Image.resize((new_w, new_h), NEAREST)` does: source index
/// `floor((dst + 0.5) * src / dst)`, clamped to `src - 1`. Like Pillow, the position is a running
/// `f64` sum, so where that product is exactly an integer (e.g. 2 → 7 samples, `i = 3`) the
/// index can be one lower than the exact formula, as in Pillow. Used to bring predicted maps to
/// the ground-truth size for evaluation.
///
/// Zero sizes give [`Error::InvalidArgument`]; `map.len() != w * h` gives [`Error::Shape`].
pub fn nearest_resize_map(
    map: &[u8],
    w: usize,
    h: usize,
    new_w: usize,
    new_h: usize,
) -> Result<Vec<u8>> {
    if w == 0 || h == 0 || new_w == 0 || new_h == 0 {
        return Err(Error::InvalidArgument(format!(
            "cannot resize a {w}x{h} map to {new_w}x{new_h}: sizes must be non-zero"
        )));
    }
    let expected = w
        .checked_mul(h)
        .ok_or_else(|| Error::InvalidArgument(format!("map size {w}x{h} overflows")))?;
    if map.len() != expected {
        return Err(Error::Shape(format!(
            "map has {} values but {w}x{h} = {expected} were expected",
            map.len()
        )));
    }
    let xs = nearest_source_indices(w, new_w);
    let ys = nearest_source_indices(h, new_h);
    let mut out = Vec::with_capacity(new_w * new_h);
    for &y in &ys {
        let row = &map[y * w..(y + 1) * w];
        out.extend(xs.iter().map(|&x| row[x]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_two_classes_with_void() {
        // gt:   0 0 1 1 255 1
        // pred: 0 1 1 0   0 1
        let mut cm = ConfusionMatrix::new(2);
        cm.add(&[0, 0, 1, 1, 255, 1], &[0, 1, 1, 0, 0, 1]).unwrap();
        assert_eq!(cm.n_labelled(), 5);
        assert_eq!(cm.count(0, 0), 1);
        assert_eq!(cm.count(0, 1), 1);
        assert_eq!(cm.count(1, 0), 1);
        assert_eq!(cm.count(1, 1), 2);
        assert_eq!(cm.counts(), &[1, 1, 0, 1, 2, 0]);
        // class 0: tp 1, fn 1, fp 1 -> 1/3; class 1: tp 2, fn 1, fp 1 -> 2/4.
        let iou = cm.iou_per_class();
        assert!((iou[0].unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((iou[1].unwrap() - 0.5).abs() < 1e-12);
        assert!((cm.miou() - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert!((cm.pixel_accuracy() - 3.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn void_prediction_is_wrong_and_false_negative_only() {
        let mut cm = ConfusionMatrix::new(2);
        cm.add(&[0, 0, 1, 1], &[0, 255, 1, 1]).unwrap();
        assert_eq!(cm.n_labelled(), 4);
        assert_eq!(cm.count(0, 2), 1);
        assert!((cm.pixel_accuracy() - 0.75).abs() < 1e-12);
        let iou = cm.iou_per_class();
        assert!((iou[0].unwrap() - 0.5).abs() < 1e-12); // tp 1, fn 1 (void), fp 0
        assert_eq!(iou[1], Some(1.0)); // no false positive from the void prediction
    }

    #[test]
    fn absent_class_is_none_and_predicted_absent_counts_zero() {
        let mut cm = ConfusionMatrix::new(4);
        // class 2 never appears anywhere; class 3 is predicted but absent from gt.
        cm.add(&[0, 0, 1, 1], &[0, 0, 1, 3]).unwrap();
        let iou = cm.iou_per_class();
        assert_eq!(iou[0], Some(1.0));
        assert_eq!(iou[1], Some(0.5));
        assert_eq!(iou[2], None);
        assert_eq!(iou[3], Some(0.0));
        assert!((cm.miou() - (1.0 + 0.5 + 0.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn empty_matrix_gives_zero_not_nan() {
        let mut cm = ConfusionMatrix::new(3);
        assert_eq!(cm.miou(), 0.0);
        assert_eq!(cm.pixel_accuracy(), 0.0);
        cm.add(&[255, 255], &[0, 1]).unwrap();
        assert_eq!(cm.n_labelled(), 0);
        assert_eq!(cm.miou(), 0.0);
        assert_eq!(cm.iou_per_class(), vec![None, None, None]);
    }

    #[test]
    fn merge_equals_adding_all() {
        let g1 = [0u8, 1, 2, 255, 1, 1];
        let p1 = [0u8, 2, 2, 1, 1, 255];
        let g2 = [2u8, 2, 0, 0];
        let p2 = [2u8, 0, 0, 1];
        let mut all = ConfusionMatrix::new(3);
        all.add(&g1, &p1).unwrap();
        all.add(&g2, &p2).unwrap();
        let mut a = ConfusionMatrix::new(3);
        a.add(&g1, &p1).unwrap();
        let mut b = ConfusionMatrix::new(3);
        b.add(&g2, &p2).unwrap();
        a.merge(&b).unwrap();
        assert_eq!(a, all);
        let err = a.merge(&ConfusionMatrix::new(4)).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains('4') && m.contains('3')),
            "{err}"
        );
    }

    #[test]
    fn add_errors_quote_values_and_leave_matrix_unchanged() {
        let mut cm = ConfusionMatrix::new(3);
        let err = cm.add(&[0, 1, 2], &[0, 1]).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("3 pixels") && m.contains("2")),
            "{err}"
        );
        let err = cm.add(&[0, 7, 1], &[0, 1, 1]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("value 7")),
            "{err}"
        );
        let err = cm.add(&[0, 1, 1], &[0, 1, 200]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("value 200")),
            "{err}"
        );
        assert_eq!(cm.n_labelled(), 0);
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
    fn perturbation_norms() {
        let a = [0.0f32, 0.5, 1.0, 0.25];
        let b = [0.0f32, 0.25, 1.0, 0.75];
        assert!((linf(&a, &b).unwrap() - 0.5).abs() < 1e-12);
        assert!((l2(&a, &b).unwrap() - (0.0625f64 + 0.25).sqrt()).abs() < 1e-12);
        assert_eq!(linf(&[], &[]).unwrap(), 0.0);
        assert!(matches!(l2(&a, &b[..2]), Err(Error::Shape(m)) if m.contains("4 vs 2")));
        assert!(matches!(linf(&a[..1], &b), Err(Error::Shape(_))));
    }

    #[test]
    fn psnr_known_values() {
        // every difference 0.1 -> MSE 0.01 -> 20 dB
        let a = vec![0.2f32; 300];
        let b = vec![0.3f32; 300];
        let p = psnr(&a, &b).unwrap();
        assert!((p - 20.0).abs() < 1e-4, "{p}");
        // difference 0.5 on a quarter of the values -> MSE 0.0625 -> 12.04 dB
        let c = [0.0f32, 0.0, 0.0, 0.0];
        let d = [0.5f32, 0.0, 0.0, 0.0];
        assert!((psnr(&c, &d).unwrap() - 10.0 * 16f64.log10()).abs() < 1e-9);
        assert_eq!(psnr(&a, &a).unwrap(), f64::INFINITY);
        assert!(matches!(psnr(&[], &[]), Err(Error::InvalidArgument(_))));
        assert!(matches!(psnr(&a, &b[..10]), Err(Error::Shape(m)) if m.contains("300 vs 10")));
    }

    #[test]
    fn nearest_resize_up_and_down() {
        let m = [1u8, 2, 3, 4];
        let up = nearest_resize_map(&m, 2, 2, 4, 4).unwrap();
        assert_eq!(up, vec![1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
        let big: Vec<u8> = (0..16).collect();
        let down = nearest_resize_map(&big, 4, 4, 2, 2).unwrap();
        // source rows/cols floor((i + 0.5) * 2) = 1, 3
        assert_eq!(down, vec![5, 7, 13, 15]);
        // non-square, non-integer: 3x2 -> 2x3: xs = floor((i+.5)*1.5) = 0, 2; ys = floor((j+.5)*2/3) = 0, 1, 1
        let r: Vec<u8> = (0..6).collect();
        assert_eq!(
            nearest_resize_map(&r, 3, 2, 2, 3).unwrap(),
            vec![0, 2, 3, 5, 3, 5]
        );
        // identity
        assert_eq!(nearest_resize_map(&big, 4, 4, 4, 4).unwrap(), big);
    }

    #[test]
    fn nearest_resize_errors() {
        let err = nearest_resize_map(&[0; 5], 2, 2, 4, 4).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("5 values") && m.contains("2x2")),
            "{err}"
        );
        let err = nearest_resize_map(&[0; 4], 2, 2, 0, 4).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("0x4")),
            "{err}"
        );
    }

    #[test]
    fn nearest_indices_follow_formula_except_pillow_ties() {
        let mut ties = 0;
        for src in 1..=70usize {
            for dst in 1..=70usize {
                let idx = nearest_source_indices(src, dst);
                assert_eq!(idx.len(), dst);
                for (i, &s) in idx.iter().enumerate() {
                    // exact rational floor((2i+1) * src / (2 dst))
                    let exact = ((2 * i + 1) * src / (2 * dst)).min(src - 1);
                    if (2 * i + 1) * src % (2 * dst) == 0 {
                        // exact tie: Pillow's running f64 sum may land just below the integer
                        assert!(s == exact || s + 1 == exact, "src {src} dst {dst} i {i}");
                        ties += usize::from(s != exact);
                    } else {
                        assert_eq!(s, exact, "src {src} dst {dst} i {i}");
                    }
                }
            }
        }
        assert!(ties > 0);
        // The known case: 2 -> 7, position 3.5 * 2 / 7 = 1 exactly, but Pillow's running sum
        // 1/7 + 3 * 2/7 is 0.999..., so Pillow samples index 0 there.
        assert_eq!(nearest_source_indices(2, 7), vec![0, 0, 0, 0, 1, 1, 1]);
    }
}
