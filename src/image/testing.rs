//! Test helpers: images and hand-crafted PNG files.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use super::png::{PNG_SIGNATURE, push_chunk};
use crate::error::{Error, Result};

pub(crate) fn encode_dyn(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

pub(crate) fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 37 % 256) as u8,
            (y * 53 % 256) as u8,
            ((x + y) * 11 % 256) as u8,
        ])
    })
}

/// zlib stream with stored (uncompressed) deflate blocks.
pub(crate) fn zlib_stored(data: &[u8]) -> Vec<u8> {
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

pub(crate) fn ihdr(w: u32, h: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&w.to_be_bytes());
    d.extend_from_slice(&h.to_be_bytes());
    d.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
    d
}

/// A hand-made PNG: rows of `values` (one per pixel, < 2^bit_depth) packed MSB first.
pub(crate) fn craft_png(
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

pub(crate) fn header_only_png(w: u32, h: u32) -> Vec<u8> {
    let mut png = PNG_SIGNATURE.to_vec();
    push_chunk(&mut png, b"IHDR", &ihdr(w, h, 8, 2));
    push_chunk(&mut png, b"IEND", &[]);
    png
}

pub(crate) fn image_err(r: Result<RgbImage>) -> String {
    match r {
        Err(Error::Image(m)) => m,
        other => panic!("expected Error::Image, got {other:?}"),
    }
}
