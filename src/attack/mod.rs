//! Gradient attacks on segmentation networks: the PGD family.
//!
//! Projected gradient descent (Madry et al., "Towards Deep Learning Models Resistant to
//! Adversarial Attacks", ICLR 2018) on images in `[0, 1]` pixel space, extended to dense
//! prediction with the per-pixel losses of SegPGD (Gu et al., ECCV 2022) and CosPGD
//! (Agnihotri, Jung & Keuper, ICML 2024).
//!
//! The design follows the "one loop" structure of gradient-descent attack libraries:
//!
//! - a single PGD loop ([`pgd`], [`pgd_async`]) configured by a [`PgdConfig`];
//! - the threat model ([`Norm`]: L∞ or L2) supplies the random start, the normalisation of the
//!   gradient into a step and the projection onto the ε-ball (plus clamping to `[0, 1]`);
//! - the [`Goal`] decides the per-pixel reference map and the *sign* of the step: untargeted
//!   attacks ascend the loss against the reference (the clean prediction or the ground truth),
//!   targeted attacks descend it towards a target map (another image's map, one class, a
//!   painted map, optionally within a [`Mask`]);
//! - the [`LossKind`] turns logits and the reference map into a scalar (mean CE, SegPGD, CosPGD).
//!
//! The loop is an `async fn` because on wasm32 tensors can only be read asynchronously; native
//! code uses the blocking wrapper [`pgd`]. A per-iteration observer ([`Progress`] in,
//! [`Control`] out) drives progress bars and lets the caller stop or cancel.
//!
//! The model is anything implementing [`SegModel`], in particular a
//! [`Segmenter`] loaded on an autodiff device
//! ([`crate::backend::autodiff`]); its parameters never require gradients, so only the input
//! gradient is computed. Tensors are `[N, 3, H, W]` images in `[0, 1]` RGB throughout.

pub mod goal;
pub mod loss;
pub mod norm;
pub mod pgd;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image_io::RgbImage01;
use crate::metrics::{ConfusionMatrix, VOID, agreement, nearest_resize_map};
use crate::model::{ClassMap, Segmenter};
use burn::tensor::Tensor;

pub use goal::{Goal, MapSource, Mask, Region, Target};
pub use loss::LossKind;
pub use norm::Norm;
pub use pgd::{PgdConfig, pgd_async};
#[cfg(not(target_arch = "wasm32"))]
pub use pgd::pgd;

/// A differentiable segmentation model the attacks can run on.
///
/// Implemented by [`Segmenter`]; tests implement it for tiny synthetic models.
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

/// What the observer tells the loop after each iterate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now and return the current (or best, with `keep_best`) iterate as the result.
    Stop,
    /// Abort: the attack returns [`Error::Cancelled`].
    Cancel,
}

/// Live state of an attack, reported once per iterate `x_t` (`t = 0` is the starting point,
/// `t = steps` the final iterate).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Iterate index `t` in `0..=steps`: the number of gradient steps taken so far.
    pub step: usize,
    /// Configured number of steps.
    pub steps: usize,
    /// Loss of `x_t` against the reference map (mean over valid pixels; untargeted attacks
    /// push it up, targeted ones down).
    pub loss: f64,
    /// Per image: fraction of valid pixels whose prediction equals the reference map.
    pub agreement: Vec<f64>,
    /// Mean of [`Self::agreement`].
    pub mean_agreement: f64,
    /// mIoU of the current predictions against the reference map (pooled over the batch).
    pub miou: f64,
    /// Whether the attack is targeted (then agreement should rise, else fall).
    pub targeted: bool,
}

/// One line of [`AttackResult::history`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Iterate index `t`.
    pub step: usize,
    /// Loss of `x_t`.
    pub loss: f64,
    /// Mean agreement of `x_t`'s predictions with the reference map.
    pub mean_agreement: f64,
    /// mIoU of `x_t`'s predictions against the reference map.
    pub miou: f64,
}

/// Segmentation metrics of predicted maps against reference maps (ground truth, clean
/// prediction or target); reference pixels equal to [`VOID`] are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MapMetrics {
    /// Mean IoU of one confusion matrix accumulated over all images.
    pub miou: f64,
    /// Pixel accuracy of that pooled confusion matrix.
    pub pixel_accuracy: f64,
    /// Mean over images of the per-image fraction of agreeing (non-void) pixels.
    pub agreement: f64,
}

/// Per-image statistics of an adversarial image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageStats {
    /// Achieved `‖x_adv − x‖∞`.
    pub linf: f64,
    /// Achieved `‖x_adv − x‖₂` over the image's `3·H·W` values.
    pub l2: f64,
    /// PSNR of `x_adv` against `x` in dB (peak 1; infinite when identical).
    pub psnr: f64,
    /// Fraction of pixels whose prediction equals the clean prediction.
    pub agreement_clean: f64,
    /// Fraction of valid pixels whose prediction equals the reference map of the goal.
    pub agreement_reference: f64,
}

/// Adversarial images and what the model makes of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The adversarial images, in batch order.
    pub images: Vec<RgbImage01>,
    /// Their predicted maps.
    pub maps: Vec<ClassMap>,
    /// Per-image statistics, in batch order.
    pub per_image: Vec<ImageStats>,
    /// Predictions against the clean predictions.
    pub vs_clean: MapMetrics,
    /// Predictions against the goal's reference maps (target maps for targeted goals).
    pub vs_reference: MapMetrics,
    /// Largest achieved L∞ norm over the batch.
    pub linf: f64,
    /// Largest achieved L2 norm over the batch.
    pub l2: f64,
    /// PSNR of the whole batch in dB, from the mean squared error over all its images (an
    /// unchanged image contributes 0, so one image left alone does not make it infinite).
    pub psnr: f64,
}

