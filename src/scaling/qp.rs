//! Shared pieces of the scaling attack's QP solvers: options, outcomes, work buffers and the
//! exact single-constraint solver (breakpoint sorting; see [`super::attack`]).

use super::attack::PIXEL_MAX;

/// Options of the QP solver.
#[derive(Debug, Clone, Copy)]
pub(super) struct SolverOpts {
    pub(super) tol: f64,
    pub(super) max_sweeps: usize,
}

/// Result of one QP solve.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct QpOutcome {
    pub(super) converged: bool,
    pub(super) infeasible: bool,
    pub(super) residual: f64,
    pub(super) sweeps: usize,
    pub(super) newton: usize,
}

/// Reusable scratch memory of the solver.
#[derive(Debug, Default)]
pub(super) struct Work {
    pub(super) lambda: Vec<f64>,
    pub(super) z: Vec<f64>,
    pub(super) x: Vec<f64>,
    pub(super) r: Vec<f64>,
    pub(super) events: Vec<(f64, f64)>,
    pub(super) lam_new: Vec<f64>,
    pub(super) lam_prev: Vec<f64>,
    pub(super) z_new: Vec<f64>,
    pub(super) x_new: Vec<f64>,
    pub(super) r_new: Vec<f64>,
    pub(super) act: Vec<usize>,
    pub(super) sigma: Vec<f64>,
    pub(super) pos: Vec<usize>,
    pub(super) band: Vec<f64>,
    pub(super) rhs: Vec<f64>,
}

#[inline]
pub(super) fn clip255(v: f64) -> f64 {
    v.clamp(0.0, PIXEL_MAX)
}

/// Smallest `μ ≥ 0` with `g(μ) = Σ_k w_k · clip(z0_k − μ w_k) ≤ target`, given
/// `g(0) = g0 > target`; `g` is non-increasing and piecewise linear. Returns `(μ, infeasible)`;
/// when even full saturation does not reach `target`, `μ` is the last breakpoint.
pub(super) fn root_decreasing(
    w: impl Iterator<Item = (f64, f64)>,
    g0: f64,
    target: f64,
    events: &mut Vec<(f64, f64)>,
) -> (f64, bool) {
    events.clear();
    let mut slope = 0.0;
    for (wk, z0) in w {
        if wk == 0.0 {
            continue;
        }
        // interval of μ on which z0 − μ w is strictly inside (0, 255)
        let (a, b) = if wk > 0.0 {
            ((z0 - PIXEL_MAX) / wk, z0 / wk)
        } else {
            (z0 / wk, (z0 - PIXEL_MAX) / wk)
        };
        if b <= 0.0 {
            continue;
        }
        let w2 = wk * wk;
        if a <= 0.0 {
            slope -= w2;
        } else {
            events.push((a, -w2));
        }
        events.push((b, w2));
    }
    events.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let (mut cur, mut g) = (0.0, g0);
    for &(e, ds) in events.iter() {
        let ge = g + slope * (e - cur);
        if ge <= target && slope < 0.0 {
            return (cur + (target - g) / slope, false);
        }
        g = ge;
        cur = e;
        slope += ds;
    }
    if slope < -1e-300 {
        return (cur + (target - g) / slope, false);
    }
    (cur, true)
}

/// Exact coordinate maximisation of the (capped) dual along `λ_p` for the constraint row
/// `(idx, wts)`: `z` holds `s − Mᵀλ` and is updated; returns the new `λ_p ∈ [−cap, cap]` and
/// whether the row cannot be met even with its pixels saturated.
#[allow(clippy::too_many_arguments)]
pub(super) fn coord_update(
    idx: &[usize],
    wts: &[f64],
    z: &mut [f64],
    lam: f64,
    t: f64,
    eps: f64,
    cap: f64,
    events: &mut Vec<(f64, f64)>,
) -> (f64, bool) {
    let mut g0 = 0.0;
    for (&i, &w) in idx.iter().zip(wts) {
        z[i] += lam * w;
        g0 += w * clip255(z[i]);
    }
    let (nu, inf) = if g0 > t + eps {
        let it = idx.iter().zip(wts).map(|(&i, &w)| (w, z[i]));
        let (mu, inf) = root_decreasing(it, g0, t + eps, events);
        (if inf { cap } else { mu.min(cap) }, inf)
    } else if g0 < t - eps {
        let it = idx.iter().zip(wts).map(|(&i, &w)| (-w, z[i]));
        let (mu, inf) = root_decreasing(it, -g0, -(t - eps), events);
        (-(if inf { cap } else { mu.min(cap) }), inf)
    } else {
        (0.0, false)
    };
    if nu != 0.0 {
        for (&i, &w) in idx.iter().zip(wts) {
            z[i] -= nu * w;
        }
    }
    (nu, inf)
}

