//! OpenCV's integer `uint8` resize kernels, reproduced bit for bit.

use super::scaler::{AreaTab, IntTaps};

/// Horizontal integer pass of one source row (all 3 channels interleaved).
pub(super) fn hpass_i64(src_row: &[u8], taps: &IntTaps, dst: &mut [i64]) {
    for (q, row) in taps.iter().enumerate() {
        for c in 0..3 {
            let mut s = 0i64;
            for &(j, w) in row {
                s += src_row[j * 3 + c] as i64 * w;
            }
            dst[q * 3 + c] = s;
        }
    }
}

/// The horizontal pass of every source row that `taps` reads and `cache` lacks yet.
fn hpass_rows(src: &[u8], n: usize, x: &IntTaps, taps: &[(usize, i64)], cache: &mut [Option<Vec<i64>>]) {
    for &(i, _) in taps {
        if cache[i].is_none() {
            let mut h = vec![0i64; x.len() * 3];
            hpass_i64(&src[i * n * 3..(i + 1) * n * 3], x, &mut h);
            cache[i] = Some(h);
        }
    }
}

pub(super) fn cv_linear_u8(src: &[u8], n: usize, m: usize, x: &IntTaps, y: &IntTaps, out: &mut [u8]) {
    let np = x.len();
    let mut cache: Vec<Option<Vec<i64>>> = vec![None; m];
    for (p, taps) in y.iter().enumerate() {
        hpass_rows(src, n, x, taps, &mut cache);
        let (i0, b0) = taps[0];
        let (i1, b1) = taps[1];
        if let (Some(h0), Some(h1)) = (&cache[i0], &cache[i1]) {
            for k in 0..np * 3 {
                // VResizeLinear<uchar,int,short,...>: ((b0*(S0>>4))>>16) + ((b1*(S1>>4))>>16) + 2 >> 2
                let v = (((b0 * (h0[k] >> 4)) >> 16) + ((b1 * (h1[k] >> 4)) >> 16) + 2) >> 2;
                out[p * np * 3 + k] = v.clamp(0, 255) as u8;
            }
        }
    }
}

pub(super) fn cv_fixed_u8(src: &[u8], n: usize, m: usize, x: &IntTaps, y: &IntTaps, out: &mut [u8]) {
    let np = x.len();
    let mut cache: Vec<Option<Vec<i64>>> = vec![None; m];
    for (p, taps) in y.iter().enumerate() {
        hpass_rows(src, n, x, taps, &mut cache);
        for k in 0..np * 3 {
            let mut v = 0i64;
            for &(i, b) in taps {
                if let Some(h) = &cache[i] {
                    v += b * h[k];
                }
            }
            // FixedPtCast<int, uchar, 22>: saturate_cast<uchar>((v + 2^21) >> 22)
            out[p * np * 3 + k] = ((v + (1 << 21)) >> 22).clamp(0, 255) as u8;
        }
    }
}

pub(super) fn ipp_cubic_u8(
    src: &[u8],
    n: usize,
    x: &[Vec<(usize, f32)>],
    y: &[Vec<(usize, f32)>],
    out: &mut [u8],
) {
    let np = x.len();
    let mut v = vec![0f32; n * 3];
    for (p, ytaps) in y.iter().enumerate() {
        for (j, vj) in v.iter_mut().enumerate() {
            let mut s = 0f32;
            for &(i, w) in ytaps {
                s += src[i * n * 3 + j] as f32 * w;
            }
            *vj = s;
        }
        for (q, xtaps) in x.iter().enumerate() {
            for c in 0..3 {
                let mut s = 0f32;
                for &(j, w) in xtaps {
                    s += v[j * 3 + c] * w;
                }
                out[(p * np + q) * 3 + c] = s.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

pub(super) fn cv_area_fast_u8(
    src: &[u8],
    n: usize,
    dst: (usize, usize),
    kx: usize,
    ky: usize,
    out: &mut [u8],
) {
    let (np, mp) = dst;
    let area = kx * ky;
    let scale = 1.0f32 / area as f32;
    for p in 0..mp {
        for q in 0..np {
            for c in 0..3 {
                let mut sum = 0i64;
                for a in 0..ky {
                    for b in 0..kx {
                        sum += src[((p * ky + a) * n + q * kx + b) * 3 + c] as i64;
                    }
                }
                let v = if kx == 2 && ky == 2 {
                    (sum + 2) >> 2
                } else {
                    ((sum as f32) * scale).round_ties_even() as i64
                };
                out[(p * np + q) * 3 + c] = v.clamp(0, 255) as u8;
            }
        }
    }
}

pub(super) fn cv_area_u8(
    src: &[u8],
    n: usize,
    dst: (usize, usize),
    xtab: &[AreaTab],
    ytab: &[AreaTab],
    out: &mut [u8],
) {
    let (np, _) = dst;
    let w = np * 3;
    let mut buf = vec![0f32; w];
    let mut sum = vec![0f32; w];
    let mut prev_dy = match ytab.first() {
        Some(t) => t.di,
        None => return,
    };
    let store = |sum: &[f32], dy: usize, out: &mut [u8]| {
        for (k, &v) in sum.iter().enumerate() {
            out[dy * w + k] = v.round_ties_even().clamp(0.0, 255.0) as u8;
        }
    };
    for t in ytab {
        let srow = &src[t.si * n * 3..(t.si + 1) * n * 3];
        buf.iter_mut().for_each(|b| *b = 0.0);
        for xt in xtab {
            for c in 0..3 {
                let v = buf[xt.di * 3 + c] + srow[xt.si * 3 + c] as f32 * xt.alpha;
                buf[xt.di * 3 + c] = v;
            }
        }
        let beta = t.alpha;
        if t.di != prev_dy {
            store(&sum, prev_dy, out);
            for (s, &b) in sum.iter_mut().zip(&buf) {
                *s = beta * b;
            }
            prev_dy = t.di;
        } else {
            for (s, &b) in sum.iter_mut().zip(&buf) {
                *s += beta * b;
            }
        }
    }
    store(&sum, prev_dy, out);
}

