//! Image input/output: decoding PNG/JPEG, conversion to `[0, 1]` planar tensors, resizing (including
//! a bit-exact reproduction of Pillow's bilinear resize), label maps, colour maps and overlays.
//!
//! Images cross the crate's API as [`RgbImage01`]: planar CHW `f32` data (planes R, G, B, each
//! `height * width` row-major) with values in `[0, 1]`. Everything here works without a file
//! system (for wasm32) except the `load*` / `save*` helpers, which wrap the byte-level functions.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scaling::scaler::{Scaler, ScalerKind};

/// Largest accepted image, in pixels (width × height): 64 Mi pixels. Larger images are refused
/// before they are decoded.
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Colour given by [`colorize`] to class indices outside the palette, e.g. the void label 255
/// (it is also entry 255 of the [`voc_palette`]).
pub const VOID_COLOR: [u8; 3] = [224, 224, 192];

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

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

/// Refuse zero-sized images and images of more than [`MAX_PIXELS`] pixels.
fn check_dimensions(w: u32, h: u32) -> Result<()> {
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

fn be_u32(b: &[u8]) -> u32 {
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
fn decode_dynamic(bytes: &[u8]) -> Result<DynamicImage> {
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

fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Image(m) => Error::Image(format!("{}: {m}", path.display())),
        other => other,
    }
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

/// Resampling method of [`resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ResizeMethod {
    /// OpenCV's `cv2.resize(..., INTER_LINEAR)`, bit-exact (half-pixel centres, not antialiased,
    /// 11-bit fixed-point weights): the `opencv-linear` scaler of [`crate::scaling`].
    Bilinear,
    /// Nearest neighbour exactly as Pillow's `Image.resize(size, NEAREST)`: source index
    /// `floor((i + 0.5) * src / dst)` (see [`crate::metrics::nearest_resize_map`]); the
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
    /// the `pillow-bilinear` scaler of [`crate::scaling`].
    #[default]
    PilBilinear,
}

/// Resize an 8-bit RGB image to `w x h` with the given method, exactly as the named library
/// does (the scalers of [`crate::scaling::scaler`]). A zero target (or source) size is
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

/// The Pascal VOC colour palette (256 entries): class `c` gets, for bit `j` of its three
/// interleaved bit planes, `r |= bit(c, 0) << (7 - j)`, `g |= bit(c, 1) << (7 - j)`,
/// `b |= bit(c, 2) << (7 - j)`, shifting `c` right by 3 each round (15 = person = (192, 128, 128),
/// 255 = void = [`VOID_COLOR`]).
pub fn voc_palette() -> Vec<[u8; 3]> {
    (0..=255u8).map(crate::model::zoo::voc_colour).collect()
}

fn map_dims(map_len: usize, w: usize, h: usize) -> Result<(u32, u32)> {
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
/// palette (e.g. the void label 255 with a 21-entry palette) get [`VOID_COLOR`] `[224, 224, 192]`.
/// Errors: `map.len() != w * h` ([`Error::Shape`]), zero size ([`Error::InvalidArgument`]).
pub fn colorize(map: &[u8], w: usize, h: usize, palette: &[[u8; 3]]) -> Result<RgbImage> {
    let (w32, h32) = map_dims(map.len(), w, h)?;
    let data: Vec<u8> = map
        .iter()
        .flat_map(|&c| palette.get(usize::from(c)).copied().unwrap_or(VOID_COLOR))
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

/// CRC-32 (ISO-HDLC, as used by PNG chunks).
fn crc32(parts: &[&[u8]]) -> u32 {
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

fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
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
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
    use std::path::PathBuf;

    // ---------------------------------------------------------------- helpers

    fn shared() -> PathBuf {
        std::env::var_os("ADVSEG_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
    }

    fn fixtures() -> PathBuf {
        shared().join("fixtures")
    }

    fn encode_dyn(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 37 % 256) as u8,
                (y * 53 % 256) as u8,
                ((x + y) * 11 % 256) as u8,
            ])
        })
    }

    /// zlib stream with stored (uncompressed) deflate blocks.
    fn zlib_stored(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = if data.is_empty() {
            vec![&[][..]]
        } else {
            data.chunks(65535).collect()
        };
        for (i, b) in blocks.iter().enumerate() {
            out.push(u8::from(i + 1 == blocks.len()));
            let len = b.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(b);
        }
        let (mut a, mut s) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            s = (s + a) % 65521;
        }
        out.extend_from_slice(&((s << 16) | a).to_be_bytes());
        out
    }

    fn ihdr(w: u32, h: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&w.to_be_bytes());
        d.extend_from_slice(&h.to_be_bytes());
        d.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
        d
    }

    /// A hand-made PNG: rows of `values` (one per pixel, < 2^bit_depth) packed MSB first.
    fn craft_png(
        w: u32,
        h: u32,
        bit_depth: u8,
        color_type: u8,
        extra: &[(&[u8; 4], Vec<u8>)],
        values: &[u8],
    ) -> Vec<u8> {
        let mut raw = Vec::new();
        for row in values.chunks(w as usize) {
            raw.push(0); // filter: none
            let mut acc = 0u16;
            let mut nbits = 0;
            for &v in row {
                acc = (acc << bit_depth) | u16::from(v);
                nbits += bit_depth;
                if nbits == 8 {
                    raw.push(acc as u8);
                    acc = 0;
                    nbits = 0;
                }
            }
            if nbits > 0 {
                raw.push((acc << (8 - nbits)) as u8);
            }
        }
        let mut png = PNG_SIGNATURE.to_vec();
        push_chunk(&mut png, b"IHDR", &ihdr(w, h, bit_depth, color_type));
        for (kind, data) in extra {
            push_chunk(&mut png, kind, data);
        }
        push_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
        push_chunk(&mut png, b"IEND", &[]);
        png
    }

    fn header_only_png(w: u32, h: u32) -> Vec<u8> {
        let mut png = PNG_SIGNATURE.to_vec();
        push_chunk(&mut png, b"IHDR", &ihdr(w, h, 8, 2));
        push_chunk(&mut png, b"IEND", &[]);
        png
    }

    fn image_err(r: Result<RgbImage>) -> String {
        match r {
            Err(Error::Image(m)) => m,
            other => panic!("expected Error::Image, got {other:?}"),
        }
    }

    /// Read one tensor of a safetensors file: (shape, little-endian f32 values).
    fn safetensors_f32(path: &Path, name: &str) -> (Vec<usize>, Vec<f32>) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let t = &header[name];
        assert_eq!(t["dtype"], "F32");
        let shape: Vec<usize> = t["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let off = t["data_offsets"].as_array().unwrap();
        let (s, e) = (
            off[0].as_u64().unwrap() as usize,
            off[1].as_u64().unwrap() as usize,
        );
        let data = &bytes[8 + n + s..8 + n + e];
        let vals = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (shape, vals)
    }

    /// (number of samples differing, max absolute difference)
    fn compare(a: &RgbImage, b: &RgbImage) -> (usize, u8) {
        assert_eq!(a.dimensions(), b.dimensions());
        let mut n = 0;
        let mut max = 0;
        for (&x, &y) in a.as_raw().iter().zip(b.as_raw()) {
            let d = x.abs_diff(y);
            n += usize::from(d != 0);
            max = max.max(d);
        }
        (n, max)
    }

    const SCALING_CASES: [(&str, u32, u32); 9] = [
        ("astronaut512", 128, 128),
        ("astronaut512", 256, 256),
        ("astronaut512", 150, 150),
        ("astronaut1024", 256, 256),
        ("voc294_500x375", 257, 257),
        ("voc294_500x375", 384, 384),
        ("chelsea451x300", 150, 100),
        ("chelsea451x300", 224, 224),
        ("astronaut128crop", 384, 384),
    ];

    fn scaling_pair(src: &str, alg: &str, w: u32, h: u32) -> (RgbImage, RgbImage) {
        let dir = fixtures().join("scaling");
        let input = load(&dir.join(format!("{src}.png"))).unwrap();
        let expected = load(&dir.join(format!("{src}__{alg}__{w}x{h}.png"))).unwrap();
        (input, expected)
    }

    // ---------------------------------------------------------------- decode

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
    fn crc32_known_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"IEND"]), 0xae42_6082);
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

    #[test]
    fn pil_bilinear_matches_pillow_fixtures_exactly() {
        let mut total = 0usize;
        for (src, w, h) in SCALING_CASES {
            let (input, expected) = scaling_pair(src, "pillow-bilinear", w, h);
            let got = resize(&input, w, h, ResizeMethod::PilBilinear).unwrap();
            let (n, max) = compare(&got, &expected);
            eprintln!("pillow-bilinear {src} -> {w}x{h}: {n} differing samples, max diff {max}");
            assert_eq!((n, max), (0, 0), "{src} -> {w}x{h}");
            total += got.as_raw().len();
        }
        eprintln!("pillow-bilinear: {total} samples, all equal");
    }

    #[test]
    fn nearest_matches_pillow_fixtures_exactly() {
        for (src, w, h) in SCALING_CASES {
            let (input, expected) = scaling_pair(src, "pillow-nearest", w, h);
            let got = resize(&input, w, h, ResizeMethod::Nearest).unwrap();
            let (n, max) = compare(&got, &expected);
            eprintln!("pillow-nearest {src} -> {w}x{h}: {n} differing samples, max diff {max}");
            assert_eq!((n, max), (0, 0), "{src} -> {w}x{h}");
        }
    }

    #[test]
    fn bilinear_matches_opencv_linear_exactly() {
        for (src, w, h) in SCALING_CASES {
            let (input, expected) = scaling_pair(src, "opencv-linear", w, h);
            let got = resize(&input, w, h, ResizeMethod::Bilinear).unwrap();
            let (n, max) = compare(&got, &expected);
            let frac = n as f64 / got.as_raw().len() as f64;
            eprintln!(
                "opencv-linear {src} -> {w}x{h}: {:.3}% differ, max diff {max}",
                frac * 100.0
            );
            assert_eq!((n, max), (0, 0), "{src} -> {w}x{h}");
        }
    }

    #[test]
    fn pil_bilinear_reproduces_reference_x01() {
        let img = load(&fixtures().join("images/voc/294.png")).unwrap();
        assert_eq!(img.dimensions(), (513, 513));
        for (file, size) in [
            (
                "espnetv2_s2.0_pascal_384x384__voc_294.safetensors",
                384usize,
            ),
            ("deeplabv3_mnv2_257_voc__voc_294.safetensors", 257),
        ] {
            let (shape, x01) = safetensors_f32(&fixtures().join("reference").join(file), "x01");
            assert_eq!(shape, vec![1, 3, size, size]);
            let t = to_tensor01(
                &resize(&img, size as u32, size as u32, ResizeMethod::PilBilinear).unwrap(),
            );
            assert_eq!((t.width, t.height), (size, size));
            let differing = t.data.iter().zip(&x01).filter(|(a, b)| a != b).count();
            let max = t
                .data
                .iter()
                .zip(&x01)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            eprintln!(
                "x01 {size}x{size}: {differing} of {} values differ, max diff {max}",
                x01.len()
            );
            assert_eq!(differing, 0, "{file}");
        }
    }

    // ---------------------------------------------------------------- colour maps

    #[test]
    fn voc_palette_and_colorize() {
        let pal = voc_palette();
        assert_eq!(pal.len(), 256);
        assert_eq!(pal[0], [0, 0, 0]);
        assert_eq!(pal[1], [128, 0, 0]);
        assert_eq!(pal[7], [128, 128, 128]);
        assert_eq!(pal[15], [192, 128, 128]);
        assert_eq!(pal[20], [0, 64, 128]);
        assert_eq!(pal[255], VOID_COLOR);
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

    #[test]
    fn shared_label_fixtures_are_8bit_grey_class_maps() {
        let (map, w, h) = load_label_png(&fixtures().join("images/voc/294_label.png")).unwrap();
        assert_eq!((w, h), (513, 513));
        assert!(map.iter().all(|&v| v <= 20 || v == 255));
        for class in [0u8, 7, 15, 255] {
            assert!(map.contains(&class), "class {class} missing");
        }
        let bytes = std::fs::read(fixtures().join("images/voc/294_label.png")).unwrap();
        assert_eq!((bytes[24], bytes[25]), (8, 0)); // bit depth 8, colour type 0 (greyscale)
        let (map, w, h) = load_label_png(
            &fixtures().join("reference/argmax/espnetv2_s_2.0_pascal_384x384/voc_294.png"),
        )
        .unwrap();
        assert_eq!((w, h), (384, 384));
        assert!(map.iter().all(|&v| v <= 20));
    }

    /// End-to-end check of metrics + label I/O against the published clean metrics: argmax maps
    /// nearest-resized to the label size, one confusion matrix over the 10 VOC images.
    #[test]
    fn clean_metrics_reproduce_reference_json() {
        use crate::metrics::{ConfusionMatrix, SegMetrics, nearest_resize_map};
        let fx = fixtures();
        let text =
            std::fs::read_to_string(fx.join("reference/clean_metrics_voc_shared.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let images = ["0", "1", "8", "20", "23", "114", "166", "294", "417", "474"];
        let models = json.as_object().unwrap();
        assert_eq!(models.len(), 5);
        for (model, expect) in models {
            let mut cm = ConfusionMatrix::new(21);
            for name in images {
                let (gt, gw, gh) =
                    load_label_png(&fx.join(format!("images/voc/{name}_label.png"))).unwrap();
                let (pred, pw, ph) =
                    load_label_png(&fx.join(format!("reference/argmax/{model}/voc_{name}.png")))
                        .unwrap();
                let pred = nearest_resize_map(&pred, pw, ph, gw, gh).unwrap();
                cm.add(&gt, &pred).unwrap();
            }
            let m = SegMetrics::from_confusion(&cm, images.len());
            let miou = expect["miou"].as_f64().unwrap();
            let acc = expect["pixel_accuracy"].as_f64().unwrap();
            let n_classes = m.per_class_iou.iter().filter(|v| v.is_some()).count();
            eprintln!(
                "{model}: miou {:.5} (ref {miou}), acc {:.5} (ref {acc}), classes {n_classes}",
                m.miou, m.pixel_accuracy
            );
            assert!(
                (m.miou - miou).abs() <= 5e-5,
                "{model}: {} vs {miou}",
                m.miou
            );
            assert!(
                (m.pixel_accuracy - acc).abs() <= 5e-5,
                "{model}: {} vs {acc}",
                m.pixel_accuracy
            );
            assert_eq!(n_classes as u64, expect["n_classes"].as_u64().unwrap());
            assert_eq!(m.n_images, 10);
        }
    }
}
