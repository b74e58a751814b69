//! Per-pixel losses of the PGD family for segmentation.
//!
//! Every loss is a weighted mean of the per-pixel cross-entropy `CE_i = −log softmax(z_i)[y_i]`
//! between the logits `z` and the reference map `y` (clean prediction, ground truth or target),
//! over the valid (non-void) pixels:
//!
//! ```text
//!   L = (1 / #valid) · Σ_valid  w_i · CE_i
//! ```
//!
//! The weights `w_i` are constants (no gradient flows through them):
//!
//! - **CE**: `w_i = 1`, the plain mean used by PGD on segmentation (e.g. Arnab, Miksik & Torr, "On the
//!   Robustness of Semantic Segmentation Models to Adversarial Attacks", CVPR 2018).
//! - **SegPGD** (Gu, Zhao, Tresp & Torr, "SegPGD: An Effective and Efficient Adversarial Attack
//!   for Evaluating and Boosting Segmentation Robustness", ECCV 2022): pixels still
//!   classified as the reference get `1 − λ_t`, pixels already fooled get `λ_t`, with
//!   `λ_t = t / (2T)` at iteration `t = 0, …, T − 1` of `T`. Early iterations concentrate on the
//!   pixels that still need to flip, later ones balance both sets so fooled pixels stay fooled.
//!   Targeted version: the roles swap — pixels not yet at the target get `1 − λ_t`, pixels
//!   already there `λ_t`.
//! - **CosPGD** (Agnihotri, Jung & Keuper, "CosPGD: an efficient white-box adversarial attack
//!   for pixel-wise prediction tasks", ICML 2024): `w_i = cos(softmax(z_i), onehot(y_i))
//!   = p_{i,y_i} / ‖p_i‖₂`, so pixels that are still confidently right weigh most and pixels
//!   already fooled fade out. Targeted version: `w_i = 1 − cos(…)` with the target as `y`, so
//!   pixels far from their target weigh most.
//!
//! - **masked CE**, **balanced masked CE** and the **Jensen–Shannon divergence** of SEA
//!   (Croce, Singh & Hein, ECCV 2024): see [`crate::attack::losses::sea`] (JS is not a weighted CE but
//!   a per-pixel divergence averaged the same way).
//!
//! The PGD loop ascends `L` for untargeted goals and descends it for targeted ones.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::attack::losses::sea;
use crate::error::{Error, Result};
use crate::data::VOID;
use crate::data::ClassMap;

/// Which per-pixel loss the attack optimises (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum LossKind {
    /// Mean per-pixel cross-entropy.
    #[default]
    Ce,
    /// SegPGD's correct/wrong re-weighting with `λ_t = t / (2T)` (Gu et al., ECCV 2022).
    SegPgd,
    /// CosPGD's cosine-similarity weighting (Agnihotri et al., ICML 2024).
    CosPgd,
    /// CE only on the pixels not yet fooled (untargeted) or not yet at the target (SEA).
    #[serde(rename = "masked-ce")]
    MaskedCe,
    /// Masked CE with per-class weights balancing the reference classes' pixel counts (SEA).
    #[serde(rename = "balanced-ce")]
    BalancedCe,
    /// Masked CE with SEA's authors' fixed PASCAL VOC class weights ([`sea::VOC_WEIGHTS`];
    /// 21-class models only).
    #[serde(rename = "balanced-ce-voc")]
    BalancedCeVoc,
    /// Jensen–Shannon divergence between the softmax and the one-hot reference (SEA).
    Js,
}

impl LossKind {
    /// Every loss, in the order the error for an unknown name lists them.
    pub const ALL: [LossKind; 7] = [
        LossKind::Ce,
        LossKind::SegPgd,
        LossKind::CosPgd,
        LossKind::MaskedCe,
        LossKind::BalancedCe,
        LossKind::BalancedCeVoc,
        LossKind::Js,
    ];

    /// SEA's losses: its default ensemble ([`crate::attack::ensemble::sea`]).
    pub const SEA: [LossKind; 3] = [LossKind::MaskedCe, LossKind::BalancedCe, LossKind::Js];

