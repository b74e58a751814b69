//! The confusion matrix of a segmentation and the scores derived from it (IoU, mIoU, pixel
//! accuracy).

use crate::data::VOID;
use crate::error::{Error, Result};

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

    /// A matrix from its raw counts ([`ConfusionMatrix::counts`]'s layout), e.g. read back from a
    /// file; a wrong count of entries is an [`Error::Shape`].
    pub fn from_counts(n_classes: usize, counts: Vec<u64>) -> Result<Self> {
        if counts.len() != n_classes * (n_classes + 1) {
            return Err(Error::Shape(format!(
                "{} counts for a confusion matrix of {n_classes} classes (expected {})",
                counts.len(),
                n_classes * (n_classes + 1)
            )));
        }
        Ok(ConfusionMatrix { n_classes, counts })
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
        assert_eq!(ConfusionMatrix::from_counts(3, a.counts().to_vec()).unwrap(), a);
        assert!(ConfusionMatrix::from_counts(3, vec![0; 9]).unwrap_err().to_string().contains("9 counts"));
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

}
