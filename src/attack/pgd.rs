//! The PGD loop (Madry et al., "Towards Deep Learning Models Resistant to Adversarial
//! Attacks", ICLR 2018), shared by every goal, norm and loss.
//!
//! For images `x` `[N, 3, H, W]` in `[0, 1]`, reference maps `y` (see [`Goal::resolve`]) and a
//! loss `L` (see [`super::loss`]):
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
//! image reaches the requested success rate; `keep_best` returns, per image, the iterate with
//! the highest success rate (fraction of valid pixels moved off the reference, or onto the
//! target) instead of the last one. The forward pass on `x_T` doubles as the final prediction
//! and, without random start, the one on `x_0 = x` as the clean prediction, so `T` steps cost
//! `T + 1` forward and `T` backward passes (one more forward with a random start, one more
//! with `quantize`).

use burn::config::Config;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::goal::Goal;
use super::loss::{LossKind, PixelTargets, segmentation_loss};
use super::norm::Norm;
use super::outcome::{AttackResult, Control, ImageStats, Outcome, Progress, StepRecord};
use super::readback::reads_in_full;
use crate::data::{ClassMap, VOID};
use crate::error::Error;
use crate::image::{RgbImage01, quantize_8bit};
use crate::metrics::{self, compare_maps};
use crate::model::SegModel;
use crate::util::SplitMix64;

/// Settings of a PGD attack. Build with `PgdConfig::new().with_eps(4.0 / 255.0).with_steps(10)`.
#[derive(Config, Debug)]
pub struct PgdConfig {
    /// Radius ε of the threat model, in `[0, 1]` pixel units: the largest change of any value
    /// (L∞) or the Euclidean length of each image's perturbation over its `3·H·W` values (L2).
    #[config(default = "8.0 / 255.0")]
    pub eps: f64,
    /// Step size α; `None` means `ε / 4`.
    pub step_size: Option<f64>,
    /// Number of gradient steps `T` (at least 1).
    #[config(default = 10)]
    pub steps: usize,
    /// Start from a random point of the ε-ball instead of the clean image.
    #[config(default = false)]
    pub random_start: bool,
    /// Seed of the random start.
    #[config(default = 0)]
    pub seed: u64,
    /// Threat model.
    #[config(default = "Norm::Linf")]
    pub norm: Norm,
    /// Per-pixel loss.
    #[config(default = "LossKind::Ce")]
    pub loss: LossKind,
    /// Stop as soon as every image's success rate (fraction of valid pixels off the reference
    /// for untargeted goals, on the target for targeted ones) reaches this value in `[0, 1]`.
    pub early_stop: Option<f64>,
    /// Return, per image, the iterate with the highest success rate instead of the last one
    /// (APGD: instead of the highest-loss one).
    #[config(default = false)]
    pub keep_best: bool,
    /// Also round the adversarial images to 8 bits and evaluate them
    /// ([`AttackResult::quantized`]).
    #[config(default = false)]
    pub quantize: bool,
    /// Run the attack this many times, restart `r ≥ 1` from a random start seeded from `seed`
    /// and `r`, and keep per image the strongest result ([`super::run_with_restarts`]).
    #[config(default = 1)]
    pub restarts: usize,
    /// APGD (and SEA's members): SEA's progressive radius, 2ε for the first 3/10 of the steps,
    /// 1.5ε the next 3/10, ε the last 4/10 ([`super::radius_schedule`]).
    #[config(default = false)]
    pub radius_schedule: bool,
    /// SEA: the losses of the ensemble, one APGD run each (`None`: [`LossKind::SEA`]).
    pub losses: Option<Vec<LossKind>>,
    /// Read an iterate's loss and class maps back for the observer and the history only every
    /// this many steps (and at the first and last iterate); `1`: every step. On a GPU each read
    /// stalls the device (see [`super::readback`]); the observer, and so a cancel, is also only
    /// reached every this many steps.
    #[config(default = 1)]
    pub progress_every: usize,
}