    /// SEA's losses on PASCAL VOC models, as its authors run them: the balanced loss with their
    /// fixed VOC class weights ([`crate::attack::AttackSpec::for_model`]).
    pub const SEA_VOC: [LossKind; 3] = [LossKind::MaskedCe, LossKind::BalancedCeVoc, LossKind::Js];

    /// Its name in specs (`ce`, `segpgd`, `masked-ce`, …).
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Ce => "ce",
            LossKind::SegPgd => "segpgd",
            LossKind::CosPgd => "cospgd",
            LossKind::MaskedCe => "masked-ce",
            LossKind::BalancedCe => "balanced-ce",
            LossKind::BalancedCeVoc => "balanced-ce-voc",
            LossKind::Js => "js",
        }
    }

    /// A short title for menus.
    pub fn title(self) -> &'static str {
        match self {
            LossKind::Ce => "CE",
            LossKind::SegPgd => "SegPGD",
            LossKind::CosPgd => "CosPGD",
            LossKind::MaskedCe => "masked CE",
            LossKind::BalancedCe => "balanced masked CE",
            LossKind::BalancedCeVoc => "balanced masked CE (SEA's fixed VOC weights)",
            LossKind::Js => "Jensen–Shannon",
        }
    }
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LossKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ce" | "cross-entropy" => Ok(LossKind::Ce),
            "segpgd" => Ok(LossKind::SegPgd),
            "cospgd" => Ok(LossKind::CosPgd),
            "masked-ce" | "maskedce" | "mask-ce" => Ok(LossKind::MaskedCe),
            "balanced-ce" | "balanced-masked-ce" => Ok(LossKind::BalancedCe),
            "balanced-ce-voc" => Ok(LossKind::BalancedCeVoc),
            "js" | "jensen-shannon" => Ok(LossKind::Js),
            other => {
                let all: Vec<String> = LossKind::ALL.iter().map(ToString::to_string).collect();
                Err(Error::InvalidArgument(format!("unknown loss '{other}' (expected one of {})", all.join(", "))))
            }
        }
    }
}

/// The reference map of a batch as device tensors.
#[derive(Debug, Clone)]
pub struct PixelTargets {
    /// `[N, 1, H, W]` class indices (void pixels hold 0; their weight is 0).
    pub classes: Tensor<4, Int>,
    /// `[N, 1, H, W]`: 1 for valid pixels, 0 for void ones.
    pub valid: Tensor<4>,
    /// Number of valid pixels in the batch (at least 1).
    pub n_valid: usize,
    /// Number of valid pixels of each image, in batch order (0 for an image whose map is
    /// entirely void).
    pub valid_per_image: Vec<usize>,
    /// `[N, 1, H, W]`: the class-balancing weights of balanced masked CE (0 on void pixels).
    pub balance: Tensor<4>,
}

impl PixelTargets {
    /// Upload same-size reference maps ([`VOID`] = ignored). Fails on an empty list, maps of
    /// different sizes, or maps with no valid pixel at all.
    pub fn new(maps: &[ClassMap], device: &Device) -> Result<Self> {
        let first = maps.first().ok_or_else(|| Error::InvalidArgument("no reference maps".into()))?;
        let (w, h) = (first.width, first.height);
        let mut classes = Vec::with_capacity(maps.len() * w * h);
        let mut valid = Vec::with_capacity(maps.len() * w * h);
        for (i, m) in maps.iter().enumerate() {
            if (m.width, m.height) != (w, h) || m.data.len() != w * h {
                return Err(Error::Shape(format!(
                    "reference map {} is {}×{}, the first is {w}×{h}",
                    i + 1,
                    m.width,
                    m.height
                )));
            }
            for &v in &m.data {
                let ok = v != VOID;
                classes.push(if ok { i64::from(v) } else { 0 });
                valid.push(if ok { 1.0f32 } else { 0.0 });
            }
        }
        let valid_per_image: Vec<usize> = valid.chunks(w * h).map(|c| c.iter().filter(|&&v| v > 0.0).count()).collect();
        let n_valid = valid_per_image.iter().sum();
        if n_valid == 0 {
            return Err(Error::InvalidArgument("every reference pixel is void (255): nothing to attack".into()));
        }
        let shape = [maps.len(), 1, h, w];
        Ok(PixelTargets {
            classes: Tensor::from_data(TensorData::new(classes, shape), device),
            valid: Tensor::from_data(TensorData::new(valid, shape), device),
            n_valid,
            valid_per_image,
            balance: Tensor::from_data(TensorData::new(sea::class_balance(maps), shape), device),
        })
    }
}

