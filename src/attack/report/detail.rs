//! The per-class and per-size part of an [`super::AttackReport`]: for one image and for the
//! batch, the IoU of every class and the accuracy on small, medium and large objects
//! ([`crate::metrics::MapDetail`]) of the clean prediction and of the 8-bit adversarial image
//! (what the saved PNG holds and the page shows), against each reference the report has.

use serde::Serialize;

use crate::attack::report::attack_report::References;
use crate::data::ClassMap;
use crate::error::Result;
use crate::metrics::MapDetail;

/// One prediction's detail against each reference (absent where the reference is).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetailScores {
    /// Against the clean prediction (adversarial images only).
    pub vs_clean: Option<MapDetail>,
    /// Against the target map (targeted goals).
    pub vs_target: Option<MapDetail>,
    /// Against ground truth (images that have it).
    pub vs_ground_truth: Option<MapDetail>,
}

/// Per-class IoU and accuracy by object size of the clean and the 8-bit adversarial prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDetail {
    /// The clean prediction.
    pub clean: DetailScores,
    /// The 8-bit adversarial image(s).
    pub adversarial: DetailScores,
}

/// `maps[i]` against `refs[i]` for the images `keep`, pooled (`None` when `keep` is empty).
fn pooled(maps: &[ClassMap], refs: &[ClassMap], keep: &[usize], k: usize) -> Result<Option<MapDetail>> {
    if keep.is_empty() {
        return Ok(None);
    }
    let p: Vec<ClassMap> = keep.iter().map(|&i| maps[i].clone()).collect();
    let r: Vec<ClassMap> = keep.iter().map(|&i| refs[i].clone()).collect();
    MapDetail::of(&p, &r, k).map(Some)
}

/// The detail of `maps` for the images `keep` (all, or one) against every reference.
fn scores(refs: &References<'_>, maps: &[ClassMap], keep: &[usize], vs_clean: bool) -> Result<DetailScores> {
    let k = refs.num_classes;
    let with_gt: Vec<usize> = keep.iter().copied().filter(|&i| refs.ground_truth.get(i).is_some_and(Option::is_some)).collect();
    let gts: Vec<ClassMap> = (0..maps.len())
        .map(|i| refs.ground_truth.get(i).cloned().flatten().unwrap_or_else(|| maps[i].clone()))
        .collect();
    Ok(DetailScores {
        vs_clean: if vs_clean { pooled(maps, refs.clean, keep, k)? } else { None },
        vs_target: match refs.targets {
            Some(t) => pooled(maps, t, keep, k)?,
            None => None,
        },
        vs_ground_truth: pooled(maps, &gts, &with_gt, k)?,
    })
}

/// The detail of image `i`, whose 8-bit adversarial maps are `adversarial`.
pub(crate) fn detail_one(refs: &References<'_>, adversarial: &[ClassMap], i: usize) -> Result<ReportDetail> {
    Ok(ReportDetail { clean: scores(refs, refs.clean, &[i], false)?, adversarial: scores(refs, adversarial, &[i], true)? })
}

/// The detail of the whole batch (one confusion matrix and one set of objects over all images;
/// ground truth over the images that have it).
pub(crate) fn detail_all(refs: &References<'_>, adversarial: &[ClassMap]) -> Result<ReportDetail> {
    let all: Vec<usize> = (0..adversarial.len()).collect();
    Ok(ReportDetail { clean: scores(refs, refs.clean, &all, false)?, adversarial: scores(refs, adversarial, &all, true)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::VOID;

    fn map(data: Vec<u8>) -> ClassMap {
        ClassMap { width: 2, height: 2, data }
    }

    #[test]
    fn detail_per_image_and_pooled_follows_the_references() {
        let clean = [map(vec![0, 0, 1, 1]), map(vec![1, 1, 1, 1])];
        let adv = [map(vec![0, 1, 1, 1]), map(vec![0, 0, 0, 0])];
        let gt = [Some(map(vec![0, 0, 1, VOID])), None];
        let refs = References { clean: &clean, targets: None, ground_truth: &gt, num_classes: 2 };
        let one = detail_one(&refs, &adv, 0).unwrap();
        assert!(one.clean.vs_clean.is_none() && one.clean.vs_target.is_none());
        // clean vs gt: class 0 tp 2, class 1 tp 1 → IoU 1 each
        assert_eq!(one.clean.vs_ground_truth.as_ref().unwrap().per_class_iou, vec![Some(1.0), Some(1.0)]);
        // adversarial vs clean: class 0 tp 1 fn 1 → 1/2; class 1 tp 2 fp 1 → 2/3
        assert_eq!(one.adversarial.vs_clean.as_ref().unwrap().per_class_iou, vec![Some(0.5), Some(2.0 / 3.0)]);
        assert!(detail_one(&refs, &adv, 1).unwrap().adversarial.vs_ground_truth.is_none());
        let all = detail_all(&refs, &adv).unwrap();
        // pooled vs clean: class 0 tp 1, fn 1, fp 4 → 1/6
        assert_eq!(all.adversarial.vs_clean.as_ref().unwrap().per_class_iou[0], Some(1.0 / 6.0));
        // ground truth pools the first image only: one object of class 0 (2 px), one of class 1
        let by_size = all.adversarial.vs_ground_truth.unwrap().by_size;
        assert_eq!((by_size.large.objects, by_size.large.pixels, by_size.large.correct), (2, 3, 2));
        let t = [map(vec![1, 1, 1, 1]), map(vec![1, 1, 1, 1])];
        let refs = References { targets: Some(&t), ..refs };
        assert_eq!(detail_one(&refs, &adv, 1).unwrap().adversarial.vs_target.unwrap().by_size.large.accuracy, Some(0.0));
    }
}
