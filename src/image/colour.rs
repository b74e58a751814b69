//! Class maps in colour (a dataset's palette) and overlays on the image.

use image::RgbImage;

use crate::data::VOID_COLOUR;
use crate::error::{Error, Result};


pub(crate) fn map_dims(map_len: usize, w: usize, h: usize) -> Result<(u32, u32)> {
    if w.checked_mul(h) != Some(map_len) {
        return Err(Error::Shape(format!(
            "class map has {map_len} values but {w}x{h} were expected"
        )));
    }
    match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w32), Ok(h32)) if w32 > 0 && h32 > 0 => Ok((w32, h32)),
        _ => Err(Error::InvalidArgument(format!(
            "invalid class map size {w}x{h}"
        ))),
    }
}

/// Colour a class map (`w x h`, row-major): class `c` gets `palette[c]`; indices outside the
/// palette (e.g. the void label 255 with a 21-entry palette) get [`VOID_COLOUR`] `[224, 224, 192]`.
/// Errors: `map.len() != w * h` ([`Error::Shape`]), zero size ([`Error::InvalidArgument`]).
pub fn colorize(map: &[u8], w: usize, h: usize, palette: &[[u8; 3]]) -> Result<RgbImage> {
    let (w32, h32) = map_dims(map.len(), w, h)?;
    let data: Vec<u8> = map
        .iter()
        .flat_map(|&c| palette.get(usize::from(c)).copied().unwrap_or(VOID_COLOUR))
        .collect();
    RgbImage::from_raw(w32, h32, data)
        .ok_or_else(|| Error::Shape(format!("cannot build a {w}x{h} RGB image")))
}

/// Blend a colour map over an image: `round((1 - alpha) * img + alpha * color_map)` per sample.
/// Both images must have the same size ([`Error::Shape`]) and `alpha` must be in `[0, 1]`
/// ([`Error::InvalidArgument`]).
pub fn overlay(img: &RgbImage, color_map: &RgbImage, alpha: f32) -> Result<RgbImage> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::InvalidArgument(format!(
            "overlay alpha {alpha} is not in [0, 1]"
        )));
    }
    if img.dimensions() != color_map.dimensions() {
        return Err(Error::Shape(format!(
            "overlay: image is {}x{} but colour map is {}x{}",
            img.width(),
            img.height(),
            color_map.width(),
            color_map.height()
        )));
    }
    let a = f64::from(alpha);
    let data: Vec<u8> = img
        .as_raw()
        .iter()
        .zip(color_map.as_raw())
        .map(|(&x, &c)| {
            let v = (1.0 - a) * f64::from(x) + a * f64::from(c);
            (v + 0.5).floor().clamp(0.0, 255.0) as u8
        })
        .collect();
    RgbImage::from_raw(img.width(), img.height(), data)
        .ok_or_else(|| Error::Shape("overlay: buffer size mismatch".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::voc_palette;
    use image::Rgb;

    #[test]
    fn voc_palette_and_colorize() {
        let pal = voc_palette();
        assert_eq!(pal.len(), 256);
        assert_eq!(pal[0], [0, 0, 0]);
        assert_eq!(pal[1], [128, 0, 0]);
        assert_eq!(pal[7], [128, 128, 128]);
        assert_eq!(pal[15], [192, 128, 128]);
        assert_eq!(pal[20], [0, 64, 128]);
        assert_eq!(pal[255], VOID_COLOUR);
        let map = [0u8, 15, 255, 20, 7, 1];
        let img = colorize(&map, 3, 2, &pal[..21]).unwrap();
        assert_eq!(img.get_pixel(1, 0).0, [192, 128, 128]);
        assert_eq!(img.get_pixel(2, 0).0, [224, 224, 192]);
        assert_eq!(img.get_pixel(0, 1).0, [0, 64, 128]);
        assert_eq!(img.get_pixel(2, 1).0, [128, 0, 0]);
        // class beyond a short palette
        let img = colorize(&[0, 3], 2, 1, &[[1, 2, 3], [4, 5, 6]]).unwrap();
        assert_eq!(img.as_raw(), &vec![1, 2, 3, 224, 224, 192]);
        assert!(
            matches!(colorize(&map, 4, 2, &pal), Err(Error::Shape(m)) if m.contains("6 values") && m.contains("4x2"))
        );
    }

    #[test]
    fn overlay_blends_and_checks() {
        let a = RgbImage::from_pixel(2, 2, Rgb([100, 0, 255]));
        let b = RgbImage::from_pixel(2, 2, Rgb([200, 255, 0]));
        let o = overlay(&a, &b, 0.25).unwrap();
        assert!(
            o.pixels().all(|p| p.0 == [125, 64, 191]),
            "{:?}",
            o.get_pixel(0, 0)
        );
        assert_eq!(overlay(&a, &b, 0.0).unwrap(), a);
        assert_eq!(overlay(&a, &b, 1.0).unwrap(), b);
        let err = overlay(&a, &b, 1.5).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("1.5")),
            "{err}"
        );
        assert!(matches!(
            overlay(&a, &b, f32::NAN),
            Err(Error::InvalidArgument(_))
        ));
        let c = RgbImage::new(3, 2);
        let err = overlay(&a, &c, 0.5).unwrap_err();
        assert!(
            matches!(&err, Error::Shape(m) if m.contains("2x2") && m.contains("3x2")),
            "{err}"
        );
    }

    // ---------------------------------------------------------------- label maps
}
