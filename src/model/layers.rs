//! Building blocks shared by the networks: convolutions with BatchNorm folded in, per-channel
//! affine maps (a BatchNorm in inference form), PReLU, channel shuffle, and exact resampling as
//! constant-matrix products.
//!
//! # Why BatchNorm is folded
//! Every network here is used for attacks, which differentiate through the model. burn's
//! `BatchNorm` switches to batch statistics whenever the module is in training mode under
//! autodiff, which silently changes the function being attacked. We never build a `BatchNorm`:
//! at load time its running statistics become a per-channel scale and shift
//! (`y = x·γ/√(σ²+ε) + (β − μ·γ/√(σ²+ε))`), folded into the preceding convolution where there is
//! one. The forward pass is then the eval-mode network under every backend, autodiff or not.
//!
//! # Why resizing is a matrix product
//! Bilinear `interpolate` has no backward on some burn 0.22 backends. Bilinear
//! (`align_corners = true`) resizing and PyTorch's `adaptive_avg_pool2d` are both linear and
//! separable, so `resize(x) = A_h · x · A_wᵀ` with constant matrices: exact and differentiable
//! everywhere.

use burn::module::{Module, Param};
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::conv_adjoint::conv2d_same;
use crate::model::prelu_op::prelu_channels;
use crate::model::weights::TensorStore;

/// BatchNorm epsilon used by every PyTorch model here (PyTorch's default).
pub const BN_EPS: f64 = 1e-5;

/// Per-channel scale and shift of an eval-mode BatchNorm, computed on the host.
#[derive(Debug, Clone)]
pub struct BnFold {
    /// `γ / √(σ² + ε)`
    pub scale: Vec<f32>,
    /// `β − μ · scale`
    pub shift: Vec<f32>,
}

impl BnFold {
    /// Read `{prefix}.weight`, `.bias`, `.running_mean`, `.running_var` and fold them.
    pub fn load(store: &TensorStore, prefix: &str, channels: usize) -> Result<Self> {
        let gamma = store.vec(&format!("{prefix}.weight"), &[channels])?;
        let beta = store.vec(&format!("{prefix}.bias"), &[channels])?;
        let mean = store.vec(&format!("{prefix}.running_mean"), &[channels])?;
        let var = store.vec(&format!("{prefix}.running_var"), &[channels])?;
        let mut scale = Vec::with_capacity(channels);
        let mut shift = Vec::with_capacity(channels);
        for c in 0..channels {
            let s = f64::from(gamma[c]) / (f64::from(var[c]) + BN_EPS).sqrt();
            scale.push(s as f32);
            shift.push((f64::from(beta[c]) - f64::from(mean[c]) * s) as f32);
        }
        Ok(Self { scale, shift })
    }
}

/// Settings of a [`Conv`] that are not weights.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride in both directions.
    pub stride: usize,
    /// Dilation in both directions.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl ConvSpec {
    /// A `k×k` convolution, stride 1, no dilation, one group.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Self { in_channels, out_channels, kernel, stride: 1, dilation: 1, groups: 1 }
    }
    /// With this stride.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = s;
        self
    }
    /// With this dilation.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = d;
        self
    }
    /// With this many groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// Depthwise (one group per channel).
    pub fn depthwise(channels: usize, kernel: usize) -> Self {
        Self::new(channels, channels, kernel).groups(channels)
    }
}

