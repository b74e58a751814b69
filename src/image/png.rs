//! PNG writing, and label PNGs (class-index maps: 8-bit grey or palette, raw indices kept).

use std::io::Cursor;
use std::path::Path;

use super::colour::map_dims;
use super::decode::{be_u32, check_dimensions, decode_dynamic, with_path};

use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};

use crate::data::folder::Pair;
use crate::data::{ClassMap, LabelIds};
use crate::error::{Error, Result};

/// The eight bytes every PNG file starts with.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];


/// CRC-32 (ISO-HDLC, as used by PNG chunks).
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for part in parts {
        for &b in *part {
            crc ^= u32::from(b);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xedb8_8320 & mask);
            }
        }
    }
    !crc
}

pub(crate) fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// The chunks of a PNG file as (type, data), up to and excluding IEND.
fn png_chunks(bytes: &[u8]) -> Result<Vec<([u8; 4], &[u8])>> {
    if bytes.len() < 8 || bytes[..8] != PNG_SIGNATURE {
        return Err(Error::Image(format!(
            "label map is not a PNG file ({} bytes, bad signature)",
            bytes.len()
        )));
    }
    let mut chunks = Vec::new();
    let mut pos = 8usize;
    loop {
        if bytes.len() < pos + 8 {
            return Err(Error::Image(format!(
                "corrupt or truncated PNG data: chunk header missing at byte {pos}"
            )));
        }
        let len = be_u32(&bytes[pos..pos + 4]) as usize;
        let kind = [
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ];
        let end = pos
            .checked_add(12)
            .and_then(|p| p.checked_add(len))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| {
                Error::Image(format!(
                    "corrupt or truncated PNG data: chunk {:?} of {len} bytes at byte {pos} runs past the end",
                    String::from_utf8_lossy(&kind)
                ))
            })?;
        if &kind == b"IEND" {
            return Ok(chunks);
        }
        chunks.push((kind, &bytes[pos + 8..pos + 8 + len]));
        pos = end;
    }
}

/// Decode a class-index map stored as PNG bytes: returns `(map, width, height)` with the raw
/// stored value of every pixel (row-major).
///
/// Accepted: greyscale PNGs of 1, 2, 4 or 8 bits (values are *not* rescaled: a 2-bit pixel 3 is
/// class 3), 16-bit greyscale whose values are all ≤ 255, and palette-indexed PNGs (VOC-style
/// mode `P`), for which the raw palette *index* is returned, not its colour. (The `image` crate
/// would expand a palette to RGB; this function instead re-labels the palette so that entry `i`
/// is grey `i`, which makes the index recoverable even when the palette repeats colours.) Any
/// transparency is ignored. Other colour types (RGB, grey + alpha, RGBA) are refused
/// ([`Error::Image`]), as are corrupt files and sizes refused by [`decode`].
pub fn decode_label_png(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize)> {
    if bytes.is_empty() {
        return Err(Error::Image("empty image data (0 bytes)".into()));
    }
    let chunks = png_chunks(bytes)?;
    let ihdr = match chunks.first() {
        Some((kind, data)) if kind == b"IHDR" && data.len() == 13 => *data,
        _ => {
            return Err(Error::Image(
                "corrupt PNG data: the first chunk is not a 13-byte IHDR".into(),
            ));
        }
    };
    let (w, h) = (be_u32(&ihdr[0..4]), be_u32(&ihdr[4..8]));
    check_dimensions(w, h)?;
    let (bit_depth, color_type) = (ihdr[8], ihdr[9]);
    let (wu, hu) = (w as usize, h as usize);
    match (color_type, bit_depth) {
        (0 | 3, 1 | 2 | 4 | 8) => {
            // Rebuild the file as palette-indexed with an identity grey palette.
            let mut png = Vec::with_capacity(bytes.len() + 800);
            png.extend_from_slice(&PNG_SIGNATURE);
            let mut new_ihdr = ihdr.to_vec();
            new_ihdr[9] = 3;
            push_chunk(&mut png, b"IHDR", &new_ihdr);
            let entries = 1usize << bit_depth;
            let plte: Vec<u8> = (0..entries).flat_map(|i| [i as u8; 3]).collect();
            push_chunk(&mut png, b"PLTE", &plte);
            for (kind, data) in &chunks {
                if kind == b"IDAT" {
                    push_chunk(&mut png, b"IDAT", data);
                }
            }
            push_chunk(&mut png, b"IEND", &[]);
            let img = decode_dynamic(&png)?.to_rgb8();
            let map: Vec<u8> = img.as_raw().chunks_exact(3).map(|p| p[0]).collect();
            Ok((map, wu, hu))
        }
        (0, 16) => {
            let img = decode_dynamic(bytes)?;
            let values: Vec<u16> = match img {
                DynamicImage::ImageLuma16(i) => i.into_raw(),
                DynamicImage::ImageLumaA16(i) => i.as_raw().iter().step_by(2).copied().collect(),
                other => {
                    return Err(Error::Image(format!(
                        "16-bit greyscale label PNG decoded as {:?}",
                        other.color()
                    )));
                }
            };
            let mut map = Vec::with_capacity(values.len());
            for (i, v) in values.into_iter().enumerate() {
                let b = u8::try_from(v).map_err(|_| {
                    Error::Image(format!(
                        "16-bit label value {v} at pixel {i} does not fit a u8 class index"
                    ))
                })?;
                map.push(b);
            }
            Ok((map, wu, hu))
        }
        _ => {
            let kind = match color_type {
                2 => "RGB",
                4 => "greyscale + alpha",
                6 => "RGBA",
                0 => "greyscale",
                3 => "palette",
                _ => "unknown",
            };
            Err(Error::Image(format!(
                "label PNG must be greyscale or palette-indexed, got colour type {color_type} ({kind}) with bit depth {bit_depth}"
            )))
        }
    }
}

