//! Pillow's `Image.resize` (`src/libImaging/Resample.c`): filters, taps and the fixed-point
//! `uint8` path.

use super::opencv_u8::hpass_i64;
use super::scaler::{IntTaps, Taps};

pub(super) const PIL_PRECISION_BITS: u32 = 22;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum PilFilter {
    Box,
    Bilinear,
    Bicubic,
    Lanczos,
}

pub(super) fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let y = x * std::f64::consts::PI;
    y.sin() / y
}

impl PilFilter {
    fn support(self) -> f64 {
        match self {
            PilFilter::Box => 0.5,
            PilFilter::Bilinear => 1.0,
            PilFilter::Bicubic => 2.0,
            PilFilter::Lanczos => 3.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        match self {
            PilFilter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            PilFilter::Bilinear => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
            PilFilter::Bicubic => {
                let a = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * a
                } else {
                    0.0
                }
            }
            PilFilter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// Pillow `precompute_coeffs` for the full box `[0, in_size)`.
pub(super) fn pillow_axis(filter: PilFilter, in_size: usize, out_size: usize) -> Taps {
    let in1 = in_size as f32;
    let scale = in1 as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ss = 1.0 / filterscale;
    let mut taps = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C casts truncate toward zero; negative values are clamped to 0 right after.
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        let mut k = Vec::new();
        let mut ww = 0.0;
        for x in xmin..xmax {
            let w = filter.eval((x as f64 - center + 0.5) * ss);
            k.push((x as usize, w));
            ww += w;
        }
        if ww != 0.0 {
            for t in k.iter_mut() {
                t.1 /= ww;
            }
        }
        taps.push(k);
    }
    taps
}

/// Pillow `normalize_coeffs_8bpc`.
pub(super) fn pillow_int_taps(t: &Taps) -> IntTaps {
    let one = (1i64 << PIL_PRECISION_BITS) as f64;
    t.iter()
        .map(|row| {
            row.iter()
                .map(|&(s, w)| {
                    let v = if w < 0.0 {
                        -0.5 + w * one
                    } else {
                        0.5 + w * one
                    };
                    (s, v as i64)
                })
                .collect()
        })
        .collect()
}

/// Pillow NEAREST (`ImagingScaleAffine`): accumulated double coordinate, truncated.
pub(super) fn pillow_nearest_axis(in_size: usize, out_size: usize) -> Vec<usize> {
    let a = (in_size as f32) as f64 / out_size as f64;
    let mut xo = a * 0.5;
    let mut out = Vec::with_capacity(out_size);
    for _ in 0..out_size {
        let xin = if xo < 0.0 { 0 } else { xo as usize };
        out.push(xin.min(in_size - 1));
        xo += a;
    }
    out
}


/// Pillow `clip8`: `floor(ss / 2^22)` clipped to 0..=255 (`ss` already holds the +½ bias).
pub(super) fn pil_clip8(ss: i64) -> u8 {
    (ss >> PIL_PRECISION_BITS).clamp(0, 255) as u8
}

pub(super) fn pillow_u8(
    src: &[u8],
    s: (usize, usize),
    d: (usize, usize),
    x: &Option<IntTaps>,
    y: &Option<IntTaps>,
    out: &mut [u8],
) {
    let (n, m) = s;
    let (np, mp) = d;
    let half = 1i64 << (PIL_PRECISION_BITS - 1);
    // Horizontal pass (all rows; Pillow restricts to the rows the vertical pass reads, which
    // gives the same values).
    let tmp: Vec<u8>;
    let (tw, tsrc): (usize, &[u8]) = match x {
        Some(xt) => {
            let mut t = vec![0u8; m * np * 3];
            let mut h = vec![0i64; np * 3];
            for i in 0..m {
                hpass_i64(&src[i * n * 3..(i + 1) * n * 3], xt, &mut h);
                for (k, &v) in h.iter().enumerate() {
                    t[i * np * 3 + k] = pil_clip8(v + half);
                }
            }
            tmp = t;
            (np, &tmp)
        }
        None => (n, src),
    };
    match y {
        Some(yt) => {
            for (p, taps) in yt.iter().enumerate() {
                for k in 0..tw * 3 {
                    let mut ss = half;
                    for &(i, w) in taps {
                        ss += tsrc[i * tw * 3 + k] as i64 * w;
                    }
                    out[p * np * 3 + k] = pil_clip8(ss);
                }
            }
        }
        None => {
            let len = mp * np * 3;
            out[..len].copy_from_slice(&tsrc[..len]);
        }
    }
}