/// 2-D convolution with "same"-style symmetric padding `dilation·(k−1)/2` and an optional bias.
#[derive(Module, Debug)]
pub struct Conv {
    /// `[out, in/groups, k, k]`
    pub weight: Param<Tensor<4>>,
    /// `[out]`
    pub bias: Option<Param<Tensor<1>>>,
    /// Stride.
    pub stride: usize,
    /// Padding on every side.
    pub padding: usize,
    /// Dilation.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl Conv {
    /// Build from host weights `[out, in/groups, k, k]` (row-major) and an optional bias.
    pub fn from_host(spec: ConvSpec, weight: Vec<f32>, bias: Option<Vec<f32>>, device: &Device) -> Self {
        let shape = [spec.out_channels, spec.in_channels / spec.groups, spec.kernel, spec.kernel];
        let weight = Tensor::<4>::from_data(TensorData::new(weight, shape), device);
        let bias = bias.map(|b| {
            Param::from_tensor(Tensor::<1>::from_data(TensorData::new(b, [spec.out_channels]), device))
        });
        Self {
            weight: Param::from_tensor(weight),
            bias,
            stride: spec.stride,
            padding: spec.dilation * (spec.kernel - 1) / 2,
            dilation: spec.dilation,
            groups: spec.groups,
        }
    }

    /// Load `weight_key` (and `bias_key` if given), then fold `bn` (if given) into them.
    pub fn load(
        store: &TensorStore,
        spec: ConvSpec,
        weight_key: &str,
        bias_key: Option<&str>,
        bn: Option<&BnFold>,
        device: &Device,
    ) -> Result<Self> {
        if spec.groups == 0 || spec.in_channels % spec.groups != 0 || spec.out_channels % spec.groups != 0 {
            return Err(Error::Model(format!(
                "convolution '{weight_key}': {} → {} channels cannot be split into {} groups",
                spec.in_channels, spec.out_channels, spec.groups
            )));
        }
        let shape = [spec.out_channels, spec.in_channels / spec.groups, spec.kernel, spec.kernel];
        let mut w = store.vec(weight_key, &shape)?;
        let mut b = match bias_key {
            Some(k) => Some(store.vec(k, &[spec.out_channels])?),
            None => None,
        };
        if let Some(bn) = bn {
            let per_out = w.len() / spec.out_channels;
            for (o, chunk) in w.chunks_mut(per_out).enumerate() {
                chunk.iter_mut().for_each(|v| *v *= bn.scale[o]);
            }
            let mut folded = bn.shift.clone();
            if let Some(b) = &b {
                for o in 0..spec.out_channels {
                    folded[o] += b[o] * bn.scale[o];
                }
            }
            b = Some(folded);
        }
        Ok(Self::from_host(spec, w, b, device))
    }

    /// Whether the input gradient is cheaper as a forward convolution ([`conv2d_same`]): stride 1
    /// and odd kernels, for depthwise 3×3 layers (or ≤ 2 inputs per group; forward + backward
    /// 1.4–1.5× faster on the CPU backend) and grouped 1×1 ones (ESPNetv2's: −2.5 % CPU time of
    /// a gradient); not for denser groups or dense 1×1 layers, where burn's own path is faster.
    fn adjoint_backward_pays(&self) -> bool {
        let [_, per_group, k, _] = self.weight.dims();
        self.stride == 1 && k % 2 == 1 && ((k > 1 && per_group <= 2) || (k == 1 && self.groups > 1))
    }

    /// `[N, C_in, H, W] → [N, C_out, H', W']` with `H' = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.adjoint_backward_pays() && x.is_tracked() && !self.weight.is_tracked() {
            return conv2d_same(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()), self.dilation, self.groups);
        }
        conv2d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            ConvOptions::new(
                [self.stride, self.stride],
                [self.padding, self.padding],
                [self.dilation, self.dilation],
                self.groups,
            ),
        )
    }
}

/// Per-channel `y = x·scale + shift`: an eval-mode BatchNorm standing on its own.
#[derive(Module, Debug)]
pub struct ChannelAffine {
    /// `[1, C, 1, 1]`
    pub scale: Param<Tensor<4>>,
    /// `[1, C, 1, 1]`
    pub shift: Param<Tensor<4>>,
}

impl ChannelAffine {
    /// From a folded BatchNorm.
    pub fn from_bn(bn: &BnFold, device: &Device) -> Self {
        let c = bn.scale.len();
        Self {
            scale: Param::from_tensor(Tensor::from_data(TensorData::new(bn.scale.clone(), [1, c, 1, 1]), device)),
            shift: Param::from_tensor(Tensor::from_data(TensorData::new(bn.shift.clone(), [1, c, 1, 1]), device)),
        }
    }

