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

use crate::resize::{Scaler, ScalerKind};
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
            window_candidates(&mask, (n, m), (i, j), (hx, hy), &mut cand);
            if cand.is_empty() {
                continue;
            }
            match method {
                Reconstruction::Median => {
                    for (c, v) in vals.iter_mut().enumerate() {
                        v.clear();
                        v.extend(cand.iter().map(|&k| src[k * 3 + c]));
                        out[(i * n + j) * 3 + c] = median_u8(v);
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

/// The unread pixels (flat indices `row·n + col`) in the window of half-widths `(hx, hy)` around
/// `(i, j)` (row, column), in raster order.
fn window_candidates(
    mask: &[bool],
    (n, m): (usize, usize),
    (i, j): (usize, usize),
    (hx, hy): (usize, usize),
    cand: &mut Vec<usize>,
) {
    cand.clear();
    for a in i.saturating_sub(hy)..(i + hy + 1).min(m) {
        for b in j.saturating_sub(hx)..(j + hx + 1).min(n) {
            if !mask[a * n + b] {
                cand.push(a * n + b);
            }
        }
    }
}

/// Median of a non-empty list of grey levels (sorts it in place); for an even count the mean of
/// the two middle values rounded up.
fn median_u8(v: &mut [u8]) -> u8 {
    v.sort_unstable();
    let len = v.len();
    if len == 0 {
        return 0;
    }
    if len % 2 == 1 {
        v[len / 2]
    } else {
        (v[len / 2 - 1] as u16 + v[len / 2] as u16).div_ceil(2) as u8
    }
}

/// Outcome of [`adaptive_median_attack`].
#[derive(Debug, Clone)]
pub struct AdaptiveMedianResult {
    /// The adapted attack image (same size as the input attack image).
    pub image: image::RgbImage,
    /// Number of (read pixel, channel) windows that contain at least one unread pixel.
    pub windows: usize,
    /// Of these, the windows whose median (as [`reconstruct`] computes it) equals the value of
    /// their read pixel in the end.
    pub windows_matched: usize,
    /// Pixels that differ from the input attack image in at least one channel.
    pub changed_pixels: usize,
    /// Sweeps over all windows that were run.
    pub passes: usize,
}

/// The adaptive attack against the median reconstruction (Quiring et al., USENIX Security 2020,
/// Sec. 5, adaptive adversary): the attacker knows that every read pixel `p` will be replaced by
/// the median of the unread pixels of its window, so she also changes those neighbours until the
/// median of each window equals the value that the scaling attack put at `p`. Then
/// [`reconstruct`] (median) leaves the read pixels unchanged and the defended image still
/// downscales to the target, at the price of modifying about half of every window.
///
/// Per window and channel with `k` unread values and wanted value `t`, the median is `t` exactly
/// when at most `⌊(k−1)/2⌋` values lie below `t` and at most `⌊(k−1)/2⌋` above it (then both
/// middle order statistics equal `t`, which also covers the even case). The cheapest change (in
/// the number of modified values and in their L2 distance) sets the excess values closest to
/// `t` on the offending side to `t`. Windows of neighbouring read pixels overlap, so the windows
/// are processed in raster order and the sweep is repeated until nothing changes or `max_passes`
/// sweeps have run; [`AdaptiveMedianResult::windows_matched`] reports how many windows end up
/// with the wanted median. Read pixels themselves are never changed, so the undefended
/// downscaled image is exactly that of `attack`.
///
/// The median windows of all read pixels, flattened: the window centres, the offsets of each
/// window in `flat` (one more than windows), and the flattened candidate pixels.
fn read_windows(scaler: &Scaler) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (n, m) = scaler.src;
    let mask = read_mask(scaler);
    let half = window_half_size(scaler);
    let (mut centres, mut offsets, mut flat, mut cand) = (Vec::new(), vec![0], Vec::new(), Vec::new());
    for i in 0..m {
        for j in 0..n {
            if !mask[i * n + j] {
                continue;
            }
            window_candidates(&mask, (n, m), (i, j), half, &mut cand);
            if cand.is_empty() {
                continue;
            }
            centres.push(i * n + j);
            flat.extend_from_slice(&cand);
            offsets.push(flat.len());
        }
    }
    (centres, offsets, flat)
}

/// Set the values of channel `c` on one side of `t` (`below`, else above) beyond the `allowed`
/// count to `t`, those closest to `t` first; whether anything changed.
fn pull_excess(img: &mut [u8], cand: &[usize], c: usize, t: u8, allowed: usize, vals: &mut Vec<(u8, usize)>, below: bool) -> bool {
    vals.clear();
    vals.extend(cand.iter().map(|&q| (img[q * 3 + c], q)).filter(|&(v, _)| if below { v < t } else { v > t }));
    if vals.len() <= allowed {
        return false;
    }
    if below {
        vals.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    } else {
        vals.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    for &(_, q) in &vals[..vals.len() - allowed] {
        img[q * 3 + c] = t;
    }
    true
}

/// Errors: `attack` not of the scaler's source size, `max_passes` = 0.
pub fn adaptive_median_attack(
    attack: &image::RgbImage,
    scaler: &Scaler,
    max_passes: usize,
) -> Result<AdaptiveMedianResult> {
    let (n, m) = scaler.src;
    if attack.width() as usize != n || attack.height() as usize != m {
        return Err(Error::Shape(format!(
            "attack image is {}x{}, the scaler {} expects {n}x{m}",
            attack.width(),
            attack.height(),
            scaler.kind
        )));
    }
    if max_passes == 0 {
        return Err(Error::InvalidArgument(
            "max_passes = 0: the adaptive attack needs at least one pass".into(),
        ));
    }
    let (centres, offsets, flat) = read_windows(scaler);
    let orig = attack.as_raw();
    let mut img = orig.clone();
    let mut vals: Vec<(u8, usize)> = Vec::new();
    let mut passes = 0;
    while passes < max_passes {
        passes += 1;
        let mut changed = false;
        for (w, &p) in centres.iter().enumerate() {
            let cand = &flat[offsets[w]..offsets[w + 1]];
            let k = cand.len();
            let allowed = (k - 1) / 2;
            for c in 0..3 {
                let t = orig[p * 3 + c];
                // values below t, then above it
                changed |= pull_excess(&mut img, cand, c, t, allowed, &mut vals, true);
                changed |= pull_excess(&mut img, cand, c, t, allowed, &mut vals, false);
            }
        }
        if !changed {
            break;
        }
    }
    let mut windows_matched = 0;
    let mut v: Vec<u8> = Vec::new();
    for (w, &p) in centres.iter().enumerate() {
        for c in 0..3 {
            v.clear();
            v.extend(flat[offsets[w]..offsets[w + 1]].iter().map(|&q| img[q * 3 + c]));
            windows_matched += usize::from(median_u8(&mut v) == orig[p * 3 + c]);
        }
    }
    let changed_pixels = img
        .chunks_exact(3)
        .zip(orig.chunks_exact(3))
        .filter(|(a, b)| a != b)
        .count();
    let image = image::RgbImage::from_raw(n as u32, m as u32, img)
        .ok_or_else(|| Error::Image(format!("cannot build a {n}x{m} RGB image")))?;
    Ok(AdaptiveMedianResult {
        image,
        windows: 3 * centres.len(),
        windows_matched,
        changed_pixels,
        passes,
    })
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

    /// A 16×16 target far from any smooth source: magenta left half, green right half.
    fn two_colour_target() -> image::RgbImage {
        image::RgbImage::from_fn(16, 16, |x, _| if x < 8 { image::Rgb([250, 5, 250]) } else { image::Rgb([5, 250, 5]) })
    }

    #[test]
    fn median_defense_removes_the_target() {
        let src = smooth(64, 64, 0);
        let tgt = two_colour_target();
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

    #[test]
    fn adaptive_median_survives_the_median_defense() {
        let src = smooth(64, 64, 0);
        let tgt = two_colour_target();
        let sc = Scaler::new(ScalerKind::OpencvNearest, 64, 64, 16, 16).unwrap();
        let att = scaling_attack(&src, &tgt, &sc, &ScalingAttackConfig::default()).unwrap();
        let ad = adaptive_median_attack(&att.attack_u8, &sc, 10).unwrap();
        // nearest windows do not overlap in read pixels' targets much: every median matches
        assert_eq!(ad.windows, 3 * 16 * 16);
        assert_eq!(ad.windows_matched, ad.windows, "{ad:?}");
        assert!(ad.changed_pixels > 0);
        // read pixels untouched: undefended downscale unchanged
        assert_eq!(sc.apply_u8(&ad.image).unwrap(), sc.apply_u8(&att.attack_u8).unwrap());
        let def = reconstruct(&ad.image, &sc, Reconstruction::Median).unwrap();
        let down = sc.apply_u8(&def).unwrap();
        let max = down.as_raw().iter().zip(tgt.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(max <= 3, "{max}");
        assert!(adaptive_median_attack(&src, &Scaler::new(ScalerKind::OpencvNearest, 32, 32, 8, 8).unwrap(), 1).is_err());
        assert!(adaptive_median_attack(&att.attack_u8, &sc, 0).is_err());
    }

    #[test]
    fn median_helper() {
        assert_eq!(median_u8(&mut [3, 1, 2]), 2);
        assert_eq!(median_u8(&mut [4, 1, 2, 9]), 3);
        assert_eq!(median_u8(&mut [1, 2]), 2);
    }
}
