//! The image-scaling attack (Xiao et al., "Seeing is Not Believing", USENIX Security 2019;
//! Quiring et al., "Adversarial Preprocessing: Understanding and Preventing Image-Scaling
//! Attacks", USENIX Security 2020).
//!
//! Given a source `S` (m×n per channel, grey levels 0..255) and a target `T` (m'×n'), find the
//! attack image `A = S + Δ` closest to `S` whose downscaled version is the target:
//!
//! ```text
//!   min ‖A − S‖²_F   s.t.   ‖L·A·R − T‖_∞ ≤ ε,   0 ≤ A ≤ 255            (P)
//! ```
//!
//! with the scaler's coefficient matrices `L` (m'×m) and `R` (n×n') ([`Scaler`]). (P) is a
//! strictly convex QP with a unique optimum. It is solved per channel in one of two ways:
//!
//! **1. Exact block decomposition (the global optimum of (P)).** The constraint matrix of (P) is
//! `Rᵀ ⊗ L`, so pixel `(i, j)` is coupled to pixel `(i', j')` only through the connected
//! components of the bipartite graphs of `L` (input rows ↔ output rows) and `R`. When both axes
//! split into small components — OpenCV INTER_NEAREST, INTER_LINEAR (2 taps) and INTER_CUBIC
//! (4 taps) at ratios ≥ 2 resp. ≥ 4, integer INTER_AREA, Pillow NEAREST and integer BOX — (P)
//! separates into independent blocks `(row component) × (column component)`, usually with a
//! single constraint each. A single-constraint block `min ½‖x−s‖² s.t. |wᵀx − t| ≤ ε, 0 ≤ x ≤ 255`
//! is solved in closed form (`solve_single_constraint`):
//! if `wᵀ clip(s) ∈ [t−ε, t+ε]` then `x = s` (already feasible); otherwise the KKT conditions give
//! `x(ν) = clip(s − ν w, 0, 255)` for the multiplier `ν` of the violated side, and `g(ν) = wᵀx(ν)`
//! is monotone and piecewise linear, so `ν` is found exactly by sorting the ≤ 2·|w| breakpoints
//! where variables hit 0 or 255 and solving the linear piece that crosses `t ± ε`.
//! * *Nearest* (`w = e_i`): this is `x_i = clip(s_i, t−ε, t+ε)` and every pixel that no output
//!   reads keeps its source value. Proof: the objective is a sum of independent terms
//!   `(x_k − s_k)²`; unread pixels appear in no constraint, so `x_k = s_k` is optimal for them, and
//!   a read pixel has the single constraint `|x_i − t| ≤ ε` (if no other output reads it), whose
//!   projection onto `[t−ε, t+ε] ∩ [0, 255]` is the clip.
//! * *Integer box/area* (`w = 1/k²` on a k×k block, disjoint blocks): `x = clip(s + θ, 0, 255)`
//!   with the uniform shift `θ` of minimal magnitude that brings the mean to `t ± ε` — water
//!   filling: pixels that would leave `[0, 255]` saturate and the others absorb the remainder;
//!   the exact `θ` is the root of the piecewise-linear mean found between sorted breakpoints.
//!
//! Blocks with several constraints (e.g. nearest upscaling, or small chains) are solved exactly
//! with the general solver below.
//!
//! **2. Two-stage decomposition (Quiring et al., Sec. 2.2, and their `QuadrScaleAttack`).** When a
//! scaler reads overlapping windows (Pillow's antialiasing kernels, OpenCV Lanczos4, non-integer
//! INTER_AREA, INTER_LINEAR below ratio 2) every row (column) component spans the whole image and
//! (P) no longer separates. Since `L·A·R = (L·A)·R`, we introduce the intermediate `V = L·A`
//! (m'×n) and solve
//! * stage 1 (horizontal): for each of the m' rows `p`, with `v⁰ = (L·S)_p` (the vertically
//!   downscaled source): `min ‖v − v⁰‖² s.t. ‖Rᵀv − T_p‖_∞ ≤ ε₁, 0 ≤ v ≤ 255`;
//! * stage 2 (vertical): for each of the n columns `j`: `min ‖a − S_{·j}‖² s.t.
//!   ‖L·a − V_{·j}‖_∞ ≤ ε₂, 0 ≤ a ≤ 255`.
//!
//! Then `L·A·R − T = (L·A − V)·R + (V·R − T)`, so `‖L·A·R − T‖_∞ ≤ ε₂·ρ + ε₁` with
//! `ρ = max_q Σ_j |R_jq|` (1 for non-negative kernels). We use `ε₁ = ε/2`, `ε₂ = ε/(2ρ)`,
//! which guarantees the final constraint of (P) up to the solver tolerance. Stage 1 keeps the
//! intermediate close to the downscaled source, stage 2 spreads it over the full image; the
//! result is feasible for (P) but only near-optimal (the decomposition fixes `V`). Every stage
//! uses the same matrix (`Rᵀ` resp. `L`) for all of its lines: its connected components, local
//! CSR/CSC copies, row norms and band profile are computed once per stage and reused by every
//! line; each line is an independent QP.
//!
//! **General QP solver** (`SlabQp`): for `min ½‖x − s‖² s.t. |Mx − t| ≤ ε, 0 ≤ x ≤ 255` we
//! work on the dual. With the box kept as a hard constraint the Lagrangian is minimised by
//! `x(λ) = clip(s − Mᵀλ, 0, 255)`, and the dual function
//! `D(λ) = ½‖x(λ) − s‖² + λᵀ(M x(λ) − t) − ε‖λ‖₁` is concave. Exact dual coordinate ascent
//! maximises `D` along one `λ_p` at a time (the one-dimensional problem is exactly the
//! single-constraint problem above, solved by breakpoint sorting), and a primal–dual active-set
//! (semismooth Newton) step predicts the active constraints and free pixels and solves the
//! resulting equality system `(M_AF M_AFᵀ) λ_A = M_AF s_F + M_AB x_B − t_A − ε σ_A` with a banded
//! Cholesky factorisation; a Newton point is accepted only if it increases `D`, so the method
//! keeps the convergence guarantee of coordinate ascent and terminates at the exact optimum once
//! the active set is identified. The optimum is certified by the KKT conditions: `x = clip(s −
//! Mᵀλ)` holds by construction, and the solver checks `λ_p > 0 ⇒ (Mx−t)_p = ε`,
//! `λ_p < 0 ⇒ (Mx−t)_p = −ε`, `λ_p = 0 ⇒ |(Mx−t)_p| ≤ ε` to the tolerance
//! [`ScalingAttackConfig::tol`]; by convexity these conditions are sufficient for global
//! optimality. The unit tests compare the solver against brute-force enumeration of all
//! active sets on tiny instances.
//!
//! *Infeasible lines.* Real targets can ask for more than a kernel can deliver (e.g. a jump of
//! ~200 grey levels between adjacent target pixels under Pillow's bilinear filter at ratio 4);
//! the dual is then unbounded. Every multiplier is therefore capped at
//! `|λ_p| ≤ 64·255/min_i|M_pi|` (an exact ℓ1 penalty `C_p·max(0, |(Mx−t)_p| − ε)`: it changes
//! nothing on feasible lines whose optimal multipliers stay below the cap, and yields the
//! penalised least-violation point otherwise); when coordinate ascent stagnates along such a
//! dual ray, the last sweep's multiplier change is extrapolated up to the caps (again accepted
//! only if `D` increases). Lines that end with a capped multiplier are counted in
//! [`SolveStats::infeasible`].