/// Read a class-index label PNG (see [`decode_label_png`]): returns `(map, width, height)`.
/// Read failures give [`Error::Io`] with the path.
pub fn load_label_png(path: &Path) -> Result<(Vec<u8>, usize, usize)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_label_png(&bytes).map_err(|e| with_path(e, path))
}

/// The class map of a label file (see [`load_label_png`]), its values mapped by `ids`
/// (Cityscapes' label ids → train ids).
pub fn load_label_map(path: &Path, ids: LabelIds) -> Result<ClassMap> {
    let (mut data, width, height) = load_label_png(path)?;
    ids.apply(&mut data);
    Ok(ClassMap { width, height, data })
}

/// The image and the class map of a labelled pair; the label must have the image's size
/// ([`Error::Shape`] naming the label otherwise).
pub fn load_pair(p: &Pair) -> Result<(RgbImage, ClassMap)> {
    let image = super::decode::load(&p.image)?;
    let gt = load_label_map(&p.label, p.labels)?;
    let (w, h) = (image.width(), image.height());
    if (gt.width, gt.height) != (w as usize, h as usize) {
        return Err(Error::Shape(format!("label {} is {}×{}, its image is {w}×{h}", p.label.display(), gt.width, gt.height)));
    }
    Ok((image, gt))
}

/// Encode an 8-bit RGB image as PNG bytes.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| {
            Error::Image(format!(
                "PNG encoding of a {}x{} image failed: {e}",
                img.width(),
                img.height()
            ))
        })?;
    Ok(out)
}

/// Encode an 8-bit RGB image as PNG and write it to `path` ([`Error::Io`] on failure).
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let bytes = encode_png(img)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Encode a class map (`w x h`, row-major) as an 8-bit greyscale PNG whose pixel values are the
/// class indices. Errors: `map.len() != w * h` ([`Error::Shape`]), zero size.
pub fn encode_map_png(map: &[u8], w: usize, h: usize) -> Result<Vec<u8>> {
    let (w32, h32) = map_dims(map.len(), w, h)?;
    let img = GrayImage::from_raw(w32, h32, map.to_vec())
        .ok_or_else(|| Error::Shape(format!("cannot build a {w}x{h} greyscale image")))?;
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| Error::Image(format!("PNG encoding of a {w}x{h} map failed: {e}")))?;
    Ok(out)
}