impl PgdConfig {
    /// The step size α actually used.
    pub fn alpha(&self) -> f64 {
        self.step_size.unwrap_or(self.eps / 4.0)
    }

    /// Check every setting; errors quote the bad value.
    pub fn validate(&self) -> crate::error::Result<()> {
        if !self.eps.is_finite() || self.eps < 0.0 {
            return Err(Error::InvalidArgument(format!("eps must be a finite number ≥ 0, got {}", self.eps)));
        }
        if self.steps == 0 {
            return Err(Error::InvalidArgument("steps must be at least 1, got 0".into()));
        }
        if let Some(a) = self.step_size
            && (!a.is_finite() || a <= 0.0)
        {
            return Err(Error::InvalidArgument(format!("step size must be a finite number > 0, got {a}")));
        }
        if let Some(s) = self.early_stop
            && !(0.0..=1.0).contains(&s)
        {
            return Err(Error::InvalidArgument(format!("early stop must be a success rate in [0, 1], got {s}")));
        }
        if self.restarts == 0 {
            return Err(Error::InvalidArgument("restarts must be at least 1, got 0".into()));
        }
        if self.radius_schedule && self.eps <= 0.0 {
            return Err(Error::InvalidArgument(format!("the radius schedule needs eps > 0, got {}", self.eps)));
        }
        if self.progress_every == 0 {
            return Err(Error::InvalidArgument("progress_every must be at least 1, got 0".into()));
        }
        if self.losses.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::InvalidArgument("the ensemble's loss list is empty".into()));
        }
        Ok(())
    }
}

/// The observer of [`pgd`] and [`super::apgd()`]: called once per iterate, returns what to do next.
pub type Observer<'a> = &'a mut dyn FnMut(&Progress) -> Control;

pub(super) fn backend_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Backend(format!("{what}: {e:?}"))
}

pub(super) async fn read_f32(t: Tensor<4>) -> crate::error::Result<Vec<f32>> {
    let data = t.into_data_async().await.map_err(|e| backend_err("reading images failed", e))?;
    data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading images failed", e))
}

pub(super) async fn read_scalar(t: Tensor<1>) -> crate::error::Result<f64> {
    let data = t.into_data_async().await.map_err(|e| backend_err("reading the loss failed", e))?;
    let v = data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading the loss failed", e))?;
    v.first().map(|&x| f64::from(x)).ok_or_else(|| Error::Backend("the loss tensor is empty".into()))
}

pub(super) async fn read_maps(pred: Tensor<4, Int>, n: usize, h: usize, w: usize, k: usize) -> crate::error::Result<Vec<ClassMap>> {
    let data = pred.into_data_async().await.map_err(|e| backend_err("reading class maps failed", e))?;
    crate::model::predict::maps_from_data(data, n, h, w, k)
}

/// Per-image agreement of `maps` with `refs` (void reference pixels ignored).
fn agreements(maps: &[ClassMap], refs: &[ClassMap]) -> crate::error::Result<Vec<f64>> {
    maps.iter().zip(refs).map(|(m, r)| metrics::agreement(&m.data, &r.data, Some(VOID))).collect()
}

/// What adversarial images are compared with: the clean batch (host, batch-major CHW), its
/// clean maps and the goal's reference maps.
pub(super) struct Refs<'a> {
    pub x_host: &'a [f32],
    pub clean: &'a [ClassMap],
    pub reference: &'a [ClassMap],
    pub dims: [usize; 4],
    pub num_classes: usize,
    pub device: &'a Device,
}

/// Check a batch's shape and that its values lie in `[0, 1]`; its values on the host.
pub(super) async fn host_batch(x: &Tensor<4>) -> crate::error::Result<Vec<f32>> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    if n == 0 || c != 3 || h == 0 || w == 0 {
        return Err(Error::Shape(format!("expected a [N ≥ 1, 3, H, W] image batch, got {dims:?}")));
    }
    let x_host = read_f32(x.clone()).await?;
    if let Some((i, v)) = x_host.iter().enumerate().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
        return Err(Error::InvalidArgument(format!(
            "image values must lie in [0, 1]; image {} has {v} at position {}",
            i / (3 * h * w) + 1,
            i % (3 * h * w)
        )));
    }
    Ok(x_host)
}

