//! APGD, the step-size-free PGD of Croce & Hein ("Reliable evaluation of adversarial
//! robustness with an ensemble of diverse parameter-free attacks", ICML 2020), on segmentation.
//!
//! Written from the paper's description. For images `x`, the per-image loss `f` (the mean of
//! the [`super::loss`] over each image's valid pixels, negated for targeted goals so that the
//! attack always maximises `f`) and a budget of `T` steps:
//!
//! ```text
//!   η_0     = 2ε                                               (per image)
//!   x_1     = P(x_0 + η_0 · step(∇f(x_0)))
//!   z_{t+1} = P(x_t + η_t · step(∇f(x_t)))
//!   x_{t+1} = P(x_t + α (z_{t+1} − x_t) + (1 − α)(x_t − x_{t−1}))      α = 0.75, t ≥ 1
//! ```
//!
//! `P` projects onto the ε-ball and `[0, 1]` and `step` is the norm's steepest-ascent direction
//! ([`super::Norm`]). Every iterate is evaluated once; each image keeps its best iterate `x_max`
//! (highest `f`) with its gradient. At the checkpoints `w_j = ⌈p_j·T⌉` (`p_0 = 0`,
//! `p_1 = 0.22`, `p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)`) an image halves its step
//! size when
//!
//! 1. fewer than `ρ = 0.75` of its steps since the last checkpoint raised `f`, or
//! 2. its step size was not halved at the last checkpoint and `f_max` has not improved since,
//!
//! and then restarts from its `x_max` (without momentum). The result is each image's `x_max`
//! — never worse than the start in the loss — except that an image whose `x_max` succeeds on
//! fewer pixels than `x_0` (fraction off the reference, or on the target) returns `x_0`, so no
//! image ends less fooled (or less on its target) than it started.
//!
//! With `keep_best` the result is instead each image's most successful iterate (the highest
//! fraction of valid pixels off the reference, or on the target; the start included) — the
//! counterpart of APGD's "best adversarial point" in classification, and what SEA's members
//! return ([`super::sea()`]), since SEA's masked losses drop as pixels flip and their
//! highest-loss iterate is not the most fooled one.
//!
//! With `radius_schedule` (SEA's progressive radius, [`super::radius_schedule`]) the ball
//! shrinks from 2ε over 1.5ε to ε: the steps and projections use the current radius, the step
//! sizes scale with it, and at each reduction the iterates are projected onto the smaller ball
//! and the best objective is forgotten, so the result comes from the iterates at ε (or is the
//! start, which the random start draws from the ε-ball).
//!
//! Of [`PgdConfig`], APGD uses `eps`, `steps`, `norm`, `loss`, `random_start`, `seed`,
//! `early_stop`, `keep_best`, `radius_schedule`, `quantize` and `progress_every`; the step size
//! adapts by itself (`step_size` is ignored). The cost is the same as PGD's: `T + 1` forward and `T` backward
//! passes.

use burn::tensor::{Tensor, TensorData};

use super::goal::Goal;
use super::loss::{PixelTargets, per_image_loss};
use super::outcome::AttackResult;
use super::norm::Norm;
use super::pgd::{Best, Ending, Observer, PgdConfig, Refs, Scored, backend_err, finish, host_batch, keep_better, read_maps, select, start};
use super::readback::{hits, losses_and_success, reads_in_full};
use super::radius_schedule::{at_final_radius, radius_factor};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::model::SegModel;

/// Weight `α` of the new projected step against the previous step (the momentum is `1 − α`).
pub const ALPHA: f64 = 0.75;
/// Fraction `ρ` of steps between two checkpoints that must raise the loss to keep the step size.
pub const RHO: f64 = 0.75;
/// The initial step size as a multiple of ε.
pub const INITIAL_STEP: f64 = 2.0;

