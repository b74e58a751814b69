//! OpenCV's `cv::resize` coefficients (`modules/imgproc/src/resize.cpp`): the taps of each
//! interpolation and the integer plan its `uint8` path runs.

use super::kind::ScalerKind;
use super::scaler::{AreaTab, IntTaps, Taps, U8Plan};

/// `cvRound` for doubles/floats: round half to even (SSE2 `cvtsd2si` default mode).
pub(super) fn cv_round(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// `saturate_cast<short>(float)`.
pub(super) fn sat_short(v: f32) -> i64 {
    cv_round(v as f64).clamp(i16::MIN as i64, i16::MAX as i64)
}

pub(super) fn interpolate_cubic(x: f32) -> [f32; 4] {
    // resize.cpp interpolateCubic, float arithmetic, A = -0.75.
    let a: f32 = -0.75;
    let c0 = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a;
    let c1 = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    let c2 = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    let c3 = 1.0f32 - c0 - c1 - c2;
    [c0, c1, c2, c3]
}

pub(super) fn interpolate_lanczos4(x: f32) -> [f32; 8] {
    // resize.cpp interpolateLanczos4: sin/cos of the first tap in double, the others from the
    // 45-degree rotation table, normalised to sum 1 in float.
    const S45: f64 = std::f64::consts::FRAC_1_SQRT_2;
    const CS: [[f64; 2]; 8] = [
        [1.0, 0.0],
        [-S45, -S45],
        [0.0, 1.0],
        [S45, -S45],
        [-1.0, 0.0],
        [S45, S45],
        [0.0, -1.0],
        [-S45, S45],
    ];
    let mut c = [0f32; 8];
    let mut sum = 0f32;
    let y0 = -((x + 3.0) as f64) * std::f64::consts::PI * 0.25;
    let (s0, c0) = (y0.sin(), y0.cos());
    for i in 0..8 {
        let y0_ = x + 3.0 - i as f32;
        if y0_.abs() >= 1e-6 {
            let y = -(y0_ as f64) * std::f64::consts::PI * 0.25;
            c[i] = ((CS[i][0] * s0 + CS[i][1] * c0) / (y * y)) as f32;
        } else {
            c[i] = 1e30;
        }
        sum += c[i];
    }
    let inv = 1.0f32 / sum;
    for v in c.iter_mut() {
        *v *= inv;
    }
    c
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum CvInterp {
    Linear,
    Cubic,
    Lanczos4,
    /// INTER_AREA when some axis is upscaled: linear taps with the area offsets.
    AreaMode,
}

/// OpenCV generic path (`resizeGeneric_`) for one axis: per output index the `ksize` taps
/// `(clamped source index, float coefficient)`. `is_x` applies the extra border handling that
/// OpenCV does only for the horizontal table of 2-tap kernels.
pub(super) fn cv_generic_axis(
    interp: CvInterp,
    ssize: usize,
    dsize: usize,
    scale: f64,
    inv_scale: f64,
    is_x: bool,
) -> Vec<Vec<(usize, f32)>> {
    let ksize: i64 = match interp {
        CvInterp::Linear | CvInterp::AreaMode => 2,
        CvInterp::Cubic => 4,
        CvInterp::Lanczos4 => 8,
    };
    let ksize2 = ksize / 2;
    let two_tap = ksize == 2;
    let ss = ssize as i64;
    let mut out = Vec::with_capacity(dsize);
    for d in 0..dsize {
        let (mut sx, mut fx): (i64, f32);
        if interp == CvInterp::AreaMode {
            sx = (d as f64 * scale).floor() as i64;
            fx = ((d + 1) as f64 - (sx + 1) as f64 * inv_scale) as f32;
            fx = if fx <= 0.0 { 0.0 } else { fx - fx.floor() };
        } else {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            sx = f.floor() as i64;
            fx = f - sx as f32;
        }
        if is_x && two_tap {
            if sx < ksize2 - 1 && sx < 0 {
                fx = 0.0;
                sx = 0;
            }
            if sx + ksize2 >= ss && sx >= ss - 1 {
                fx = 0.0;
                sx = ss - 1;
            }
        }
        let cbuf: Vec<f32> = match interp {
            CvInterp::Linear | CvInterp::AreaMode => vec![1.0 - fx, fx],
            CvInterp::Cubic => interpolate_cubic(fx).to_vec(),
            CvInterp::Lanczos4 => interpolate_lanczos4(fx).to_vec(),
        };
        let taps = (0..ksize)
            .map(|k| {
                let s = (sx - ksize2 + 1 + k).clamp(0, ss - 1) as usize;
                (s, cbuf[k as usize])
            })
            .collect();
        out.push(taps);
    }
    out
}

/// Keys cubic (A = −0.75) weights in double at the double-precision position, stored as `f32`:
/// the model of IPP's INTER_CUBIC that reproduces the opencv-python `uint8` outputs best.
pub(super) fn ipp_cubic_axis(ssize: usize, dsize: usize, scale: f64) -> Vec<Vec<(usize, f32)>> {
    let a = -0.75f64;
    (0..dsize)
        .map(|d| {
            let f = (d as f64 + 0.5) * scale - 0.5;
            let sx = f.floor();
            let x = f - sx;
            let c0 = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a;
            let c1 = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
            let c2 = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
            let c = [c0, c1, c2, 1.0 - c0 - c1 - c2];
            (0..4)
                .map(|k| {
                    let s = (sx as i64 - 1 + k as i64).clamp(0, ssize as i64 - 1) as usize;
                    (s, c[k] as f32)
                })
                .collect()
        })
        .collect()
}

/// OpenCV `computeResizeAreaTab` (channel count 1).
pub(super) fn cv_area_tab(ssize: usize, dsize: usize, scale: f64) -> Vec<AreaTab> {
    let mut tab = Vec::new();
    for dx in 0..dsize {
        let fsx1 = dx as f64 * scale;
        let fsx2 = fsx1 + scale;
        let cell_width = scale.min(ssize as f64 - fsx1);
        let mut sx1 = fsx1.ceil() as i64;
        let mut sx2 = fsx2.floor() as i64;
        sx2 = sx2.min(ssize as i64 - 1);
        sx1 = sx1.min(sx2);
        if sx1 as f64 - fsx1 > 1e-3 {
            tab.push(AreaTab {
                di: dx,
                si: (sx1 - 1).max(0) as usize,
                alpha: ((sx1 as f64 - fsx1) / cell_width) as f32,
            });
        }
        for sx in sx1..sx2 {
            tab.push(AreaTab {
                di: dx,
                si: sx.max(0) as usize,
                alpha: (1.0 / cell_width) as f32,
            });
        }
        if fsx2 - sx2 as f64 > 1e-3 {
            tab.push(AreaTab {
                di: dx,
                si: sx2.max(0) as usize,
                alpha: ((fsx2 - sx2 as f64).min(1.0).min(cell_width) / cell_width) as f32,
            });
        }
    }
    tab
}

pub(super) fn area_tab_to_taps(tab: &[AreaTab], dsize: usize) -> Taps {
    let mut taps: Taps = vec![Vec::new(); dsize];
    for t in tab {
        if t.di < dsize {
            taps[t.di].push((t.si, t.alpha as f64));
        }
    }
    taps
}

pub(super) fn float_taps(t: &[Vec<(usize, f32)>]) -> Taps {
    t.iter()
        .map(|row| row.iter().map(|&(s, w)| (s, w as f64)).collect())
        .collect()
}

pub(super) fn fixed_taps(t: &[Vec<(usize, f32)>]) -> IntTaps {
    t.iter()
        .map(|row| {
            row.iter()
                .map(|&(s, w)| (s, sat_short(w * 2048.0)))
                .collect()
        })
        .collect()
}

/// What OpenCV's `hal::resize` actually runs for a given request.
pub(super) struct CvSetup {
    pub(super) taps_x: Taps,
    pub(super) taps_y: Taps,
    pub(super) plan: U8Plan,
}

pub(super) fn opencv_setup(kind: ScalerKind, sw: usize, sh: usize, dw: usize, dh: usize) -> CvSetup {
    let inv_x = dw as f64 / sw as f64;
    let inv_y = dh as f64 / sh as f64;
    let scale_x = 1.0 / inv_x;
    let scale_y = 1.0 / inv_y;
    let iscale_x = cv_round(scale_x);
    let iscale_y = cv_round(scale_y);
    let is_area_fast = (scale_x - iscale_x as f64).abs() < f64::EPSILON
        && (scale_y - iscale_y as f64).abs() < f64::EPSILON;

    if kind == ScalerKind::OpencvNearest {
        // resizeNN: sx = floor(x * (1/fx)), clamped.
        let ifx = 1.0 / inv_x;
        let ify = 1.0 / inv_y;
        let xs: Vec<usize> = (0..dw)
            .map(|x| ((x as f64 * ifx).floor() as usize).min(sw - 1))
            .collect();
        let ys: Vec<usize> = (0..dh)
            .map(|y| ((y as f64 * ify).floor() as usize).min(sh - 1))
            .collect();
        return CvSetup {
            taps_x: xs.iter().map(|&s| vec![(s, 1.0)]).collect(),
            taps_y: ys.iter().map(|&s| vec![(s, 1.0)]).collect(),
            plan: U8Plan::Nearest { xs, ys },
        };
    }

    let mut area = kind == ScalerKind::OpencvArea;
    if kind == ScalerKind::OpencvLinear && is_area_fast && iscale_x == 2 && iscale_y == 2 {
        area = true;
    }
    if area && scale_x >= 1.0 && scale_y >= 1.0 {
        if is_area_fast {
            let (kx, ky) = (iscale_x as usize, iscale_y as usize);
            let wx = (1.0f32 / kx as f32) as f64;
            let wy = (1.0f32 / ky as f32) as f64;
            let taps_x = (0..dw)
                .map(|d| (0..kx).map(|k| (d * kx + k, wx)).collect())
                .collect();
            let taps_y = (0..dh)
                .map(|d| (0..ky).map(|k| (d * ky + k, wy)).collect())
                .collect();
            return CvSetup {
                taps_x,
                taps_y,
                plan: U8Plan::CvAreaFast { kx, ky },
            };
        }
        let xtab = cv_area_tab(sw, dw, scale_x);
        let ytab = cv_area_tab(sh, dh, scale_y);
        return CvSetup {
            taps_x: area_tab_to_taps(&xtab, dw),
            taps_y: area_tab_to_taps(&ytab, dh),
            plan: U8Plan::CvArea { xtab, ytab },
        };
    }
    let interp = match kind {
        ScalerKind::OpencvCubic => CvInterp::Cubic,
        ScalerKind::OpencvLanczos4 => CvInterp::Lanczos4,
        ScalerKind::OpencvArea => CvInterp::AreaMode,
        _ => CvInterp::Linear,
    };
    let fx = cv_generic_axis(interp, sw, dw, scale_x, inv_x, true);
    let fy = cv_generic_axis(interp, sh, dh, scale_y, inv_y, false);
    let plan = match interp {
        CvInterp::Linear | CvInterp::AreaMode => U8Plan::CvLinear {
            x: fixed_taps(&fx),
            y: fixed_taps(&fy),
        },
        CvInterp::Lanczos4 => U8Plan::CvFixed {
            x: fixed_taps(&fx),
            y: fixed_taps(&fy),
        },
        CvInterp::Cubic => U8Plan::IppCubic {
            x: ipp_cubic_axis(sw, dw, scale_x),
            y: ipp_cubic_axis(sh, dh, scale_y),
        },
    };
    CvSetup {
        taps_x: float_taps(&fx),
        taps_y: float_taps(&fy),
        plan,
    }
}