/// Per image, `if_true` where `choose` holds and `if_false` elsewhere (`[N, …]` batches; an
/// exact selection: `a·1 + b·0`).
pub(super) fn select(choose: &[bool], if_true: Tensor<4>, if_false: Tensor<4>) -> Tensor<4> {
    let m: Vec<f32> = choose.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    let m = Tensor::<4>::from_data(TensorData::new(m, [choose.len(), 1, 1, 1]), &if_true.device());
    if_false.mul(m.clone().neg().add_scalar(1.0)).add(if_true.mul(m))
}

/// The best iterate per image so far (`keep_best`): the iterate, its success rates and maps.
pub(super) type Best = (Tensor<4>, Vec<f64>, Vec<ClassMap>);

/// `best` updated with the iterate `x_adv` wherever it succeeds at least as well.
pub(super) fn keep_better(best: Option<Best>, x_adv: &Tensor<4>, success: &[f64], maps: &[ClassMap]) -> Best {
    match best {
        None => (x_adv.clone(), success.to_vec(), maps.to_vec()),
        Some((bx, mut bs, mut bm)) => {
            let better: Vec<bool> = success.iter().zip(&bs).map(|(s, b)| s >= b).collect();
            for (i, &b) in better.iter().enumerate() {
                if b {
                    bs[i] = success[i];
                    bm[i] = maps[i].clone();
                }
            }
            (select(&better, x_adv.clone(), bx), bs, bm)
        }
    }
}

/// The starting point `x_0` of a loop (`x`, or a random point of the ε-ball), its forward pass
/// with the input gradient enabled `(x_0, logits)`, and the clean maps of `x` (the forward
/// pass of `x_0` doubles as the clean prediction without a random start). This also checks
/// that the model takes the input size.
pub(super) async fn start<M: SegModel + ?Sized>(
    model: &M,
    x: &Tensor<4>,
    cfg: &PgdConfig,
) -> crate::error::Result<(Tensor<4>, (Tensor<4>, Tensor<4>), Vec<ClassMap>)> {
    let dims = x.dims();
    let [n, _, h, w] = dims;
    let x0 = if cfg.random_start {
        let mut rng = SplitMix64::new(cfg.seed);
        cfg.norm.apply(x.clone(), cfg.norm.random_start(dims, cfg.eps, &mut rng, &x.device()), cfg.eps)
    } else {
        x.clone()
    };
    let xa0 = x0.clone().autodiff().require_grad();
    let logits0 = model.logits(xa0.clone())?;
    let clean_pred = if cfg.random_start {
        model.logits(x.clone())?.without_autodiff().argmax(1)
    } else {
        logits0.clone().without_autodiff().argmax(1)
    };
    let clean_maps = read_maps(clean_pred, n, h, w, model.num_classes()).await?;
    Ok((x0, (xa0, logits0), clean_maps))
}

/// One iterate's predictions against the reference: its maps, per-image agreement and success
/// rate (fraction of valid pixels off the reference, or on the target), pooled mIoU.
pub(super) struct Scored {
    pub maps: Vec<ClassMap>,
    pub agreement: Vec<f64>,
    pub success: Vec<f64>,
    pub mean_agreement: f64,
    pub miou: f64,
}

impl Scored {
    /// Score the predicted classes `pred` `[N, 1, H, W]` of an iterate.
    pub(super) async fn new(pred: Tensor<4, Int>, refs: &Refs<'_>, targeted: bool) -> crate::error::Result<Scored> {
        let [n, _, h, w] = refs.dims;
        let maps = read_maps(pred, n, h, w, refs.num_classes).await?;
        let agreement = agreements(&maps, refs.reference)?;
        let miou = compare_maps(&maps, refs.reference, refs.num_classes)?.miou;
        let mean_agreement = agreement.iter().sum::<f64>() / n as f64;
        let success = agreement.iter().map(|&a| if targeted { a } else { 1.0 - a }).collect();
        Ok(Scored { maps, agreement, success, mean_agreement, miou })
    }

