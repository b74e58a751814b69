//! The datasets the models were trained on: class names, palettes and the void colour.

/// The dataset a model was trained on (decides classes and palette).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// PASCAL VOC 2012: 21 classes.
    Voc,
    /// Cityscapes: 19 train ids (+ the untrained output 19, treated as void).
    Cityscapes,
    /// Person vs background (MediaPipe's selfie segmenter): 2 classes.
    Selfie,
}

/// Classes of the person/background models.
pub const SELFIE_CLASSES: [&str; 2] = ["background", "person"];

/// Their colours: black background, VOC's person colour.
pub const SELFIE_PALETTE: [[u8; 3]; 2] = [[0, 0, 0], [192, 128, 128]];

/// VOC class names in output order.
pub const VOC_CLASSES: [&str; 21] = [
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
];

/// Cityscapes train-id names.
pub const CITYSCAPES_CLASSES: [&str; 19] = [
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
];

/// Cityscapes colours (from the dataset's `labels.py`).
pub const CITYSCAPES_PALETTE: [[u8; 3]; 19] = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153],
    [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
    [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
];

/// Colour of void / ignored pixels (label 255), as in the VOC palette (its entry 255).
pub const VOID_COLOUR: [u8; 3] = [224, 224, 192];

/// The standard VOC colour of class `c` (bit-interleaved colormap).
pub fn voc_colour(class: u8) -> [u8; 3] {
    let mut c = class;
    let (mut r, mut g, mut b) = (0u8, 0u8, 0u8);
    for j in 0..8 {
        r |= (c & 1) << (7 - j);
        g |= ((c >> 1) & 1) << (7 - j);
        b |= ((c >> 2) & 1) << (7 - j);
        c >>= 3;
    }
    [r, g, b]
}

impl Dataset {
    /// Class names (evaluated classes only: 19 for Cityscapes).
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            Dataset::Voc => &VOC_CLASSES,
            Dataset::Cityscapes => &CITYSCAPES_CLASSES,
            Dataset::Selfie => &SELFIE_CLASSES,
        }
    }

    /// Its lower-case name (as in experiment files): `voc`, `cityscapes`, `selfie`.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Voc => "voc",
            Dataset::Cityscapes => "cityscapes",
            Dataset::Selfie => "selfie",
        }
    }

    /// Its name in prose: `VOC`, `Cityscapes`, `person/background`.
    pub fn title(self) -> &'static str {
        match self {
            Dataset::Voc => "VOC",
            Dataset::Cityscapes => "Cityscapes",
            Dataset::Selfie => "person/background",
        }
    }

    /// Number of evaluated classes.
    pub fn num_classes(self) -> usize {
        self.classes().len()
    }

    /// One colour per class.
    pub fn palette(self) -> Vec<[u8; 3]> {
        match self {
            Dataset::Voc => (0..21u8).map(voc_colour).collect(),
            Dataset::Cityscapes => CITYSCAPES_PALETTE.to_vec(),
            Dataset::Selfie => SELFIE_PALETTE.to_vec(),
        }
    }
}

/// 255 = void = [`VOID_COLOUR`]).
pub fn voc_palette() -> Vec<[u8; 3]> {
    (0..=255u8).map(voc_colour).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voc_palette_matches_models_md() {
        assert_eq!(voc_colour(0), [0, 0, 0]);
        assert_eq!(voc_colour(1), [128, 0, 0]);
        assert_eq!(voc_colour(7), [128, 128, 128]);
        assert_eq!(voc_colour(15), [192, 128, 128]);
        assert_eq!(voc_colour(20), [0, 64, 128]);
        assert_eq!(voc_colour(255), VOID_COLOUR);
        assert_eq!(Dataset::Selfie.palette()[1], voc_colour(15));
        assert_eq!(Dataset::Selfie.classes(), ["background", "person"]);
    }

}
