//! ReLU6 (`clamp(x, 0, 6)`) with a two-kernel backward pass.
//!
//! burn's autodiff has no ReLU6: `clamp` is two masked fills forward and two backward, scalar
//! and single-threaded on the CPU backend (≈ 19 % of a DeepLabV3 gradient, `perf`), and the
//! `relu(x) − relu(x − 6)` form still costs eight passes (≈ 15 %). This backend extension op
//! runs the backend's one-pass clamp forward and keeps its output `y`; the backward pass is the
//! backend's ReLU backward twice, on `y` (zero where `y ≤ 0`) and on `6 − y` (zero where
//! `y ≥ 6`). The derivative is 1 on `(0, 6)` and 0 elsewhere, PyTorch's `hardtanh` rule.

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
pub trait Relu6Ops: Backend {
    /// `clamp(x, 0, 6)`.
    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_clamp(x, 0.0.into(), 6.0.into())
    }
}

impl Relu6Ops for Flex {}
#[cfg(feature = "gpu")]
impl Relu6Ops for Cube {}

#[derive(Debug)]
struct Relu6Backward;

impl<B: Backend> Backward<B, 1> for Relu6Backward {
    /// The output `y`.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let y = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            let below_six = B::float_add_scalar(B::float_neg(y.clone()), 6.0.into());
            B::relu_backward(below_six, B::relu_backward(y, grad))
        });
    }
}

impl<B: Backend + Relu6Ops, C: CheckpointStrategy> Relu6Ops for Autodiff<B, C> {
    fn relu6(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        match Relu6Backward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::relu6(x);
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::relu6(x)),
        }
    }
}

/// [`Relu6Ops::relu6`] on a tensor.
pub fn relu6(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Relu6Ops>::relu6(x.into_dispatch()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    const X: [f32; 8] = [-2.0, 0.0, 0.5, 5.5, 6.0, 7.0, 3.0, -0.1];
    const Y: [f32; 8] = [0.0, 0.0, 0.5, 5.5, 6.0, 6.0, 3.0, 0.0];

    #[test]
    fn values_and_derivative_are_hardtanhs() {
        let d = Device::flex().autodiff();
        let x = Tensor::<4>::from_data(TensorData::new(X.to_vec(), [1, 2, 1, 4]), &d).require_grad();
        let y = relu6(x.clone());
        let grads = (y.clone() * 2.0).sum().backward();
        let g: Vec<f32> = x.grad(&grads).expect("a gradient").into_data().try_to_vec().unwrap();
        assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), Y.to_vec());
        // 1 on (0, 6) only, as PyTorch's hardtanh (the kinks x = 0 and x = 6 included in the 0s)
        assert_eq!(g, vec![0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn without_a_tape_it_is_the_clamp() {
        let x = Tensor::<4>::from_data(TensorData::new(X.to_vec(), [1, 2, 1, 4]), &Device::flex());
        assert_eq!(relu6(x).into_data().try_to_vec::<f32>().unwrap(), Y.to_vec());
    }
}