    /// The history line of iterate `t` with batch loss `loss`.
    pub(super) fn record(&self, t: usize, loss: f64) -> StepRecord {
        StepRecord { step: t, loss, mean_agreement: self.mean_agreement, miou: self.miou }
    }

    /// Whether every image reaches the `early_stop` success rate.
    pub(super) fn reaches(&self, early_stop: Option<f64>) -> bool {
        early_stop.is_some_and(|threshold| self.success.iter().all(|&s| s >= threshold))
    }

    /// Show iterate `t` (batch loss `loss`) to the observer: `Ok(true)` to stop now,
    /// [`Error::Cancelled`] to cancel.
    pub(super) fn observe(&self, observer: &mut Option<Observer<'_>>, t: usize, steps: usize, loss: f64, targeted: bool) -> crate::error::Result<bool> {
        let Some(obs) = observer.as_mut() else { return Ok(false) };
        let (agreement, mean_agreement, miou, maps) = (self.agreement.clone(), self.mean_agreement, self.miou, self.maps.clone());
        match obs(&Progress { step: t, steps, loss, agreement, mean_agreement, miou, targeted, maps }) {
            Control::Continue => Ok(false),
            Control::Stop => Ok(true),
            Control::Cancel => Err(Error::Cancelled),
        }
    }
}

/// How a loop ended: what [`finish`] adds to the images.
pub(super) struct Ending {
    pub targeted: bool,
    pub steps_run: usize,
    pub stopped_early: bool,
    pub quantize: bool,
    pub history: Vec<StepRecord>,
}

/// The [`AttackResult`] of a loop that returns `x_final` (predicted as `final_maps`).
pub(super) async fn finish<M: SegModel + ?Sized>(
    model: &M,
    x_final: Tensor<4>,
    final_maps: Vec<ClassMap>,
    refs: &Refs<'_>,
    end: Ending,
) -> crate::error::Result<AttackResult> {
    let [_, _, h, w] = refs.dims;
    let adv_host = read_f32(x_final).await?;
    let perturbation: Vec<Vec<f32>> = adv_host
        .chunks(3 * h * w)
        .zip(refs.x_host.chunks(3 * h * w))
        .map(|(a, c)| a.iter().zip(c).map(|(a, c)| a - c).collect())
        .collect();
    let quantized = if end.quantize { Some(quantized_outcome(model, &adv_host, refs).await?) } else { None };
    let adversarial = outcome(adv_host, final_maps, refs)?;
    Ok(AttackResult {
        targeted: end.targeted,
        steps_run: end.steps_run,
        stopped_early: end.stopped_early,
        clean_vs_reference: compare_maps(refs.clean, refs.reference, refs.num_classes)?,
        clean_maps: refs.clean.to_vec(),
        reference_maps: refs.reference.to_vec(),
        adversarial,
        quantized,
        perturbation,
        history: end.history,
    })
}

/// The adversarial images rounded to 8 bits, predicted again and compared.
async fn quantized_outcome<M: SegModel + ?Sized>(model: &M, adv_host: &[f32], refs: &Refs<'_>) -> crate::error::Result<Outcome> {
    let [n, _, h, w] = refs.dims;
    let mut q = adv_host.to_vec();
    quantize_8bit(&mut q);
    let qt = Tensor::<4>::from_data(TensorData::new(q.clone(), refs.dims), refs.device);
    let q_maps = read_maps(model.logits(qt)?.without_autodiff().argmax(1), n, h, w, refs.num_classes).await?;
    outcome(q, q_maps, refs)
}

