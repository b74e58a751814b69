//! The per-pixel losses of SEA (Croce, Singh & Hein, "Towards Reliable Evaluation and Fast
//! Training of Robust Semantic Segmentation Models", ECCV 2024), written from the paper's
//! description. Each is used like the losses of [`super::loss`]: a per-pixel value, 0 on void
//! pixels, averaged over the valid pixels; untargeted attacks ascend it, targeted ones descend it.
//!
//! - **masked CE**: `w_i · CE_i` with `w_i = 1` on the pixels the attack has not yet won —
//!   untargeted: still predicted as the reference class; targeted: not yet predicted as the
//!   target — and `w_i = 0` elsewhere, so the attack spends no effort on pixels already fooled
//!   (plain CE keeps pushing those, which raises the mean loss without fooling more pixels).
//! - **balanced masked CE**: masked CE with per-class weights `w_c = V / (K · n_c)` on top,
//!   where `n_c` is the number of the image's valid pixels whose reference class is `c`, `K`
//!   the number of classes present in the image's reference map and `V` its valid pixels: each
//!   class weighs as much as any other (small objects count as much as the background), and
//!   the weights of an unmasked image still average to 1.
//! - **Jensen–Shannon divergence** between the softmax `p_i` and the one-hot reference `e_y`:
//!   with `M = (p + e_y) / 2`, `JS = ½ KL(p ‖ M) + ½ KL(e_y ‖ M)`, which only depends on
//!   `q = p_y`:
//!
//!   ```text
//!     JS(q) = ½ · ( q·log q + 2·log 2 − (1 + q)·log(1 + q) )
//!   ```
//!
//!   bounded in `[0, log 2]` (0 at `q = 1`, `log 2` at `q = 0`), so a fooled pixel saturates
//!   instead of dominating the mean. Untargeted: ascend it against the reference; targeted:
//!   descend it towards the target.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use super::loss::PixelTargets;
use crate::data::{ClassMap, VOID};

/// Masked CE's weights `[N, 1, H, W]`: 1 on valid pixels the attack has not won yet (untargeted:
/// `pred = y`; targeted: `pred ≠ y`), 0 elsewhere.
pub(super) fn not_yet_won(pred: Tensor<4, Int>, targets: &PixelTargets, targeted: bool) -> Tensor<4> {
    let at_reference = pred.equal(targets.classes.clone());
    let zeros = targets.valid.zeros_like();
    if targeted {
        targets.valid.clone().mask_where(at_reference, zeros)
    } else {
        zeros.mask_where(at_reference, targets.valid.clone())
    }
}

/// The Jensen–Shannon divergence between `softmax(logits)` and the one-hot reference per pixel,
/// `[N, 1, H, W]` (0 on void pixels); differentiable through `logits`.
pub(super) fn js_divergence(logits: Tensor<4>, targets: &PixelTargets) -> Tensor<4> {
    let log_q = log_softmax(logits, 1).gather(1, targets.classes.clone());
    let q = log_q.clone().exp();
    let one_plus_q = q.clone().add_scalar(1.0);
    let js = q.mul(log_q).sub(one_plus_q.clone().mul(one_plus_q.log())).add_scalar(2.0 * std::f64::consts::LN_2).mul_scalar(0.5);
    js.mul(targets.valid.clone())
}

/// The class-balancing weights of reference `maps` (host, batch-major `H·W` per image):
/// `V / (K · n_c)` for a valid pixel of class `c` (see the module documentation), 0 on void.
pub(super) fn class_balance(maps: &[ClassMap]) -> Vec<f32> {
    let mut out = Vec::with_capacity(maps.iter().map(|m| m.data.len()).sum());
    for m in maps {
        let mut counts = [0usize; 256];
        for &v in m.data.iter().filter(|&&v| v != VOID) {
            counts[usize::from(v)] += 1;
        }
        let valid: usize = counts.iter().sum();
        let present = counts.iter().filter(|&&c| c > 0).count();
        out.extend(m.data.iter().map(|&v| {
            if v == VOID { 0.0 } else { (valid as f64 / (present as f64 * counts[usize::from(v)] as f64)) as f32 }
        }));
    }
    out
}