/// The checkpoints `w_j = ⌈p_j·T⌉` of a run of `steps = T` iterations at which step sizes may
/// halve: increasing, distinct, in `1..T` (a checkpoint at `T` would have no step after it).
pub fn checkpoints(steps: usize) -> Vec<usize> {
    let (mut previous, mut p) = (0.0f64, 0.22f64);
    let mut out: Vec<usize> = Vec::new();
    while p < 1.0 {
        // the small offset keeps p·T that should be an integer (0.41 · 100) from rounding up
        let w = (p * steps as f64 - 1e-9).ceil().max(0.0) as usize;
        if w >= 1 && w < steps && out.last().is_none_or(|&last| w > last) {
            out.push(w);
        }
        let next = p + (p - previous - 0.03).max(0.06);
        (previous, p) = (p, next);
    }
    out
}

/// APGD's per-image bookkeeping on the host: step sizes, the best objective and what the
/// checkpoints compare. Objectives are "higher is better" (the loss, negated when targeted).
#[derive(Debug, Clone)]
struct Schedule {
    checkpoints: Vec<usize>,
    last_checkpoint: usize,
    /// Current step size of each image.
    eta: Vec<f64>,
    /// Best objective so far (`f_max`).
    best: Vec<f64>,
    /// Objective of the current iterate (after a restart: the best one).
    current: Vec<f64>,
    /// Steps since the last checkpoint that raised the objective.
    rises: Vec<usize>,
    /// `f_max` at the last checkpoint.
    best_at_checkpoint: Vec<f64>,
    /// Whether the step size was halved at the last checkpoint.
    halved: Vec<bool>,
}

impl Schedule {
    fn new(n: usize, eta: f64, steps: usize) -> Self {
        Schedule {
            checkpoints: checkpoints(steps),
            last_checkpoint: 0,
            eta: vec![eta; n],
            best: vec![f64::NEG_INFINITY; n],
            current: vec![f64::NEG_INFINITY; n],
            rises: vec![0; n],
            best_at_checkpoint: vec![f64::NEG_INFINITY; n],
            halved: vec![false; n],
        }
    }

    /// Record the objectives of iterate `t`; per image, whether it is a new best (always at
    /// `t = 0`).
    fn record(&mut self, t: usize, objective: &[f64]) -> Vec<bool> {
        let mut improved = Vec::with_capacity(objective.len());
        for (i, &f) in objective.iter().enumerate() {
            if t == 0 {
                self.best_at_checkpoint[i] = f;
            } else if f > self.current[i] {
                self.rises[i] += 1;
            }
            self.current[i] = f;
            let better = t == 0 || f > self.best[i];
            if better {
                self.best[i] = f;
            }
            improved.push(better);
        }
        improved
    }

    /// At iterate `t`: per image, whether it halves its step size and restarts from its best
    /// point (never, away from the checkpoints).
    fn checkpoint(&mut self, t: usize) -> Vec<bool> {
        let n = self.eta.len();
        if !self.checkpoints.contains(&t) {
            return vec![false; n];
        }
        let span = (t - self.last_checkpoint) as f64;
        let mut halve = Vec::with_capacity(n);
        for i in 0..n {
            let few_rises = (self.rises[i] as f64) < RHO * span;
            let stalled = !self.halved[i] && self.best[i] <= self.best_at_checkpoint[i];
            let h = few_rises || stalled;
            if h {
                self.eta[i] /= 2.0;
                self.current[i] = self.best[i];
            }
            self.halved[i] = h;
            self.best_at_checkpoint[i] = self.best[i];
            self.rises[i] = 0;
            halve.push(h);
        }
        self.last_checkpoint = t;
        halve
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
    /// Each image's best iterate `x_max`.
    best: Tensor<4>,
    /// The gradient of the objective at `x_max` (for restarts).
    best_grad: Tensor<4>,
}

impl Iterates {
    fn new(x: Tensor<4>, x0: Tensor<4>) -> Self {
        let best_grad = x0.zeros_like();
        Iterates { x, current: x0.clone(), previous: x0.clone(), best: x0, best_grad }
    }

