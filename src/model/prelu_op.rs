//! PReLU with one slope per channel, with a four-kernel backward pass.
//!
//! burn's autodiff composes PReLU from comparisons and masked selections; written with clamps
//! it took ≈ 15 % of an ESPNetv2 gradient on the CPU backend (`perf`: scalar, single-threaded
//! masked fills), and as `x · s` with a slope map computed off the tape it still cost seven
//! passes forward. This backend extension op runs the backend's one-pass PReLU forward and keeps
//! its input `x`; the backward pass is `r + a · (g − r)` with `r` the backend's ReLU backward of
//! `g` on `x`: `g` where `x > 0`, `a · g` elsewhere (`x = 0` included, as PyTorch). The slopes
//! are constants (the models are frozen): they get no gradient.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
#[cfg(feature = "gpu")]
use burn::backend::Cube;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

#[backend_extension(Flex: cfg(all()), Cube: cfg(feature = "gpu"), Autodiff)]
pub trait PreluOps: Backend {
    /// `x` where `x ≥ 0`, `a_c · x` elsewhere; `alpha` is `[1, C, 1, 1]`.
    fn prelu_channels(x: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::prelu(x, alpha)
    }
}

impl PreluOps for Flex {}
#[cfg(feature = "gpu")]
impl PreluOps for Cube {}

#[derive(Debug)]
struct PreluBackward;

impl<B: Backend> Backward<B, 1> for PreluBackward {
    /// The input `x` and the slopes.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, alpha) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            let positive = B::relu_backward(x, grad.clone());
            let rest = B::float_mul(B::float_sub(grad, positive.clone()), alpha);
            B::float_add(positive, rest)
        });
    }
}

impl<B: Backend + PreluOps, C: CheckpointStrategy> PreluOps for Autodiff<B, C> {
    fn prelu_channels(x: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self> {
        let alpha = alpha.into_primitive();
        let (x, node) = x.into_parts();
        match PreluBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::prelu_channels(x.clone(), alpha.clone());
                prep.finish((x, alpha), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::prelu_channels(x, alpha)),
        }
    }
}

/// [`PreluOps::prelu_channels`] on tensors: `x` `[N, C, H, W]`, `alpha` `[1, C, 1, 1]` (not
/// tracked: it gets no gradient).
pub fn prelu_channels(x: Tensor<4>, alpha: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as PreluOps>::prelu_channels(x.into_dispatch(), alpha.into_dispatch()))
}
