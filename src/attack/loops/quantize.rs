//! 8-bit adversarial images that keep the budget they claim.
//!
//! A saved PNG holds `k / 255`. Rounding each value of a real-valued adversarial image to the
//! nearest grid point moves it by up to half a grey level, which can leave the ε-ball (at
//! ε = 0.5/255 a value at `x + ε` rounds to `x + 1/255`). Here every rounding stays inside the
//! ball around the clean image `x` (itself on the grid when it came from an 8-bit file):
//!
//! - **nearest in the ball** ([`round_in_ball`]): L∞ clips each rounded value to the grid points
//!   within `[x − ε, x + ε] ∩ [0, 1]`; L2 rounds `x + s·δ` with the largest `s ∈ [0, 1]` whose
//!   rounding has `‖·‖₂ ≤ ε` (bisection; `s = 0` is `x` itself);
//! - **outward** (L∞, [`round_outward`]): every changed value is rounded away from `x`, by at
//!   least one grey level, inside the ball — it keeps the direction of every change, which the
//!   nearest rounding drops where the real-valued change is below half a grey level;
//!
//! and, per image, the more successful of the two is kept (ties to the nearest). Optionally
//! ([`crate::attack::PgdConfig::grid_steps`]) a few sign-gradient steps of one grey level on the
//! grid inside the ball follow, keeping per image the most successful grid point
//! ([`super::grid_search`]).
//!
//! Norms of 8-bit images are measured on the grid ([`grid_norms`]: `max |Δk| / 255`,
//! `√(Σ Δk²) / 255` with integer `Δk`), so a report's `quantized.linf ≤ eps` compares exactly
//! what a user gets back from the PNG. Where ε is below one grey level no grid point other than
//! `x` lies in the ball ([`below_grid`]): the 8-bit image is the clean one and the real-valued
//! scores are the ones that mean something.

use super::norm::Norm;

/// One grey level.
const LEVEL: f64 = 255.0;

/// The grey level of `v` (`round(255·v)`) and whether `v` lies on the 8-bit grid.
fn level(v: f32) -> (i32, bool) {
    let s = f64::from(v) * LEVEL;
    let k = s.round();
    (k as i32, (s - k).abs() < 1e-3)
}

fn value(k: i32) -> f32 {
    k as f32 / LEVEL as f32
}

/// Whether no 8-bit change fits in a ball of radius `eps` (below one grey level, both norms).
pub fn below_grid(eps: f64) -> bool {
    eps * LEVEL < 1.0 - 1e-9
}

/// The whole grey levels an L∞ ball of radius `eps` allows.
fn levels(eps: f64) -> i32 {
    (eps * LEVEL + 1e-9).floor() as i32
}

/// Per value of `x` (clean) and `a` (adversarial), the grid interval `[lo, hi]` in grey levels
/// inside the L∞ ball of `eps` and `[0, 1]`.
fn interval(x: f32, eps: f64) -> (i32, i32) {
    let (kx, on_grid) = level(x);
    if on_grid {
        let r = levels(eps);
        return ((kx - r).max(0), (kx + r).min(255));
    }
    let lo = ((f64::from(x) - eps).max(0.0) * LEVEL - 1e-6).ceil() as i32;
    let hi = ((f64::from(x) + eps).min(1.0) * LEVEL + 1e-6).floor() as i32;
    if lo > hi { (kx, kx) } else { (lo, hi) }
}

/// `adv` rounded to the grid inside the ball of `eps` around `x` (host, batch-major CHW, `per`
/// values per image; see the module documentation).
pub fn round_in_ball(x: &[f32], adv: &[f32], per: usize, norm: Norm, eps: f64) -> Vec<f32> {
    match norm {
        Norm::Linf => x
            .iter()
            .zip(adv)
            .map(|(&c, &a)| {
                let (lo, hi) = interval(c, eps);
                value(level(a).0.clamp(lo, hi))
            })
            .collect(),
        Norm::L2 => x.chunks(per).zip(adv.chunks(per)).flat_map(|(c, a)| round_l2(c, a, eps)).collect(),
    }
}

/// One image's L2 rounding inside the ball: `x + s·δ` rounded, the largest `s` that fits.
fn round_l2(x: &[f32], a: &[f32], eps: f64) -> Vec<f32> {
    let at = |s: f64| -> Vec<f32> {
        x.iter().zip(a).map(|(&c, &v)| value(((f64::from(c) + s * f64::from(v - c)) * LEVEL).round().clamp(0.0, LEVEL) as i32)).collect()
    };
    let fits = |q: &[f32]| grid_norms(q, x).is_none_or(|(_, l2)| l2 <= eps);
    let full = at(1.0);
    if fits(&full) {
        return full;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if fits(&at(mid)) { lo = mid } else { hi = mid }
    }
    let q = at(lo);
    if fits(&q) { q } else { x.to_vec() }
}

