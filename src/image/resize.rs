//! Resizing 8-bit images the way the reference pipelines do (Pillow's or OpenCV's bilinear,
//! Pillow's nearest), bit-exact, through the scalers of [`crate::resize`].

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::resize::{Scaler, ScalerKind};

/// Resampling method of [`resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ResizeMethod {
    /// OpenCV's `cv2.resize(..., INTER_LINEAR)`, bit-exact (half-pixel centres, not antialiased,
    /// 11-bit fixed-point weights): the `opencv-linear` scaler of [`crate::resize`].
    Bilinear,
    /// Nearest neighbour exactly as Pillow's `Image.resize(size, NEAREST)`: source index
    /// `floor((i + 0.5) * src / dst)` (see [`crate::data::nearest_resize_map`]); the
    /// `pillow-nearest` scaler.
    Nearest,
    /// Bit-exact reproduction of Pillow's `Image.resize(size, BILINEAR)` (`reducing_gap=None`, the
    /// default) on a uint8 RGB image. Pillow's bilinear is a triangle filter whose support grows
    /// with the downscale factor (antialiased): for an output sample `i`, `center = (i + 0.5) *
    /// scale`, `support = max(scale, 1)`, input window `[trunc(center - support + 0.5),
    /// trunc(center + support + 0.5))` clamped to the image, weights `triangle((j - center + 0.5)
    /// / max(scale, 1))` normalised to sum 1, then converted to 22-bit fixed point. Two separable
    /// passes, horizontal first, each rounded half-up and clipped to uint8; a pass is skipped
    /// when its dimension does not change. This is the preprocessing of the reference models;
    /// the `pillow-bilinear` scaler of [`crate::resize`].
    #[default]
    PilBilinear,
}

/// Resize an 8-bit RGB image to `w x h` with the given method, exactly as the named library
/// does (the scalers of [`crate::resize`]). A zero target (or source) size is
/// an [`Error::InvalidArgument`]. Resizing to the same size returns a copy.
pub fn resize(img: &RgbImage, w: u32, h: u32, method: ResizeMethod) -> Result<RgbImage> {
    if w == 0 || h == 0 {
        return Err(Error::InvalidArgument(format!(
            "cannot resize to {w}x{h}: target size must be non-zero"
        )));
    }
    let (sw, sh) = (img.width(), img.height());
    if sw == 0 || sh == 0 {
        return Err(Error::InvalidArgument(format!(
            "cannot resize a zero-sized {sw}x{sh} image"
        )));
    }
    if (sw, sh) == (w, h) {
        return Ok(img.clone());
    }
    let kind = match method {
        ResizeMethod::PilBilinear => ScalerKind::PillowBilinear,
        ResizeMethod::Nearest => ScalerKind::PillowNearest,
        ResizeMethod::Bilinear => ScalerKind::OpencvLinear,
    };
    Scaler::new(kind, sw as usize, sh as usize, w as usize, h as usize)?.apply_u8(img)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testing::gradient;
    use image::Rgb;

    #[test]
    fn resize_argument_errors_and_identity() {
        let img = gradient(6, 4);
        let err = resize(&img, 0, 3, ResizeMethod::PilBilinear).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("0x3")),
            "{err}"
        );
        for m in [
            ResizeMethod::Bilinear,
            ResizeMethod::Nearest,
            ResizeMethod::PilBilinear,
        ] {
            assert_eq!(resize(&img, 6, 4, m).unwrap(), img);
            assert_eq!(resize(&img, 3, 9, m).unwrap().dimensions(), (3, 9));
        }
    }

    #[test]
    fn pil_bilinear_hand_computed() {
        // 4 -> 2 horizontally: scale 2, support 2, centre 1 -> window [0, 3), weights
        // tri((j - 1 + 0.5) / 2) = 0.75, 0.75, 0.25 (normalised / 1.75).
        let img = RgbImage::from_raw(
            4,
            1,
            [0u8, 70, 140, 210]
                .iter()
                .flat_map(|&v| [v, v, v])
                .collect(),
        )
        .unwrap();
        let out = resize(&img, 2, 1, ResizeMethod::PilBilinear).unwrap();
        // first: (0*.75 + 70*.75 + 140*.25) / 1.75 = 50; second: window [1, 4): (70*.25 + 140*.75 + 210*.75)/1.75 = 160
        assert_eq!(out.as_raw(), &vec![50, 50, 50, 160, 160, 160]);
        // constant images stay constant under every method
        let flat = RgbImage::from_pixel(13, 7, Rgb([9, 200, 77]));
        for m in [
            ResizeMethod::Bilinear,
            ResizeMethod::Nearest,
            ResizeMethod::PilBilinear,
        ] {
            for (w, h) in [(5, 3), (30, 20), (13, 3), (4, 7)] {
                let r = resize(&flat, w, h, m).unwrap();
                assert!(r.pixels().all(|p| p.0 == [9, 200, 77]), "{m:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn bilinear_hand_computed() {
        // 2 -> 4: positions (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> 0, 25, 75, 100
        let img = RgbImage::from_raw(2, 1, vec![0, 0, 0, 100, 100, 100]).unwrap();
        let out = resize(&img, 4, 1, ResizeMethod::Bilinear).unwrap();
        let r: Vec<u8> = out.pixels().map(|p| p[0]).collect();
        assert_eq!(r, vec![0, 25, 75, 100]);
    }
}