/// Statistics of adversarial images `adv` (host, batch-major CHW) against the clean batch.
fn outcome(adv: Vec<f32>, maps: Vec<ClassMap>, refs: &Refs<'_>) -> crate::error::Result<Outcome> {
    let (x, clean, reference, num_classes) = (refs.x_host, refs.clean, refs.reference, refs.num_classes);
    let [n, _, h, w] = refs.dims;
    let per = 3 * h * w;
    let mut per_image = Vec::with_capacity(n);
    let mut images = Vec::with_capacity(n);
    for i in 0..n {
        let (a, c) = (&adv[i * per..(i + 1) * per], &x[i * per..(i + 1) * per]);
        per_image.push(ImageStats {
            linf: metrics::linf(a, c)?,
            l2: metrics::l2(a, c)?,
            psnr: metrics::psnr(a, c)?,
            agreement_clean: metrics::agreement(&maps[i].data, &clean[i].data, Some(VOID))?,
            agreement_reference: metrics::agreement(&maps[i].data, &reference[i].data, Some(VOID))?,
            winning_loss: None,
        });
        images.push(RgbImage01::new(w, h, a.to_vec())?);
    }
    pooled_outcome(images, maps, per_image, clean, reference, num_classes)
}

/// The [`Outcome`] of per-image results: the maps scored against the clean and reference maps,
/// the largest L∞ and L2, the PSNR of the pooled MSE.
pub(super) fn pooled_outcome(
    images: Vec<RgbImage01>,
    maps: Vec<ClassMap>,
    per_image: Vec<ImageStats>,
    clean: &[ClassMap],
    reference: &[ClassMap],
    num_classes: usize,
) -> crate::error::Result<Outcome> {
    Ok(Outcome {
        vs_clean: compare_maps(&maps, clean, num_classes)?,
        vs_reference: compare_maps(&maps, reference, num_classes)?,
        linf: per_image.iter().map(|s| s.linf).fold(0.0, f64::max),
        l2: per_image.iter().map(|s| s.l2).fold(0.0, f64::max),
        psnr: metrics::distance::pooled_psnr(&per_image.iter().map(|s| s.psnr).collect::<Vec<_>>()),
        images,
        maps,
        per_image,
    })
}

