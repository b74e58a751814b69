//! Multi-scale inference: run the network on rescaled (and optionally mirrored) copies of the
//! input and combine the logits.
//!
//! Arnab, Miksik & Torr ("On the Robustness of Semantic Segmentation Models to Adversarial
//! Attacks", CVPR 2018) found that multi-scale processing makes single-scale perturbations
//! transfer poorly — and that an attacker who differentiates through all scales at once
//! recovers. [`MultiScale`] is a [`SegModel`], so it serves both sides: as the defended model
//! that adversarial images are evaluated on, and as the model a PGD attack differentiates
//! through (the adaptive, expectation-over-transformation attack: the gradient of the combined
//! logits is the average over the deterministic set of scales and flips).
//!
//! For an input `x` `[N, 3, H, W]` and each scale `s`, the branch input is `x` resized to the
//! model's nearest valid size of `(s·W, s·H)` ([`ModelSpec::nearest_valid_size`]; scales that
//! snap to the same size are run once), with OpenCV's bilinear coefficient matrices
//! (`A_h · x · A_wᵀ`, exact and differentiable on every backend). The branch logits are
//! mirrored back (flip branches) and resized to `H × W` with the same interpolation, then
//! combined per pixel:
//!
//! - [`Combine::Mean`]: `log( (1/K) Σ_k softmax(z_k) )` — the log of the averaged class
//!   probabilities, so cross-entropy on it is the loss of the averaged prediction;
//! - [`Combine::Max`]: `max_k z_k` per class.
//!
//! A single branch (scales `{1.0}`, no flip) returns the plain model's logits unchanged.
//!
//! [`ModelSpec::nearest_valid_size`]: crate::model::zoo::ModelSpec::nearest_valid_size

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use crate::model::SegModel;
use crate::error::{self, Error};
use crate::model::Segmenter;
use crate::model::layers::resample;
use crate::resize::{Scaler, ScalerKind};

/// Smallest probability before the logarithm of [`Combine::Mean`] (keeps it finite).
const MIN_PROB: f64 = 1e-30;

/// How [`MultiScale`] combines the branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// Log of the mean softmax probabilities.
    #[default]
    Mean,
    /// Per-class maximum of the logits.
    Max,
}

impl std::fmt::Display for Combine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Combine::Mean => "mean",
            Combine::Max => "max",
        })
    }
}

impl std::str::FromStr for Combine {
    type Err = Error;
    fn from_str(s: &str) -> error::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mean" | "avg" | "average" => Ok(Combine::Mean),
            "max" => Ok(Combine::Max),
            other => Err(Error::InvalidArgument(format!("unknown combination '{other}' (expected mean or max)"))),
        }
    }
}

/// Settings of [`MultiScale`]: `MultiScaleConfig::new().with_scales(vec![0.75, 1.0]).with_flip(false)`.
#[derive(Config, Debug, PartialEq)]
pub struct MultiScaleConfig {
    /// Scales relative to the input size; each must be in `(0, 4]`.
    #[config(default = "vec![0.5, 0.75, 1.0, 1.25]")]
    pub scales: Vec<f64>,
    /// Also run every scale on the horizontally mirrored input.
    #[config(default = true)]
    pub flip: bool,
    /// How the branch logits are combined.
    #[config(default = "Combine::Mean")]
    pub combine: Combine,
}

impl MultiScaleConfig {
    /// Check the scales; errors quote the bad value.
    pub fn validate(&self) -> error::Result<()> {
        if self.scales.is_empty() {
            return Err(Error::InvalidArgument("multi-scale needs at least one scale, got none".into()));
        }
        if let Some(s) = self.scales.iter().find(|s| !(s.is_finite() && **s > 0.0 && **s <= 4.0)) {
            return Err(Error::InvalidArgument(format!("multi-scale scale {s} is outside (0, 4]")));
        }
        Ok(())
    }

    /// A short description, e.g. `ms(0.5,0.75,1,1.25)+flip/mean`.
    pub fn label(&self) -> String {
        let scales: Vec<String> = self.scales.iter().map(|s| format!("{s}")).collect();
        format!("ms({}){}/{}", scales.join(","), if self.flip { "+flip" } else { "" }, self.combine)
    }
}

/// A segmentation model run at several scales (see the module documentation). Implements
/// [`SegModel`], so it can be attacked and evaluated wherever a plain model can.
#[derive(Debug, Clone)]
pub struct MultiScale {
    /// The network.
    pub seg: Segmenter,
    /// The scales, flip and combination.
    pub cfg: MultiScaleConfig,
}

impl MultiScale {
    /// Wrap `seg`; fails on invalid settings.
    pub fn new(seg: Segmenter, cfg: MultiScaleConfig) -> error::Result<Self> {
        cfg.validate()?;
        Ok(Self { seg, cfg })
    }

