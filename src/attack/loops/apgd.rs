//! APGD, the step-size-free PGD of Croce & Hein ("Reliable evaluation of adversarial
//! robustness with an ensemble of diverse parameter-free attacks", ICML 2020), on segmentation,
//! as its authors run it (auto-attack's `autopgd_base.py`; `apgd_train` / `apgd_largereps` of
//! SEA's repository for the radius schedule).
//!
//! For images `x`, the per-image loss `f` (the mean of the [`crate::attack::losses::loss`] over
//! each image's valid pixels, negated for targeted goals so that the attack always maximises
//! `f`) and a budget of `T` steps:
//!
//! ```text
//!   η_0     = 2ε  (targeted: ε/2; or `step_size` where given)     (per image)
//!   x_1     = P(x_0 + η_0 · step(∇f(x_0)))
//!   z_{t+1} = P(x_t + η_t · step(∇f(x_t)))
//!   x_{t+1} = P(x_t + α (z_{t+1} − x_t) + (1 − α)(x_t − x_{t−1}))      α = 0.75, t ≥ 1
//! ```
//!
//! `P` projects onto the ε-ball and `[0, 1]` and `step` is the norm's steepest-ascent direction
//! ([`crate::attack::Norm`]). Every iterate is evaluated once. The step sizes follow
//! [`super::apgd_schedule`]: at checkpoints an image may halve its step and restart from its
//! highest-objective point `x_max` (with the gradient there; the momentum then points from the
//! iterate before to `x_max`, as in the authors' code). The objective the schedule follows is
//! the optimised loss, or [`PgdConfig::track_loss`] (SEA's members track plain CE).
//!
//! The result is each image's most successful iterate ([`super::kept`]: the most valid pixels
//! off the reference, or on the target; ties to the later iterate) — `x_max` is only the
//! restart point, as in the authors' APGD and SEA.
//!
//! With `radius_schedule` (SEA's progressive radius, [`super::radius_schedule`]) the run is
//! three APGD runs at 2ε, 1.5ε and ε over `⌊0.3T⌋`, `⌊0.3T⌋` and the rest of the steps, each
//! with its own checkpoints and initial step `2ε_k`, each starting from the previous run's most
//! successful point projected onto its smaller ball (the first from the random start, drawn in
//! the 2ε-ball, or the clean image); the result is the last run's most successful point. Early
//! stop ends a larger-radius run and goes on to the next; only at ε does it end the attack. An
//! observer's stop ends the attack at once, and the result is then projected onto the ε-ball.
//! Each run's first iterate is evaluated again (it appears in the history with the same step
//! index as the previous run's last), so the schedule costs three more forward passes.
//!
//! Of [`PgdConfig`], APGD uses `eps`, `steps`, `norm`, `loss`, `track_loss`, `random_start`,
//! `seed`, `early_stop`, `radius_schedule`, `quantize`, `grid_steps`, `progress_every` and
//! `step_size` as the initial step `η_0` (scaled with the radius schedule's radii), which then
//! adapts by itself. The authors' `η_0 = 2ε` is the default for untargeted goals; targeted goals
//! start at `ε/2` ([`INITIAL_STEP_TARGETED`]: at 5–50 steps `2ε` loses to fixed-step PGD
//! there). The cost is PGD's: `T + 1` forward and
//! `T` backward passes, plus one forward of the kept iterates.

use burn::tensor::{Tensor, TensorData};

use super::apgd_schedule::Schedule;
use super::common::{Ending, Observer, Refs, Scored, backend_err, finish, host_batch, select, start};
use super::kept::{Kept, won};
use super::norm::Norm;
use super::outcome::{AttackResult, StepRecord};
use super::radius_schedule::phases;
use super::readback::reads_in_full;
use crate::attack::losses::loss::{PixelTargets, per_image_loss};
use crate::attack::settings::PgdConfig;
use crate::attack::spec::goal::Goal;
use crate::error::{Error, Result};
use crate::model::SegModel;

