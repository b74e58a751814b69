//! The model zoo: names → architecture, weights file, classes, palette and input rules.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::onnx::registry;


/// Which network builder a model uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arch {
    /// ESPNetv2 with width multiplier `s`.
    EspNetV2 {
        /// Width multiplier.
        s: f32,
    },
    /// DeepLabV3-MobileNetV2 (257×257 only).
    DeepLabV3MobileNetV2,
    /// MediaPipe selfie segmentation, loaded from its `.tflite` (fixed input size).
    Selfie,
    /// An ONNX network loaded at run time ([`crate::model::onnx`]).
    Onnx,
}

/// Which input sizes a model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// Each of H and W ≡ 0 or 15 (mod 16).
    Mod16,
    /// Exactly this width × height.
    Fixed(usize, usize),
    /// Each of H and W a multiple of this (an ONNX graph of free size).
    Multiple(usize),
}

/// Classes and colours of a model loaded at run time (an ONNX network's own), kept for the
/// life of the process.
#[derive(Debug)]
pub struct Labels {
    /// Evaluated classes.
    pub classes: &'static [&'static str],
    /// One colour per class.
    pub palette: &'static [[u8; 3]],
    /// The classes are those of [`ModelSpec::dataset`] (else the network's own).
    pub from_dataset: bool,
}

/// Everything the rest of the crate needs to know about one pretrained model.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// Zoo name, e.g. `espnetv2-voc`.
    pub name: &'static str,
    /// One-line description.
    pub title: &'static str,
    /// Network architecture.
    pub arch: Arch,
    /// Training dataset.
    pub dataset: Dataset,
    /// Weights file in `weights/`.
    pub weights_file: &'static str,
    /// Network output channels (20 for the Cityscapes models, whose last one is untrained).
    pub num_outputs: usize,
    /// Native input size (width, height).
    pub native_size: (usize, usize),
    /// Valid input sizes.
    pub size_rule: SizeRule,
    /// Run-time models: their own classes and palette (else the dataset's).
    pub labels: Option<&'static Labels>,
}

const fn espnetv2(
    name: &'static str,
    title: &'static str,
    s: f32,
    dataset: Dataset,
    weights_file: &'static str,
) -> ModelSpec {
    let (num_outputs, native_size) = match dataset {
        Dataset::Voc => (21, (384, 384)),
        Dataset::Cityscapes => (20, (1024, 512)),
        Dataset::Selfie => (2, (256, 256)),
    };
    ModelSpec {
        name,
        title,
        arch: Arch::EspNetV2 { s },
        dataset,
        weights_file,
        num_outputs,
        native_size,
        size_rule: SizeRule::Mod16,
        labels: None,
    }
}