use super::blocks::attack_blocks;
use super::components::components;
use super::qp::{QpOutcome, SolverOpts};
use super::two_stage::attack_two_stage;
use crate::error::{Error, Result};
use crate::metrics::distance::psnr_u8;
use crate::resize::Scaler;
use crate::util::{Timer, effective_threads};


/// Largest grey level.
pub const PIXEL_MAX: f64 = 255.0;

/// Parameters of [`scaling_attack`] (serde: missing fields take their defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScalingAttackConfig {
    /// Allowed deviation `ε` of the (real-valued) downscaled attack image from the target, in
    /// grey levels. Default 1.0.
    pub eps: f64,
    /// KKT tolerance of every QP, in grey levels. Default 1e-7.
    pub tol: f64,
    /// Maximum coordinate-ascent sweeps per QP. Default 2000.
    pub max_sweeps: usize,
    /// Worker threads (native only; 0 = all available cores, 1 = single core). Ignored on
    /// wasm32, which always runs single-threaded. Default 0.
    pub threads: usize,
    /// Largest number of pixels in one independent block for the exact block decomposition;
    /// above it the two-stage decomposition is used. Default 16384.
    pub max_block_vars: usize,
}

impl Default for ScalingAttackConfig {
    fn default() -> Self {
        ScalingAttackConfig {
            eps: 1.0,
            tol: 1e-7,
            max_sweeps: 2000,
            threads: 0,
            max_block_vars: 16384,
        }
    }
}