    /// The distinct branch sizes `(width, height)` for an input of `width × height`, in the
    /// order of the scales.
    pub fn branch_sizes(&self, width: usize, height: usize) -> Vec<(usize, usize)> {
        let mut sizes: Vec<(usize, usize)> = Vec::new();
        for s in &self.cfg.scales {
            let w = ((width as f64 * s).round() as usize).max(1);
            let h = ((height as f64 * s).round() as usize).max(1);
            let size = self.seg.spec.nearest_valid_size(w, h);
            if !sizes.contains(&size) {
                sizes.push(size);
            }
        }
        sizes
    }
}

/// `[N, C, h, w]` → `[N, C, out_h, out_w]` with OpenCV's bilinear coefficients (identity when
/// the size is unchanged).
fn resize_linear(x: Tensor<4>, out_w: usize, out_h: usize) -> error::Result<Tensor<4>> {
    let [_, _, h, w] = x.dims();
    if (out_w, out_h) == (w, h) {
        return Ok(x);
    }
    let s = Scaler::new(ScalerKind::OpencvLinear, w, h, out_w, out_h)?;
    let to_f32 = |m: Vec<f64>| m.into_iter().map(|v| v as f32).collect::<Vec<f32>>();
    Ok(resample(x, out_h, to_f32(s.l.to_dense()), out_w, to_f32(s.rt().to_dense())))
}

impl SegModel for MultiScale {
    /// `[N, 3, H, W]` in `[0, 1]` → combined logits `[N, outputs, H, W]`.
    fn logits(&self, x01: Tensor<4>) -> error::Result<Tensor<4>> {
        let [n, c, h, w] = x01.dims();
        if n == 0 || c != 3 {
            return Err(Error::Shape(format!("expected a [N ≥ 1, 3, H, W] image batch, got [{n}, {c}, {h}, {w}]")));
        }
        let mut branches = Vec::new();
        for (bw, bh) in self.branch_sizes(w, h) {
            let xs = resize_linear(x01.clone(), bw, bh)?;
            for flipped in [false, true].into_iter().take(if self.cfg.flip { 2 } else { 1 }) {
                let input = if flipped { xs.clone().flip([3]) } else { xs.clone() };
                let mut z = self.seg.logits(input)?;
                if flipped {
                    z = z.flip([3]);
                }
                branches.push(resize_linear(z, w, h)?);
            }
        }
        if branches.len() == 1 {
            return branches.pop().ok_or_else(|| Error::Shape("no multi-scale branch".into()));
        }
        let k = branches.len();
        Ok(match self.cfg.combine {
            Combine::Mean => {
                let mut sum = softmax(branches.remove(0), 1);
                for z in branches {
                    sum = sum + softmax(z, 1);
                }
                sum.div_scalar(k as f64).clamp_min(MIN_PROB).log()
            }
            Combine::Max => {
                let mut m = branches.remove(0);
                for z in branches {
                    m = m.max_pair(z);
                }
                m
            }
        })
    }

    fn num_classes(&self) -> usize {
        self.seg.spec.num_classes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn config_validation_and_label() {
        let c = MultiScaleConfig::new();
        assert_eq!(c.scales, vec![0.5, 0.75, 1.0, 1.25]);
        assert!(c.flip);
        assert_eq!(c.label(), "ms(0.5,0.75,1,1.25)+flip/mean");
        let e = MultiScaleConfig::new().with_scales(vec![1.0, -0.5]).validate().unwrap_err().to_string();
        assert!(e.contains("-0.5"), "{e}");
        assert!(MultiScaleConfig::new().with_scales(vec![]).validate().is_err());
        assert_eq!("max".parse::<Combine>().unwrap(), Combine::Max);
        assert!("median".parse::<Combine>().unwrap_err().to_string().contains("'median'"));
    }

    #[test]
    fn resize_linear_is_identity_at_same_size_and_preserves_constants() {
        let device = crate::backend::cpu();
        let x = Tensor::<4>::from_data(TensorData::new(vec![0.25f32; 2 * 3 * 8 * 8], [2, 3, 8, 8]), &device);
        let same = resize_linear(x.clone(), 8, 8).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert!(same.iter().all(|&v| v == 0.25));
        let down = resize_linear(x, 4, 6).unwrap();
        assert_eq!(down.dims(), [2, 3, 6, 4]);
        assert!(down.into_data().try_to_vec::<f32>().unwrap().iter().all(|&v| (v - 0.25).abs() < 1e-6));
    }

    #[test]
    fn resize_linear_matches_the_opencv_scaler() {
        let device = crate::backend::cpu();
        let (w, h) = (12, 10);
        let data: Vec<f32> = (0..3 * w * h).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(data.clone(), [1, 3, h, w]), &device);
        let got = resize_linear(x, 5, 7).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let want = Scaler::new(ScalerKind::OpencvLinear, w, h, 5, 7).unwrap().apply_f32(&data).unwrap();
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