/// All models of the zoo; the first of each dataset is its default.
pub const MODELS: &[ModelSpec] = &[
    espnetv2(
        "espnetv2-voc",
        "ESPNetv2 s=2.0, PASCAL VOC (21 classes), 384×384",
        2.0,
        Dataset::Voc,
        "espnetv2_s_2.0_pascal_384x384.safetensors",
    ),
    espnetv2(
        "espnetv2-voc-s1.0",
        "ESPNetv2 s=1.0, PASCAL VOC (21 classes), 384×384",
        1.0,
        Dataset::Voc,
        "espnetv2_s_1.0_pascal_384x384.safetensors",
    ),
    espnetv2(
        "espnetv2-voc-s0.5",
        "ESPNetv2 s=0.5, PASCAL VOC (21 classes), 384×384",
        0.5,
        Dataset::Voc,
        "espnetv2_s_0.5_pascal_384x384.safetensors",
    ),
    ModelSpec {
        name: "deeplabv3-mnv2-voc",
        title: "DeepLabV3-MobileNetV2 (TFLite hosted model), PASCAL VOC (21 classes), 257×257",
        arch: Arch::DeepLabV3MobileNetV2,
        dataset: Dataset::Voc,
        weights_file: "deeplabv3_mnv2_257_voc.safetensors",
        num_outputs: 21,
        native_size: (257, 257),
        size_rule: SizeRule::Fixed(257, 257),
        labels: None,
    },
    ModelSpec {
        name: "selfie",
        title: "MediaPipe selfie segmentation (general), person vs background, 256×256",
        arch: Arch::Selfie,
        dataset: Dataset::Selfie,
        weights_file: "selfie_segmentation.tflite",
        num_outputs: 2,
        native_size: (256, 256),
        size_rule: SizeRule::Fixed(256, 256),
        labels: None,
    },
    ModelSpec {
        name: "selfie-landscape",
        title: "MediaPipe selfie segmentation (landscape), person vs background, 256×144 (W×H)",
        arch: Arch::Selfie,
        dataset: Dataset::Selfie,
        weights_file: "selfie_segmentation_landscape.tflite",
        num_outputs: 2,
        native_size: (256, 144),
        size_rule: SizeRule::Fixed(256, 144),
        labels: None,
    },
    espnetv2(
        "espnetv2-city",
        "ESPNetv2 s=2.0, Cityscapes (19 classes), 1024×512",
        2.0,
        Dataset::Cityscapes,
        "espnetv2_s_2.0_city_1024x512.safetensors",
    ),
    espnetv2(
        "espnetv2-city-s1.0",
        "ESPNetv2 s=1.0, Cityscapes (19 classes), 1024×512",
        1.0,
        Dataset::Cityscapes,
        "espnetv2_s_1.0_city_1024x512.safetensors",
    ),
    espnetv2(
        "espnetv2-city-s0.5",
        "ESPNetv2 s=0.5, Cityscapes (19 classes), 1024×512",
        0.5,
        Dataset::Cityscapes,
        "espnetv2_s_0.5_city_1024x512.safetensors",
    ),
];

/// Look a model up by name: a zoo model, an ONNX model registered at run time, or (natively)
/// the path of an `.onnx` file, loaded and registered on first use.
pub fn spec(name: &str) -> Result<&'static ModelSpec> {
    if let Some(m) = MODELS.iter().find(|m| m.name == name) {
        return Ok(m);
    }
    if let Some(m) = registry::spec(name) {
        return Ok(m);
    }
    #[cfg(not(target_arch = "wasm32"))]
    if registry::is_onnx_path(name) {
        return registry::load_path(name);
    }
    let names: Vec<&str> = MODELS.iter().map(|m| m.name).collect();
    Err(Error::Model(format!("unknown model '{name}' (known: {}; or the path of an .onnx file)", names.join(", "))))
}

