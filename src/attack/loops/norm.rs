//! Threat models: the L∞ and L2 balls around the clean image, intersected with `[0, 1]`.
//!
//! Each norm supplies the three norm-specific pieces of PGD: the random start, the steepest
//! ascent step for a gradient, and the projection onto the ε-ball (Madry et al., ICLR 2018).
//! Norms are per image: for a batch `[N, 3, H, W]` every image has its own ball.
//!
//! After projecting, [`Norm::apply`] clamps `x + δ` to `[0, 1]`. Clamping never increases
//! either norm: every coordinate of `x` is in `[0, 1]`, so clamping moves each coordinate of
//! `x + δ` towards `x` and only shrinks `|δ_i|`.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::util::SplitMix64;

/// The norm bounding the perturbation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Norm {
    /// `‖δ‖∞ ≤ ε`: steps `α·sign(∇)`, projection by clipping each value to `[−ε, ε]`.
    #[default]
    Linf,
    /// `‖δ‖₂ ≤ ε` over each image's `3·H·W` values: steps `α·∇/‖∇‖₂`, projection by rescaling
    /// `δ` to norm `ε` when it is longer.
    L2,
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Norm::Linf => "linf",
            Norm::L2 => "l2",
        })
    }
}

impl std::str::FromStr for Norm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "linf" | "l-inf" | "inf" => Ok(Norm::Linf),
            "l2" => Ok(Norm::L2),
            other => Err(Error::InvalidArgument(format!("unknown norm '{other}' (expected linf or l2)"))),
        }
    }
}

/// Smallest norm treated as non-zero when normalising (avoids 0/0 for a zero gradient).
const TINY: f64 = 1e-12;

/// Per-image L2 norms of a batch `[N, C, H, W]`, as `[N, 1, 1, 1]`.
fn l2_per_image(t: Tensor<4>) -> Tensor<4> {
    t.square().sum_dims(&[1, 2, 3]).sqrt()
}

impl Norm {
    /// A random starting perturbation `[N, 3, H, W]` inside the ε-ball (drawn on the host
    /// from `rng`, so a seed gives the same start on every backend): uniform in `[−ε, ε]` per
    /// value for L∞; uniform in the ball for L2 (Gaussian direction, radius `ε·u^(1/d)`).
    pub fn random_start(self, dims: [usize; 4], eps: f64, rng: &mut SplitMix64, device: &Device) -> Tensor<4> {
        let [n, c, h, w] = dims;
        let per = c * h * w;
        let mut data = Vec::with_capacity(n * per);
        match self {
            Norm::Linf => data.extend((0..n * per).map(|_| ((2.0 * rng.next_f64() - 1.0) * eps) as f32)),
            Norm::L2 => {
                for _ in 0..n {
                    let dir: Vec<f64> = (0..per).map(|_| rng.next_gaussian()).collect();
                    let len = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(TINY);
                    let radius = eps * rng.next_f64().powf(1.0 / per.max(1) as f64);
                    data.extend(dir.iter().map(|v| (v / len * radius) as f32));
                }
            }
        }
        Tensor::from_data(TensorData::new(data, dims), device)
    }

    /// How many draws [`Self::random_start`] takes from its generator per image of
    /// `values` (`3·H·W`) values: one per value for L∞; two per value (Box–Muller) and one for
    /// the radius for L2. A part of a batch starting at image `k` reproduces the batch's
    /// start by skipping `k` times this many draws ([`SplitMix64::seed_after`]).
    pub fn draws_per_image(self, values: usize) -> u64 {
        match self {
            Norm::Linf => values as u64,
            Norm::L2 => 2 * values as u64 + 1,
        }
    }

    /// The ascent step `[N, 3, H, W]` of size `alpha` for the gradient `grad` of the objective.
    pub fn step(self, grad: Tensor<4>, alpha: f64) -> Tensor<4> {
        match self {
            Norm::Linf => grad.sign().mul_scalar(alpha),
            Norm::L2 => {
                let len = l2_per_image(grad.clone()).add_scalar(TINY);
                grad.div(len).mul_scalar(alpha)
            }
        }
    }

    /// Project a perturbation `[N, 3, H, W]` onto the ε-ball (per image).
    pub fn project(self, delta: Tensor<4>, eps: f64) -> Tensor<4> {
        match self {
            Norm::Linf => delta.clamp(-eps, eps),
            Norm::L2 => {
                // factor min(1, ε/‖δ‖), with ‖δ‖ floored so that a zero δ (even with ε = 0)
                // gives a finite factor instead of 0·∞
                let factor = l2_per_image(delta.clone()).clamp_min(TINY).recip().mul_scalar(eps).clamp_max(1.0);
                delta.mul(factor)
            }
        }
    }

    /// `clamp(x + project(δ), 0, 1)`: the next iterate, inside both the ε-ball around `x` and
    /// the image domain. Shapes `[N, 3, H, W]`.
    pub fn apply(self, x: Tensor<4>, delta: Tensor<4>, eps: f64) -> Tensor<4> {
        x.add(self.project(delta, eps)).clamp(0.0, 1.0)
    }

    /// The norm of one image's perturbation, computed on the host in `f64`.
    pub fn measure(self, delta: &[f32]) -> f64 {
        match self {
            Norm::Linf => delta.iter().fold(0.0, |m, &v| f64::max(m, f64::from(v).abs())),
            Norm::L2 => delta.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt(),
        }
    }
}