/// The loss of logits `[N, C, H, W]` against `targets` (a `[1]` tensor, differentiable
/// through `logits`): the mean of the weighted CE over the batch's valid pixels.
///
/// `pred` `[N, 1, H, W]` is the argmax of `logits` (used by SegPGD); `iteration` / `iterations`
/// give SegPGD's `λ_t = iteration / (2 · iterations)`; `targeted` selects the targeted weights.
/// The caller ascends the result for untargeted goals and descends it for targeted ones.
pub fn segmentation_loss(
    kind: LossKind,
    logits: Tensor<4>,
    pred: Tensor<4, Int>,
    targets: &PixelTargets,
    targeted: bool,
    iteration: usize,
    iterations: usize,
) -> Tensor<1> {
    pixel_loss(kind, logits, pred, targets, targeted, iteration, iterations).sum().div_scalar(targets.n_valid as f64)
}

/// The same loss per image: an `[N]` tensor whose entry `i` is the mean of the weighted CE
/// over image `i`'s valid pixels (0 for an image with none). Arguments as in
/// [`segmentation_loss`]; the batch loss is `Σ_i valid_i · L_i / Σ_i valid_i`
/// ([`PixelTargets::valid_per_image`]).
pub fn per_image_loss(
    kind: LossKind,
    logits: Tensor<4>,
    pred: Tensor<4, Int>,
    targets: &PixelTargets,
    targeted: bool,
    iteration: usize,
    iterations: usize,
) -> Tensor<1> {
    let n = targets.valid_per_image.len();
    let counts: Vec<f32> = targets.valid_per_image.iter().map(|&c| c.max(1) as f32).collect();
    let counts = Tensor::<1>::from_data(TensorData::new(counts, [n]), &targets.valid.device());
    let sums = pixel_loss(kind, logits, pred, targets, targeted, iteration, iterations).sum_dims(&[1, 2, 3]);
    sums.reshape([n]).div(counts)
}

/// The per-pixel loss, `[N, 1, H, W]` (0 on void pixels): `w_i · CE_i`, or the JS divergence;
/// see the module documentation.
fn pixel_loss(
    kind: LossKind,
    logits: Tensor<4>,
    pred: Tensor<4, Int>,
    targets: &PixelTargets,
    targeted: bool,
    iteration: usize,
    iterations: usize,
) -> Tensor<4> {
    let weights = match kind {
        LossKind::Js => return sea::js_divergence(logits, targets),
        LossKind::Ce => targets.valid.clone(),
        LossKind::SegPgd => {
            let lambda = iteration as f64 / (2.0 * iterations.max(1) as f64);
            let (w_at_reference, w_elsewhere) = if targeted { (lambda, 1.0 - lambda) } else { (1.0 - lambda, lambda) };
            let at_reference = pred.equal(targets.classes.clone());
            targets.valid.clone().mul_scalar(w_elsewhere).mask_where(at_reference, targets.valid.clone().mul_scalar(w_at_reference))
        }
        LossKind::CosPgd => {
            let p = softmax(logits.clone().without_autodiff(), 1);
            let p_ref = p.clone().gather(1, targets.classes.clone());
            let len = p.square().sum_dim(1).sqrt();
            let cos = p_ref.div(len);
            let w = if targeted { cos.neg().add_scalar(1.0) } else { cos };
            w.mul(targets.valid.clone())
        }
        LossKind::MaskedCe => sea::not_yet_won(pred, targets, targeted),
        LossKind::BalancedCe => sea::not_yet_won(pred, targets, targeted).mul(targets.balance.clone()),
        LossKind::BalancedCeVoc => sea::not_yet_won(pred, targets, targeted).mul(sea::voc_weights(targets)),
    };
    let ce = log_softmax(logits, 1).gather(1, targets.classes.clone()).neg(); // [N, 1, H, W]
    ce.mul(weights)
}