/// Save a class map as an 8-bit greyscale PNG (see [`encode_map_png`]); [`Error::Io`] on write
/// failure.
pub fn save_map_png(map: &[u8], w: usize, h: usize, path: &Path) -> Result<()> {
    let bytes = encode_map_png(map, w, h)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::voc_palette;
    use crate::image::testing::*;
    use crate::image::{decode, load};
    use image::{ImageBuffer, Luma};

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"IEND"]), 0xae42_6082);
    }

    #[test]
    fn label_png_greyscale_round_trip() {
        let map: Vec<u8> = (0..35).map(|i| [0u8, 3, 15, 255, 20][i % 5]).collect();
        let png = encode_map_png(&map, 7, 5).unwrap();
        assert_eq!(decode_label_png(&png).unwrap(), (map.clone(), 7, 5));
        let dir = std::env::temp_dir().join(format!("advseg-io-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("map.png");
        save_map_png(&map, 7, 5, &p).unwrap();
        assert_eq!(load_label_png(&p).unwrap(), (map, 7, 5));
        let q = dir.join("img.png");
        let img = gradient(9, 4);
        save_png(&img, &q).unwrap();
        assert_eq!(load(&q).unwrap(), img);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            encode_map_png(&[1, 2, 3], 2, 2),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn label_png_palette_gives_raw_indices() {
        // 8-bit palette whose entries are all black: colours cannot tell indices apart.
        let values: Vec<u8> = vec![0, 1, 2, 15, 255, 7];
        let png = craft_png(3, 2, 8, 3, &[(b"PLTE", vec![0u8; 256 * 3])], &values);
        // the image crate expands palettes to colours...
        assert_eq!(decode(&png).unwrap().as_raw(), &vec![0u8; 18]);
        // ...but the label loader returns indices
        assert_eq!(decode_label_png(&png).unwrap(), (values, 3, 2));

        // 4-bit VOC-coloured palette with transparency, odd width (row padding)
        let pal: Vec<u8> = voc_palette()[..16].iter().flatten().copied().collect();
        let values: Vec<u8> = vec![0, 15, 3, 1, 14, 9, 0, 2, 5, 11];
        let png = craft_png(
            5,
            2,
            4,
            3,
            &[(b"PLTE", pal), (b"tRNS", vec![0, 128])],
            &values,
        );
        assert_eq!(decode_label_png(&png).unwrap(), (values, 5, 2));
    }

    #[test]
    fn label_png_low_bit_greyscale_not_rescaled() {
        let values: Vec<u8> = vec![0, 1, 2, 3, 3, 2, 1];
        let png = craft_png(7, 1, 2, 0, &[], &values);
        // a plain decode rescales 2-bit grey to 0..255
        assert_eq!(decode(&png).unwrap().get_pixel(3, 0).0, [255, 255, 255]);
        assert_eq!(decode_label_png(&png).unwrap(), (values, 7, 1));
        let values: Vec<u8> = vec![1, 0, 0, 1, 1, 1, 0, 1, 0];
        let png = craft_png(9, 1, 1, 0, &[], &values);
        assert_eq!(decode_label_png(&png).unwrap(), (values, 9, 1));
    }

    #[test]
    fn label_png_16_bit_and_refusals() {
        let ok: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_raw(3, 1, vec![0, 21, 255]).unwrap();
        let png = encode_dyn(DynamicImage::ImageLuma16(ok), ImageFormat::Png);
        assert_eq!(decode_label_png(&png).unwrap(), (vec![0, 21, 255], 3, 1));
        let bad: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_raw(3, 1, vec![0, 300, 1]).unwrap();
        let png = encode_dyn(DynamicImage::ImageLuma16(bad), ImageFormat::Png);
        let err = decode_label_png(&png).unwrap_err();
        assert!(
            matches!(&err, Error::Image(m) if m.contains("300") && m.contains("pixel 1")),
            "{err}"
        );

        let rgb = encode_png(&gradient(3, 3)).unwrap();
        let err = decode_label_png(&rgb).unwrap_err();
        assert!(
            matches!(&err, Error::Image(m) if m.contains("colour type 2 (RGB)")),
            "{err}"
        );
        let err = decode_label_png(b"GIF89a....").unwrap_err();
        assert!(
            matches!(&err, Error::Image(m) if m.contains("not a PNG")),
            "{err}"
        );
        let err = decode_label_png(&header_only_png(100_000, 100_000)).unwrap_err();
        assert!(
            matches!(&err, Error::Image(m) if m.contains("100000x100000")),
            "{err}"
        );
        let map_png = encode_map_png(&[1; 64], 8, 8).unwrap();
        let err = decode_label_png(&map_png[..map_png.len() - 20]).unwrap_err();
        assert!(
            matches!(&err, Error::Image(m) if m.contains("truncated")),
            "{err}"
        );
    }
}
