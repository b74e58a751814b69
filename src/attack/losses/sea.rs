//! The per-pixel losses of SEA (Croce, Singh & Hein, "Towards Reliable Evaluation and Fast
//! Training of Robust Semantic Segmentation Models", ECCV 2024), written from the paper's
//! description. Each is used like the losses of [`crate::attack::losses::loss`]: a per-pixel value, 0 on void
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
//! - **balanced masked CE with fixed weights** (`balanced-ce-voc`): masked CE weighted by SEA's
//!   authors' fixed PASCAL VOC class weights ([`VOC_WEIGHTS`]), as their code's `mask-ce-bal`;
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

use crate::attack::losses::loss::PixelTargets;
use crate::data::{ClassMap, VOID};

/// Masked CE's weights `[N, 1, H, W]`: 1 on valid pixels the attack has not won yet (untargeted:
/// `pred = y`; targeted: `pred ≠ y`), 0 elsewhere.
pub(in crate::attack) fn not_yet_won(pred: Tensor<4, Int>, targets: &PixelTargets, targeted: bool) -> Tensor<4> {
    let at_reference = pred.equal(targets.classes.clone());
    let zeros = targets.valid.zeros_like();
    if targeted {
        targets.valid.clone().mask_where(at_reference, zeros)
    } else {
        zeros.mask_where(at_reference, targets.valid.clone())
    }
}

/// SEA's authors' class weights for PASCAL VOC's 21 classes (background first), with which their
/// code's balanced masked CE (`mask-ce-bal`) weighs each pixel's CE by its reference class
/// (`VOC_WTS` in `semseg/utils/utils.py` of their Robust-Segmentation repository): a fixed
/// prior, where [`class_balance`] balances each image's own classes.
pub const VOC_WEIGHTS: [f32; 21] = [
    0.0007, 0.0531, 0.1394, 0.0500, 0.0814, 0.0575, 0.0256, 0.0312, 0.0198, 0.0626, 0.0382, 0.0457, 0.0212, 0.0404, 0.0421,
    0.0089, 0.0915, 0.0585, 0.0366, 0.0279, 0.0677,
];

/// [`VOC_WEIGHTS`] of each pixel's reference class `[N, 1, H, W]` (0 on void pixels; classes
/// beyond VOC's 21 weigh 0 — [`crate::attack::Setup`] refuses the loss for other models).
pub(crate) fn voc_weights(targets: &PixelTargets) -> Tensor<4> {
    let [n, _, h, w] = targets.classes.dims();
    let device = targets.valid.device();
    let mut table = VOC_WEIGHTS.to_vec();
    table.resize(256, 0.0);
    let table = Tensor::<1>::from_data(burn::tensor::TensorData::new(table, [256]), &device);
    let idx = targets.classes.clone().reshape([n * h * w]);
    table.select(0, idx).reshape([n, 1, h, w]).mul(targets.valid.clone())
}

/// The Jensen–Shannon divergence between `softmax(logits)` and the one-hot reference per pixel,
/// `[N, 1, H, W]` (0 on void pixels); differentiable through `logits`.
pub(in crate::attack) fn js_divergence(logits: Tensor<4>, targets: &PixelTargets) -> Tensor<4> {
    let log_q = log_softmax(logits, 1).gather(1, targets.classes.clone());
    let q = log_q.clone().exp();
    let one_plus_q = q.clone().add_scalar(1.0);
    let js = q.mul(log_q).sub(one_plus_q.clone().mul(one_plus_q.log())).add_scalar(2.0 * std::f64::consts::LN_2).mul_scalar(0.5);
    js.mul(targets.valid.clone())
}

