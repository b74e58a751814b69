//! Decoding PNG and JPEG files of any colour type and bit depth into 8-bit RGB, with a size
//! guard before decoding.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::{Error, Result};

/// Largest accepted image, in pixels (width × height): 64 Mi pixels. Larger images are refused
/// before they are decoded.
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;


/// Refuse zero-sized images and images of more than [`MAX_PIXELS`] pixels.
pub(crate) fn check_dimensions(w: u32, h: u32) -> Result<()> {
    if w == 0 || h == 0 {
        return Err(Error::Image(format!("zero-sized image ({w}x{h})")));
    }
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(Error::Image(format!(
            "image too large: {w}x{h} = {pixels} pixels exceeds the limit of {MAX_PIXELS} pixels"
        )));
    }
    Ok(())
}

/// Width and height declared by a PNG's IHDR chunk (which must come first).
fn png_ihdr_dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return Err(Error::Image(format!(
            "corrupt or truncated PNG data: no IHDR header ({} bytes)",
            bytes.len()
        )));
    }
    Ok((be_u32(&bytes[16..20]), be_u32(&bytes[20..24])))
}

pub(crate) fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        _ => "image",
    }
}

/// Decode PNG or JPEG bytes, checking the declared size before decoding the pixels.
pub(crate) fn decode_dynamic(bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(Error::Image("empty image data (0 bytes)".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("cannot read image data: {e}")))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        Some(other) => {
            return Err(Error::Image(format!(
                "unsupported image format {other:?}: only PNG and JPEG are accepted"
            )));
        }
        None => {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Err(Error::Image(format!(
                "unrecognised image format (first bytes: {}; {} bytes in all): expected PNG or JPEG",
                head.join(" "),
                bytes.len()
            )));
        }
    };
    let name = format_name(format);
    let (w, h) = if format == ImageFormat::Png {
        png_ihdr_dimensions(bytes)?
    } else {
        let mut probe = ImageReader::with_format(Cursor::new(bytes), format);
        probe.no_limits();
        probe
            .into_dimensions()
            .map_err(|e| Error::Image(format!("corrupt or truncated {name} data: {e}")))?
    };
    check_dimensions(w, h)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // Room for the largest decoded buffer we accept (RGBA, 16 bits per channel) plus slack.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| Error::Image(format!("corrupt or truncated {name} data ({w}x{h}): {e}")))
}

/// Round a 16-bit sample to 8 bits: `round(v / 257)`.
fn u16_to_u8(v: u16) -> u8 {
    // floor((v + 128) / 257) == round(v / 257) (no ties since 257 is odd); at most 255.
    ((u32::from(v) + 128) / 257) as u8
}

/// Convert any decoded image to 8-bit RGB: alpha is discarded (no compositing, like Pillow's
/// `convert('RGB')`), grey is replicated, 16-bit samples become `round(v / 257)`.
fn to_rgb8(img: DynamicImage) -> Result<RgbImage> {
    let (w, h) = (img.width(), img.height());
    let data: Vec<u8> = match img {
        DynamicImage::ImageRgb8(i) => return Ok(i),
        DynamicImage::ImageRgba8(i) => i
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        DynamicImage::ImageLuma8(i) => i.as_raw().iter().flat_map(|&v| [v, v, v]).collect(),
        DynamicImage::ImageLumaA8(i) => i
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        DynamicImage::ImageRgb16(i) => i.as_raw().iter().map(|&v| u16_to_u8(v)).collect(),
        DynamicImage::ImageRgba16(i) => i
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [u16_to_u8(p[0]), u16_to_u8(p[1]), u16_to_u8(p[2])])
            .collect(),
        DynamicImage::ImageLuma16(i) => i
            .as_raw()
            .iter()
            .flat_map(|&v| {
                let g = u16_to_u8(v);
                [g, g, g]
            })
            .collect(),
        DynamicImage::ImageLumaA16(i) => i
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| {
                let g = u16_to_u8(p[0]);
                [g, g, g]
            })
            .collect(),
        other => return Ok(other.to_rgb8()),
    };
    RgbImage::from_raw(w, h, data)
        .ok_or_else(|| Error::Image(format!("decoded {w}x{h} image has an inconsistent buffer")))
}

/// Decode a PNG or JPEG image into 8-bit RGB.
///
/// Accepts RGB, RGBA (alpha dropped, no compositing, like Pillow's `convert('RGB')`), greyscale,
/// greyscale + alpha and 16-bit images (each sample becomes `round(v / 257)`; note that Pillow
/// itself truncates 16-bit RGB PNGs to their high byte instead). The declared dimensions are
/// checked before the pixels are decoded. Errors ([`Error::Image`]): empty input, unrecognised
/// or unsupported format, corrupt or truncated data (with the decoder's message), zero-sized
/// images, images of more than [`MAX_PIXELS`] pixels (quoting `WxH`).
pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
    decode_dynamic(bytes).and_then(to_rgb8)
}

/// Read and [`decode`] an image file. Read failures give [`Error::Io`] with the path; decoding
/// errors are [`Error::Image`] prefixed with the path.
pub fn load(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes).map_err(|e| with_path(e, path))
}