/// Which decomposition [`scaling_attack`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackMethod {
    /// Independent blocks: the exact optimum of the full problem.
    Blocks,
    /// Quiring et al.'s horizontal-then-vertical decomposition.
    TwoStage,
}

/// Solver statistics accumulated over all QPs of an attack.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolveStats {
    /// Number of QPs (blocks or lines) solved.
    pub qps: usize,
    /// QPs that hit `max_sweeps` before meeting the KKT tolerance.
    pub unconverged: usize,
    /// QPs with a constraint that cannot be met even with saturated pixels.
    pub infeasible: usize,
    /// Largest final KKT residual (grey levels).
    pub max_kkt_residual: f64,
    /// Total coordinate-ascent sweeps.
    pub sweeps: usize,
    /// Total accepted Newton (active-set) steps.
    pub newton_steps: usize,
}

impl SolveStats {
    pub(super) fn add(&mut self, o: &QpOutcome) {
        self.qps += 1;
        if !o.converged {
            self.unconverged += 1;
        }
        if o.infeasible {
            self.infeasible += 1;
        }
        self.max_kkt_residual = self.max_kkt_residual.max(o.residual);
        self.sweeps += o.sweeps;
        self.newton_steps += o.newton;
    }

    pub(super) fn merge(&mut self, o: &SolveStats) {
        self.qps += o.qps;
        self.unconverged += o.unconverged;
        self.infeasible += o.infeasible;
        self.max_kkt_residual = self.max_kkt_residual.max(o.max_kkt_residual);
        self.sweeps += o.sweeps;
        self.newton_steps += o.newton_steps;
    }
}

/// Output of [`scaling_attack`].
#[derive(Debug, Clone)]
pub struct ScalingAttackResult {
    /// Width of the attack image (= source width).
    pub width: usize,
    /// Height of the attack image (= source height).
    pub height: usize,
    /// Real-valued attack image, planar CHW (3 channels), values in `[0, 255]`.
    pub attack: Vec<f64>,
    /// The attack image rounded to 8 bits.
    pub attack_u8: image::RgbImage,
    /// PSNR of `attack_u8` against the source, in dB (infinite when identical).
    pub psnr_vs_source: f64,
    /// `max |apply_u8(attack_u8) − target|` with the library's exact 8-bit scaler.
    pub max_abs_down_minus_target: u8,
    /// `‖L·A·R − T‖_∞` of the real-valued attack image before rounding.
    pub max_abs_real_down_minus_target: f64,
    /// Wall-clock time of the optimisation in seconds (NaN on wasm32, which has no clock).
    pub solve_seconds: f64,
    /// The decomposition used.
    pub method: AttackMethod,
    /// Solver statistics.
    pub stats: SolveStats,
}