/// Exact solution of `min ½‖x − s‖² s.t. |wᵀx − t| ≤ ε, 0 ≤ x ≤ 255` (one dense constraint):
/// `x = clip(s − ν w)` with the multiplier `ν` found by breakpoint sorting (see the module
/// documentation, including the nearest and box special cases). When the constraint cannot be
/// met, `x` saturates every pixel towards the target (the least violation).
pub(super) fn solve_single_constraint(
    w: &[f64],
    s: &[f64],
    t: f64,
    eps: f64,
    x: &mut [f64],
    events: &mut Vec<(f64, f64)>,
) -> QpOutcome {
    let n = w.len().min(s.len()).min(x.len());
    x[..n].copy_from_slice(&s[..n]);
    let idx = &IOTA[..n.min(IOTA.len())];
    if idx.len() < n {
        let big: Vec<usize> = (0..n).collect();
        return solve_single_with_idx(&big, w, t, eps, x, events);
    }
    solve_single_with_idx(idx, w, t, eps, x, events)
}

/// `0, 1, 2, …` for the dense index lists of small blocks.
static IOTA: [usize; 256] = {
    let mut a = [0usize; 256];
    let mut i = 0;
    while i < 256 {
        a[i] = i;
        i += 1;
    }
    a
};

pub(super) fn solve_single_with_idx(
    idx: &[usize],
    w: &[f64],
    t: f64,
    eps: f64,
    x: &mut [f64],
    events: &mut Vec<(f64, f64)>,
) -> QpOutcome {
    let n = idx.len();
    let wmin = w[..n]
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |a, v| a.min(v.abs()));
    let cap = if wmin.is_finite() {
        2.0 * PIXEL_MAX / wmin
    } else {
        0.0
    };
    let (nu, inf) = coord_update(idx, &w[..n], &mut x[..n], 0.0, t, eps, cap, events);
    let mut r = -t;
    for k in 0..n {
        x[k] = clip255(x[k]);
        r += w[k] * x[k];
    }
    let residual = if inf {
        (r.abs() - eps).max(0.0)
    } else {
        kkt_term(nu, r, eps, f64::INFINITY)
    };
    QpOutcome {
        converged: !inf,
        infeasible: inf,
        residual,
        sweeps: 1,
        newton: 0,
    }
}

/// KKT violation of one constraint with multiplier `lam ∈ [−cap, cap]` and residual
/// `r = (Mx − t)_p` (the cap is the exact-penalty weight of the constraint).
#[inline]
pub(super) fn kkt_term(lam: f64, r: f64, eps: f64, cap: f64) -> f64 {
    if lam >= cap {
        (eps - r).max(0.0)
    } else if lam <= -cap {
        (r + eps).max(0.0)
    } else if lam > 0.0 {
        (r - eps).abs()
    } else if lam < 0.0 {
        (r + eps).abs()
    } else {
        (r.abs() - eps).max(0.0)
    }
}

/// Dual multipliers are capped at `CAP_FACTOR · 255 / min|w|` per row: an exact penalty that is
/// never active on feasible lines (the certificate reports any capped row) and keeps the dual
/// bounded on infeasible ones.
pub(super) const CAP_FACTOR: f64 = 64.0;

/// `min ½‖x − s‖² s.t. |Mx − t| ≤ ε (rows), 0 ≤ x ≤ 255`, with `M` fixed and prepared once.

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::qp_testing::*;

    #[test]
    fn single_constraint_matches_brute_force_and_water_filling() {
        let mut rng = Rng(12345);
        let mut ev = Vec::new();
        for trial in 0..200 {
            let n = 1 + trial % 4;
            let w: Vec<f64> = (0..n).map(|_| rng.next() - 0.2).collect();
            let s: Vec<f64> = (0..n).map(|_| rng.next() * 255.0).collect();
            let t = rng.next() * 200.0;
            let eps = rng.next();
            let mut x = vec![0.0; n];
            let o = solve_single_constraint(&w, &s, t, eps, &mut x, &mut ev);
            if let Some((obj, _)) = brute_force(std::slice::from_ref(&w), &s, &[t], eps) {
                let obj_s: f64 = x.iter().zip(&s).map(|(a, b)| (a - b) * (a - b)).sum();
                assert!(o.converged);
                assert!((obj_s - obj).abs() <= 1e-6 * obj.max(1.0), "trial {trial}");
            }
        }
        // Water filling: mean of 4 pixels must reach 250 ± 1 with one pixel near 255.
        let s = [254.0, 100.0, 100.0, 100.0];
        let mut x = [0.0; 4];
        let o = solve_single_constraint(&[0.25; 4], &s, 250.0, 1.0, &mut x, &mut ev);
        assert!(o.converged);
        assert_eq!(x[0], 255.0);
        let mean = x.iter().sum::<f64>() / 4.0;
        assert!((mean - 249.0).abs() < 1e-9, "mean {mean}");
        assert!((x[1] - x[2]).abs() < 1e-12 && (x[1] - (249.0 * 4.0 - 255.0) / 3.0).abs() < 1e-9);
        // Nearest: a single weight 1 clips the source into [t−ε, t+ε].
        let mut x1 = [0.0];
        solve_single_constraint(&[1.0], &[10.0], 100.0, 2.0, &mut x1, &mut ev);
        assert_eq!(x1[0], 98.0);
    }
}