impl TryFrom<String> for LossKind {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend;

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_data().try_into_vec_as::<f32>().unwrap()[0])
    }

    /// 1 image, 3 classes, 1×2 pixels: pixel 0 logits (2, 0, 0), pixel 1 logits (0, 1, 0).
    fn setup(d: &Device) -> (Tensor<4>, Tensor<4, Int>) {
        let logits = Tensor::<4>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0, 1.0, 0.0, 0.0], [1, 3, 1, 2]), d);
        let pred = logits.clone().argmax(1);
        (logits, pred)
    }

    fn ce(z: &[f64], y: usize) -> f64 {
        let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        lse - z[y]
    }

    fn cos(z: &[f64], y: usize) -> f64 {
        let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
        let s: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|v| v / s).collect();
        p[y] / p.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    #[test]
    fn ce_segpgd_cospgd_match_hand_computation() {
        let d = backend::cpu();
        let (logits, pred) = setup(&d);
        let (z0, z1) = ([2.0, 0.0, 0.0], [0.0, 1.0, 0.0]);
        // reference: pixel 0 → class 0 (predicted correctly), pixel 1 → class 2 (wrong)
        let t = PixelTargets::new(&[ClassMap { width: 2, height: 1, data: vec![0, 2] }], &d).unwrap();
        let (c0, c1) = (ce(&z0, 0), ce(&z1, 2));
        let l = scalar(segmentation_loss(LossKind::Ce, logits.clone(), pred.clone(), &t, false, 0, 10));
        assert!((l - (c0 + c1) / 2.0).abs() < 1e-5, "{l}");
        // SegPGD at t = 4 of 10: λ = 0.2; correct pixel 0.8, wrong 0.2
        let l = scalar(segmentation_loss(LossKind::SegPgd, logits.clone(), pred.clone(), &t, false, 4, 10));
        assert!((l - (0.8 * c0 + 0.2 * c1) / 2.0).abs() < 1e-5, "{l}");
        let l = scalar(segmentation_loss(LossKind::SegPgd, logits.clone(), pred.clone(), &t, true, 4, 10));
        assert!((l - (0.2 * c0 + 0.8 * c1) / 2.0).abs() < 1e-5, "{l}");
        let l = scalar(segmentation_loss(LossKind::CosPgd, logits.clone(), pred.clone(), &t, false, 0, 10));
        let want = (cos(&z0, 0) * c0 + cos(&z1, 2) * c1) / 2.0;
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
        let l = scalar(segmentation_loss(LossKind::CosPgd, logits, pred, &t, true, 0, 10));
        let want = ((1.0 - cos(&z0, 0)) * c0 + (1.0 - cos(&z1, 2)) * c1) / 2.0;
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
    }

    #[test]
    fn void_pixels_are_ignored() {
        let d = backend::cpu();
        let (logits, pred) = setup(&d);
        let t = PixelTargets::new(&[ClassMap { width: 2, height: 1, data: vec![VOID, 2] }], &d).unwrap();
        assert_eq!(t.n_valid, 1);
        for kind in LossKind::ALL.into_iter().filter(|k| *k != LossKind::Js) {
            let l = scalar(segmentation_loss(kind, logits.clone(), pred.clone(), &t, false, 0, 1));
            let w = match kind {
                LossKind::CosPgd => cos(&[0.0, 1.0, 0.0], 2),
                // pixel 1 is wrong: λ_0 = 0, and masked out
                LossKind::SegPgd | LossKind::MaskedCe | LossKind::BalancedCe | LossKind::BalancedCeVoc => 0.0,
                LossKind::Ce | LossKind::Js => 1.0,
            };
            assert!((l - w * ce(&[0.0, 1.0, 0.0], 2)).abs() < 1e-5, "{kind}: {l}");
        }
        let e = PixelTargets::new(&[ClassMap { width: 1, height: 1, data: vec![VOID] }], &d).unwrap_err();
        assert!(e.to_string().contains("void"), "{e}");
    }

    #[test]
    fn gradient_flows_through_ce_only() {
        // d/dz of the CosPGD loss must equal w · d CE/dz with w held constant
        let (logits, pred) = setup(&backend::cpu());
        let z = logits.autodiff().require_grad();
        let t = PixelTargets::new(&[ClassMap { width: 2, height: 1, data: vec![0, 2] }], &backend::cpu()).unwrap();
        let l = segmentation_loss(LossKind::CosPgd, z.clone(), pred, &t, false, 0, 1);
        let g = z.grad(&l.backward()).unwrap().into_data().try_into_vec_as::<f32>().unwrap();
        // pixel 0, class 0: (p_0 − 1) · w_0 / 2
        let e: Vec<f64> = [2.0f64, 0.0, 0.0].iter().map(|v| v.exp()).collect();
        let p0 = e[0] / e.iter().sum::<f64>();
        let want = (p0 - 1.0) * cos(&[2.0, 0.0, 0.0], 0) / 2.0;
        assert!((f64::from(g[0]) - want).abs() < 1e-5, "{} vs {want}", g[0]);
    }

    #[test]
    fn per_image_loss_is_each_images_mean_and_weights_back_to_the_batch_loss() {
        let d = backend::cpu();
        // image 0: the 1×2 logits of `setup`; image 1: pixel 0 logits (0, 0, 3), pixel 1 void
        let v = vec![2.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0];
        let logits = Tensor::<4>::from_data(TensorData::new(v, [2, 3, 1, 2]), &d);
        let pred = logits.clone().argmax(1);
        let maps = [ClassMap { width: 2, height: 1, data: vec![0, 2] }, ClassMap { width: 2, height: 1, data: vec![1, VOID] }];
        let t = PixelTargets::new(&maps, &d).unwrap();
        assert_eq!((t.n_valid, t.valid_per_image.clone()), (3, vec![2, 1]));
        for kind in [LossKind::Ce, LossKind::SegPgd, LossKind::CosPgd] {
            let per = per_image_loss(kind, logits.clone(), pred.clone(), &t, false, 3, 10).into_data().try_into_vec_as::<f32>().unwrap();
            let batch = scalar(segmentation_loss(kind, logits.clone(), pred.clone(), &t, false, 3, 10));
            let pooled = (2.0 * f64::from(per[0]) + f64::from(per[1])) / 3.0;
            assert!((pooled - batch).abs() < 1e-5, "{kind}: {per:?} vs {batch}");
        }
        let per = per_image_loss(LossKind::Ce, logits, pred, &t, false, 0, 1).into_data().try_into_vec_as::<f32>().unwrap();
        let want = [(ce(&[2.0, 0.0, 0.0], 0) + ce(&[0.0, 1.0, 0.0], 2)) / 2.0, ce(&[0.0, 0.0, 3.0], 1)];
        assert!(per.iter().zip(want).all(|(a, b)| (f64::from(*a) - b).abs() < 1e-5), "{per:?} vs {want:?}");
    }

    #[test]
    fn names_parse() {
        assert_eq!("SegPGD".parse::<LossKind>().unwrap(), LossKind::SegPgd);
        assert_eq!(LossKind::CosPgd.to_string(), "cospgd");
        let e = "dice".parse::<LossKind>().unwrap_err().to_string();
        assert!(e.contains("'dice'"), "{e}");
        for kind in LossKind::ALL {
            assert!(e.contains(&kind.to_string()), "{e} lacks {kind}");
            // Display, FromStr and serde agree
            assert_eq!(kind.to_string().parse::<LossKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.to_string());
            assert_eq!(serde_json::from_value::<LossKind>(serde_json::json!(kind.to_string())).unwrap(), kind);
        }
        assert_eq!("Masked-CE".parse::<LossKind>().unwrap(), LossKind::MaskedCe);
    }
}