impl TryFrom<String> for Norm {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend;

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    fn rand_tensor(rng: &mut SplitMix64, dims: [usize; 4], lo: f64, hi: f64, d: &Device) -> Tensor<4> {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| (lo + (hi - lo) * rng.next_f64()) as f32).collect();
        Tensor::from_data(TensorData::new(v, dims), d)
    }

    #[test]
    fn projections_respect_eps_and_box_per_image() {
        let d = backend::cpu();
        let mut rng = SplitMix64::new(3);
        let dims = [3, 3, 5, 4];
        let per = 60;
        for norm in [Norm::Linf, Norm::L2] {
            for &eps in &[0.0, 0.01, 0.3, 2.0] {
                let x = rand_tensor(&mut rng, dims, 0.0, 1.0, &d);
                let delta = rand_tensor(&mut rng, dims, -1.0, 1.0, &d);
                let xa = host(norm.apply(x.clone(), delta.clone(), eps));
                let xs = host(x);
                assert!(xa.iter().all(|&v| (0.0..=1.0).contains(&v)));
                for i in 0..3 {
                    let dl: Vec<f32> = (0..per).map(|k| xa[i * per + k] - xs[i * per + k]).collect();
                    let m = norm.measure(&dl);
                    assert!(m <= eps + 1e-5, "{norm} eps {eps}: image {i} has norm {m}");
                }
                // projection is idempotent and leaves short perturbations alone
                let p = norm.project(delta.clone(), eps);
                let pp = host(norm.project(p.clone(), eps));
                let p = host(p);
                assert!(p.iter().zip(&pp).all(|(a, b)| (a - b).abs() < 1e-6));
                if eps >= 2.0 && norm == Norm::Linf {
                    assert_eq!(p, host(delta));
                }
            }
        }
    }

    #[test]
    fn l2_projection_rescales_long_perturbations_only() {
        let d = backend::cpu();
        // image 0: norm 5 → rescaled to 1; image 1: norm 0.5 → kept
        let v = vec![3.0f32, 4.0, 0.0, 0.0, 0.3, 0.4, 0.0, 0.0];
        let t = Tensor::<4>::from_data(TensorData::new(v, [2, 1, 2, 2]), &d);
        let p = host(Norm::L2.project(t, 1.0));
        let want = [0.6f32, 0.8, 0.0, 0.0, 0.3, 0.4, 0.0, 0.0];
        assert!(p.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-6), "{p:?}");
        // zero perturbation stays zero (no NaN)
        let z = host(Norm::L2.project(Tensor::<4>::zeros([1, 1, 2, 2], &d), 1.0));
        assert!(z.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn steps_have_the_right_size_and_direction() {
        let d = backend::cpu();
        let g = Tensor::<4>::from_data(TensorData::new(vec![3.0f32, -4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [2, 1, 2, 2]), &d);
        let s = host(Norm::Linf.step(g.clone(), 0.1));
        assert_eq!(&s[..4], &[0.1, -0.1, 0.0, 0.0]);
        let s = host(Norm::L2.step(g, 0.5));
        assert!((s[0] - 0.3).abs() < 1e-6 && (s[1] + 0.4).abs() < 1e-6, "{s:?}");
        assert!(s[4..].iter().all(|v| v.is_finite() && *v == 0.0), "a zero gradient gives a zero step");
    }

    #[test]
    fn a_part_of_the_batch_draws_its_slice_of_the_batch_start() {
        let d = backend::cpu();
        let (seed, per) = (11u64, 3 * 4 * 5);
        for norm in [Norm::Linf, Norm::L2] {
            let whole = host(norm.random_start([4, 3, 4, 5], 0.05, &mut SplitMix64::new(seed), &d));
            for (first, count) in [(0usize, 1usize), (1, 2), (3, 1), (2, 2)] {
                let s = SplitMix64::seed_after(seed, first as u64 * norm.draws_per_image(per));
                let part = host(norm.random_start([count, 3, 4, 5], 0.05, &mut SplitMix64::new(s), &d));
                assert_eq!(part, whole[first * per..(first + count) * per], "{norm}: images {first}..{}", first + count);
            }
        }
    }

    #[test]
    fn random_starts_are_inside_and_reproducible() {
        let d = backend::cpu();
        for norm in [Norm::Linf, Norm::L2] {
            let a = host(norm.random_start([2, 3, 4, 4], 0.05, &mut SplitMix64::new(9), &d));
            let b = host(norm.random_start([2, 3, 4, 4], 0.05, &mut SplitMix64::new(9), &d));
            assert_eq!(a, b);
            for img in a.chunks(48) {
                let m = norm.measure(img);
                assert!(m <= 0.05 + 1e-6 && m > 0.0, "{norm}: {m}");
            }
        }
    }

    #[test]
    fn rng_is_uniform_enough_and_parses() {
        let mut r = SplitMix64::new(1);
        let mean = (0..10000).map(|_| r.next_f64()).sum::<f64>() / 10000.0;
        assert!((mean - 0.5).abs() < 0.02);
        let g: Vec<f64> = (0..10000).map(|_| r.next_gaussian()).collect();
        let var = g.iter().map(|v| v * v).sum::<f64>() / 1e4;
        assert!((var - 1.0).abs() < 0.1, "{var}");
        assert_eq!("L2".parse::<Norm>().unwrap(), Norm::L2);
        assert!("l1".parse::<Norm>().unwrap_err().to_string().contains("'l1'"));
    }
}
