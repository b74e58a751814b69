//! DAG, the Dense Adversary Generation of Xie, Wang, Zhang, Zhou, Xie & Yuille ("Adversarial
//! Examples for Semantic Segmentation and Object Detection", ICCV 2017), written from the
//! paper's description.
//!
//! Every pixel is a *target* with its current class `l` and an adversarial label `l'`. At each
//! iteration the *active set* holds the valid pixels not yet at their goal, and the step
//! follows the gradient of the summed margin over it:
//!
//! ```text
//!   A_t   = { p valid : pred_t(p) ≠ target(p) }                  targeted
//!         = { p valid : pred_t(p) = reference(p) }               untargeted
//!   g_t   = ∇_x Σ_{p ∈ A_t} ( z_{l'(p)}(x_t, p) − z_{l_t(p)}(x_t, p) )     l_t(p) = pred_t(p)
//!   r_t   = γ · g_t / ‖g_t‖∞                                        (per image)
//!   x_{t+1} = clamp(x + project(x_t − x + r_t), 0, 1)
//! ```
//!
//! - **Adversarial labels.** Targeted goals: `l'` is the target map's class and `l` the
//!   pixel's *current* class, so the step pulls towards the target and away from whatever the
//!   pixel is now (always a non-zero margin on an active pixel). Untargeted goals: `l'` is
//!   the highest-scoring class *other than* the reference class at the current iterate,
//!   chosen anew at every iteration, and `l` is the reference class (an active pixel is still
//!   predicted as its reference). The paper fixes `l'` once (a random permutation of the
//!   classes); on ESPNetv2 a fixed `l'` — even the runner-up of the clean logits — makes the
//!   active set oscillate (pixels leave it, are pulled back by the step of the others, and
//!   re-enter): on ESPNetv2 s0.5, two VOC images at 192×192, ε = 8/255, 60 steps of 0.5/255
//!   fooled 51–78 % of the pixels with a fixed `l'`, all of them in 49 steps with the
//!   runner-up of each iteration.
//! - **Step size.** The paper's `γ = 0.5` on `[0, 255]` pixels is `0.5/255` here
//!   ([`GAMMA`]); `step_size` (or `step_factor · ε` through the spec) replaces it. The step is
//!   the paper's L∞-normalised gradient for both norms; the norm only decides the projection.
//! - **Budget.** The paper's DAG is unbounded. Here the iterate stays within the spec's ε-ball
//!   ([`super::Norm`]) and `[0, 1]`; `eps = 1` with `norm = "linf"` contains every image, so it
//!   is the unbounded attack (its achieved L∞ is reported as for every attack).
//! - **Stopping.** The loop ends when every image's active set is empty (every valid pixel
//!   fooled, or on its target), when the steps run out, on `early_stop` or on the observer's
//!   word; each image returns its best iterate (highest fraction of pixels at the goal).
//!
//! Of [`PgdConfig`], DAG uses `eps`, `steps`, `step_size` (γ), `norm` (projection),
//! `random_start`, `seed`, `early_stop` and `quantize`; `keep_best` is implied. `loss` only
//! names the loss the history and the observer report (for comparison with PGD), the step
//! follows DAG's margin. Cost per iteration: one forward and one backward pass.

use burn::tensor::{IndexingUpdateOp, Int, Tensor};

use crate::attack::spec::goal::Goal;
use crate::attack::losses::loss::{PixelTargets, segmentation_loss};
use crate::attack::loops::outcome::AttackResult;
use super::common::{Ending, Observer, Refs, Scored, finish, host_batch, read_scalar, start};
use super::kept::{Kept, won};
use crate::attack::settings::PgdConfig;
use crate::error::{Error, Result};
use crate::model::SegModel;

/// The paper's step `γ = 0.5` on `[0, 255]` pixels, in `[0, 1]` pixel units.
pub const GAMMA: f64 = 0.5 / 255.0;

/// Smallest gradient peak treated as non-zero (an image with an empty active set has a zero
/// gradient and takes a zero step).
const TINY: f64 = 1e-20;

/// Untargeted DAG's adversarial label of every pixel: the highest-scoring class other than the
/// reference class in `logits` `[N, K, H, W]` (no gradient), as `[N, 1, H, W]` (on void pixels,
/// whose reference holds 0, the best class other than 0).
pub fn runner_up(logits: Tensor<4>, targets: &PixelTargets) -> Tensor<4, Int> {
    let [n, _, h, w] = logits.dims();
    let penalty = Tensor::<4>::full([n, 1, h, w], -1e30, &logits.device());
    logits.without_autodiff().scatter(1, targets.classes.clone(), penalty, IndexingUpdateOp::Add).argmax(1)
}

/// DAG's step `γ · g / ‖g‖∞`, per image of `grad` `[N, 3, H, W]` (a zero gradient gives a
/// zero step).
pub fn dag_step(grad: Tensor<4>, gamma: f64) -> Tensor<4> {
    let [n, c, h, w] = grad.dims();
    let peak = grad.clone().abs().reshape([n, c * h * w]).max_dim(1).reshape([n, 1, 1, 1]).add_scalar(TINY);
    grad.div(peak).mul_scalar(gamma)
}