    /// Move to `x_{t+1}` from the gradient `grad` at `x_t`, for images that just improved
    /// (`improved`) and that halve their step and restart from `x_max` (`restart`).
    fn advance(&mut self, grad: Tensor<4>, improved: &[bool], restart: &[bool], eta: &[f64], norm: Norm, eps: f64, first: bool) {
        self.best = select(improved, self.current.clone(), self.best.clone());
        self.best_grad = select(improved, grad.clone(), self.best_grad.clone());
        let mut grad = grad;
        if restart.iter().any(|&r| r) {
            self.current = select(restart, self.best.clone(), self.current.clone());
            self.previous = select(restart, self.best.clone(), self.previous.clone());
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

    /// Project every kept iterate onto the ε-ball of radius `eps` (the radius schedule shrank).
    fn shrink(&mut self, norm: Norm, eps: f64) {
        let project = |t: &Tensor<4>| norm.apply(self.x.clone(), t.clone().sub(self.x.clone()), eps);
        (self.current, self.previous, self.best) = (project(&self.current), project(&self.previous), project(&self.best));
    }
}

impl Schedule {
    /// The radius shrank by `ratio`: scale the step sizes and forget the best objective (the
    /// best point so far lies outside the new ball), so the next iterate becomes the best.
    fn shrink(&mut self, ratio: f64) {
        let n = self.eta.len();
        self.eta.iter_mut().for_each(|e| *e *= ratio);
        (self.best, self.current, self.best_at_checkpoint) = (vec![f64::NEG_INFINITY; n], vec![f64::NEG_INFINITY; n], vec![f64::NEG_INFINITY; n]);
    }
}

/// The radius of gradient step `step`: ε, or the schedule's multiple of it.
fn radius(cfg: &PgdConfig, step: usize) -> f64 {
    if cfg.radius_schedule { cfg.eps * radius_factor(step, cfg.steps) } else { cfg.eps }
}

/// The success rates of each image's best iterate (and of the start), and its maps where they
/// were read (`None`: an iterate between two full reads, see [`super::readback`]).
struct Kept {
    maps: Vec<Option<ClassMap>>,
    success: Vec<f64>,
}

impl Kept {
    fn update(&mut self, improved: &[bool], success: &[f64], maps: Option<&[ClassMap]>) {
        for (i, _) in improved.iter().enumerate().filter(|(_, b)| **b) {
            self.maps[i] = maps.map(|m| m[i].clone());
            self.success[i] = success[i];
        }
    }
}

/// Each image's highest-loss iterate `best`, or its start `x0` where that is less successful
/// (so no image ends less fooled, or less on its target, than it started), and its maps (`None`
/// where not read).
fn best_or_start(x0: Tensor<4>, best: Tensor<4>, kept: &Kept, at_start: &Kept) -> (Tensor<4>, Vec<Option<ClassMap>>) {
    let back: Vec<bool> = kept.success.iter().zip(&at_start.success).map(|(b, s)| b < s).collect();
    let maps = back.iter().enumerate().map(|(i, &b)| if b { at_start.maps[i].clone() } else { kept.maps[i].clone() }).collect();
    (select(&back, x0, best), maps)
}

/// `maps`, with the ones not read predicted again from `x` (one forward pass, if any is missing).
async fn complete_maps<M: SegModel + ?Sized>(model: &M, x: &Tensor<4>, maps: Vec<Option<ClassMap>>) -> Result<Vec<ClassMap>> {
    if maps.iter().all(Option::is_some) {
        return Ok(maps.into_iter().flatten().collect());
    }
    let [n, _, h, w] = x.dims();
    let fresh = read_maps(model.logits(x.clone().without_autodiff())?.without_autodiff().argmax(1), n, h, w, model.num_classes()).await?;
    Ok(maps.into_iter().zip(fresh).map(|(m, f)| m.unwrap_or(f)).collect())
}

async fn read_losses(t: Tensor<1>) -> Result<Vec<f64>> {
    let data = t.into_data_async().await.map_err(|e| backend_err("reading the loss failed", e))?;
    let v = data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading the loss failed", e))?;
    Ok(v.into_iter().map(f64::from).collect())
}

/// The batch loss (mean over all valid pixels) from the per-image means.
fn batch_loss(per_image: &[f64], targets: &PixelTargets) -> f64 {
    let sum: f64 = per_image.iter().zip(&targets.valid_per_image).map(|(l, &c)| l * c as f64).sum();
    sum / targets.n_valid as f64
}

/// The gradient step from iterate `t` (its input `xa` and per-image `losses`): the schedule's
/// restarts and radius, then the next iterate. Returns `t + 1`.
#[allow(clippy::too_many_arguments)]
fn step(
    iterates: &mut Iterates,
    schedule: &mut Schedule,
    cfg: &PgdConfig,
    xa: Tensor<4>,
    losses: Tensor<1>,
    targeted: bool,
    improved: &[bool],
    t: usize,
) -> Result<usize> {
    let total = losses.sum();
    let grads = if targeted { total.neg() } else { total }.backward();
    let grad = xa.grad(&grads).ok_or_else(|| Error::Backend("the model gave no gradient for the input image".into()))?;
    let restart = schedule.checkpoint(t);
    let eps = radius(cfg, t);
    if t > 0 && eps < radius(cfg, t - 1) {
        iterates.shrink(cfg.norm, eps);
        schedule.shrink(eps / radius(cfg, t - 1));
    }
    iterates.advance(grad, improved, &restart, &schedule.eta, cfg.norm, eps, t == 0);
    Ok(t + 1)
}

/// Run APGD on a batch `x01` `[N, 3, H, W]` in `[0, 1]` against `model`, for `goal`, with the
/// settings of `cfg` (see the module documentation for which apply).
///
/// Same contract as [`super::pgd()`]: the model should be on an autodiff device; `observer`
/// sees every iterate (`t = 0..=steps`, the loss being the batch's mean over valid pixels) and
/// may stop (returning each image's best iterate so far) or cancel; reads from the device are
/// asynchronous (wasm-ready; natively, wrap it in [`crate::util::block_on`]). Errors as
/// [`super::pgd()`]'s.
pub async fn apgd<M: SegModel + ?Sized>(
    model: &M,
    x01: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    let x = x01.without_autodiff();
    let dims = x.dims();
    let [n, _, h, w] = dims;
    let (device, k) = (x.device(), model.num_classes());
    let x_host = host_batch(&x).await?;
    let (x0, first, clean_maps) = start(model, &x, cfg).await?;
    let mut first = Some(first);
    let targeted = goal.is_targeted();
    let reference = goal.resolve(&clean_maps, k, w, h)?;
    let targets = PixelTargets::new(&reference, &device)?;
    let refs = Refs { x_host: &x_host, clean: &clean_maps, reference: &reference, dims, num_classes: k, device: &device };
    let mut iterates = Iterates::new(x.clone(), x0.clone());
    let mut schedule = Schedule::new(n, INITIAL_STEP * radius(cfg, 0), cfg.steps);
    let mut most: Option<Best> = None;
    let mut kept = Kept { maps: clean_maps.iter().cloned().map(Some).collect(), success: vec![0.0; n] };
    let mut at_start = Kept { maps: Vec::new(), success: Vec::new() };
    let mut history = Vec::with_capacity(cfg.steps + 1);
    let mut t = 0;
    let stopped_early = loop {
        let last = t == cfg.steps;
        let (xa, logits) = match first.take() {
            Some(pair) => pair,
            None if last => (iterates.current.clone(), model.logits(iterates.current.clone())?),
            None => {
                let xa = iterates.current.clone().autodiff().require_grad();
                (xa.clone(), model.logits(xa)?)
            }
        };
        let pred = logits.clone().without_autodiff().argmax(1);
        let losses = per_image_loss(cfg.loss, logits, pred.clone(), &targets, targeted, t, cfg.steps);
        if !reads_in_full(cfg, t, last) {
            // between full reads: the losses the schedule needs and the success rates, no maps
            let hits = hits(pred, &targets);
            let (values, success) = losses_and_success(losses.clone().without_autodiff(), hits, &targets, targeted).await?;
            let objective: Vec<f64> = values.iter().map(|&v| if targeted { -v } else { v }).collect();
            let improved = schedule.record(t, &objective);
            kept.update(&improved, &success, None);
            t = step(&mut iterates, &mut schedule, cfg, xa, losses, targeted, &improved, t)?;
            continue;
        }
        let values = read_losses(losses.clone().without_autodiff()).await?;
        let loss_value = batch_loss(&values, &targets);
        let scored = Scored::new(pred, &refs, targeted).await?;
        history.push(scored.record(t, loss_value));
        let objective: Vec<f64> = values.iter().map(|&v| if targeted { -v } else { v }).collect();
        let improved = schedule.record(t, &objective);
        kept.update(&improved, &scored.success, Some(&scored.maps));
        if cfg.keep_best && (!cfg.radius_schedule || at_final_radius(t, cfg.steps)) {
            most = Some(keep_better(most.take(), &iterates.current, &scored.success, &scored.maps));
        }
        if t == 0 {
            at_start = Kept { maps: scored.maps.iter().cloned().map(Some).collect(), success: scored.success.clone() };
        }
        let stop = scored.observe(&mut observer, t, cfg.steps, loss_value, targeted)? || scored.reaches(cfg.early_stop);
        if stop || last {
            iterates.best = select(&improved, iterates.current.clone(), iterates.best.clone());
            break !last;
        }
        t = step(&mut iterates, &mut schedule, cfg, xa, losses, targeted, &improved, t)?;
    };
    let (x_final, final_maps) = match most {
        Some((x_most, _, maps)) => (x_most, maps),
        None => {
            let (x_final, maps) = best_or_start(x0, iterates.best, &kept, &at_start);
            let maps = complete_maps(model, &x_final, maps).await?;
            (x_final, maps)
        }
    };
    let end = Ending { targeted, steps_run: t, stopped_early, quantize: cfg.quantize, history };
    finish(model, x_final, final_maps, &refs, end).await
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::loss::LossKind;
    use crate::attack::norm::Norm;
    use crate::attack::outcome::{Control, Progress};
    use crate::attack::pgd::pgd;
    use crate::attack::pgd::tests::{Toy, batch, goals};
    use crate::backend;
    use crate::data::VOID;
    use crate::metrics;

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        crate::util::block_on(apgd(&Toy::new(&backend::cpu()), x, goal, cfg, None))
    }

    /// The per-image CE of `images` against `maps` on the toy model.
    fn ce_of(r: &AttackResult) -> Vec<f64> {
        let d = backend::cpu();
        let (w, h) = (r.adversarial.images[0].width, r.adversarial.images[0].height);
        let data: Vec<f32> = r.adversarial.images.iter().flat_map(|i| i.data.clone()).collect();
        let x = Tensor::<4>::from_data(TensorData::new(data, [r.adversarial.images.len(), 3, h, w]), &d);
        let logits = Toy::new(&d).logits(x).unwrap();
        let t = PixelTargets::new(&r.reference_maps, &d).unwrap();
        let l = per_image_loss(LossKind::Ce, logits.clone(), logits.argmax(1), &t, r.targeted, 0, 1);
        l.into_data().try_into_vec_as::<f32>().unwrap().into_iter().map(f64::from).collect()
    }


    #[test]
    fn reading_every_few_steps_changes_nothing_but_the_history() {
        crate::attack::pgd::tests::check_sparse_reads(run);
    }
    #[test]
    fn checkpoints_follow_the_papers_schedule() {
        // p = 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (then 1.05)
        assert_eq!(checkpoints(100), vec![22, 41, 57, 70, 80, 87, 93, 99]);
        assert_eq!(checkpoints(10), vec![3, 5, 6, 7, 8, 9]);
        assert_eq!(checkpoints(3), vec![1, 2]);
        assert!(checkpoints(1).is_empty());
    }

    #[test]
    fn schedule_halves_on_few_rises_or_a_stall_and_restarts_at_the_best() {
        // checkpoints(10) = [3, 5, …]; three images
        let mut s = Schedule::new(3, 1.0, 10);
        // image 0 rises every step; image 1 rises once in 3 steps; image 2 rises twice (< ρ·3)
        // and its best never beats the start
        let rows = [[0.0, 0.0, 5.0], [1.0, 1.0, 1.0], [2.0, 0.5, 2.0], [3.0, 0.4, 3.0]];
        for (t, row) in rows.iter().enumerate() {
            let improved = s.record(t, row);
            assert!(improved[0], "t = {t}");
            assert_eq!(s.checkpoint(t), if t == 3 { vec![false, true, true] } else { vec![false; 3] }, "t = {t}");
        }
        assert_eq!(s.eta, vec![1.0, 0.5, 0.5]);
        assert_eq!(s.best, vec![3.0, 1.0, 5.0]);
        // the restarted images continue from their best objective
        assert_eq!(s.current, vec![3.0, 1.0, 5.0]);
        // next checkpoint (t = 5, span 2): image 0 keeps rising; image 1 rises twice and
        // improves; image 2 does not improve but was halved last time → only condition 1
        for (t, row) in [(4, [4.0, 1.5, 5.0]), (5, [5.0, 2.0, 5.0])] {
            s.record(t, &row);
        }
        assert_eq!(s.checkpoint(5), vec![false, false, true]);
        assert_eq!(s.eta, vec![1.0, 0.5, 0.25]);
        // condition 2 alone: 21 of 22 steps rise, but the best never beats the start
        let mut s = Schedule::new(1, 1.0, 100);
        s.record(0, &[10.0]);
        for t in 1..=22 {
            s.record(t, &[(t - 1) as f64 * 0.4]);
            assert_eq!(s.checkpoint(t), vec![t == 22], "t = {t}");
        }
        assert_eq!((s.eta[0], s.current[0]), (0.5, 10.0));
    }

    #[test]
    fn invariants_for_every_norm_goal_and_loss() {
        let d = backend::cpu();
        let (xs, x) = batch(1, 3, 4, 5, &d);
        for norm in [Norm::Linf, Norm::L2] {
            for goal in goals() {
                for loss in [LossKind::Ce, LossKind::SegPgd, LossKind::CosPgd] {
                    let eps = if norm == Norm::L2 { 0.5 } else { 0.1 };
                    let cfg = PgdConfig::new().with_eps(eps).with_steps(6).with_norm(norm).with_loss(loss).with_random_start(true);
                    let r = run(&goal, &cfg, x.clone()).unwrap();
                    assert_eq!((r.adversarial.images.len(), r.history.len(), r.steps_run), (3, 7, 6));
                    assert_eq!(r.targeted, goal.is_targeted());
                    for (i, img) in r.adversarial.images.iter().enumerate() {
                        assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
                        let delta: Vec<f32> = img.data.iter().zip(&xs[i * 60..(i + 1) * 60]).map(|(a, b)| a - b).collect();
                        assert!(norm.measure(&delta) <= eps + 1e-5, "{norm} {loss} {goal:?}: image {i}");
                        assert_eq!(delta, r.perturbation[i]);
                    }
                }
            }
        }
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
    fn the_returned_iterate_has_the_best_loss_seen() {
        let d = backend::cpu();
        let (_, x) = batch(3, 3, 4, 4, &d);
        for (goal, targeted) in [(Goal::untargeted(), false), (Goal::to_class(1), true)] {
            for norm in [Norm::Linf, Norm::L2] {
                let eps = if norm == Norm::L2 { 0.3 } else { 0.05 };
                let cfg = PgdConfig::new().with_eps(eps).with_steps(8).with_norm(norm);
                for i in 0..3 {
                    // one image at a time: the history's batch loss is that image's loss
                    let r = run(&goal, &cfg, x.clone().narrow(0, i, 1)).unwrap();
                    let seen = r.history.iter().map(|h| h.loss);
                    let best = if targeted { seen.fold(f64::INFINITY, f64::min) } else { seen.fold(f64::NEG_INFINITY, f64::max) };
                    let got = ce_of(&r)[0];
                    assert!((got - best).abs() < 1e-6, "{norm} targeted {targeted} image {i}: {got} vs best {best}");
                    let start = r.history[0].loss;
                    assert!(if targeted { got <= start } else { got >= start }, "{got} vs start {start}");
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
        let p = crate::util::block_on(pgd(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, None)).unwrap();
        let a = run(&Goal::untargeted(), &cfg, x).unwrap();
        assert!(a.adversarial.vs_clean.agreement <= p.adversarial.vs_clean.agreement, "{:?} vs {:?}", a.adversarial.vs_clean, p.adversarial.vs_clean);
        assert_eq!(a.history.len(), p.history.len());
    }

    #[test]
    fn radius_schedule_ends_in_the_eps_ball_and_keep_best_returns_the_most_successful_iterate() {
        let d = backend::cpu();
        let (xs, x) = batch(6, 1, 4, 5, &d);
        for (norm, eps) in [(Norm::Linf, 0.03), (Norm::L2, 0.2)] {
            for keep_best in [false, true] {
                let cfg = PgdConfig::new().with_eps(eps).with_steps(10).with_norm(norm).with_keep_best(keep_best);
                let plain = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
                let r = run(&Goal::untargeted(), &cfg.clone().with_radius_schedule(true), x.clone()).unwrap();
                assert_ne!(r.history, plain.history, "{norm}: the schedule changes nothing");
                let delta: Vec<f32> = r.adversarial.images[0].data.iter().zip(&xs).map(|(a, b)| a - b).collect();
                assert!(norm.measure(&delta) <= eps + 1e-5, "{norm}: {} > {eps}", norm.measure(&delta));
                assert!(r.adversarial.images[0].data.iter().all(|v| (0.0..=1.0).contains(v)));
                if keep_best {
                    // one image: the history's agreement is the image's; the result is the most
                    // successful iterate at the final radius (the start or steps 7…10)
                    for (res, schedule) in [(&plain, false), (&r, true)] {
                        let final_phase = res.history.iter().filter(|h| !schedule || h.step == 0 || h.step > 6);
                        let lowest = final_phase.map(|h| h.mean_agreement).fold(1.0, f64::min);
                        let got = res.adversarial.per_image[0].agreement_reference;
                        assert!((got - lowest).abs() < 1e-12, "{norm} schedule {schedule}: {got} vs {lowest}");
                    }
                }
            }
        }
        let e = run(&Goal::untargeted(), &PgdConfig::new().with_eps(0.0).with_radius_schedule(true), x.clone()).unwrap_err();
        assert!(e.to_string().contains("got 0"), "{e}");
        let e = crate::util::block_on(pgd(&Toy::new(&d), x, &Goal::untargeted(), &PgdConfig::new().with_radius_schedule(true), None));
        assert!(e.unwrap_err().to_string().contains("not to PGD"));
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
        let r = crate::util::block_on(apgd(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut obs))).unwrap();
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!((r.steps_run, r.stopped_early, r.history.len()), (2, true, 3));
        let mut cancel = |p: &Progress| if p.step == 1 { Control::Cancel } else { Control::Continue };
        let e = crate::util::block_on(apgd(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut cancel))).unwrap_err();
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