    /// Load a BatchNorm under `prefix` as an affine map.
    pub fn load(store: &TensorStore, prefix: &str, channels: usize, device: &Device) -> Result<Self> {
        Ok(Self::from_bn(&BnFold::load(store, prefix, channels)?, device))
    }

    /// `[N, C, H, W] → [N, C, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x * self.scale.val() + self.shift.val()
    }
}

/// PReLU with one slope per channel: `y = max(0, x) + a_c · min(0, x)`.
#[derive(Module, Debug)]
pub struct PRelu {
    /// `[1, C, 1, 1]`
    pub alpha: Param<Tensor<4>>,
}

impl PRelu {
    /// Load `key` (shape `[C]`).
    pub fn load(store: &TensorStore, key: &str, channels: usize, device: &Device) -> Result<Self> {
        let a = store.vec(key, &[channels])?;
        Ok(Self { alpha: Param::from_tensor(Tensor::from_data(TensorData::new(a, [1, channels, 1, 1]), device)) })
    }

    /// `[N, C, H, W] → [N, C, H, W]` (`prelu_op.rs`: one pass forward, a cheap backward).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        prelu_channels(x, self.alpha.val())
    }
}

/// `x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W)`.
pub fn channel_shuffle(x: Tensor<4>, groups: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, groups, c / groups, h * w]).swap_dims(1, 2).reshape([n, c, h, w])
}

/// 3×3 average pooling, stride 2, padding 1, padded zeros counted (PyTorch's default).
pub fn avg_pool_3x3_s2(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(
        x,
        AvgPoolOptions {
            kernel_size: [3, 3],
            stride: [2, 2],
            padding: [(1, 1), (1, 1)],
            count_include_pad: true,
            ceil_mode: false,
        },
    )
}

/// Row-major `[out, inp]` matrix of bilinear interpolation with `align_corners = true`.
pub fn bilinear_align_corners_matrix(out: usize, inp: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; out * inp];
    if inp == 1 || out == 1 {
        // A single source sample is copied everywhere; a single output takes the first sample
        // (PyTorch: scale 0 when out == 1).
        for i in 0..out {
            m[i * inp] = 1.0;
        }
        return m;
    }
    let scale = (inp - 1) as f64 / (out - 1) as f64;
    for i in 0..out {
        let src = i as f64 * scale;
        let i0 = (src.floor() as usize).min(inp - 1);
        let i1 = (i0 + 1).min(inp - 1);
        let frac = src - i0 as f64;
        m[i * inp + i0] += (1.0 - frac) as f32;
        m[i * inp + i1] += frac as f32;
    }
    m
}

/// Row-major `[out, inp]` matrix of TensorFlow (Lite) bilinear resizing (`RESIZE_BILINEAR`):
/// source position `i·inp/out`, or `(i + ½)·inp/out − ½` with `half_pixel_centers`, or
/// `i·(inp−1)/(out−1)` with `align_corners`; lower neighbour clamped at 0, upper at `inp − 1`,
/// weights from the clamped lower neighbour (TFLite's `ComputeInterpolationValues`).
pub fn tf_bilinear_matrix(out: usize, inp: usize, align_corners: bool, half_pixel_centers: bool) -> Vec<f32> {
    let mut m = vec![0.0f32; out * inp];
    let scale = if align_corners && out > 1 { (inp - 1) as f64 / (out - 1) as f64 } else { inp as f64 / out as f64 };
    for i in 0..out {
        let src = if half_pixel_centers { (i as f64 + 0.5) * scale - 0.5 } else { i as f64 * scale };
        let lo = (src.floor().max(0.0) as usize).min(inp - 1);
        let hi = (src.ceil().max(0.0) as usize).min(inp - 1);
        let frac = src - lo as f64;
        m[i * inp + lo] += (1.0 - frac) as f32;
        m[i * inp + hi] += frac as f32;
    }
    m
}

