//! Defenses against image-scaling attacks (Quiring et al., "Adversarial Preprocessing:
//! Understanding and Preventing Image-Scaling Attacks", USENIX Security 2020, Sec. 5).
//!
//! A scaling attack can only change the downscaled image through the pixels that the scaler
//! actually reads: the source rows with a non-zero column in `L` and the source columns with a
//! non-zero row in `R`. Quiring et al. propose two remedies:
//!
//! * **Robust scaling**: use a scaler that reads every pixel with a non-vanishing weight, i.e.
//!   area scaling (OpenCV `INTER_AREA`, Pillow `BOX`) or Pillow's antialiasing filters
//!   ([`robust_alternative`]). The attack then has to change the whole image, which becomes
//!   visible (see the tests of [`super::attack`]).
//! * **Image reconstruction** ([`reconstruct`]): before scaling, replace every read pixel by the
//!   median ([`Reconstruction::Median`]) or by a random pixel ([`Reconstruction::Random`]) of its
//!   neighbourhood, excluding the other read pixels (they may be manipulated too). The window
//!   spans the gap between read pixels, `±max(1, ⌊ratio/2⌋)` per axis, so that it contains the
//!   unmodified pixels around a read one. The reconstructed image is close to the visible
//!   content of the attack image, and its downscaled version no longer shows the target.
//!   When a window contains no unread pixel (scalers that read everything) the pixel is kept.

use super::scaler::{Scaler, ScalerKind};
use crate::error::{Error, Result};

/// How [`reconstruct`] replaces a pixel that the scaler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconstruction {
    /// Per-channel median of the unread pixels in the window.
    Median,
    /// A randomly chosen unread pixel of the window (all three channels), deterministic for a
    /// given seed.
    Random {
        /// Seed of the pseudo-random generator.
        seed: u64,
    },
}

/// The scaler of the same library that reads every pixel: OpenCV `INTER_AREA` for OpenCV
/// kinds, Pillow `BOX` for Pillow `NEAREST`; Pillow's antialiasing filters are kept.
pub fn robust_alternative(kind: ScalerKind) -> ScalerKind {
    match kind {
        ScalerKind::OpencvNearest
        | ScalerKind::OpencvLinear
        | ScalerKind::OpencvCubic
        | ScalerKind::OpencvArea
        | ScalerKind::OpencvLanczos4 => ScalerKind::OpencvArea,
        ScalerKind::PillowNearest => ScalerKind::PillowBox,
        other => other,
    }
}

/// Row-major `height × width` mask of the source pixels that `scaler` reads (a non-zero column
/// of `L` and a non-zero row of `R`).
pub fn read_mask(scaler: &Scaler) -> Vec<bool> {
    let (n, m) = scaler.src;
    let mut rows = vec![false; m];
    for &i in &scaler.l.indices {
        rows[i] = true;
    }
    let mut cols = vec![false; n];
    for &j in &scaler.rt().indices {
        cols[j] = true;
    }
    let mut mask = vec![false; n * m];
    for i in 0..m {
        if rows[i] {
            for j in 0..n {
                mask[i * n + j] = cols[j];
            }
        }
    }
    mask
}

/// Half-widths `(hx, hy)` of the reconstruction window: `max(1, ⌊ratio/2⌋)` per axis.
pub fn window_half_size(scaler: &Scaler) -> (usize, usize) {
    let h = |r: f64| ((r / 2.0).floor() as usize).max(1);
    (h(scaler.ratio_x()), h(scaler.ratio_y()))
}

