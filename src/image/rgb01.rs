//! Images as the networks take them: planar RGB `f32` in `[0, 1]`, and back to 8 bits.

use image::RgbImage;

use crate::error::{Error, Result};

/// An RGB image as a planar `[0, 1]` tensor: `data` holds 3 planes (R, G, B), each
/// `height * width` values in row-major order (CHW layout, `data.len() == 3 * width * height`).
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage01 {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Planar CHW values in `[0, 1]`.
    pub data: Vec<f32>,
}

impl RgbImage01 {
    /// Wrap planar CHW data, checking that `data.len() == 3 * width * height`
    /// ([`Error::Shape`] otherwise).
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Result<Self> {
        check_planar_len(width, height, data.len())?;
        Ok(RgbImage01 {
            width,
            height,
            data,
        })
    }
}

fn check_planar_len(width: usize, height: usize, len: usize) -> Result<()> {
    let expected = width.checked_mul(height).and_then(|p| p.checked_mul(3));
    if expected != Some(len) {
        return Err(Error::Shape(format!(
            "RGB tensor of {width}x{height} needs 3*{width}*{height} values, got {len}"
        )));
    }
    Ok(())
}


/// Convert an 8-bit RGB image to a planar `[0, 1]` tensor: every value is exactly the `f32`
/// `v as f32 / 255.0` (the same as NumPy's `uint8 -> float32` then `/ 255`).
pub fn to_tensor01(img: &RgbImage) -> RgbImage01 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let plane = w * h;
    let mut data = vec![0f32; 3 * plane];
    for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = f32::from(px[c]) / 255.0;
        }
    }
    RgbImage01 {
        width: w,
        height: h,
        data,
    }
}

/// Convert a planar `[0, 1]` tensor back to 8-bit RGB: `round(v * 255)` clamped to `0..=255`
/// (NaN becomes 0). The data length must be `3 * width * height` ([`Error::Shape`]) and the size
/// must fit in `u32` ([`Error::InvalidArgument`]).
pub fn from_tensor01(t: &RgbImage01) -> Result<RgbImage> {
    check_planar_len(t.width, t.height, t.data.len())?;
    let (w, h) = match (u32::try_from(t.width), u32::try_from(t.height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "image size {}x{} does not fit in u32",
                t.width, t.height
            )));
        }
    };
    let plane = t.width * t.height;
    let mut out = vec![0u8; 3 * plane];
    for i in 0..plane {
        for c in 0..3 {
            out[3 * i + c] = to_u8(t.data[c * plane + i]);
        }
    }
    RgbImage::from_raw(w, h, out)
        .ok_or_else(|| Error::Shape(format!("cannot build a {w}x{h} RGB image")))
}

fn to_u8(v: f32) -> u8 {
    // `as` saturates and maps NaN to 0.
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Round every value to the nearest `k / 255` (values are first clamped to `[0, 1]`; NaN becomes
/// 0): exactly what an image saved as 8-bit PNG and loaded back through [`to_tensor01`] holds.
pub fn quantize_8bit(data: &mut [f32]) {
    for v in data {
        *v = f32::from(to_u8(*v)) / 255.0;
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testing::gradient;
    use crate::image::{decode, encode_png};

    #[test]
    fn tensor_round_trip_and_layout() {
        let img = gradient(7, 5);
        let t = to_tensor01(&img);
        assert_eq!((t.width, t.height, t.data.len()), (7, 5, 105));
        // planar: G plane of pixel (x=2, y=1)
        let p = img.get_pixel(2, 1);
        assert_eq!(t.data[35 + 7 + 2], f32::from(p[1]) / 255.0);
        assert_eq!(t.data[70 + 7 + 2], f32::from(p[2]) / 255.0);
        assert!(t.data.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(from_tensor01(&t).unwrap(), img);

        let odd = RgbImage01 {
            width: 2,
            height: 1,
            data: vec![-0.3, 1.7, 0.5 / 255.0, 0.4 / 255.0, f32::NAN, 0.9999],
        };
        let back = from_tensor01(&odd).unwrap();
        // planes R = [-0.3, 1.7], G = [0.5/255, 0.4/255], B = [NaN, 0.9999]
        assert_eq!(back.as_raw(), &vec![0, 1, 0, 255, 0, 255]);

        let bad = RgbImage01 {
            width: 2,
            height: 2,
            data: vec![0.0; 11],
        };
        assert!(matches!(from_tensor01(&bad), Err(Error::Shape(m)) if m.contains("got 11")));
        assert!(RgbImage01::new(2, 2, vec![0.0; 12]).is_ok());
        assert!(matches!(
            RgbImage01::new(2, 2, vec![0.0; 13]),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn quantize_rounds_to_k_over_255() {
        let mut v = vec![0.0, 1.0, 0.5, 0.1, -0.2, 1.3, 100.4 / 255.0, 100.6 / 255.0];
        quantize_8bit(&mut v);
        let expect = [0.0, 255.0, 128.0, 26.0, 0.0, 255.0, 100.0, 101.0];
        for (a, k) in v.iter().zip(expect) {
            assert_eq!(*a, k / 255.0);
        }
        // idempotent, and equal to a PNG round trip
        let before = v.clone();
        quantize_8bit(&mut v);
        assert_eq!(v, before);
        let mut t = to_tensor01(&gradient(4, 4));
        for (i, x) in t.data.iter_mut().enumerate() {
            *x += (i % 5) as f32 * 0.0013 - 0.002;
        }
        let mut q = t.data.clone();
        quantize_8bit(&mut q);
        let via_png =
            to_tensor01(&decode(&encode_png(&from_tensor01(&t).unwrap()).unwrap()).unwrap());
        assert_eq!(q, via_png.data);
    }

    // ---------------------------------------------------------------- resize
}
