//! The interface every attack and defense works on: a differentiable segmentation model.

use burn::tensor::Tensor;

use super::segmenter::Segmenter;
use crate::error::Result;

/// A differentiable segmentation model the attacks can run on.
///
/// Implemented by [`Segmenter`], by defended models ([`crate::defense::Defended`],
/// [`crate::defense::MultiScale`]); tests implement it for tiny synthetic models.
pub trait SegModel {
    /// Logits `[N, outputs, H, W]` of a batch `[N, 3, H, W]` in `[0, 1]` (the model
    /// normalises inside). Must be differentiable with respect to the input when the input is
    /// an autodiff tensor that requires gradients. Fails on sizes the model cannot take.
    fn logits(&self, x01: Tensor<4>) -> Result<Tensor<4>>;

    /// Number of evaluated classes; argmax outputs `≥` this value count as void.
    fn num_classes(&self) -> usize;
}

impl SegModel for Segmenter {
    fn logits(&self, x01: Tensor<4>) -> Result<Tensor<4>> {
        Segmenter::logits(self, x01)
    }

    fn num_classes(&self) -> usize {
        self.spec.num_classes()
    }
}