/// Weight `α` of the new projected step against the previous step (the momentum is `1 − α`).
pub const ALPHA: f64 = 0.75;
/// The initial step size as a multiple of the run's radius (the authors' `2ε`).
pub const INITIAL_STEP: f64 = 2.0;
/// The initial step size of targeted runs as a multiple of the run's radius. The authors' `2ε`
/// jumps between corners of the ball for most of a short run: pushing 3 VOC images to another
/// image's map (ε = 8/255, CE) it reaches a mean agreement of 0.663 / 0.703 / 0.876 / 0.948 at
/// 5 / 10 / 20 / 50 steps on DeepLabV3 where `ε/2` reaches 0.761 / 0.851 / 0.939 / 0.990 and
/// PGD at its best fixed step 0.713 / 0.846 / 0.940 / 0.980 (docs/results.md). Untargeted, `2ε`
/// is the strongest of these at every budget measured.
pub const INITIAL_STEP_TARGETED: f64 = 0.5;

/// The initial step size of a run in the ball of `radius`: `step_size` scaled from ε to the
/// radius where given, else [`INITIAL_STEP`]` · radius` ([`INITIAL_STEP_TARGETED`] for targeted
/// goals).
fn initial_step(cfg: &PgdConfig, radius: f64, targeted: bool) -> f64 {
    match cfg.step_size {
        Some(a) if cfg.eps > 0.0 => a * radius / cfg.eps,
        _ if targeted => INITIAL_STEP_TARGETED * radius,
        _ => INITIAL_STEP * radius,
    }
}

/// The iterates APGD keeps on the device, all `[N, 3, H, W]`.
struct Iterates {
    /// The clean images.
    x: Tensor<4>,
    /// `x_t`.
    current: Tensor<4>,
    /// `x_{t−1}` (for the momentum).
    previous: Tensor<4>,
    /// Each image's highest-objective iterate `x_max` (the restart point).
    best: Tensor<4>,
    /// The gradient at `x_max`.
    best_grad: Tensor<4>,
}

impl Iterates {
    fn new(x: Tensor<4>, x0: Tensor<4>) -> Self {
        let best_grad = x0.zeros_like();
        Iterates { x, current: x0.clone(), previous: x0.clone(), best: x0, best_grad }
    }

    /// Move to `x_{t+1}` from the gradient `grad` at `x_t`, for images that just improved
    /// (`improved`) and that halve their step and restart from `x_max` (`restart`).
    #[allow(clippy::too_many_arguments)]
    fn advance(&mut self, grad: Tensor<4>, improved: &[bool], restart: &[bool], eta: &[f64], norm: Norm, eps: f64, first: bool) {
        self.best = select(improved, self.current.clone(), self.best.clone());
        self.best_grad = select(improved, grad.clone(), self.best_grad.clone());
        let mut grad = grad;
        if restart.iter().any(|&r| r) {
            self.current = select(restart, self.best.clone(), self.current.clone());
            grad = select(restart, self.best_grad.clone(), grad);
        }
        let x = self.x.clone();
        let eta: Vec<f32> = eta.iter().map(|&e| e as f32).collect();
        let eta = Tensor::<4>::from_data(TensorData::new(eta, [restart.len(), 1, 1, 1]), &x.device());
        let z = norm.apply(x.clone(), self.current.clone().sub(x.clone()).add(norm.step(grad, 1.0).mul(eta)), eps);
        let next = if first {
            z
        } else {
            let towards_z = z.sub(self.current.clone()).mul_scalar(ALPHA);
            let momentum = self.current.clone().sub(self.previous.clone()).mul_scalar(1.0 - ALPHA);
            norm.apply(x.clone(), self.current.clone().sub(x).add(towards_z).add(momentum), eps)
        };
        self.previous = std::mem::replace(&mut self.current, next);
    }
}

/// Per-image values `[N]` of one or two losses, read together (one wait).
async fn read_losses(losses: Tensor<1>, tracked: Option<Tensor<1>>) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = losses.dims()[0];
    let both = match tracked {
        Some(t) => Tensor::cat(vec![losses, t], 0),
        None => losses,
    };
    let data = both.into_data_async().await.map_err(|e| backend_err("reading the loss failed", e))?;
    let v: Vec<f64> = data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading the loss failed", e))?.into_iter().map(f64::from).collect();
    let tracked = if v.len() > n { v[n..].to_vec() } else { v.clone() };
    Ok((v[..n].to_vec(), tracked))
}

/// The batch loss (mean over all valid pixels) from the per-image means.
fn batch_loss(per_image: &[f64], targets: &PixelTargets) -> f64 {
    let sum: f64 = per_image.iter().zip(&targets.valid_per_image).map(|(l, &c)| l * c as f64).sum();
    sum / targets.n_valid.max(1) as f64
}