/// Everything a PGD run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackResult {
    /// Whether the goal was targeted.
    pub targeted: bool,
    /// Gradient steps actually taken.
    pub steps_run: usize,
    /// Whether the loop ended before `steps` (early stop or [`Control::Stop`]).
    pub stopped_early: bool,
    /// Clean predictions, in batch order.
    pub clean_maps: Vec<ClassMap>,
    /// The goal's reference maps at the input size ([`VOID`] = ignored pixel): the clean
    /// prediction or ground truth (untargeted), the target map (targeted).
    pub reference_maps: Vec<ClassMap>,
    /// Clean predictions against the reference maps.
    pub clean_vs_reference: MapMetrics,
    /// The real-valued adversarial images.
    pub adversarial: Outcome,
    /// The adversarial images rounded to 8 bits (what a saved PNG holds), when
    /// [`PgdConfig::quantize`] is set. Their norms may exceed ε by up to half a grey level
    /// where ε is not a multiple of 1/255.
    pub quantized: Option<Outcome>,
    /// `x_adv − x` per image (planar CHW, like [`RgbImage01::data`]), of the real-valued images.
    pub perturbation: Vec<Vec<f32>>,
    /// One record per iterate.
    pub history: Vec<StepRecord>,
}

/// Compare predicted maps with reference maps, image by image (same order and count).
///
/// A prediction whose size differs from its reference is first resized to the reference size
/// with Pillow's nearest neighbour ([`nearest_resize_map`]), as the evaluation protocol does
/// with ground truth. One confusion matrix over `num_classes` classes accumulates all images;
/// reference pixels equal to [`VOID`] are ignored, void predictions count as wrong.
pub fn compare_maps(preds: &[ClassMap], refs: &[ClassMap], num_classes: usize) -> Result<MapMetrics> {
    if preds.len() != refs.len() {
        return Err(Error::Shape(format!(
            "{} predicted maps but {} reference maps",
            preds.len(),
            refs.len()
        )));
    }
    let mut cm = ConfusionMatrix::new(num_classes);
    let mut agree = 0.0;
    for (p, r) in preds.iter().zip(refs) {
        let resized;
        let pred: &[u8] = if (p.width, p.height) == (r.width, r.height) {
            &p.data
        } else {
            resized = nearest_resize_map(&p.data, p.width, p.height, r.width, r.height)?;
            &resized
        };
        cm.add(&r.data, pred)?;
        agree += agreement(pred, &r.data, Some(VOID))?;
    }
    Ok(MapMetrics {
        miou: cm.miou(),
        pixel_accuracy: cm.pixel_accuracy(),
        agreement: if preds.is_empty() { 0.0 } else { agree / preds.len() as f64 },
    })
}

/// A number or a fraction: `8/255`, `0.03`, `4 / 255`. `what` names the value in the error.
pub fn parse_fraction(s: &str, what: &str) -> Result<f64> {
    let bad = || Error::InvalidArgument(format!("{what} '{s}' is not a number or a fraction such as 8/255"));
    let v = match s.split_once('/') {
        Some((a, b)) => {
            let (a, b): (f64, f64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            if b == 0.0 {
                return Err(bad());
            }
            a / b
        }
        None => s.trim().parse().map_err(|_| bad())?,
    };
    Ok(v)
}

/// Run a future to completion on the current thread (native only; the browser awaits).
///
/// A minimal executor: polls the future and parks the thread until its waker fires.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            // A spurious wake-up only costs one more poll.
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))] // the blocking wrappers are native only
mod tests {
    use super::*;

    fn map(w: usize, h: usize, data: Vec<u8>) -> ClassMap {
        ClassMap { width: w, height: h, data }
    }

    #[test]
    fn compare_maps_pools_and_resizes() {
        let pred = [map(2, 2, vec![0, 1, 1, 1]), map(1, 1, vec![1])];
        // the second prediction is 1×1 and gets resized to the 2×2 reference
        let refs = [map(2, 2, vec![0, 1, 0, VOID]), map(2, 2, vec![1, 1, 0, 0])];
        let m = compare_maps(&pred, &refs, 2).unwrap();
        // image 1: 2 of 3 valid pixels agree; image 2: 2 of 4
        assert!((m.agreement - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert!((m.pixel_accuracy - 4.0 / 7.0).abs() < 1e-12);
        // class 0: tp 1, fn 3 (gt 0 predicted 1), fp 0 → 1/4; class 1: tp 3, fp 3 → 3/6
        assert!((m.miou - (0.25 + 0.5) / 2.0).abs() < 1e-12, "{m:?}");
        assert!(matches!(compare_maps(&pred[..1], &refs, 2), Err(Error::Shape(s)) if s.contains("1 predicted")));
    }

    #[test]
    fn fractions_parse() {
        assert!((parse_fraction("8/255", "eps").unwrap() - 8.0 / 255.0).abs() < 1e-15);
        assert_eq!(parse_fraction(" 0.5 ", "eps").unwrap(), 0.5);
        assert!(parse_fraction("1/0", "--eps").unwrap_err().to_string().contains("--eps '1/0'"));
        assert!(parse_fraction("abc", "eps").is_err());
    }

    #[test]
    fn block_on_runs_ready_and_pending_futures() {
        assert_eq!(block_on(async { 41 + 1 }), 42);
        // a future that is pending once and wakes itself
        struct Once(bool);
        impl std::future::Future for Once {
            type Output = u8;
            fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<u8> {
                if self.0 {
                    std::task::Poll::Ready(7)
                } else {
                    self.0 = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            }
        }
        assert_eq!(block_on(Once(false)), 7);
    }
}