/// Row-major `[out, inp]` matrix of PyTorch's `adaptive_avg_pool` along one axis: output cell `i`
/// averages input `[⌊i·inp/out⌋, ⌈(i+1)·inp/out⌉)`.
pub fn adaptive_avg_matrix(out: usize, inp: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; out * inp];
    for i in 0..out {
        let start = (i * inp) / out;
        let end = ((i + 1) * inp).div_ceil(out);
        let w = 1.0 / (end - start) as f32;
        for j in start..end {
            m[i * inp + j] = w;
        }
    }
    m
}

/// Resample `[N, C, h, w]` to `[N, C, H, W]` as `A_h · x · A_wᵀ`, with `a_h: [H, h]` and
/// `a_w: [W, w]` given row-major on the host. Rows that are the identity are skipped.
pub fn resample(x: Tensor<4>, out_h: usize, a_h: Vec<f32>, out_w: usize, a_w: Vec<f32>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let mut y = x;
    if out_w != w || !is_identity(&a_w, w) {
        // [n·c·h, w] · [w, W]
        let a_wt = Tensor::<2>::from_data(TensorData::new(a_w, [out_w, w]), &device).transpose();
        y = y.reshape([n * c * h, w]).matmul(a_wt).reshape([n, c, h, out_w]);
    }
    if out_h != h || !is_identity(&a_h, h) {
        // [H, h] · [n·c, h, W], broadcast over the batch
        let a_h = Tensor::<3>::from_data(TensorData::new(a_h, [1, out_h, h]), &device);
        y = a_h.matmul(y.reshape([n * c, h, out_w])).reshape([n, c, out_h, out_w]);
    }
    y
}

fn is_identity(m: &[f32], n: usize) -> bool {
    m.len() == n * n && (0..n).all(|i| (0..n).all(|j| m[i * n + j] == if i == j { 1.0 } else { 0.0 }))
}

/// Bilinear resize with `align_corners = true` (PyTorch `F.interpolate(..., mode='bilinear',
/// align_corners=True)`), differentiable.
pub fn resize_bilinear_ac(x: Tensor<4>, out_h: usize, out_w: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    resample(x, out_h, bilinear_align_corners_matrix(out_h, h), out_w, bilinear_align_corners_matrix(out_w, w))
}

/// PyTorch `adaptive_avg_pool2d(x, (out_h, out_w))`, differentiable.
pub fn adaptive_avg_pool(x: Tensor<4>, out_h: usize, out_w: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    resample(x, out_h, adaptive_avg_matrix(out_h, h), out_w, adaptive_avg_matrix(out_w, w))
}