/// What every run of an attack shares.
struct Run<'r, 'o, M: SegModel + ?Sized> {
    model: &'r M,
    cfg: &'r PgdConfig,
    targets: &'r PixelTargets,
    refs: &'r Refs<'r>,
    targeted: bool,
    history: Vec<StepRecord>,
    observer: Option<Observer<'o>>,
}

/// Why a run (a radius of the schedule, or the whole attack) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// All its steps.
    Completed,
    /// Every image reached `early_stop`.
    EarlyStop,
    /// The observer said stop.
    Observer,
}

/// How one run ended: its kept iterates, its gradient steps and why.
struct RunEnd {
    kept: Kept,
    steps: usize,
    ended: Ended,
}

impl<M: SegModel + ?Sized> Run<'_, '_, M> {
    /// One APGD run of `steps` steps in the ball of `radius` from `x0` (`first`: its forward pass
    /// with the input gradient, if already made); iterate `t` is `offset + t` of the attack.
    #[allow(clippy::too_many_arguments)]
    async fn run(&mut self, x: &Tensor<4>, x0: Tensor<4>, first: Option<(Tensor<4>, Tensor<4>)>, radius: f64, steps: usize, offset: usize) -> Result<RunEnd> {
        let (cfg, targets, targeted) = (self.cfg, self.targets, self.targeted);
        let n = x0.dims()[0];
        let mut iterates = Iterates::new(x.clone(), x0);
        let mut schedule = Schedule::new(n, initial_step(cfg, radius, targeted), steps);
        let mut first = first;
        let mut kept: Option<Kept> = None;
        let mut t = 0;
        let ended = loop {
            let last = t == steps;
            let (xa, logits) = match first.take() {
                Some(pair) => pair,
                None if last => (iterates.current.clone(), self.model.logits(iterates.current.clone())?),
                None => {
                    let xa = iterates.current.clone().autodiff().require_grad();
                    (xa.clone(), self.model.logits(xa)?)
                }
            };
            let pred = logits.clone().without_autodiff().argmax(1);
            let got = won(pred.clone(), targets, targeted);
            match kept.as_mut() {
                None => kept = Some(Kept::new(iterates.current.clone(), got, offset + t)),
                Some(k) => k.update(&iterates.current, got, offset + t),
            }
            let losses = per_image_loss(cfg.loss, logits.clone(), pred.clone(), targets, targeted, t, steps);
            let tracked = cfg.track_loss.filter(|&l| l != cfg.loss).map(|l| {
                per_image_loss(l, logits.clone().without_autodiff(), pred.clone(), targets, targeted, t, steps)
            });
            let (values, tracked) = read_losses(losses.clone().without_autodiff(), tracked).await?;
            if reads_in_full(cfg, offset + t, last || t == 0) {
                let loss = batch_loss(&values, targets);
                let scored = Scored::new(pred, self.refs, targeted).await?;
                self.history.push(scored.record(offset + t, loss));
                if scored.observe(&mut self.observer, offset + t, cfg.steps, loss, targeted)? {
                    break Ended::Observer;
                }
                if scored.reaches(cfg.early_stop) {
                    break Ended::EarlyStop;
                }
            }
            if last {
                break Ended::Completed;
            }
            let objective: Vec<f64> = tracked.iter().map(|&v| if targeted { -v } else { v }).collect();
            let improved = schedule.record(t, &objective);
            let total = losses.sum();
            let grads = if targeted { total.neg() } else { total }.backward();
            let grad = xa.grad(&grads).ok_or_else(|| Error::Backend("the model gave no gradient for the input image".into()))?;
            let restart = schedule.checkpoint(t);
            iterates.advance(grad, &improved, &restart, &schedule.eta, cfg.norm, radius, t == 0);
            t += 1;
        };
        let kept = kept.ok_or_else(|| Error::Backend("APGD evaluated no iterate".into()))?;
        Ok(RunEnd { kept, steps: t, ended })
    }
}