/// The active set `[N, 1, H, W]` (1 = still to move): valid pixels off the target (targeted) or
/// still on the reference (untargeted).
fn active_set(pred: Tensor<4, Int>, targets: &PixelTargets, targeted: bool) -> Tensor<4> {
    let at_reference = pred.equal(targets.classes.clone());
    let done = if targeted { at_reference } else { at_reference.bool_not() };
    targets.valid.clone().mask_fill(done, 0.0)
}

/// `Σ_active (z_{l'} − z_{current})`, differentiable through `logits`.
fn margin(logits: Tensor<4>, labels: &Tensor<4, Int>, current: Tensor<4, Int>, active: Tensor<4>) -> Tensor<1> {
    let z_adv = logits.clone().gather(1, labels.clone());
    z_adv.sub(logits.gather(1, current)).mul(active).sum()
}

/// Whether every image has reached its goal on all its valid pixels (an image with none
/// counts as done).
fn all_done(success: &[f64], valid_per_image: &[usize]) -> bool {
    success.iter().zip(valid_per_image).all(|(&s, &v)| v == 0 || s >= 1.0)
}

/// Run DAG on a batch `x01` `[N, 3, H, W]` in `[0, 1]` against `model`, for `goal`, with the
/// settings of `cfg` (see the module documentation for which apply; validated when the loop starts).
///
/// Same contract as [`crate::attack::pgd()`]: the model should be on an autodiff device; `observer`
/// sees every iterate (`t = 0..=steps_run`, the loss being `cfg.loss` against the reference)
/// and may stop (returning each image's best iterate so far) or cancel; reads from the device
/// are asynchronous (wasm-ready; natively, wrap it in [`crate::util::block_on`]). Errors as
/// [`crate::attack::pgd()`]'s.
pub async fn dag<M: SegModel + ?Sized>(
    model: &M,
    x01: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    let x = x01.without_autodiff();
    let dims = x.dims();
    let [_, _, h, w] = dims;
    let (device, k) = (x.device(), model.num_classes());
    let x_host = host_batch(&x).await?;
    let gamma = cfg.step_size.unwrap_or(GAMMA);
    let (mut x_adv, first, clean_maps) = start(model, &x, cfg, cfg.eps).await?;
    let targeted = goal.is_targeted();
    let reference = goal.resolve(&clean_maps, k, w, h)?;
    let targets = PixelTargets::new(&reference, &device)?;
    let refs = Refs { x_host: &x_host, clean: &clean_maps, reference: &reference, dims, num_classes: k, device: &device };
    let mut first = Some(first);
    let mut kept: Option<Kept> = None;
    let mut history = Vec::with_capacity(cfg.steps + 1);
    let mut t = 0;
    let stopped_early = loop {
        let last = t == cfg.steps;
        let (xa, logits) = match first.take() {
            Some(pair) => pair,
            None if last => (x_adv.clone(), model.logits(x_adv.clone())?),
            None => {
                let xa = x_adv.clone().autodiff().require_grad();
                (xa.clone(), model.logits(xa)?)
            }
        };
        let pred = logits.clone().without_autodiff().argmax(1);
        let reported = segmentation_loss(cfg.loss, logits.clone().without_autodiff(), pred.clone(), &targets, targeted, t, cfg.steps);
        let loss_value = read_scalar(reported).await?;
        let scored = Scored::new(pred.clone(), &refs, targeted).await?;
        history.push(scored.record(t, loss_value));
        let got = won(pred.clone(), &targets, targeted);
        match kept.as_mut() {
            None => kept = Some(Kept::new(x_adv.clone(), got, t)),
            Some(k) => k.update(&x_adv, got, t),
        }
        let stop = scored.observe(&mut observer, t, cfg.steps, loss_value, targeted)?
            || scored.reaches(cfg.early_stop)
            || all_done(&scored.success, &targets.valid_per_image);
        if stop || last {
            break !last;
        }
        let active = active_set(pred.clone(), &targets, targeted);
        let labels = if targeted { targets.classes.clone() } else { runner_up(logits.clone(), &targets) };
        let grads = margin(logits, &labels, pred, active).backward();
        let grad = xa.grad(&grads).ok_or_else(|| Error::Backend("the model gave no gradient for the input image".into()))?;
        x_adv = cfg.norm.apply(x.clone(), x_adv.sub(x.clone()).add(dag_step(grad, gamma)), cfg.eps);
        t += 1;
    };
    let kept = kept.ok_or_else(|| Error::Backend("DAG evaluated no iterate".into()))?;
    let end = Ending { targeted, steps_run: t, stopped_early, history };
    finish(model, &kept, &refs, cfg, end).await
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::losses::loss::LossKind;
    use crate::attack::loops::outcome::{Control, Progress};
    use crate::attack::loops::testing::{Toy, batch, check_invariants, check_most_successful};
    use crate::backend;
    use burn::tensor::TensorData;

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        crate::util::block_on(crate::attack::run_kind(crate::attack::AttackKind::Dag, &Toy::new(&backend::cpu()), x, goal, cfg, None))
    }

    #[test]
    fn returns_each_images_most_successful_iterate() {
        check_most_successful(run);
    }

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    #[test]
    fn runner_up_is_the_best_class_other_than_the_reference() {
        let d = backend::cpu();
        // 1 image, 3 classes, 3 pixels; logits per class over the pixels
        let z = vec![5.0f32, 0.0, 1.0, /* class 1 */ 4.0, 2.0, 0.0, /* class 2 */ 1.0, 3.0, 9.0];
        let z = Tensor::<4>::from_data(TensorData::new(z, [1, 3, 1, 3]), &d);
        let labels = |r: Vec<u8>| {
            let t = PixelTargets::new(&[crate::data::ClassMap { width: 3, height: 1, data: r }], &d).unwrap();
            runner_up(z.clone(), &t).into_data().try_into_vec_as::<i64>().unwrap()
        };
        assert_eq!(labels(vec![0, 2, 1]), vec![1, 1, 2]);
        assert_eq!(labels(vec![1, 0, 2]), vec![0, 2, 0]);
    }

    #[test]
    fn the_step_has_l_inf_gamma_per_image() {
        let d = backend::cpu();
        let g = vec![0.5f32, -2.0, 1.0, 0.0, /* image 2: zero */ 0.0, 0.0, 0.0, 0.0];
        let s = host(dag_step(Tensor::from_data(TensorData::new(g, [2, 1, 2, 2]), &d), 0.1));
        let want = [0.025f32, -0.1, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert!(s.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-7), "{s:?}");
    }

    #[test]
    fn untargeted_and_targeted_reach_every_pixel_and_stop() {
        let d = backend::cpu();
        let (_, x) = batch(11, 2, 4, 5, &d);
        let cfg = PgdConfig::new().with_eps(1.0).with_steps(60).with_step_size(Some(0.05));
        let r = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
        assert!(r.adversarial.per_image.iter().all(|s| s.agreement_clean == 0.0), "{:?}", r.adversarial.per_image);
        assert!(r.stopped_early && r.steps_run < 60 && r.history.len() == r.steps_run + 1, "{}", r.steps_run);
        let r = run(&Goal::to_class(1), &cfg, x.clone()).unwrap();
        assert!(r.adversarial.per_image.iter().all(|s| s.agreement_reference == 1.0), "{:?}", r.adversarial.per_image);
        assert!(r.stopped_early, "{}", r.steps_run);
        // the paper's γ moves each image by 0.5/255 per step at most
        let r = run(&Goal::untargeted(), &PgdConfig::new().with_eps(1.0).with_steps(3), x).unwrap();
        assert!(r.adversarial.linf <= 3.0 * GAMMA + 1e-6, "{}", r.adversarial.linf);
    }

    #[test]
    fn invariants_for_every_norm_and_goal() {
        check_invariants(run, 5, false, &[LossKind::Ce], Some(0.04));
    }

    #[test]
    fn batch_order_observer_and_best_iterate() {
        let d = backend::cpu();
        let (_, x) = batch(2, 3, 4, 5, &d);
        let cfg = PgdConfig::new().with_eps(0.1).with_steps(4).with_step_size(Some(0.03));
        let swapped = Tensor::cat(vec![x.clone().narrow(0, 2, 1), x.clone().narrow(0, 1, 1), x.clone().narrow(0, 0, 1)], 0);
        let (a, b) = (run(&Goal::untargeted(), &cfg, x.clone()).unwrap(), run(&Goal::untargeted(), &cfg, swapped).unwrap());
        for (i, j) in [(0, 2), (1, 1), (2, 0)] {
            assert_eq!(a.adversarial.maps[i], b.adversarial.maps[j]);
            let diff = a.perturbation[i].iter().zip(&b.perturbation[j]).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-6, "image {i}: {diff}");
        }
        // the returned iterate is at least as fooled as the best mean of any iterate
        let best = a.history.iter().map(|h| 1.0 - h.mean_agreement).fold(0.0, f64::max);
        let got = a.adversarial.per_image.iter().map(|s| 1.0 - s.agreement_reference).sum::<f64>() / 3.0;
        assert!(got >= best - 1e-12, "{got} < {best}");

        let mut seen = Vec::new();
        let mut obs = |p: &Progress| {
            seen.push(p.step);
            if p.step == 1 { Control::Stop } else { Control::Continue }
        };
        let r = crate::util::block_on(dag(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut obs))).unwrap();
        assert_eq!((seen, r.steps_run, r.stopped_early), (vec![0, 1], 1, true));
        let mut cancel = |_: &Progress| Control::Cancel;
        let e = crate::util::block_on(dag(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut cancel))).unwrap_err();
        assert_eq!(e, Error::Cancelled);
        let e = run(&Goal::untargeted(), &PgdConfig::new().with_steps(0), x).unwrap_err();
        assert!(e.to_string().contains("got 0"), "{e}");
    }
}
