//! A stride-1 "same" convolution whose input gradient is another forward convolution.
//!
//! burn's autodiff takes a convolution's input gradient through `conv_transpose2d`, which the
//! CPU backend (`flex`) computes as a GEMM into a column buffer followed by a scalar col2im
//! scatter. For the depthwise and grouped convolutions of ESPNetv2 and MobileNetV2 that is 4–8×
//! the cost of the forward convolution (`perf`: ≈ 16 % of an ESPNetv2 gradient). For stride 1
//! and padding `d(k − 1)/2` the adjoint of a convolution is itself a convolution of the same
//! shape: with `w[o, i, a, b]` split into `g` groups, the input gradient is
//! `conv(grad, w̃, same padding and dilation, g groups)` where `w̃` swaps each group's input and
//! output channels and flips the kernel in both spatial axes. This module registers that as the
//! backward pass of a backend extension op; the weights are constants (the models are frozen),
//! so no weight or bias gradient is produced — callers use it only when the weights are not
//! tracked.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::TensorMetadata;
use burn::backend::tensor::FloatTensor;
#[cfg(feature = "gpu")]
use burn::backend::Cube;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

/// The options of a stride-1 convolution that keeps the spatial size.
fn same_options(kernel: usize, dilation: usize, groups: usize) -> ConvOptions<2> {
    let pad = dilation * (kernel - 1) / 2;
    ConvOptions::new([1, 1], [pad, pad], [dilation, dilation], groups)
}

/// `[C_out, C_in/g, k, k] → [C_in, C_out/g, k, k]`: per group, input and output channels
/// swapped and the kernel flipped in both spatial axes.
fn adjoint_weight<B: Backend>(weight: FloatTensor<B>, groups: usize) -> FloatTensor<B> {
    let [c_out, c_in_g, k1, k2] = weight.shape().dims();
    let w = B::float_reshape(weight, [groups, c_out / groups, c_in_g, k1, k2].into());
    let w = B::float_swap_dims(w, 1, 2);
    let w = B::float_reshape(w, [groups * c_in_g, c_out / groups, k1, k2].into());
    B::float_flip(w, &[2, 3])
}

#[backend_extension(Flex: cfg(all()), Cube: cfg(feature = "gpu"), Autodiff)]
pub trait SameConvOps: Backend {
    /// Convolution with stride 1 and padding `dilation · (k − 1) / 2` (odd square kernel).
    fn conv2d_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dilation: usize,
        groups: usize,
    ) -> FloatTensor<Self> {
        let kernel = weight.shape().dims::<4>()[2];
        Self::conv2d(x, weight, Some(bias), same_options(kernel, dilation, groups))
    }
}

impl SameConvOps for Flex {}
#[cfg(feature = "gpu")]
impl SameConvOps for Cube {}

/// The backward step: the input gradient as a convolution with the adjoint weights.
#[derive(Debug)]
struct SameConvBackward;

impl<B: Backend> Backward<B, 1> for SameConvBackward {
    /// The adjoint weights, the dilation and the group count.
    type State = (FloatTensor<B>, usize, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (adjoint, dilation, groups) = ops.state;
        let kernel = adjoint.shape().dims::<4>()[2];
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::conv2d(grad, adjoint, None, same_options(kernel, dilation, groups))
        });
    }
}

impl<B: Backend + SameConvOps, C: CheckpointStrategy> SameConvOps for Autodiff<B, C> {
    fn conv2d_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        dilation: usize,
        groups: usize,
    ) -> FloatTensor<Self> {
        let w = weight.into_primitive();
        let b = bias.into_primitive();
        let (x, node) = x.into_parts();
        match SameConvBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let adjoint = adjoint_weight::<B>(w.clone(), groups);
                prep.finish((adjoint, dilation, groups), B::conv2d_same(x, w, b, dilation, groups))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_same(x, w, b, dilation, groups)),
        }
    }
}

/// [`SameConvOps::conv2d_same`] on tensors: `x` `[N, C_in, H, W]`, `weight` `[C_out, C_in/g, k, k]`
/// (k odd; not tracked: it gets no gradient), `bias` `[C_out]`; the output is `[N, C_out, H, W]`.
pub fn conv2d_same(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, dilation: usize, groups: usize) -> Tensor<4> {
    // the extension takes no optional tensor: a missing bias is zeros
    let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &weight.device()));
    let out = <Dispatch as SameConvOps>::conv2d_same(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        dilation,
        groups,
    );
    Tensor::from_dispatch(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::{Device, Distribution};

    /// Output and input gradient of `sum(f(x)²)`.
    fn output_and_grad(x: &Tensor<4>, f: impl Fn(Tensor<4>) -> Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let x = x.clone().require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * y.clone()).sum().backward();
        (y, x.grad(&grads).expect("a gradient"))
    }

    fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    #[test]
    fn gradient_equals_burns_convolution_gradient() {
        let d = Device::flex().autodiff();
        // (C_in, C_out, groups, kernel, dilation): depthwise, dilated, grouped, 1×1, 5×5
        for (cin, cout, groups, k, dil) in [(6, 6, 6, 3, 1), (6, 6, 6, 3, 3), (8, 4, 2, 3, 2), (6, 9, 3, 1, 1), (4, 4, 4, 5, 1)] {
            let x = Tensor::<4>::random([2, cin, 9, 7], Distribution::Uniform(-1.0, 1.0), &d);
            let w = Tensor::<4>::random([cout, cin / groups, k, k], Distribution::Uniform(-0.5, 0.5), &d);
            let b = Tensor::<1>::random([cout], Distribution::Uniform(-0.5, 0.5), &d);
            let pad = dil * (k - 1) / 2;
            let opts = ConvOptions::new([1, 1], [pad, pad], [dil, dil], groups);
            for bias in [Some(b.clone()), None] {
                let (y0, g0) = output_and_grad(&x, |x| conv2d(x, w.clone(), bias.clone(), opts.clone()));
                let (y1, g1) = output_and_grad(&x, |x| conv2d_same(x, w.clone(), bias.clone(), dil, groups));
                assert_eq!(y1.dims(), [2, cout, 9, 7]);
                assert!(max_abs_diff(y0, y1) < 1e-6, "output, {cin}→{cout} g{groups} k{k} d{dil}");
                let err = max_abs_diff(g0, g1);
                assert!(err < 1e-5, "input gradient off by {err}, {cin}→{cout} g{groups} k{k} d{dil}");
            }
        }
    }

    #[test]
    fn without_a_tape_it_is_the_plain_convolution() {
        let d = Device::flex();
        let x = Tensor::<4>::random([1, 4, 6, 6], Distribution::Uniform(-1.0, 1.0), &d);
        let w = Tensor::<4>::random([4, 1, 3, 3], Distribution::Uniform(-0.5, 0.5), &d);
        let want = conv2d(x.clone(), w.clone(), None, ConvOptions::new([1, 1], [2, 2], [2, 2], 4));
        assert!(max_abs_diff(want, conv2d_same(x, w, None, 2, 4)) < 1e-6);
    }
}