/// Quiring et al.'s image reconstruction: every pixel read by `scaler` is replaced by the
/// median or a random pixel of its window, excluding other read pixels. Errors when `image` is
/// not of the scaler's source size.
pub fn reconstruct(
    image: &image::RgbImage,
    scaler: &Scaler,
    method: Reconstruction,
) -> Result<image::RgbImage> {
    let (n, m) = scaler.src;
    if image.width() as usize != n || image.height() as usize != m {
        return Err(Error::Shape(format!(
            "image is {}x{}, the scaler {} expects {n}x{m}",
            image.width(),
            image.height(),
            scaler.kind
        )));
    }
    let mask = read_mask(scaler);
    let (hx, hy) = window_half_size(scaler);
    let src = image.as_raw();
    let mut out = src.clone();
    let mut state = match method {
        Reconstruction::Random { seed } => seed ^ 0x9E37_79B9_7F4A_7C15,
        Reconstruction::Median => 0,
    };
    let mut vals: [Vec<u8>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut cand: Vec<usize> = Vec::new();
    for i in 0..m {
        for j in 0..n {
            if !mask[i * n + j] {
                continue;
            }
            cand.clear();
            for a in i.saturating_sub(hy)..(i + hy + 1).min(m) {
                for b in j.saturating_sub(hx)..(j + hx + 1).min(n) {
                    if !mask[a * n + b] {
                        cand.push(a * n + b);
                    }
                }
            }
            if cand.is_empty() {
                continue;
            }
            match method {
                Reconstruction::Median => {
                    for (c, v) in vals.iter_mut().enumerate() {
                        v.clear();
                        v.extend(cand.iter().map(|&k| src[k * 3 + c]));
                        v.sort_unstable();
                        let len = v.len();
                        let med = if len % 2 == 1 {
                            v[len / 2]
                        } else {
                            (v[len / 2 - 1] as u16 + v[len / 2] as u16).div_ceil(2) as u8
                        };
                        out[(i * n + j) * 3 + c] = med;
                    }
                }
                Reconstruction::Random { .. } => {
                    // xorshift64*
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
                    let k = cand[(r % cand.len() as u64) as usize];
                    for c in 0..3 {
                        out[(i * n + j) * 3 + c] = src[k * 3 + c];
                    }
                }
            }
        }
    }
    image::RgbImage::from_raw(n as u32, m as u32, out)
        .ok_or_else(|| Error::Image(format!("cannot build a {n}x{m} RGB image")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::attack::{ScalingAttackConfig, scaling_attack};

    fn smooth(w: u32, h: u32, phase: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| {
            let v = ((x + phase) * 3 + y * 2) % 256;
            image::Rgb([v as u8, (255 - v) as u8, 128])
        })
    }

    #[test]
    fn read_mask_of_nearest_is_sparse_and_area_is_full() {
        let s = Scaler::new(ScalerKind::OpencvNearest, 16, 8, 4, 2).unwrap();
        let mask = read_mask(&s);
        assert_eq!(mask.iter().filter(|&&b| b).count(), 8);
        assert!(mask[0] && mask[4] && !mask[1] && mask[4 * 16 + 4]);
        let a = Scaler::new(ScalerKind::OpencvArea, 16, 8, 4, 2).unwrap();
        assert!(read_mask(&a).iter().all(|&b| b));
        assert_eq!(window_half_size(&s), (2, 2));
        assert_eq!(
            robust_alternative(ScalerKind::OpencvLinear),
            ScalerKind::OpencvArea
        );
        assert_eq!(
            robust_alternative(ScalerKind::PillowNearest),
            ScalerKind::PillowBox
        );
    }

    #[test]
    fn median_defense_removes_the_target() {
        let src = smooth(64, 64, 0);
        let tgt = image::RgbImage::from_fn(16, 16, |x, _| {
            if x < 8 {
                image::Rgb([250, 5, 250])
            } else {
                image::Rgb([5, 250, 5])
            }
        });
        for kind in [ScalerKind::OpencvNearest, ScalerKind::OpencvLinear] {
            let sc = Scaler::new(kind, 64, 64, 16, 16).unwrap();
            let att = scaling_attack(&src, &tgt, &sc, &ScalingAttackConfig::default()).unwrap();
            assert!(att.max_abs_down_minus_target <= 3);
            for method in [Reconstruction::Median, Reconstruction::Random { seed: 7 }] {
                let def = reconstruct(&att.attack_u8, &sc, method).unwrap();
                let down = sc.apply_u8(&def).unwrap();
                let mean_to_target: f64 = down
                    .as_raw()
                    .iter()
                    .zip(tgt.as_raw())
                    .map(|(a, b)| a.abs_diff(*b) as f64)
                    .sum::<f64>()
                    / down.as_raw().len() as f64;
                assert!(mean_to_target > 60.0, "{kind} {method:?}: {mean_to_target}");
            }
        }
    }

    #[test]
    fn reconstruct_checks_size() {
        let sc = Scaler::new(ScalerKind::OpencvNearest, 16, 16, 4, 4).unwrap();
        let e = reconstruct(&smooth(8, 8, 0), &sc, Reconstruction::Median);
        assert!(matches!(e, Err(Error::Shape(m)) if m.contains("8x8")));
    }
}
