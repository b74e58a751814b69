//! A signed perturbation `δ ∈ [−ε, ε]` (planar CHW, as [`super::RgbImage01`]) as an 8-bit RGB
//! PNG: each value mapped linearly from `[−ε, ε]` to `0..=255` (`v = round((δ/ε + 1)·127.5)`),
//! `ε` written in a `tEXt` chunk with the keyword [`EPS_KEY`]. Reading maps back
//! `δ = (v/127.5 − 1)·ε`, so a round trip moves each value by at most `ε/255` (half a grey
//! level of the `2ε` range).

use image::RgbImage;

use super::decode::be_u32;
use super::png::{PNG_SIGNATURE, encode_png, push_chunk};
use super::rgb01::{from_tensor01, to_tensor01};
use crate::error::{Error, Result};

/// The `tEXt` keyword holding `ε` (a decimal number in `[0, 1]` pixel units).
pub const EPS_KEY: &str = "advseg-eps";

/// A decoded perturbation: `width × height`, radius `eps`, planar CHW values in `[−eps, eps]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The radius the bytes are scaled by.
    pub eps: f64,
    /// Planar CHW values.
    pub data: Vec<f32>,
}

/// Encode `delta` (planar CHW, `3·width·height` values) of radius `eps > 0` as PNG bytes.
/// Values beyond `±eps` are clipped. Errors: a wrong length, a bad `eps`.
pub fn encode_delta_png(delta: &[f32], width: usize, height: usize, eps: f64) -> Result<Vec<u8>> {
    if !(eps.is_finite() && eps > 0.0 && eps <= 1.0) {
        return Err(Error::InvalidArgument(format!("a perturbation PNG needs 0 < eps ≤ 1, got {eps}")));
    }
    let unit: Vec<f32> = delta.iter().map(|&d| ((f64::from(d) / eps).clamp(-1.0, 1.0) * 0.5 + 0.5) as f32).collect();
    let img = from_tensor01(&super::RgbImage01::new(width, height, unit)?)?;
    let png = encode_png(&img)?;
    // the tEXt chunk goes right after IHDR (signature 8 bytes + IHDR 4 + 4 + 13 + 4)
    let ihdr_end = PNG_SIGNATURE.len() + 25;
    let mut text = EPS_KEY.as_bytes().to_vec();
    text.push(0);
    text.extend_from_slice(format!("{eps:.17}").as_bytes());
    let mut out = png[..ihdr_end].to_vec();
    push_chunk(&mut out, b"tEXt", &text);
    out.extend_from_slice(&png[ihdr_end..]);
    Ok(out)
}

/// The `tEXt` value of `key` in PNG `bytes`, if any.
fn text_chunk(bytes: &[u8], key: &str) -> Option<String> {
    let mut pos = PNG_SIGNATURE.len();
    while pos + 8 <= bytes.len() {
        let len = be_u32(&bytes[pos..]) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = bytes.get(pos + 8..pos + 8 + len)?;
        if kind == b"tEXt" {
            let nul = data.iter().position(|&b| b == 0)?;
            if &data[..nul] == key.as_bytes() {
                return String::from_utf8(data[nul + 1..].to_vec()).ok();
            }
        }
        if kind == b"IEND" {
            return None;
        }
        pos += 12 + len;
    }
    None
}

/// Decode a perturbation PNG written by [`encode_delta_png`]. Errors: not a PNG, no (or a bad)
/// `advseg-eps` chunk.
pub fn decode_delta_png(bytes: &[u8]) -> Result<DeltaImage> {
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(Error::Image("a perturbation must be a PNG file (written by advseg universal)".into()));
    }
    let text = text_chunk(bytes, EPS_KEY).ok_or_else(|| {
        Error::Image(format!("this PNG has no '{EPS_KEY}' text chunk: it is not a perturbation written by advseg"))
    })?;
    let eps: f64 = text.trim().parse().map_err(|_| Error::Image(format!("bad {EPS_KEY} value '{text}'")))?;
    if !(eps.is_finite() && eps > 0.0 && eps <= 1.0) {
        return Err(Error::Image(format!("{EPS_KEY} must lie in (0, 1], got {eps}")));
    }
    let img: RgbImage = super::decode(bytes)?;
    let unit = to_tensor01(&img);
    let data = unit.data.iter().map(|&u| ((f64::from(u) * 2.0 - 1.0) * eps) as f32).collect();
    Ok(DeltaImage { width: unit.width, height: unit.height, eps, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::SplitMix64;

    #[test]
    fn round_trip_within_a_grey_level() {
        let (w, h, eps) = (7, 5, 8.0 / 255.0);
        let mut r = SplitMix64::new(4);
        let delta: Vec<f32> = (0..3 * w * h).map(|_| ((2.0 * r.next_f64() - 1.0) * eps) as f32).collect();
        let png = encode_delta_png(&delta, w, h, eps).unwrap();
        let back = decode_delta_png(&png).unwrap();
        assert_eq!((back.width, back.height), (w, h));
        assert!((back.eps - eps).abs() < 1e-15, "{}", back.eps);
        let worst = delta.iter().zip(&back.data).map(|(a, b)| f64::from((a - b).abs())).fold(0.0, f64::max);
        assert!(worst <= eps / 255.0 + 1e-7, "{worst} > ε/255 = {}", eps / 255.0);
        assert!(worst > 0.0, "a random δ cannot survive 8 bits exactly");
        // ±ε land exactly on 0 and 255, and beyond ±ε is clipped
        let png = encode_delta_png(&[eps as f32, -(eps as f32), 3.0], 1, 1, eps).unwrap();
        let d = decode_delta_png(&png).unwrap().data;
        assert!((f64::from(d[0]) - eps).abs() < 1e-7 && (f64::from(d[1]) + eps).abs() < 1e-7 && (f64::from(d[2]) - eps).abs() < 1e-7, "{d:?}");
        // a plain image decoder still reads it
        assert_eq!(crate::image::decode(&png).unwrap().dimensions(), (1, 1));
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(encode_delta_png(&[0.0; 3], 1, 1, 0.0).unwrap_err().to_string().contains("got 0"));
        assert!(encode_delta_png(&[0.0; 2], 1, 1, 0.1).is_err());
        let plain = encode_png(&RgbImage::new(2, 2)).unwrap();
        assert!(decode_delta_png(&plain).unwrap_err().to_string().contains(EPS_KEY));
        assert!(decode_delta_png(b"GIF89a").unwrap_err().to_string().contains("PNG"));
    }
}
