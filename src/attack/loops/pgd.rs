//! The PGD loop (Madry et al., "Towards Deep Learning Models Resistant to Adversarial
//! Attacks", ICLR 2018), shared by every goal, norm and loss.
//!
//! For images `x` `[N, 3, H, W]` in `[0, 1]`, reference maps `y` (see [`Goal::resolve`]) and a
//! loss `L` (see [`crate::attack::losses::loss`]):
//!
//! ```text
//!   x_0     = clamp(x + project(δ_0), 0, 1)              δ_0 = 0, or random in the ε-ball
//!   x_{t+1} = clamp(x + project(x_t − x + s·step(∇_x L(x_t, y))), 0, 1)   t = 0, …, T − 1
//! ```
//!
//! with `s = +1` for untargeted goals (ascend the loss against the reference) and `s = −1`
//! for targeted ones (descend it towards the target); `step` and `project` come from the
//! [`Norm`]. Every iterate `x_t`, `t = 0, …, T`, is evaluated once; the observer sees its loss
//! and agreement with the reference, may stop or cancel; `early_stop` ends the loop once every
//! image reaches the requested success rate. The result is, per image, the most successful
//! iterate ([`super::kept`]: the most valid pixels moved off the reference, or onto the
//! target; ties to the later one), the start included. `T` steps cost `T + 1` forward and `T`
//! backward passes, plus one forward pass of the kept iterates (one more with a random start,
//! two or three with `quantize`).

use burn::tensor::Tensor;

use super::common::{Ending, Observer, Refs, Scored, finish, host_batch, read_scalar, start};
use super::kept::{Kept, won};
use super::norm::Norm;
use super::outcome::AttackResult;
use super::readback::reads_in_full;
use crate::attack::losses::loss::{PixelTargets, segmentation_loss};
use crate::attack::settings::PgdConfig;
use crate::attack::spec::goal::Goal;
use crate::error::{Error, Result};
use crate::model::SegModel;