/// The class-balancing weights of reference `maps` (host, batch-major `H·W` per image):
/// `V / (K · n_c)` for a valid pixel of class `c` (see the module documentation), 0 on void.
pub(in crate::attack) fn class_balance(maps: &[ClassMap]) -> Vec<f32> {
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

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use burn::tensor::TensorData;

    use crate::attack::losses::loss::{LossKind, per_image_loss, segmentation_loss};
    use super::*;
    use crate::backend;

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_data().try_into_vec_as::<f32>().unwrap()[0])
    }

    fn softmax(z: &[f64]) -> Vec<f64> {
        let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    fn ce(z: &[f64], y: usize) -> f64 {
        -softmax(z)[y].ln()
    }

    /// JS(p, e_y) from its definition (two KL divergences against the mixture).
    fn js(z: &[f64], y: usize) -> f64 {
        let p = softmax(z);
        let m: Vec<f64> = p.iter().enumerate().map(|(c, &v)| (v + f64::from(u8::from(c == y))) / 2.0).collect();
        let kl_p: f64 = p.iter().zip(&m).filter(|(v, _)| **v > 0.0).map(|(v, m)| v * (v / m).ln()).sum();
        0.5 * kl_p + 0.5 * (1.0 / m[y]).ln()
    }

    /// One image, 3 classes, 1×3 pixels with logits `z` (per pixel), reference `y`.
    fn case(z: [[f64; 3]; 3], y: Vec<u8>) -> (Tensor<4>, Tensor<4, Int>, PixelTargets) {
        let d = backend::cpu();
        let data: Vec<f32> = (0..3).flat_map(|c| (0..3).map(move |p| z[p][c] as f32)).collect();
        let logits = Tensor::<4>::from_data(TensorData::new(data, [1, 3, 1, 3]), &d);
        let t = PixelTargets::new(&[ClassMap { width: 3, height: 1, data: y }], &d).unwrap();
        (logits.clone(), logits.argmax(1), t)
    }

    const Z: [[f64; 3]; 3] = [[2.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];

    #[test]
    fn masked_ce_counts_only_pixels_not_yet_won() {
        // predictions 0, 0, 1; reference 0, 0, 2: pixels 0 and 1 still right, pixel 2 fooled
        let (logits, pred, t) = case(Z, vec![0, 0, 2]);
        let l = scalar(segmentation_loss(LossKind::MaskedCe, logits.clone(), pred.clone(), &t, false, 0, 1));
        let want = (ce(&Z[0], 0) + ce(&Z[1], 0)) / 3.0;
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
        // targeted to the same map: only pixel 2 (not yet at its target) counts
        let l = scalar(segmentation_loss(LossKind::MaskedCe, logits, pred, &t, true, 0, 1));
        assert!((l - ce(&Z[2], 2) / 3.0).abs() < 1e-5, "{l}");
    }

    #[test]
    fn balanced_ce_weighs_each_reference_class_equally() {
        assert_eq!(class_balance(&[ClassMap { width: 4, height: 1, data: vec![0, 0, 2, VOID] }]), vec![0.75, 0.75, 1.5, 0.0]);
        // every pixel still right (reference = prediction 0, 0, 1): class 0 has 2 pixels, class 1
        // one; V = 3, K = 2 → weights 3/4, 3/4, 3/2
        let (logits, pred, t) = case(Z, vec![0, 0, 1]);
        let l = scalar(segmentation_loss(LossKind::BalancedCe, logits, pred, &t, false, 0, 1));
        let want = (0.75 * ce(&Z[0], 0) + 0.75 * ce(&Z[1], 0) + 1.5 * ce(&Z[2], 1)) / 3.0;
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
        // pixel 2 fooled (reference 2): it drops out, the weights stay those of the reference
        let (logits, pred, t) = case(Z, vec![0, 0, 2]);
        let l = scalar(segmentation_loss(LossKind::BalancedCe, logits, pred, &t, false, 0, 1));
        let want = (0.75 * ce(&Z[0], 0) + 0.75 * ce(&Z[1], 0)) / 3.0;
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
    }

    #[test]
    fn fixed_voc_weights_follow_the_reference_class_and_the_mask() {
        // reference 0, 2, 15 (background, bicycle, person); prediction 0, 0, 1: pixel 0 is won
        let d = backend::cpu();
        let t = PixelTargets::new(&[ClassMap { width: 3, height: 1, data: vec![0, 2, 15] }], &d).unwrap();
        let w = voc_weights(&t).into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(w, vec![VOC_WEIGHTS[0], VOC_WEIGHTS[2], VOC_WEIGHTS[15]]);
        let (logits, pred, t) = case(Z, vec![0, 2, 1]);
        let l = scalar(segmentation_loss(LossKind::BalancedCeVoc, logits, pred, &t, false, 0, 1));
        // predictions 0, 0, 1: pixels 0 and 2 still right, pixel 1 (reference 2) fooled
        let want = (f64::from(VOC_WEIGHTS[0]) * ce(&Z[0], 0) + f64::from(VOC_WEIGHTS[1]) * ce(&Z[2], 1)) / 3.0;
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    }

    #[test]
    fn js_matches_its_definition_and_is_bounded() {
        let (logits, pred, t) = case(Z, vec![0, 2, 1]);
        let per = per_image_loss(LossKind::Js, logits, pred, &t, false, 0, 1);
        let want = (js(&Z[0], 0) + js(&Z[1], 2) + js(&Z[2], 1)) / 3.0;
        assert!((scalar(per) - want).abs() < 1e-5, "vs {want}");
        // a confidently wrong pixel saturates at log 2, a confidently right one at 0
        let far = [[30.0, 0.0, 0.0]; 3];
        let (logits, _, t) = case(far, vec![1, 1, 0]);
        let v = js_divergence(logits, &t).into_data().try_into_vec_as::<f32>().unwrap();
        assert!((f64::from(v[0]) - std::f64::consts::LN_2).abs() < 1e-5 && v[2].abs() < 1e-6, "{v:?}");
        assert!(v.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn masked_pixels_get_no_gradient() {
        for kind in [LossKind::MaskedCe, LossKind::BalancedCe] {
            let (logits, pred, t) = case(Z, vec![0, 0, 2]);
            let z = logits.autodiff().require_grad();
            let l = segmentation_loss(kind, z.clone(), pred, &t, false, 0, 1);
            let g = z.grad(&l.backward()).unwrap().into_data().try_into_vec_as::<f32>().unwrap();
            // [1, 3, 1, 3]: pixel p of class c at c·3 + p; pixel 2 is fooled and masked
            assert!((0..3).all(|c| g[c * 3 + 2] == 0.0), "{kind}: {g:?}");
            assert!((0..3).any(|c| g[c * 3] != 0.0), "{kind}: {g:?}");
        }
    }
}
