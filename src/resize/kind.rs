//! The scalers this crate reproduces, by library and algorithm.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};


/// Largest accepted image side (pixels) for source and destination.
pub const MAX_SIDE: usize = 1 << 15;

/// A scaling algorithm of a real library. Serialised (serde) and parsed ([`FromStr`]) by its
/// [`ScalerKind::name`], e.g. `"opencv-linear"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScalerKind {
    /// OpenCV `cv2.INTER_NEAREST` (source index `floor(d·scale)`).
    OpencvNearest,
    /// OpenCV `cv2.INTER_LINEAR` (2 taps per axis, no antialiasing).
    OpencvLinear,
    /// OpenCV `cv2.INTER_CUBIC` (4 taps per axis, A = −0.75).
    OpencvCubic,
    /// OpenCV `cv2.INTER_AREA` (box / pixel-area average).
    OpencvArea,
    /// OpenCV `cv2.INTER_LANCZOS4` (8 taps per axis).
    OpencvLanczos4,
    /// Pillow `Image.Resampling.NEAREST` (pixel centre).
    PillowNearest,
    /// Pillow `Image.Resampling.BILINEAR` (triangle filter stretched by the ratio).
    PillowBilinear,
    /// Pillow `Image.Resampling.BICUBIC` (a = −0.5, stretched by the ratio).
    PillowBicubic,
    /// Pillow `Image.Resampling.BOX`.
    PillowBox,
    /// Pillow `Image.Resampling.LANCZOS` (Lanczos-3, stretched by the ratio).
    PillowLanczos,
}

impl ScalerKind {
    /// All ten scalers, OpenCV first.
    pub const ALL: [ScalerKind; 10] = [
        ScalerKind::OpencvNearest,
        ScalerKind::OpencvLinear,
        ScalerKind::OpencvCubic,
        ScalerKind::OpencvArea,
        ScalerKind::OpencvLanczos4,
        ScalerKind::PillowNearest,
        ScalerKind::PillowBilinear,
        ScalerKind::PillowBicubic,
        ScalerKind::PillowBox,
        ScalerKind::PillowLanczos,
    ];

    /// The name used on the command line and in fixture file names, e.g. `opencv-linear`.
    pub fn name(self) -> &'static str {
        match self {
            ScalerKind::OpencvNearest => "opencv-nearest",
            ScalerKind::OpencvLinear => "opencv-linear",
            ScalerKind::OpencvCubic => "opencv-cubic",
            ScalerKind::OpencvArea => "opencv-area",
            ScalerKind::OpencvLanczos4 => "opencv-lanczos4",
            ScalerKind::PillowNearest => "pillow-nearest",
            ScalerKind::PillowBilinear => "pillow-bilinear",
            ScalerKind::PillowBicubic => "pillow-bicubic",
            ScalerKind::PillowBox => "pillow-box",
            ScalerKind::PillowLanczos => "pillow-lanczos",
        }
    }

    /// `"opencv"` or `"pillow"`.
    pub fn library(self) -> &'static str {
        match self {
            ScalerKind::OpencvNearest
            | ScalerKind::OpencvLinear
            | ScalerKind::OpencvCubic
            | ScalerKind::OpencvArea
            | ScalerKind::OpencvLanczos4 => "opencv",
            _ => "pillow",
        }
    }

    /// True for the two nearest-neighbour scalers.
    pub fn is_nearest(self) -> bool {
        matches!(self, ScalerKind::OpencvNearest | ScalerKind::PillowNearest)
    }
}

impl fmt::Display for ScalerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScalerKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        ScalerKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == t)
            .ok_or_else(|| {
                let names: Vec<&str> = ScalerKind::ALL.iter().map(|k| k.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown scaler {s:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ScalerKind::ALL {
            assert_eq!(k.name().parse::<ScalerKind>(), Ok(k));
            assert_eq!(k.to_string(), k.name());
        }
        let json = serde_json::to_string(&ScalerKind::OpencvLanczos4).unwrap();
        assert_eq!(json, "\"opencv-lanczos4\"");
        assert_eq!(
            serde_json::from_str::<ScalerKind>("\"pillow-box\"").unwrap(),
            ScalerKind::PillowBox
        );
        let e = "opencv-bogus".parse::<ScalerKind>();
        assert!(matches!(e, Err(Error::InvalidArgument(ref m)) if m.contains("opencv-bogus")));
    }
}