/// Run PGD on a batch `x01` `[N, 3, H, W]` in `[0, 1]` (any device; autodiff is added for
/// the gradient) against `model`, for `goal`, with the settings of `cfg` (validated when
/// the loop starts).
///
/// The model should be loaded on an autodiff device ([`crate::backend::autodiff`]).
/// `observer`, if given, sees the iterates read ([`super::readback`]) and may stop (keeping the
/// kept iterates so far) or cancel ([`Error::Cancelled`]). Reads from the device are
/// asynchronous, so this runs unchanged in the browser; natively, wrap it in
/// [`crate::util::block_on`].
///
/// Errors: a batch that is not `[N ≥ 1, 3, H, W]`, values outside `[0, 1]`, a size the model
/// cannot take, an invalid goal ([`Goal::resolve`]), backend failures.
pub async fn pgd<M: SegModel + ?Sized>(
    model: &M,
    x01: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    if cfg.radius_schedule {
        return Err(Error::InvalidArgument("the radius schedule applies to APGD and SEA, not to PGD".into()));
    }
    let x = x01.without_autodiff();
    let dims = x.dims();
    let [_, _, h, w] = dims;
    let device = x.device();
    let k = model.num_classes();
    let x_host = host_batch(&x).await?;
    let (eps, alpha, norm): (f64, f64, Norm) = (cfg.eps, cfg.alpha(), cfg.norm);
    let (mut x_adv, first, clean_maps) = start(model, &x, cfg, eps).await?;
    let mut first = Some(first);
    let targeted = goal.is_targeted();
    let reference = goal.resolve(&clean_maps, k, w, h)?;
    let targets = PixelTargets::new(&reference, &device)?;
    let refs = Refs { x_host: &x_host, clean: &clean_maps, reference: &reference, dims, num_classes: k, device: &device };
    let mut kept: Option<Kept> = None;
    let mut history = Vec::with_capacity(cfg.steps + 1);
    let mut t = 0;
    let stopped_early = loop {
        let last = t == cfg.steps;
        let (xa, logits) = match first.take() {
            Some(pair) => pair,
            None => {
                // the last iterate needs no gradient
                let xa = if last { x_adv.clone() } else { x_adv.clone().autodiff().require_grad() };
                let logits = model.logits(xa.clone())?;
                (xa, logits)
            }
        };
        let pred = logits.clone().without_autodiff().argmax(1);
        let got = won(pred.clone(), &targets, targeted);
        match kept.as_mut() {
            None => kept = Some(Kept::new(x_adv.clone(), got, t)),
            Some(kp) => kp.update(&x_adv, got, t),
        }
        let loss = segmentation_loss(cfg.loss, logits, pred.clone(), &targets, targeted, t, cfg.steps);
        if reads_in_full(cfg, t, last) {
            let loss_value = read_scalar(loss.clone().without_autodiff()).await?;
            let scored = Scored::new(pred, &refs, targeted).await?;
            history.push(scored.record(t, loss_value));
            let stop = scored.observe(&mut observer, t, cfg.steps, loss_value, targeted)? || scored.reaches(cfg.early_stop);
            if stop || last {
                break !last;
            }
        }
        let objective = if targeted { loss.neg() } else { loss };
        let grads = objective.backward();
        let grad = xa.grad(&grads).ok_or_else(|| Error::Backend("the model gave no gradient for the input image".into()))?;
        let delta = x_adv.sub(x.clone()).add(norm.step(grad, alpha));
        x_adv = norm.apply(x.clone(), delta, eps);
        t += 1;
    };
    let kept = kept.ok_or_else(|| Error::Backend("PGD evaluated no iterate".into()))?;
    let end = Ending { targeted, steps_run: t, stopped_early, history };
    finish(model, &kept, &refs, cfg, end).await
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::loops::outcome::{Control, Progress};
    use crate::attack::loops::testing::{Toy, batch, check_invariants, check_most_successful, check_sparse_reads};
    use crate::attack::losses::loss::LossKind;
    use crate::backend;

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        crate::util::block_on(crate::attack::run_kind(crate::attack::AttackKind::Pgd, &Toy::new(&backend::cpu()), x, goal, cfg, None))
    }

    #[test]
    fn reading_every_few_steps_changes_nothing_but_the_history() {
        check_sparse_reads(run);
    }
    #[test]
    fn invariants_for_every_norm_goal_and_loss() {
        check_invariants(run, 4, true, &[LossKind::Ce, LossKind::SegPgd, LossKind::CosPgd], None);
    }

    #[test]
    fn attacks_move_predictions_the_right_way_and_keep_batch_order() {
        let d = backend::cpu();
        let (_, x) = batch(2, 3, 4, 5, &d);
        let cfg = PgdConfig::new().with_eps(0.5).with_steps(10);
        let r = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
        assert!(r.adversarial.vs_clean.agreement < 0.2, "{:?}", r.adversarial.vs_clean);
        assert!(r.history[0].mean_agreement == 1.0);
        let r = run(&Goal::to_class(1), &cfg, x.clone()).unwrap();
        assert!(r.adversarial.vs_reference.agreement > 0.9, "{:?}", r.adversarial.vs_reference);
        assert!(r.history.last().unwrap().loss < r.history[0].loss);

        // swapping two images of the batch swaps the results (no random start: deterministic)
        let swapped = Tensor::cat(vec![x.clone().narrow(0, 2, 1), x.clone().narrow(0, 1, 1), x.clone().narrow(0, 0, 1)], 0);
        let cfg = PgdConfig::new().with_eps(0.05).with_steps(3);
        let a = run(&Goal::untargeted(), &cfg, x).unwrap();
        let b = run(&Goal::untargeted(), &cfg, swapped).unwrap();
        for (i, j) in [(0, 2), (1, 1), (2, 0)] {
            assert_eq!(a.clean_maps[i], b.clean_maps[j]);
            assert_eq!(a.adversarial.maps[i], b.adversarial.maps[j]);
            let diff = a.adversarial.images[i].data.iter().zip(&b.adversarial.images[j].data).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-6, "image {i}: {diff}");
        }
    }

    #[test]
    fn observer_stop_cancel_and_early_stop() {
        let d = backend::cpu();
        let (_, x) = batch(3, 2, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.5).with_steps(8);
        let mut seen = Vec::new();
        let mut obs = |p: &Progress| {
            seen.push(p.step);
            if p.step == 2 { Control::Stop } else { Control::Continue }
        };
        let r = crate::util::block_on(pgd(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut obs))).unwrap();
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!((r.steps_run, r.stopped_early, r.history.len()), (2, true, 3));

        let mut cancel = |p: &Progress| if p.step == 1 { Control::Cancel } else { Control::Continue };
        let e = crate::util::block_on(pgd(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut cancel))).unwrap_err();
        assert_eq!(e, Error::Cancelled);

        let r = run(&Goal::to_class(2), &cfg.clone().with_early_stop(Some(0.5)), x.clone()).unwrap();
        assert!(r.stopped_early && r.steps_run < 8, "{}", r.steps_run);
        assert!(r.adversarial.per_image.iter().all(|s| s.agreement_reference >= 0.5));
    }

    #[test]
    fn returns_each_images_most_successful_iterate() {
        check_most_successful(run);
    }

    #[test]
    fn quantized_outcome_is_on_the_8bit_grid() {
        let d = backend::cpu();
        let (_, x) = batch(4, 1, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.1).with_steps(2).with_quantize(true);
        let r = run(&Goal::untargeted(), &cfg, x).unwrap();
        let q = r.quantized.unwrap();
        assert!(q.images[0].data.iter().all(|v| ((v * 255.0).round() - v * 255.0).abs() < 1e-4));
        assert_eq!(q.maps.len(), 1);
    }

    #[test]
    fn bad_settings_and_inputs_are_refused() {
        let d = backend::cpu();
        let (_, x) = batch(5, 1, 4, 4, &d);
        let bad = [
            (PgdConfig::new().with_eps(-0.1), "-0.1"),
            (PgdConfig::new().with_eps(f64::NAN), "NaN"),
            (PgdConfig::new().with_steps(0), "got 0"),
            (PgdConfig::new().with_step_size(Some(0.0)), "step size"),
            (PgdConfig::new().with_early_stop(Some(1.5)), "1.5"),
        ];
        for (cfg, quote) in bad {
            let e = run(&Goal::untargeted(), &cfg, x.clone()).unwrap_err();
            assert!(matches!(&e, Error::InvalidArgument(m) if m.contains(quote)), "{e}");
        }
        let e = run(&Goal::to_class(3), &PgdConfig::new(), x.clone()).unwrap_err();
        assert!(e.to_string().contains("target class 3"), "{e}");
        let over = x.clone().add_scalar(1.0);
        let e = run(&Goal::untargeted(), &PgdConfig::new(), over).unwrap_err();
        assert!(e.to_string().contains("[0, 1]"), "{e}");
        let e = run(&Goal::untargeted(), &PgdConfig::new(), Tensor::<4>::zeros([1, 1, 4, 4], &d)).unwrap_err();
        assert!(e.to_string().contains("[1, 1, 4, 4]"), "{e}");
    }
}
