//! The per-image and per-class part of an experiment's results: each image's scores against
//! its ground truth, and the IoU per class and accuracy by object size of a set of maps.

use super::items::Item;
use super::result::ImageScore;
use crate::data::ClassMap;
use crate::error::Result;
use crate::metrics::{MapDetail, compare_maps};

/// Each image's mIoU and pixel accuracy against its ground truth, and its agreement with its
/// target map (`targets`, where given; none for the image `skip`).
pub(crate) fn image_scores(
    maps: &[ClassMap],
    items: &[Item],
    targets: Option<&[ClassMap]>,
    skip: Option<usize>,
    k: usize,
) -> Result<Vec<ImageScore>> {
    let one = |a: &ClassMap, b: &ClassMap| compare_maps(std::slice::from_ref(a), std::slice::from_ref(b), k);
    maps.iter()
        .zip(items)
        .enumerate()
        .map(|(i, (m, it))| {
            let gt = one(m, &it.gt)?;
            let target_agreement = match targets {
                Some(t) if Some(i) != skip => Some(one(m, &t[i])?.agreement),
                _ => None,
            };
            Ok(ImageScore { image: it.name.clone(), miou: gt.miou, pixel_accuracy: gt.pixel_accuracy, target_agreement })
        })
        .collect()
}

/// IoU per class and accuracy by object size of `maps` against the ground truth of `items`.
pub(crate) fn detail(maps: &[ClassMap], items: &[Item], k: usize) -> Result<MapDetail> {
    let gts: Vec<ClassMap> = items.iter().map(|it| it.gt.clone()).collect();
    MapDetail::of(maps, &gts, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, gt: Vec<u8>) -> Item {
        Item { name: name.into(), image: image::RgbImage::new(2, 1), gt: ClassMap { width: 2, height: 1, data: gt }, labels: crate::data::Dataset::Voc }
    }

    #[test]
    fn per_image_scores_and_detail() {
        let items = [item("a", vec![0, 1]), item("b", vec![1, 1])];
        let maps = [ClassMap { width: 2, height: 1, data: vec![0, 0] }, ClassMap { width: 2, height: 1, data: vec![1, 1] }];
        let targets = vec![ClassMap { width: 2, height: 1, data: vec![0, 0] }; 2];
        let s = image_scores(&maps, &items, Some(&targets), Some(1), 2).unwrap();
        assert_eq!((s[0].image.as_str(), s[0].pixel_accuracy, s[0].target_agreement), ("a", 0.5, Some(1.0)));
        assert_eq!((s[1].miou, s[1].pixel_accuracy, s[1].target_agreement), (1.0, 1.0, None));
        let d = detail(&maps, &items, 2).unwrap();
        // class 0: tp 1, fp 1 → 1/2; class 1: tp 2, fn 1 → 2/3
        assert_eq!(d.per_class_iou, vec![Some(0.5), Some(2.0 / 3.0)]);
        assert_eq!(d.by_size.large.objects, 3);
    }
}