/// `adv` rounded away from `x` (L∞): each changed value up to the next grid point beyond it in
/// the direction of its change (at least one grey level), clipped to the ball of `eps`;
/// unchanged values stay.
pub fn round_outward(x: &[f32], adv: &[f32], eps: f64) -> Vec<f32> {
    x.iter()
        .zip(adv)
        .map(|(&c, &a)| {
            let (lo, hi) = interval(c, eps);
            let (kx, _) = level(c);
            let (d, s) = (f64::from(a) - f64::from(c), f64::from(a) * LEVEL);
            let k = if d > 1e-7 {
                ((s - 1e-6).ceil() as i32).max(kx + 1)
            } else if d < -1e-7 {
                ((s + 1e-6).floor() as i32).min(kx - 1)
            } else {
                kx
            };
            value(k.clamp(lo, hi))
        })
        .collect()
}

/// `(L∞, L2)` of `q − x` measured on the 8-bit grid (integer grey-level differences / 255), or
/// `None` when either image is off the grid.
pub fn grid_norms(q: &[f32], x: &[f32]) -> Option<(f64, f64)> {
    let mut max = 0i64;
    let mut sq = 0i64;
    for (&a, &c) in q.iter().zip(x) {
        let ((ka, ga), (kc, gc)) = (level(a), level(c));
        if !(ga && gc) {
            return None;
        }
        let d = i64::from((ka - kc).abs());
        max = max.max(d);
        sq += d * d;
    }
    Some((max as f64 / LEVEL, (sq as f64).sqrt() / LEVEL))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(ks: &[i32]) -> Vec<f32> {
        ks.iter().map(|&k| value(k)).collect()
    }

    #[test]
    fn nearest_rounding_stays_in_the_linf_ball() {
        let x = grid(&[10, 10, 0, 255, 100]);
        // +0.5/255 would round up; −0.6/255 rounds down; edges clip to [0, 1]
        let adv: Vec<f32> = x.iter().zip([0.5f32, -0.6, -0.4, 0.4, 1.4]).map(|(&c, d)| c + d / 255.0).collect();
        for (eps, want) in [(0.5 / 255.0, [10, 10, 0, 255, 100]), (1.0 / 255.0, [11, 9, 0, 255, 101]), (2.0 / 255.0, [11, 9, 0, 255, 101])] {
            let q = round_in_ball(&x, &adv, 5, Norm::Linf, eps);
            assert_eq!(q, grid(&want), "eps {eps}");
            let (linf, _) = grid_norms(&q, &x).unwrap();
            assert!(linf <= eps, "{linf} > {eps}");
        }
        assert!(below_grid(0.5 / 255.0) && !below_grid(1.0 / 255.0));
    }

    #[test]
    fn outward_rounding_takes_the_attacks_direction_at_full_strength() {
        let x = grid(&[10, 10, 10, 0]);
        let adv: Vec<f32> = x.iter().zip([0.2f32, -0.3, 0.0, -0.5]).map(|(&c, d)| c + d / 255.0).collect();
        assert_eq!(round_outward(&x, &adv, 1.0 / 255.0), grid(&[11, 9, 10, 0]));
        assert_eq!(round_outward(&x, &adv, 3.0 / 255.0), grid(&[11, 9, 10, 0]));
        let far: Vec<f32> = x.iter().zip([2.2f32, -1.0, 0.0, 0.0]).map(|(&c, d)| c + d / 255.0).collect();
        assert_eq!(round_outward(&x, &far, 3.0 / 255.0), grid(&[13, 9, 10, 0]));
        assert_eq!(round_outward(&x, &far, 2.0 / 255.0), grid(&[12, 9, 10, 0]));
        assert_eq!(round_outward(&x, &adv, 0.5 / 255.0), x);
    }

    #[test]
    fn l2_rounding_shrinks_until_it_fits() {
        let x = grid(&[50; 8]);
        let adv: Vec<f32> = x.iter().map(|&c| c + 0.7 / 255.0).collect();
        // the real δ has norm 0.7·√8 ≈ 1.98 levels; every value would round up (norm √8)
        for eps in [0.5 / 255.0, 1.0 / 255.0, 2.0 / 255.0, 3.0 / 255.0] {
            let q = round_in_ball(&x, &adv, 8, Norm::L2, eps);
            let (_, l2) = grid_norms(&q, &x).unwrap();
            assert!(l2 <= eps, "{l2} > {eps}");
        }
        assert_eq!(round_in_ball(&x, &adv, 8, Norm::L2, 0.5 / 255.0), x);
        assert_eq!(round_in_ball(&x, &adv, 8, Norm::L2, 3.0 / 255.0), grid(&[51; 8]));
    }

    #[test]
    fn grid_norms_are_exact_in_grey_levels() {
        let x = grid(&[0, 128, 255]);
        let q = grid(&[1, 126, 255]);
        assert_eq!(grid_norms(&q, &x), Some((2.0 / 255.0, 5f64.sqrt() / 255.0)));
        assert_eq!(grid_norms(&[0.1234], &[0.0]), None);
    }
}