pub(crate) fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Image(m) => Error::Image(format!("{}: {m}", path.display())),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::png::{crc32, load_label_png};
    use crate::image::testing::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};

    #[test]
    fn decode_rgb_rgba_and_grey_pngs() {
        let rgb = gradient(5, 3);
        let png = encode_dyn(DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png);
        assert_eq!(decode(&png).unwrap(), rgb);

        let rgba = ImageBuffer::from_fn(4, 2, |x, y| {
            Rgba([x as u8 * 50, y as u8 * 90, 7, (x * 60) as u8])
        });
        let got = decode(&encode_dyn(
            DynamicImage::ImageRgba8(rgba.clone()),
            ImageFormat::Png,
        ))
        .unwrap();
        for (p, q) in rgba.pixels().zip(got.pixels()) {
            // alpha dropped, colour kept as is (no compositing even where alpha is 0)
            assert_eq!([p[0], p[1], p[2]], q.0);
        }

        let l8 = ImageBuffer::from_fn(3, 3, |x, y| Luma([(x * 80 + y) as u8]));
        let got = decode(&encode_dyn(
            DynamicImage::ImageLuma8(l8.clone()),
            ImageFormat::Png,
        ))
        .unwrap();
        for (p, q) in l8.pixels().zip(got.pixels()) {
            assert_eq!([p[0]; 3], q.0);
        }

        let la8 = ImageBuffer::from_fn(3, 2, |x, y| LumaA([(x * 70 + y * 3) as u8, 0]));
        let got = decode(&encode_dyn(
            DynamicImage::ImageLumaA8(la8.clone()),
            ImageFormat::Png,
        ))
        .unwrap();
        for (p, q) in la8.pixels().zip(got.pixels()) {
            assert_eq!([p[0]; 3], q.0);
        }
    }

    #[test]
    fn decode_16_bit_rounds_v_over_257() {
        let vals: [u16; 6] = [0, 128, 129, 385, 65535, 32896];
        let img: ImageBuffer<Rgb<u16>, Vec<u16>> =
            ImageBuffer::from_raw(2, 1, vals.to_vec()).unwrap();
        let got = decode(&encode_dyn(DynamicImage::ImageRgb16(img), ImageFormat::Png)).unwrap();
        // 128/257 = 0.498 -> 0; 129/257 = 0.502 -> 1; 385/257 = 1.498 -> 1; 32896/257 = 128
        assert_eq!(got.as_raw(), &vec![0, 0, 1, 1, 255, 128]);
        let l16: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_raw(2, 1, vec![514, 65000]).unwrap();
        let got = decode(&encode_dyn(
            DynamicImage::ImageLuma16(l16),
            ImageFormat::Png,
        ))
        .unwrap();
        assert_eq!(got.as_raw(), &vec![2, 2, 2, 253, 253, 253]);
    }

    #[test]
    fn decode_jpeg() {
        let img = RgbImage::from_pixel(16, 8, Rgb([200, 40, 90]));
        let jpg = encode_dyn(DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
        assert_eq!(&jpg[..2], &[0xff, 0xd8]);
        let got = decode(&jpg).unwrap();
        assert_eq!(got.dimensions(), (16, 8));
        for p in got.pixels() {
            for (a, b) in p.0.iter().zip([200u8, 40, 90]) {
                assert!(a.abs_diff(b) <= 6, "{:?}", p.0);
            }
        }
        // truncated JPEG
        let msg = image_err(decode(&jpg[..jpg.len() / 3]));
        assert!(msg.contains("JPEG"), "{msg}");
    }

    #[test]
    fn decode_error_messages() {
        assert_eq!(image_err(decode(&[])), "empty image data (0 bytes)");
        let msg = image_err(decode(b"definitely not an image, just text"));
        assert!(
            msg.contains("unrecognised image format") && msg.contains("64 65 66"),
            "{msg}"
        );

        let png = encode_dyn(DynamicImage::ImageRgb8(gradient(64, 64)), ImageFormat::Png);
        let msg = image_err(decode(&png[..png.len() / 2]));
        assert!(msg.contains("corrupt or truncated PNG data"), "{msg}");
        let msg = image_err(decode(&png[..20]));
        assert!(msg.contains("corrupt or truncated PNG"), "{msg}");

        // corrupt compressed data (CRC fixed up so the chunk itself is well-formed)
        let mut bad = craft_png(4, 4, 8, 0, &[], &[7; 16]);
        let idat = bad.windows(4).position(|w| w == b"IDAT").unwrap();
        bad[idat + 4] = 0x12; // invalid zlib header
        let len = be_u32(&bad[idat - 4..idat]) as usize;
        let crc = crc32(&[&bad[idat..idat + 4 + len]]);
        bad[idat + 4 + len..idat + 8 + len].copy_from_slice(&crc.to_be_bytes());
        let msg = image_err(decode(&bad));
        assert!(msg.contains("corrupt or truncated PNG data (4x4)"), "{msg}");

        let msg = image_err(decode(&header_only_png(0, 5)));
        assert!(msg.contains("zero-sized image (0x5)"), "{msg}");
        let msg = image_err(decode(&header_only_png(100_000, 100_000)));
        assert!(
            msg.contains("100000x100000") && msg.contains("too large"),
            "{msg}"
        );
        // just above the limit is refused, the limit itself passes the size check
        let msg = image_err(decode(&header_only_png(8193, 8192)));
        assert!(msg.contains("8193x8192"), "{msg}");
        let msg = image_err(decode(&header_only_png(8192, 8192)));
        assert!(!msg.contains("too large"), "{msg}");
    }

    #[test]
    fn load_reports_missing_path() {
        let p = Path::new("/nonexistent/dir/img.png");
        match load(p) {
            Err(Error::Io(m)) => assert!(m.contains("/nonexistent/dir/img.png"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(load_label_png(p), Err(Error::Io(m)) if m.contains("img.png")));
    }

    // ---------------------------------------------------------------- tensors
}