/// Runs the image-scaling attack: returns the image closest to `source` (in squared error)
/// whose downscaling by `scaler` is within `cfg.eps` of `target` (see the module documentation
/// for the formulation and its two solution strategies).
///
/// Errors: `target` not of the scaler's destination size, `source` not of its source size,
/// `eps` negative or not finite, `tol` not positive.
pub fn scaling_attack(
    source: &image::RgbImage,
    target: &image::RgbImage,
    scaler: &Scaler,
    cfg: &ScalingAttackConfig,
) -> Result<ScalingAttackResult> {
    check_inputs(source, target, scaler, cfg)?;
    let (n, m) = scaler.src;
    let timer = Timer::start();
    let s_planes = planes(source);
    let t_planes = planes(target);
    let threads = effective_threads(cfg.threads);
    let opts = SolverOpts {
        tol: cfg.tol,
        max_sweeps: cfg.max_sweeps.max(1),
    };

    let row_comps = components(&scaler.l);
    let col_comps = components(scaler.rt());
    let max_rows = row_comps.iter().map(|c| c.ins.len()).max().unwrap_or(0);
    let max_cols = col_comps.iter().map(|c| c.ins.len()).max().unwrap_or(0);
    let problem = Problem {
        scaler,
        s: &s_planes,
        t: &t_planes,
        row_comps: &row_comps,
        col_comps: &col_comps,
        eps: cfg.eps,
        opts: &opts,
        threads,
    };
    let (attack_planes, method, stats) = if max_rows.saturating_mul(max_cols) <= cfg.max_block_vars
    {
        let (a, st) = attack_blocks(&problem)?;
        (a, AttackMethod::Blocks, st)
    } else {
        let (a, st) = attack_two_stage(&problem)?;
        (a, AttackMethod::TwoStage, st)
    };
    let solve_seconds = timer.seconds();

    let mut max_real = 0.0f64;
    for c in 0..3 {
        let d = scaler.apply_plane_f64(&attack_planes[c])?;
        for (a, b) in d.iter().zip(&t_planes[c]) {
            max_real = max_real.max((a - b).abs());
        }
    }
    let mut attack = Vec::with_capacity(3 * n * m);
    for p in &attack_planes {
        attack.extend_from_slice(p);
    }
    let mut raw = vec![0u8; 3 * n * m];
    for (c, p) in attack_planes.iter().enumerate() {
        for (k, &v) in p.iter().enumerate() {
            raw[k * 3 + c] = v.round().clamp(0.0, PIXEL_MAX) as u8;
        }
    }
    let attack_u8 = image::RgbImage::from_raw(n as u32, m as u32, raw)
        .ok_or_else(|| Error::Image(format!("cannot build a {n}x{m} RGB image")))?;
    let psnr_vs_source = psnr_u8(&attack_u8, source)?;
    let down = scaler.apply_u8(&attack_u8)?;
    let max_abs_down_minus_target = down
        .as_raw()
        .iter()
        .zip(target.as_raw())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    Ok(ScalingAttackResult {
        width: n,
        height: m,
        attack,
        attack_u8,
        psnr_vs_source,
        max_abs_down_minus_target,
        max_abs_real_down_minus_target: max_real,
        solve_seconds,
        method,
        stats,
    })
}

/// Errors for a negative ε, a tolerance ≤ 0, or images of the wrong sizes for `scaler`.
fn check_inputs(source: &image::RgbImage, target: &image::RgbImage, scaler: &Scaler, cfg: &ScalingAttackConfig) -> Result<()> {
    let (n, m) = scaler.src;
    let (np, mp) = scaler.dst;
    if !cfg.eps.is_finite() || cfg.eps < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "eps = {} must be a finite value >= 0 (grey levels)",
            cfg.eps
        )));
    }
    if !(cfg.tol > 0.0 && cfg.tol.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "tol = {} must be > 0",
            cfg.tol
        )));
    }
    if source.width() as usize != n || source.height() as usize != m {
        return Err(Error::Shape(format!(
            "source is {}x{} but the scaler {} expects {n}x{m}",
            source.width(),
            source.height(),
            scaler.kind
        )));
    }
    if target.width() as usize != np || target.height() as usize != mp {
        return Err(Error::Shape(format!(
            "target is {}x{} but the scaler {} produces {np}x{mp}",
            target.width(),
            target.height(),
            scaler.kind
        )));
    }
    Ok(())
}

/// One scaling-attack problem as the solvers take it: the scaler, source and target planes,
/// the couplings of both axes, ε, the solver options and the worker threads.
#[derive(Clone, Copy)]
pub(super) struct Problem<'a> {
    pub scaler: &'a Scaler,
    pub s: &'a [Vec<f64>; 3],
    pub t: &'a [Vec<f64>; 3],
    pub row_comps: &'a [super::components::Component],
    pub col_comps: &'a [super::components::Component],
    pub eps: f64,
    pub opts: &'a SolverOpts,
    pub threads: usize,
}