/// Run PGD on a batch `x01` `[N, 3, H, W]` in `[0, 1]` (any device; autodiff is added for
/// the gradient) against `model`, for `goal`, with the settings of `cfg`.
///
/// The model should be loaded on an autodiff device ([`crate::backend::autodiff`]).
/// `observer`, if given, sees every iterate (`t = 0..=steps`) and may stop (keeping the
/// current result) or cancel ([`Error::Cancelled`]). Reads from the device are asynchronous,
/// so this runs unchanged in the browser; natively, wrap it in [`crate::util::block_on`].
///
/// Errors: invalid settings ([`PgdConfig::validate`]), a batch that is not `[N ≥ 1, 3, H, W]`,
/// values outside `[0, 1]`, a size the model cannot take, an invalid goal
/// ([`Goal::resolve`]), backend failures.
pub async fn pgd<M: SegModel + ?Sized>(
    model: &M,
    x01: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> crate::error::Result<AttackResult> {
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
    let (eps, alpha, norm) = (cfg.eps, cfg.alpha(), cfg.norm);
    let (mut x_adv, first, clean_maps) = start(model, &x, cfg).await?;
    let mut first = Some(first);
    let targeted = goal.is_targeted();
    let reference = goal.resolve(&clean_maps, k, w, h)?;
    let targets = PixelTargets::new(&reference, &device)?;
    let refs = Refs { x_host: &x_host, clean: &clean_maps, reference: &reference, dims, num_classes: k, device: &device };
    // keep_best state: iterate, per-image success and maps of the best iterate so far
    let mut best: Option<Best> = None;
    let mut history = Vec::with_capacity(cfg.steps + 1);
    let mut t = 0;
    let (final_maps, stopped_early) = loop {
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
        let loss = segmentation_loss(cfg.loss, logits, pred.clone(), &targets, targeted, t, cfg.steps);
        if reads_in_full(cfg, t, last) {
            let loss_value = read_scalar(loss.clone().without_autodiff()).await?;
            let scored = Scored::new(pred, &refs, targeted).await?;
            history.push(scored.record(t, loss_value));
            if cfg.keep_best {
                best = Some(keep_better(best.take(), &x_adv, &scored.success, &scored.maps));
            }
            let stop = scored.observe(&mut observer, t, cfg.steps, loss_value, targeted)? || scored.reaches(cfg.early_stop);
            if stop || last {
                break (scored.maps, !last);
            }
        }
        let objective = if targeted { loss.neg() } else { loss };
        let grads = objective.backward();
        let grad = xa
            .grad(&grads)
            .ok_or_else(|| Error::Backend("the model gave no gradient for the input image".into()))?;
        let delta = x_adv.sub(x.clone()).add(norm.step(grad, alpha));
        x_adv = norm.apply(x.clone(), delta, eps);
        t += 1;
    };
    let (x_final, final_maps) = match best {
        Some((bx, _, bm)) => (bx, bm),
        None => (x_adv, final_maps),
    };
    let end = Ending { targeted, steps_run: t, stopped_early, quantize: cfg.quantize, history };
    finish(model, x_final, final_maps, &refs, end).await
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
pub(super) mod tests {
    use super::*;
    use crate::backend;
    use crate::error::Result;
    use burn::tensor::Device;

    /// A per-pixel linear classifier: logits = W·rgb + b, class = the dominant colour channel.
    pub struct Toy {
        w: Tensor<3>,
        b: Tensor<3>,
    }

    impl Toy {
        pub fn new(d: &Device) -> Self {
            let w = vec![4.0f32, -2.0, -2.0, -2.0, 4.0, -2.0, -2.0, -2.0, 4.0];
            Toy {
                w: Tensor::from_data(TensorData::new(w, [1, 3, 3]), d),
                b: Tensor::from_data(TensorData::new(vec![0.1f32, 0.0, -0.1], [1, 3, 1]), d),
            }
        }
    }

    impl SegModel for Toy {
        fn logits(&self, x: Tensor<4>) -> Result<Tensor<4>> {
            let [n, c, h, w] = x.dims();
            if c != 3 {
                return Err(Error::Shape(format!("toy takes 3 channels, got {c}")));
            }
            let z = self.w.clone().repeat_dim(0, n).matmul(x.reshape([n, 3, h * w])).add(self.b.clone());
            Ok(z.reshape([n, 3, h, w]))
        }
        fn num_classes(&self) -> usize {
            3
        }
    }

    /// `n` random `h × w` images (host values and the batch).
    pub fn batch(seed: u64, n: usize, h: usize, w: usize, d: &Device) -> (Vec<f32>, Tensor<4>) {
        let mut r = SplitMix64::new(seed);
        let v: Vec<f32> = (0..n * 3 * h * w).map(|_| r.next_f64() as f32).collect();
        (v.clone(), Tensor::from_data(TensorData::new(v, [n, 3, h, w]), d))
    }

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        crate::util::block_on(pgd(&Toy::new(&backend::cpu()), x, goal, cfg, None))
    }

    /// One goal of every kind for 5×4 batches of 3.
    pub fn goals() -> Vec<Goal> {
        let gt = ClassMap { width: 5, height: 4, data: (0..20).map(|i| (i % 3) as u8).collect() };
        let painted = ClassMap { width: 5, height: 4, data: (0..20).map(|i| if i % 4 == 0 { VOID } else { 2 }).collect() };
        vec![
            Goal::untargeted(),
            Goal::untargeted_vs_ground_truth(vec![gt.clone(); 3]),
            Goal::to_image(1),
            Goal::to_image_ground_truth(0, ClassMap { width: 1, height: 1, data: vec![1] }),
            Goal::to_class(0),
            Goal::to_maps(vec![painted]),
            Goal::to_class(2).within(super::super::Mask::rect(5, 4, 1, 1, 3, 2), true),
        ]
    }


    /// Reading every 3rd iterate gives the same attack as reading every one (`run`: a loop on
    /// the toy model), for every goal, L∞ and L2; only the history is sparser.
    pub fn check_sparse_reads(run: fn(&Goal, &PgdConfig, Tensor<4>) -> Result<AttackResult>) {
        let d = backend::cpu();
        let (_, x) = batch(5, 3, 4, 5, &d);
        for goal in goals() {
            for norm in [Norm::Linf, Norm::L2] {
                let cfg = PgdConfig::new().with_eps(0.1).with_steps(7).with_norm(norm).with_random_start(true).with_seed(3);
                let every = run(&goal, &cfg, x.clone()).unwrap();
                let sparse = run(&goal, &cfg.clone().with_progress_every(3), x.clone()).unwrap();
                let pixels = |r: &AttackResult| r.adversarial.images.iter().flat_map(|i| i.data.clone()).collect::<Vec<f32>>();
                assert_eq!(pixels(&every), pixels(&sparse), "{goal:?} {norm:?}");
                assert_eq!(every.adversarial.maps, sparse.adversarial.maps, "{goal:?} {norm:?}");
                assert_eq!(every.adversarial.per_image, sparse.adversarial.per_image, "{goal:?} {norm:?}");
                // the iterates read are t = 0, 3, 6 and the last, and they read the same
                let kept: Vec<_> = every.history.iter().filter(|r| [0, 3, 6, 7].contains(&r.step)).cloned().collect();
                assert_eq!(sparse.history, kept, "{goal:?} {norm:?}");
            }
        }
        assert!(PgdConfig::new().with_progress_every(0).validate().is_err());
    }

    #[test]
    fn reading_every_few_steps_changes_nothing_but_the_history() {
        check_sparse_reads(run);
    }
    #[test]
    fn invariants_for_every_norm_goal_and_loss() {
        let d = backend::cpu();
        let (xs, x) = batch(1, 3, 4, 5, &d);
        for norm in [Norm::Linf, Norm::L2] {
            for goal in goals() {
                for loss in [LossKind::Ce, LossKind::SegPgd, LossKind::CosPgd] {
                    let eps = if norm == Norm::L2 { 0.5 } else { 0.1 };
                    let cfg = PgdConfig::new().with_eps(eps).with_steps(4).with_norm(norm).with_loss(loss).with_random_start(true);
                    let r = run(&goal, &cfg, x.clone()).unwrap();
                    assert_eq!(r.adversarial.images.len(), 3);
                    assert_eq!(r.history.len(), 5);
                    assert_eq!(r.steps_run, 4);
                    assert_eq!(r.targeted, goal.is_targeted());
                    for (i, img) in r.adversarial.images.iter().enumerate() {
                        assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
                        let orig = &xs[i * 60..(i + 1) * 60];
                        let delta: Vec<f32> = img.data.iter().zip(orig).map(|(a, b)| a - b).collect();
                        assert!(norm.measure(&delta) <= eps + 1e-5, "{norm} {loss} {goal:?}: image {i}");
                        assert_eq!(delta, r.perturbation[i]);
                    }
                }
            }
        }
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
    fn observer_stop_cancel_early_stop_and_keep_best() {
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

        // keep_best: the returned iterate is, per image, at least as good as every iterate
        let cfg = PgdConfig::new().with_eps(0.5).with_step_size(Some(0.4)).with_steps(6).with_keep_best(true);
        let r = run(&Goal::to_class(0), &cfg, x.clone()).unwrap();
        let best = r.history.iter().map(|h| h.mean_agreement).fold(0.0, f64::max);
        let got = r.adversarial.per_image.iter().map(|s| s.agreement_reference).sum::<f64>() / 2.0;
        assert!(got >= best - 1e-12, "{got} < {best}");
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

    #[test]
    fn config_defaults_and_json() {
        let c = PgdConfig::new();
        assert!((c.eps - 8.0 / 255.0).abs() < 1e-15 && c.steps == 10 && c.norm == Norm::Linf);
        assert!((c.alpha() - 2.0 / 255.0).abs() < 1e-15);
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["norm"], "linf");
        assert_eq!(j["loss"], "ce");
        let back: PgdConfig = serde_json::from_value(j).unwrap();
        assert_eq!(back.steps, 10);
    }
}