impl ModelSpec {
    /// Classes the model is evaluated on.
    pub fn classes(&self) -> &'static [&'static str] {
        match self.labels {
            Some(l) => l.classes,
            None => self.dataset.classes(),
        }
    }

    /// Number of evaluated classes (network outputs beyond these are void).
    pub fn num_classes(&self) -> usize {
        self.classes().len()
    }

    /// Colour per class.
    pub fn palette(&self) -> Vec<[u8; 3]> {
        match self.labels {
            Some(l) => l.palette.to_vec(),
            None => self.dataset.palette(),
        }
    }

    /// Whether its classes are those of its dataset (a zoo model, or an ONNX model described
    /// with `dataset`): ground truth of another dataset does not fit it.
    pub fn dataset_classes(&self) -> bool {
        self.labels.is_none_or(|l| l.from_dataset)
    }

    /// Whether the model accepts a `width × height` input.
    pub fn accepts(&self, width: usize, height: usize) -> bool {
        match self.size_rule {
            SizeRule::Mod16 => {
                crate::model::espnetv2::valid_side(width) && crate::model::espnetv2::valid_side(height)
            }
            SizeRule::Fixed(w, h) => width == w && height == h,
            SizeRule::Multiple(m) => width > 0 && height > 0 && width % m == 0 && height % m == 0,
        }
    }

    /// [`Self::accepts`] as a `Result` whose error states the rule.
    pub fn check_size(&self, width: usize, height: usize) -> Result<()> {
        if self.accepts(width, height) {
            return Ok(());
        }
        let rule = match self.size_rule {
            SizeRule::Mod16 => "each of width and height must be ≡ 0 or 15 (mod 16), e.g. 256, 384, 512".to_string(),
            SizeRule::Fixed(w, h) => format!("it takes exactly {w}×{h}"),
            SizeRule::Multiple(m) => format!("each of width and height must be a multiple of {m}"),
        };
        Err(Error::Model(format!(
            "model '{}' cannot take a {width}×{height} input: {rule}",
            self.name
        )))
    }

    /// A class of the model's dataset by index or (case-insensitive) name; `what` names the
    /// value in the error (e.g. `--target-class`).
    pub fn parse_class(&self, s: &str, what: &str) -> Result<u8> {
        let classes = self.classes();
        if let Ok(v) = s.trim().parse::<i64>() {
            return u8::try_from(v).ok().filter(|&c| usize::from(c) < classes.len()).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{what} {v} is out of range: model '{}' has {} classes (0..={})",
                    self.name,
                    classes.len(),
                    classes.len() - 1
                ))
            });
        }
        classes.iter().position(|c| c.eq_ignore_ascii_case(s.trim())).map(|i| i as u8).ok_or_else(|| {
            Error::InvalidArgument(format!("{what} '{s}' is not a class of model '{}' ({})", self.name, classes.join(", ")))
        })
    }

    /// The nearest valid size to `width × height` (rounding each side to the nearest multiple
    /// of 16, at least 16), or the fixed size.
    pub fn nearest_valid_size(&self, width: usize, height: usize) -> (usize, usize) {
        match self.size_rule {
            SizeRule::Mod16 => {
                let snap = |n: usize| (((n + 8) / 16) * 16).max(16);
                (snap(width), snap(height))
            }
            SizeRule::Fixed(w, h) => (w, h),
            SizeRule::Multiple(m) => {
                let snap = |n: usize| (((n + m / 2) / m) * m).max(m);
                (snap(width), snap(height))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_files_are_in_the_manifest() {
        for (i, m) in MODELS.iter().enumerate() {
            assert!(MODELS[i + 1..].iter().all(|o| o.name != m.name));
            let e = crate::model::weights::entry_for_file(m.weights_file).unwrap();
            assert_eq!(e.name, m.name);
            assert!(m.accepts(m.native_size.0, m.native_size.1), "{}", m.name);
        }
    }

    #[test]
    fn size_rules_and_errors() {
        let voc = spec("espnetv2-voc").unwrap();
        assert!(voc.accepts(512, 256));
        let e = voc.check_size(500, 375).unwrap_err().to_string();
        assert!(e.contains("500×375") && e.contains("mod 16"), "{e}");
        let dl = spec("deeplabv3-mnv2-voc").unwrap();
        assert!(dl.check_size(384, 384).unwrap_err().to_string().contains("257×257"));
        assert_eq!(voc.nearest_valid_size(500, 375), (496, 368));
        assert_eq!(voc.parse_class("Person", "class").unwrap(), 15);
        assert_eq!(voc.parse_class("3", "class").unwrap(), 3);
        assert!(voc.parse_class("21", "--target-class").unwrap_err().to_string().contains("--target-class 21"));
        assert!(voc.parse_class("unicorn", "class").unwrap_err().to_string().contains("'unicorn'"));
        assert!(spec("nope").unwrap_err().to_string().contains("'nope'"));
        let sl = spec("selfie-landscape").unwrap();
        assert!(sl.accepts(256, 144) && !sl.accepts(144, 256));
        assert_eq!(sl.classes(), ["background", "person"]);
        assert_eq!(sl.parse_class("person", "class").unwrap(), 1);
    }
}