/// Planar f64 channels of an RGB image.
fn planes(img: &image::RgbImage) -> [Vec<f64>; 3] {
    let raw = img.as_raw();
    let k = raw.len() / 3;
    let ch = |c: usize| (0..k).map(|i| raw[i * 3 + c] as f64).collect::<Vec<f64>>();
    [ch(0), ch(1), ch(2)]
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::resize::ScalerKind;
    use crate::scaling::qp_testing::Rng;

    fn synth(w: u32, h: u32, seed: u64) -> image::RgbImage {
        let mut rng = Rng(seed);
        image::RgbImage::from_fn(w, h, |x, y| {
            let base = ((x * 7 + y * 3) % 200) as f64;
            let mut c = |k: f64| (base + k * rng.next() * 55.0).clamp(0.0, 255.0) as u8;
            image::Rgb([c(1.0), c(0.5), c(0.2)])
        })
    }

    #[test]
    fn attack_satisfies_constraint_for_every_scaler() {
        let src = synth(48, 40, 1);
        let tgt = synth(12, 10, 2);
        for kind in ScalerKind::ALL {
            let sc = Scaler::new(kind, 48, 40, 12, 10).unwrap();
            let cfg = ScalingAttackConfig {
                threads: 2,
                ..Default::default()
            };
            let r = scaling_attack(&src, &tgt, &sc, &cfg).unwrap();
            assert_eq!(r.stats.unconverged, 0, "{kind}: {:?}", r.stats);
            assert!(
                r.max_abs_real_down_minus_target <= 1.0 + 1e-6,
                "{kind}: {} ({:?})",
                r.max_abs_real_down_minus_target,
                r.method
            );
            assert!(r.attack.iter().all(|&v| (0.0..=255.0).contains(&v)));
            assert!(
                r.max_abs_down_minus_target <= 3,
                "{kind}: {}",
                r.max_abs_down_minus_target
            );
            // threads do not change the result
            let r1 = scaling_attack(&src, &tgt, &sc, &ScalingAttackConfig { threads: 1, ..cfg })
                .unwrap();
            assert_eq!(r1.attack, r.attack, "{kind}");
        }
    }

    #[test]
    fn blocks_and_two_stage_agree_on_separable_case() {
        // For OpenCV linear at ratio 4 the block solution is the exact optimum; the two-stage
        // solution is feasible, so it cannot be closer to the source.
        let src = synth(32, 32, 3);
        let tgt = synth(8, 8, 4);
        let sc = Scaler::new(ScalerKind::OpencvLinear, 32, 32, 8, 8).unwrap();
        let b = scaling_attack(&src, &tgt, &sc, &ScalingAttackConfig::default()).unwrap();
        let cfg2 = ScalingAttackConfig {
            max_block_vars: 0,
            ..Default::default()
        };
        let t2 = scaling_attack(&src, &tgt, &sc, &cfg2).unwrap();
        assert_eq!(b.method, AttackMethod::Blocks);
        assert_eq!(t2.method, AttackMethod::TwoStage);
        assert!(t2.max_abs_real_down_minus_target <= 1.0 + 1e-6);
        let dist = |a: &[f64]| -> f64 {
            let s = planes(&src);
            a.chunks(32 * 32)
                .zip(s.iter())
                .map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f64>())
                .sum()
        };
        assert!(dist(&b.attack) <= dist(&t2.attack) + 1e-6);
    }

    #[test]
    fn attack_rejects_bad_input() {
        let src = synth(16, 16, 5);
        let tgt = synth(4, 4, 6);
        let sc = Scaler::new(ScalerKind::OpencvArea, 16, 16, 4, 4).unwrap();
        let bad_eps = ScalingAttackConfig {
            eps: -0.5,
            ..Default::default()
        };
        assert!(matches!(scaling_attack(&src, &tgt, &sc, &bad_eps),
            Err(Error::InvalidArgument(m)) if m.contains("-0.5")));
        let small = synth(5, 4, 7);
        assert!(
            matches!(scaling_attack(&src, &small, &sc, &ScalingAttackConfig::default()),
            Err(Error::Shape(m)) if m.contains("5x4"))
        );
        assert!(
            matches!(scaling_attack(&small, &tgt, &sc, &ScalingAttackConfig::default()),
            Err(Error::Shape(m)) if m.contains("5x4"))
        );
    }

    #[test]
    fn config_deserialises_with_defaults() {
        let c: ScalingAttackConfig = serde_json::from_str(r#"{"eps": 2.5}"#).unwrap();
        assert_eq!(c.eps, 2.5);
        assert_eq!(c.max_sweeps, ScalingAttackConfig::default().max_sweeps);
    }
}
