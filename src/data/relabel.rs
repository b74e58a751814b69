//! Ground truth of one dataset for a model of another: VOC or Cityscapes label maps become
//! person/background maps for the person segmenters ([`Dataset::Selfie`]) by class name
//! (`person`, and Cityscapes' `rider`, → person; every other class → background; void stays
//! void). Other pairs are left as they are (the experiment checks catch real mismatches).

use std::path::Path;

use super::class_map::{ClassMap, VOID};
use super::dataset::Dataset;
use super::folder::CITY_LABEL;

/// The dataset whose classes a label file holds, from its name: Cityscapes' train ids
/// (`…_gtFine_labelTrainIds.png`) or VOC's (`NAME_label.png`, anything else).
pub fn labels_dataset(label_file: &Path) -> Dataset {
    let name = label_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.contains(CITY_LABEL) || name.contains("_gtFine_") { Dataset::Cityscapes } else { Dataset::Voc }
}

/// `map` (classes of `from`) in the classes of `to`.
pub fn relabel(map: ClassMap, from: Dataset, to: Dataset) -> ClassMap {
    if from == to || to != Dataset::Selfie {
        return map;
    }
    let names = from.classes();
    let person: Vec<bool> = names.iter().map(|n| *n == "person" || *n == "rider").collect();
    let data = map
        .data
        .iter()
        .map(|&c| if c == VOID { VOID } else { u8::from(person.get(usize::from(c)).copied().unwrap_or(false)) })
        .collect();
    ClassMap { data, ..map }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voc_and_cityscapes_people_become_person() {
        let m = ClassMap { width: 4, height: 1, data: vec![0, 15, 8, VOID] };
        assert_eq!(relabel(m.clone(), Dataset::Voc, Dataset::Selfie).data, [0, 1, 0, VOID]);
        assert_eq!(relabel(m.clone(), Dataset::Voc, Dataset::Voc).data, m.data);
        let c = ClassMap { width: 3, height: 1, data: vec![11, 12, 13] };
        assert_eq!(relabel(c, Dataset::Cityscapes, Dataset::Selfie).data, [1, 1, 0]);
        assert_eq!(labels_dataset(Path::new("d/294_label.png")), Dataset::Voc);
        assert_eq!(labels_dataset(Path::new("d/frankfurt_1_gtFine_labelTrainIds.png")), Dataset::Cityscapes);
    }
}