/// Global average pooling `[N, C, H, W] → [N, C, 1, 1]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c, 1, 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values and input gradient of `f` at `x` (`[1, 2, 1, 4]`), on the CPU backend.
    fn value_and_grad(x: [f32; 8], f: impl Fn(Tensor<4>) -> Tensor<4>) -> (Vec<f32>, Vec<f32>) {
        let d = Device::flex().autodiff();
        let x = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [1, 2, 1, 4]), &d).require_grad();
        let y = f(x.clone());
        let grads = y.clone().sum().backward();
        let g = x.grad(&grads).expect("a gradient");
        (y.into_data().try_to_vec::<f32>().unwrap(), g.into_data().try_to_vec::<f32>().unwrap())
    }

    #[test]
    fn prelu_values_and_derivative_match_pytorch() {
        let d = Device::flex().autodiff();
        let act = PRelu { alpha: Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.25f32, 0.1], [1, 2, 1, 1]), &d)) };
        let (y, g) = value_and_grad([-2.0, -0.5, 0.0, 1.5, -1.0, 0.0, 3.0, 0.3], |x| act.forward(x));
        assert_eq!(y, vec![-0.5, -0.125, 0.0, 1.5, -0.1, 0.0, 3.0, 0.3]);
        // PyTorch's PReLU derivative: 1 where x > 0, a elsewhere (x = 0 included)
        assert_eq!(g, vec![0.25, 0.25, 0.25, 1.0, 0.1, 0.1, 1.0, 1.0]);
    }

    #[test]
    fn without_a_tape_prelu_gives_the_same_values() {
        let d = Device::flex();
        let act = PRelu { alpha: Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.25f32, 0.1], [1, 2, 1, 1]), &d)) };
        let x = Tensor::<4>::from_data(TensorData::new(vec![-2.0f32, -0.5, 0.0, 1.5, -1.0, 6.5, 3.0, 0.3], [1, 2, 1, 4]), &d);
        let y: Vec<f32> = act.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y, vec![-0.5, -0.125, 0.0, 1.5, -0.1, 6.5, 3.0, 0.3]);
    }


    #[test]
    fn bilinear_matrix_rows_sum_to_one_and_hit_corners() {
        let m = bilinear_align_corners_matrix(7, 4);
        for i in 0..7 {
            let s: f32 = m[i * 4..(i + 1) * 4].iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
        assert_eq!(m[0], 1.0);
        assert_eq!(m[6 * 4 + 3], 1.0);
        // middle row 3 of 7 sits at 1.5 → half of 1 and half of 2
        assert!((m[3 * 4 + 1] - 0.5).abs() < 1e-6 && (m[3 * 4 + 2] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn tf_half_pixel_matrix_doubles_like_tflite() {
        // 2 → 4 with half-pixel centres: sources −0.25, 0.25, 0.75, 1.25 (clamped at the ends)
        let m = tf_bilinear_matrix(4, 2, false, true);
        assert_eq!(m, vec![1.0, 0.0, 0.75, 0.25, 0.25, 0.75, 0.0, 1.0]);
        // legacy sampling: sources 0, 0.5, 1, 1.5
        assert_eq!(tf_bilinear_matrix(4, 2, false, false), vec![1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn adaptive_matrix_matches_pytorch_bins() {
        // 5 → 3: bins [0,2), [1,4), [3,5)
        let m = adaptive_avg_matrix(3, 5);
        assert_eq!(&m[0..5], &[0.5, 0.5, 0.0, 0.0, 0.0]);
        let third = 1.0 / 3.0;
        assert_eq!(&m[5..10], &[0.0, third, third, third, 0.0]);
        assert_eq!(&m[10..15], &[0.0, 0.0, 0.0, 0.5, 0.5]);
    }

    #[test]
    fn resample_equals_manual_bilinear() {
        let device = crate::backend::cpu();
        let data: Vec<f32> = (0..2 * 3 * 4).map(|v| v as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(data.clone(), [1, 2, 3, 4]), &device);
        let y = resize_bilinear_ac(x, 5, 7);
        assert_eq!(y.dims(), [1, 2, 5, 7]);
        let out = y.into_data().try_to_vec::<f32>().unwrap();
        // the input is affine in (row, col): v = c·12 + 4r + q, so bilinear reproduces it exactly
        for ch in 0..2 {
            for i in 0..5 {
                for j in 0..7 {
                    let r = i as f32 * 2.0 / 4.0;
                    let q = j as f32 * 3.0 / 6.0;
                    let expect = ch as f32 * 12.0 + 4.0 * r + q;
                    let got = out[ch * 35 + i * 7 + j];
                    assert!((got - expect).abs() < 1e-4, "{got} vs {expect}");
                }
            }
        }
    }

    #[test]
    fn shuffle_interleaves_groups() {
        let device = crate::backend::cpu();
        let x = Tensor::<4>::from_data(TensorData::new((0..6).map(|v| v as f32).collect::<Vec<_>>(), [1, 6, 1, 1]), &device);
        let y = channel_shuffle(x, 3).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y, vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    }
}
