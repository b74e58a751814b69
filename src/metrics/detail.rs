//! Per-class and per-size detail of predicted maps against reference maps: the IoU of every
//! class and the accuracy by object size ([`super::object_size`]), for one image or a batch.

use serde::{Deserialize, Serialize};

use super::confusion::ConfusionMatrix;
use super::object_size::{SizeAccuracy, accuracy_by_size};
use crate::data::{ClassMap, nearest_resize_map};
use crate::error::{Error, Result};

/// IoU per class and accuracy by object size of some maps against their references.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MapDetail {
    /// IoU of every class (index = class) over one confusion matrix of all the maps; `None`
    /// (JSON `null`) where the class is neither in the references nor in the predictions.
    pub per_class_iou: Vec<Option<f64>>,
    /// Accuracy on the small, medium and large objects of the references.
    pub by_size: SizeAccuracy,
}

/// The IoU of every class of `preds` against `refs` (same count and order; a prediction of
/// another size is nearest-resized to its reference), pooled into one confusion matrix of
/// `num_classes` classes; void reference pixels are ignored.
pub fn per_class_iou(preds: &[ClassMap], refs: &[ClassMap], num_classes: usize) -> Result<Vec<Option<f64>>> {
    if preds.len() != refs.len() {
        return Err(Error::Shape(format!("{} predicted maps but {} reference maps", preds.len(), refs.len())));
    }
    let mut cm = ConfusionMatrix::new(num_classes);
    for (p, r) in preds.iter().zip(refs) {
        if (p.width, p.height) == (r.width, r.height) {
            cm.add(&r.data, &p.data)?;
        } else {
            cm.add(&r.data, &nearest_resize_map(&p.data, p.width, p.height, r.width, r.height)?)?;
        }
    }
    Ok(cm.iou_per_class())
}

impl MapDetail {
    /// The detail of `preds` against `refs`, pooled over the maps.
    pub fn of(preds: &[ClassMap], refs: &[ClassMap], num_classes: usize) -> Result<MapDetail> {
        Ok(MapDetail { per_class_iou: per_class_iou(preds, refs, num_classes)?, by_size: accuracy_by_size(preds, refs)? })
    }

    /// The detail of one map against its reference.
    pub fn one(pred: &ClassMap, reference: &ClassMap, num_classes: usize) -> Result<MapDetail> {
        MapDetail::of(std::slice::from_ref(pred), std::slice::from_ref(reference), num_classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::VOID;
    use crate::metrics::compare_maps;

    fn map(w: usize, h: usize, data: Vec<u8>) -> ClassMap {
        ClassMap { width: w, height: h, data }
    }

    #[test]
    fn per_class_iou_pools_resizes_and_matches_miou() {
        let preds = [map(2, 2, vec![0, 1, 1, 1]), map(1, 1, vec![1])];
        let refs = [map(2, 2, vec![0, 1, 0, VOID]), map(2, 2, vec![1, 1, 0, 0])];
        let iou = per_class_iou(&preds, &refs, 3).unwrap();
        // class 0: tp 1, fn 3 → 1/4; class 1: tp 3, fp 3 → 1/2; class 2 absent
        assert_eq!(iou, vec![Some(0.25), Some(0.5), None]);
        let miou = compare_maps(&preds, &refs, 3).unwrap().miou;
        let mean = iou.iter().flatten().sum::<f64>() / 2.0;
        assert!((mean - miou).abs() < 1e-12);
        assert!(per_class_iou(&preds[..1], &refs, 3).is_err());
    }

    #[test]
    fn detail_of_one_map_and_json() {
        let d = MapDetail::one(&map(2, 1, vec![0, 0]), &map(2, 1, vec![0, 1]), 2).unwrap();
        assert_eq!(d.per_class_iou, vec![Some(0.5), Some(0.0)]);
        // two one-pixel objects of 50 % of the image each: large; one kept
        assert_eq!((d.by_size.large.objects, d.by_size.large.accuracy), (2, Some(0.5)));
        let back: MapDetail = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }
}