/// Run APGD on a batch `x01` `[N, 3, H, W]` in `[0, 1]` against `model`, for `goal`, with the
/// settings of `cfg` (see the module documentation for which apply; validated when the loop starts).
///
/// Same contract as [`crate::attack::pgd()`]: the model should be on an autodiff device;
/// `observer` sees the iterates read (the loss being the batch's mean over valid pixels) and may
/// stop (returning each image's kept iterate so far, inside the ε-ball) or cancel; reads from
/// the device are asynchronous (wasm-ready; natively, wrap it in [`crate::util::block_on`]).
/// Errors as [`crate::attack::pgd()`]'s.
pub async fn apgd<M: SegModel + ?Sized>(
    model: &M,
    x01: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    let x = x01.without_autodiff();
    let dims = x.dims();
    let [_, _, h, w] = dims;
    let (device, k) = (x.device(), model.num_classes());
    let x_host = host_batch(&x).await?;
    let runs = phases(cfg);
    let (x0, first, clean_maps) = start(model, &x, cfg, runs[0].radius).await?;
    let targeted = goal.is_targeted();
    let reference = goal.resolve(&clean_maps, k, w, h)?;
    let targets = PixelTargets::new(&reference, &device)?;
    let refs = Refs { x_host: &x_host, clean: &clean_maps, reference: &reference, dims, num_classes: k, device: &device };
    let mut run = Run { model, cfg, targets: &targets, refs: &refs, targeted, history: Vec::with_capacity(cfg.steps + 4), observer };
    let (mut start_x, mut first) = (x0, Some(first));
    let mut end: Option<RunEnd> = None;
    let mut offset = 0;
    for (i, phase) in runs.iter().enumerate() {
        if i > 0 {
            start_x = cfg.norm.apply(x.clone(), start_x.sub(x.clone()), phase.radius);
        }
        let e = run.run(&x, start_x, first.take(), phase.radius, phase.steps, offset).await?;
        offset += e.steps;
        start_x = e.kept.x();
        let at_eps = i + 1 == runs.len();
        let done = e.ended == Ended::Observer || (at_eps && e.ended == Ended::EarlyStop);
        end = Some(e);
        if done {
            break;
        }
    }
    let e = end.ok_or_else(|| Error::Backend("APGD ran no steps".into()))?;
    let stopped_early = e.ended != Ended::Completed;
    let ending = Ending { targeted, steps_run: offset, stopped_early, history: run.history };
    finish(model, &e.kept, &refs, cfg, ending).await
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::loops::outcome::{Control, Progress};
    use crate::attack::loops::testing::{Toy, batch, check_invariants, check_most_successful, check_sparse_reads, goals};
    use crate::attack::losses::loss::LossKind;
    use crate::attack::{AttackKind, run_kind};
    use crate::backend;
    use crate::data::VOID;
    use crate::metrics;
    use crate::util::block_on;

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        block_on(run_kind(AttackKind::Apgd, &Toy::new(&backend::cpu()), x, goal, cfg, None))
    }

    fn observed(cfg: &PgdConfig, x: Tensor<4>, obs: &mut dyn FnMut(&Progress) -> Control) -> Result<AttackResult> {
        block_on(run_kind(AttackKind::Apgd, &Toy::new(&backend::cpu()), x, &Goal::untargeted(), cfg, Some(obs)))
    }

    #[test]
    fn reading_every_few_steps_changes_nothing_but_the_history() {
        check_sparse_reads(run);
    }
    #[test]
    fn invariants_for_every_norm_goal_and_loss() {
        check_invariants(run, 6, true, &[LossKind::Ce, LossKind::SegPgd, LossKind::CosPgd], None);
    }

    #[test]
    fn batch_order_and_each_image_is_attacked_on_its_own() {
        let d = backend::cpu();
        let (_, x) = batch(2, 3, 4, 5, &d);
        for norm in [Norm::Linf, Norm::L2] {
            let cfg = PgdConfig::new().with_eps(0.05).with_steps(5).with_norm(norm);
            let swapped = Tensor::cat(vec![x.clone().narrow(0, 2, 1), x.clone().narrow(0, 1, 1), x.clone().narrow(0, 0, 1)], 0);
            let a = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
            let b = run(&Goal::untargeted(), &cfg, swapped).unwrap();
            for (i, j) in [(0, 2), (1, 1), (2, 0)] {
                let alone = run(&Goal::untargeted(), &cfg, x.clone().narrow(0, i, 1)).unwrap();
                for (other, k) in [(&b, j), (&alone, 0)] {
                    assert_eq!(a.adversarial.maps[i], other.adversarial.maps[k], "{norm} image {i}");
                    let diff = a.adversarial.images[i].data.iter().zip(&other.adversarial.images[k].data);
                    let diff = diff.map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
                    assert!(diff < 1e-6, "{norm} image {i}: {diff}");
                }
            }
        }
    }

    #[test]
    fn returns_each_images_most_successful_iterate() {
        check_most_successful(run);
        let radius_schedule = |goal: &Goal, cfg: &PgdConfig, x: Tensor<4>| run(goal, &cfg.clone().with_steps(10).with_radius_schedule(true), x);
        check_most_successful_at_eps(radius_schedule);
    }

    /// With the radius schedule the kept iterate is the most successful of the last run's
    /// (at ε), its start included: history steps ≥ 6 of 10 (steps 3 + 3 + 4).
    fn check_most_successful_at_eps(run: impl Fn(&Goal, &PgdConfig, Tensor<4>) -> Result<AttackResult>) {
        let d = backend::cpu();
        let (_, x) = batch(19, 2, 4, 5, &d);
        for (norm, eps) in [(Norm::Linf, 0.05), (Norm::L2, 0.3)] {
            for goal in [Goal::untargeted(), Goal::to_class(1)] {
                let cfg = PgdConfig::new().with_eps(eps).with_norm(norm).with_random_start(true).with_seed(2);
                for i in 0..2 {
                    let r = run(&goal, &cfg, x.clone().narrow(0, i, 1)).unwrap();
                    assert_eq!(r.history.len(), 10 + 3);
                    let success = |a: f64| if r.targeted { a } else { 1.0 - a };
                    let last_run: Vec<_> = r.history.iter().skip(r.history.len() - 5).collect();
                    assert_eq!(last_run[0].step, 6);
                    let best = last_run.iter().map(|h| success(h.mean_agreement)).fold(f64::NEG_INFINITY, f64::max);
                    let got = success(r.adversarial.per_image[0].agreement_reference);
                    assert!((got - best).abs() < 1e-12, "{norm} {goal:?} image {i}: {got} vs {best}");
                    assert!(r.adversarial.per_image[0].kept_step.is_some_and(|k| k >= 6));
                }
            }
        }
    }

    #[test]
    fn targeted_never_ends_below_its_starting_agreement() {
        let d = backend::cpu();
        for seed in 0..4 {
            let (_, x) = batch(10 + seed, 3, 4, 5, &d);
            for goal in goals().into_iter().filter(Goal::is_targeted) {
                for norm in [Norm::Linf, Norm::L2] {
                    let eps = if norm == Norm::L2 { 0.2 } else { 0.03 };
                    let cfg = PgdConfig::new().with_eps(eps).with_steps(5).with_norm(norm);
                    let r = run(&goal, &cfg, x.clone()).unwrap();
                    for (i, s) in r.adversarial.per_image.iter().enumerate() {
                        let before = metrics::agreement(&r.clean_maps[i].data, &r.reference_maps[i].data, Some(VOID)).unwrap();
                        assert!(s.agreement_reference >= before, "{goal:?} {norm} image {i}: {before} → {}", s.agreement_reference);
                    }
                }
            }
        }
    }

    #[test]
    fn at_least_as_strong_as_pgd_at_the_same_budget_on_the_toy() {
        let d = backend::cpu();
        let (_, x) = batch(4, 4, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.08).with_steps(10);
        let p = block_on(run_kind(AttackKind::Pgd, &Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, None)).unwrap();
        let a = run(&Goal::untargeted(), &cfg, x).unwrap();
        assert!(a.adversarial.vs_clean.agreement <= p.adversarial.vs_clean.agreement, "{:?} vs {:?}", a.adversarial.vs_clean, p.adversarial.vs_clean);
        assert_eq!(a.history.len(), p.history.len());
    }

    #[test]
    fn radius_schedule_runs_three_radii_and_ends_in_the_eps_ball_even_when_stopped() {
        let d = backend::cpu();
        let (xs, x) = batch(6, 1, 4, 5, &d);
        for (norm, eps) in [(Norm::Linf, 0.03), (Norm::L2, 0.2)] {
            let cfg = PgdConfig::new().with_eps(eps).with_steps(10).with_norm(norm);
            let plain = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
            let r = run(&Goal::untargeted(), &cfg.clone().with_radius_schedule(true), x.clone()).unwrap();
            assert_ne!(r.history, plain.history, "{norm}: the schedule changes nothing");
            // each run's start is evaluated again: steps 0..3, 3..6, 6..10
            let steps: Vec<usize> = r.history.iter().map(|h| h.step).collect();
            assert_eq!(steps, vec![0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 10]);
            assert_eq!(r.steps_run, 10);
            let within = |res: &AttackResult| {
                let delta: Vec<f32> = res.adversarial.images[0].data.iter().zip(&xs).map(|(a, b)| a - b).collect();
                assert!(norm.measure(&delta) <= eps + 1e-6, "{norm}: {} > {eps}", norm.measure(&delta));
                assert!(res.adversarial.images[0].data.iter().all(|v| (0.0..=1.0).contains(v)));
            };
            within(&r);
            // a stop in the 2ε run still returns a point of the ε-ball
            let stop_at_2 = |p: &Progress| if p.step == 2 { Control::Stop } else { Control::Continue };
            let mut obs = stop_at_2;
            let s = observed(&cfg.clone().with_radius_schedule(true).with_random_start(true), x.clone(), &mut obs).unwrap();
            assert!(s.stopped_early && s.steps_run == 2);
            within(&s);
            // early stop in a larger ball goes on to the next one; only at ε does it end
            let e = run(&Goal::untargeted(), &cfg.clone().with_radius_schedule(true).with_early_stop(Some(0.0)), x.clone()).unwrap();
            assert_eq!(e.history.iter().map(|h| h.step).collect::<Vec<_>>(), vec![0, 0, 0], "{norm}");
            assert!(e.stopped_early);
        }
        let e = run(&Goal::untargeted(), &PgdConfig::new().with_eps(0.0).with_radius_schedule(true), x.clone()).unwrap_err();
        assert!(e.to_string().contains("got 0"), "{e}");
        let e = block_on(run_kind(AttackKind::Pgd, &Toy::new(&d), x, &Goal::untargeted(), &PgdConfig::new().with_radius_schedule(true), None));
        assert!(e.unwrap_err().to_string().contains("not to PGD"));
    }

    #[test]
    fn the_schedule_follows_the_tracked_loss() {
        let d = backend::cpu();
        let (_, x) = batch(8, 2, 4, 5, &d);
        let cfg = PgdConfig::new().with_eps(0.05).with_steps(12).with_loss(LossKind::MaskedCe).with_random_start(true);
        let own = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
        let same = run(&Goal::untargeted(), &cfg.clone().with_track_loss(Some(LossKind::MaskedCe)), x.clone()).unwrap();
        assert_eq!(own, same);
        let ce = run(&Goal::untargeted(), &cfg.clone().with_track_loss(Some(LossKind::Ce)), x).unwrap();
        assert_eq!(ce.history[0], own.history[0]);
        assert_eq!(ce.history.len(), own.history.len());
    }

    #[test]
    fn observer_early_stop_quantize_zero_eps_and_bad_settings() {
        let d = backend::cpu();
        let (xs, x) = batch(5, 2, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.5).with_steps(8);
        let mut seen = Vec::new();
        let mut obs = |p: &Progress| {
            seen.push(p.step);
            if p.step == 2 { Control::Stop } else { Control::Continue }
        };
        let r = observed(&cfg, x.clone(), &mut obs).unwrap();
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!((r.steps_run, r.stopped_early, r.history.len()), (2, true, 3));
        let mut cancel = |p: &Progress| if p.step == 1 { Control::Cancel } else { Control::Continue };
        let e = observed(&cfg, x.clone(), &mut cancel).unwrap_err();
        assert_eq!(e, Error::Cancelled);
        let r = run(&Goal::to_class(2), &cfg.clone().with_early_stop(Some(0.5)), x.clone()).unwrap();
        assert!(r.stopped_early && r.steps_run < 8, "{}", r.steps_run);
        let r = run(&Goal::untargeted(), &cfg.clone().with_quantize(true), x.clone()).unwrap();
        let q = r.quantized.unwrap();
        assert!(q.images[0].data.iter().all(|v| ((v * 255.0).round() - v * 255.0).abs() < 1e-4));
        // ε = 0: nothing moves
        let r = run(&Goal::untargeted(), &cfg.clone().with_eps(0.0), x.clone()).unwrap();
        assert_eq!(r.adversarial.images.iter().flat_map(|i| i.data.clone()).collect::<Vec<_>>(), xs);
        for (cfg, quote) in [(PgdConfig::new().with_eps(-0.1), "-0.1"), (PgdConfig::new().with_steps(0), "got 0")] {
            let e = run(&Goal::untargeted(), &cfg, x.clone()).unwrap_err();
            assert!(matches!(&e, Error::InvalidArgument(m) if m.contains(quote)), "{e}");
        }
        let e = run(&Goal::untargeted(), &PgdConfig::new(), x.add_scalar(1.0)).unwrap_err();
        assert!(e.to_string().contains("[0, 1]"), "{e}");
    }
}
