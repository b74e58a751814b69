//! Universal perturbations: one L∞-bounded `δ` of the model's input size, added to every image
//! of a set (Metzen, Kumar, Brox & Fischer, "Universal Adversarial Perturbations Against
//! Semantic Image Segmentation", ICCV 2017).
//!
//! For images `x_1 … x_n` in `[0, 1]`, reference maps `y_i` (see
//! [`crate::attack::universal::spec::UniversalSpec::references`]) and a per-pixel loss `L`:
//!
//! ```text
//!   δ_0     = 0, or random in the ε-ball
//!   δ_{t+1} = clip_ε(δ_t + s·α·sign(∇_δ Σ_{i ∈ B_t} L(clamp(x_i + δ_t, 0, 1), y_i)))
//! ```
//!
//! where `B_t` is the `t`-th mini-batch of a seeded shuffle of the set (reshuffled each pass),
//! `s = +1` for untargeted goals and `−1` for targeted ones. `δ` is broadcast over the batch,
//! so autodiff sums the per-image input gradients into the one gradient of the shared `δ`
//! (the batch mean of the loss differs from the sum by a positive factor, which the sign step
//! ignores). Steps, sign and projection are those of [`Norm::Linf`]; the losses those of
//! [`crate::attack::losses::loss`]. Each candidate is rounded to the grid of its PNG
//! ([`crate::image::delta_png`]) so that what is evaluated and saved is the same `δ`.
//!
//! The result is the most successful `δ` seen, as every attack loop returns its most
//! successful iterate ([`crate::attack::loops::kept`]): the one whose perturbed crafting set has
//! the most valid pixels off the references (untargeted) or on them (targeted), ties to the
//! later one. The candidates — `δ_0`, the `δ` after every [`CHECKS`]-th of the run (rounded up to
//! whole passes over the set) and the last one — are scored on the whole set as saved (on the
//! PNG grid): about `(CHECKS + 2)·n` forward passes more for `n` crafting images.

use burn::tensor::{Device, Tensor};

use crate::attack::losses::loss::{LossKind, PixelTargets, segmentation_loss};
use crate::attack::loops::norm::Norm;
use crate::attack::loops::outcome::{Control, Progress, StepRecord};
use crate::attack::loops::common::{Refs, Scored, read_f32, read_scalar};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image::{DeltaImage, RgbImage01, decode_delta_png, encode_delta_png};
use crate::model::SegModel;
use crate::model::predict::batch_tensor;
use crate::util::SplitMix64;

/// A universal perturbation: planar CHW values in `[−eps, eps]` at `width × height`.
#[derive(Debug, Clone, PartialEq)]
pub struct UniversalDelta {
    /// Width in pixels (the model's input width).
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Its L∞ radius.
    pub eps: f64,
    /// `3·width·height` values.
    pub data: Vec<f32>,
}

impl UniversalDelta {
    /// A zero perturbation.
    pub fn zeros(width: usize, height: usize, eps: f64) -> Self {
        UniversalDelta { width, height, eps, data: vec![0.0; 3 * width * height] }
    }

    /// Every value `+eps` or `−eps` at random (seeded): the random baseline of the same radius.
    pub fn random_signs(width: usize, height: usize, eps: f64, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let data = (0..3 * width * height).map(|_| if rng.next_f64() < 0.5 { -eps as f32 } else { eps as f32 }).collect();
        UniversalDelta { width, height, eps, data }
    }

    /// `clamp(x + δ, 0, 1)` for an image of the same size ([`Error::Shape`] otherwise).
    pub fn apply(&self, x: &RgbImage01) -> Result<RgbImage01> {
        if (x.width, x.height) != (self.width, self.height) {
            return Err(Error::Shape(format!(
                "the perturbation is {}×{} but the image is {}×{}",
                self.width, self.height, x.width, x.height
            )));
        }
        RgbImage01::new(x.width, x.height, x.data.iter().zip(&self.data).map(|(a, d)| (a + d).clamp(0.0, 1.0)).collect())
    }

    /// The same `δ` rounded to its PNG's grid (moves each value by at most `eps/255`).
    pub fn quantized(&self) -> Result<Self> {
        Self::from_png(&self.to_png()?)
    }

    /// As a PNG ([`crate::image::encode_delta_png`]).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        encode_delta_png(&self.data, self.width, self.height, self.eps)
    }

    /// From a PNG written by [`Self::to_png`].
    pub fn from_png(bytes: &[u8]) -> Result<Self> {
        let DeltaImage { width, height, eps, data } = decode_delta_png(bytes)?;
        Ok(UniversalDelta { width, height, eps, data })
    }
}

/// Settings of the crafting loop (from [`super::UniversalSpec`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UniversalConfig {
    /// L∞ radius.
    pub eps: f64,
    /// Step size α.
    pub alpha: f64,
    /// Sign steps.
    pub steps: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Per-pixel loss.
    pub loss: LossKind,
    /// Seed of the shuffle and the random start.
    pub seed: u64,
    /// Start from a random point of the ε-ball.
    pub random_start: bool,
}

/// What crafting returns: `δ` (on its PNG grid, the most successful one seen), the loss and
/// agreement of each mini-batch before its step, and how many steps ran.
#[derive(Debug, Clone)]
pub struct Crafted {
    /// The perturbation.
    pub delta: UniversalDelta,
    /// One record per step `t` (the mini-batch's loss and agreement with its references at `δ_t`).
    pub history: Vec<StepRecord>,
    /// Steps taken (fewer than asked when the observer stopped).
    pub steps_run: usize,
    /// The step `t` whose `δ_t` was kept (`steps_run`: the last one).
    pub kept_step: usize,
}

/// How many times in a run a `δ` is scored on the whole crafting set (besides `δ_0` and the last).
pub const CHECKS: usize = 10;

/// `δ` on its PNG grid (what is saved and scored).
async fn on_grid(delta: &Tensor<4>, w: usize, h: usize, eps: f64) -> Result<UniversalDelta> {
    UniversalDelta { width: w, height: h, eps, data: read_f32(delta.clone()).await? }.quantized()
}

/// Valid pixels of the whole set that `delta` wins (off the references, or on them when
/// `targeted`), predicted `batch` images at a time.
async fn set_score<M: SegModel + ?Sized>(
    model: &M,
    images: &[RgbImage01],
    references: &[ClassMap],
    targeted: bool,
    delta: &UniversalDelta,
    batch: usize,
    device: &Device,
) -> Result<u64> {
    let adv: Vec<RgbImage01> = images.iter().map(|x| delta.apply(x)).collect::<Result<_>>()?;
    let maps = crate::model::predict_batched(model, &adv, batch, device).await?;
    let mut won = 0u64;
    for (m, r) in maps.iter().zip(references) {
        won += m.data.iter().zip(&r.data).filter(|&(&p, &q)| q != crate::data::VOID && (p == q) == targeted).count() as u64;
    }
    Ok(won)
}

/// The image indices of each step's mini-batch: a seeded shuffle of `0..n` per pass, cut into
/// batches of `batch` (a pass's last batch may be smaller).
pub fn batch_order(n: usize, batch: usize, steps: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = SplitMix64::new(seed ^ 0x756e_6976);
    let mut out = Vec::with_capacity(steps);
    while out.len() < steps {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (rng.next_f64() * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        for chunk in order.chunks(batch.max(1)) {
            if out.len() < steps {
                out.push(chunk.to_vec());
            }
        }
    }
    out
}

/// Craft one `δ` for `images` (all of one size) against `references` (one map per image;
/// `targeted`: descend the loss towards them, else ascend it away) on `device` (the model's,
/// with autodiff). The observer sees each step's mini-batch and may stop
/// (keeping `δ` so far) or cancel ([`Error::Cancelled`]).
pub async fn craft_universal<M: SegModel + ?Sized>(
    model: &M,
    images: &[RgbImage01],
    references: &[ClassMap],
    targeted: bool,
    cfg: &UniversalConfig,
    device: &Device,
    mut observer: Option<&mut dyn FnMut(&Progress) -> Control>,
) -> Result<Crafted> {
    let first = images.first().ok_or_else(|| Error::InvalidArgument("no images to craft a universal perturbation on".into()))?;
    let (w, h) = (first.width, first.height);
    if references.len() != images.len() {
        return Err(Error::InvalidArgument(format!("{} reference maps for {} images", references.len(), images.len())));
    }
    let device = device.clone();
    let norm = Norm::Linf;
    let mut delta = if cfg.random_start {
        norm.random_start([1, 3, h, w], cfg.eps, &mut SplitMix64::new(cfg.seed), &device)
    } else {
        Tensor::<4>::zeros([1, 3, h, w], &device)
    };
    let mut history = Vec::with_capacity(cfg.steps);
    let mut steps_run = 0;
    let n = images.len();
    let pass = n.div_ceil(cfg.batch_size.max(1));
    let every = cfg.steps.div_ceil(CHECKS).div_ceil(pass).max(1) * pass;
    // the kept δ: (won pixels, δ, its step), ties to the later one
    let mut kept: Option<(u64, UniversalDelta, usize)> = None;
    let mut keep = |won: u64, d: UniversalDelta, t: usize| {
        if kept.as_ref().is_none_or(|(k, _, _)| won >= *k) {
            kept = Some((won, d, t));
        }
    };
    let d0 = on_grid(&delta, w, h, cfg.eps).await?;
    keep(set_score(model, images, references, targeted, &d0, cfg.batch_size, &device).await?, d0, 0);
    for (t, idx) in batch_order(n, cfg.batch_size, cfg.steps, cfg.seed).into_iter().enumerate() {
        let batch: Vec<RgbImage01> = idx.iter().map(|&i| images[i].clone()).collect();
        let refs_b: Vec<ClassMap> = idx.iter().map(|&i| references[i].clone()).collect();
        let x = batch_tensor(&batch, &device)?;
        let da = delta.clone().autodiff().require_grad();
        let xa = x.autodiff().add(da.clone()).clamp(0.0, 1.0);
        let logits = model.logits(xa)?;
        let pred = logits.clone().without_autodiff().argmax(1);
        let targets = PixelTargets::new(&refs_b, &device)?;
        let loss = segmentation_loss(cfg.loss, logits, pred.clone(), &targets, targeted, t, cfg.steps);
        let loss_value = read_scalar(loss.clone().without_autodiff()).await?;
        let refs = Refs { x_host: &[], clean: &refs_b, reference: &refs_b, dims: [idx.len(), 3, h, w], num_classes: model.num_classes(), device: &device };
        let scored = Scored::new(pred, &refs, targeted).await?;
        history.push(scored.record(t, loss_value));
        if scored.observe(&mut observer, t, cfg.steps, loss_value, targeted)? {
            break;
        }
        let objective = if targeted { loss.neg() } else { loss };
        let grads = objective.backward();
        let grad = da.grad(&grads).ok_or_else(|| Error::Backend("the model gave no gradient for the perturbation".into()))?;
        delta = norm.project(delta.add(norm.step(grad, cfg.alpha)), cfg.eps);
        steps_run = t + 1;
        if steps_run % every == 0 && steps_run < cfg.steps {
            let d = on_grid(&delta, w, h, cfg.eps).await?;
            keep(set_score(model, images, references, targeted, &d, cfg.batch_size, &device).await?, d, steps_run);
        }
    }
    let last = on_grid(&delta, w, h, cfg.eps).await?;
    keep(set_score(model, images, references, targeted, &last, cfg.batch_size, &device).await?, last, steps_run);
    let (_, delta, kept_step) = kept.ok_or_else(|| Error::Backend("no perturbation was scored".into()))?;
    Ok(Crafted { delta, history, steps_run, kept_step })
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::attack::loops::testing::{Toy, batch};
    use crate::backend;
    use crate::model::predict_batched;
    use crate::util::block_on;

    fn images(seed: u64, n: usize) -> Vec<RgbImage01> {
        let d = backend::cpu();
        let (v, _) = batch(seed, n, 4, 5, &d);
        v.chunks(60).map(|c| RgbImage01::new(5, 4, c.to_vec()).unwrap()).collect()
    }

    fn cfg(steps: usize) -> UniversalConfig {
        UniversalConfig { eps: 0.3, alpha: 0.05, steps, batch_size: 2, loss: LossKind::Ce, seed: 1, random_start: false }
    }

    #[test]
    fn batches_cover_the_set_each_pass() {
        let b = batch_order(5, 2, 7, 3);
        assert_eq!(b.len(), 7);
        let mut first: Vec<usize> = b[..3].concat();
        first.sort_unstable();
        assert_eq!(first, vec![0, 1, 2, 3, 4]);
        assert_eq!(b[2].len(), 1);
        assert_eq!(batch_order(5, 2, 7, 3), b);
    }

    #[test]
    fn the_shared_gradient_is_the_sum_over_the_batch() {
        // δ broadcast over a batch of two: its gradient equals the sum of each image's own
        let d = backend::autodiff(&backend::cpu());
        let toy = Toy::new(&d);
        let imgs = images(2, 2);
        let grad_of = |idx: &[usize]| -> Vec<f32> {
            let b: Vec<RgbImage01> = idx.iter().map(|&i| imgs[i].clone()).collect();
            let x = batch_tensor(&b, &d).unwrap();
            let da = Tensor::<4>::zeros([1, 3, 4, 5], &d).autodiff().require_grad();
            let z = toy.logits(x.autodiff().add(da.clone())).unwrap();
            let g = z.narrow(1, 0, 1).sum().backward();
            da.grad(&g).unwrap().into_data().try_into_vec_as::<f32>().unwrap()
        };
        let (both, a, b) = (grad_of(&[0, 1]), grad_of(&[0]), grad_of(&[1]));
        assert!(both.iter().zip(a.iter().zip(&b)).all(|(s, (p, q))| (s - (p + q)).abs() < 1e-5), "{both:?}");
    }

    #[test]
    fn crafting_stays_in_the_ball_and_moves_the_set() {
        let d = backend::autodiff(&backend::cpu());
        let toy = Toy::new(&d);
        let imgs = images(3, 4);
        let clean = block_on(predict_batched(&toy, &imgs, 4, &d)).unwrap();
        let out = block_on(craft_universal(&toy, &imgs, &clean, false, &cfg(8), &d, None)).unwrap();
        assert_eq!((out.steps_run, out.history.len()), (8, 8));
        assert!(out.delta.data.iter().all(|v| f64::from(v.abs()) <= 0.3 + 1e-6));
        let adv: Vec<RgbImage01> = imgs.iter().map(|x| out.delta.apply(x).unwrap()).collect();
        assert!(adv.iter().all(|x| x.data.iter().all(|v| (0.0..=1.0).contains(v))));
        let maps = block_on(predict_batched(&toy, &adv, 4, &d)).unwrap();
        let same = crate::metrics::compare_maps(&maps, &clean, 3).unwrap().pixel_accuracy;
        assert!(same < 0.7, "one δ should move most pixels of the toy: accuracy {same}");
        // the δ is on its PNG grid: a round trip is exact
        assert_eq!(UniversalDelta::from_png(&out.delta.to_png().unwrap()).unwrap(), out.delta);

        // targeted to class 2 everywhere: the agreement with the target rises
        let target: Vec<ClassMap> = clean.iter().map(|m| ClassMap { data: vec![2; m.data.len()], ..m.clone() }).collect();
        let out = block_on(craft_universal(&toy, &imgs, &target, true, &cfg(8), &d, None)).unwrap();
        assert!(out.history.last().unwrap().mean_agreement > out.history[0].mean_agreement, "{:?}", out.history);
    }

    #[test]
    fn observer_stops_and_cancels_and_sizes_are_checked() {
        let d = backend::autodiff(&backend::cpu());
        let toy = Toy::new(&d);
        let imgs = images(4, 2);
        let clean = block_on(predict_batched(&toy, &imgs, 2, &d)).unwrap();
        let mut stop = |p: &Progress| if p.step == 2 { Control::Stop } else { Control::Continue };
        let out = block_on(craft_universal(&toy, &imgs, &clean, false, &cfg(6), &d, Some(&mut stop))).unwrap();
        assert_eq!(out.steps_run, 2);
        let mut cancel = |_: &Progress| Control::Cancel;
        let e = block_on(craft_universal(&toy, &imgs, &clean, false, &cfg(6), &d, Some(&mut cancel))).unwrap_err();
        assert_eq!(e, Error::Cancelled);
        let e = UniversalDelta::zeros(3, 3, 0.1).apply(&imgs[0]).unwrap_err().to_string();
        assert!(e.contains("3×3") && e.contains("5×4"), "{e}");
        let r = UniversalDelta::random_signs(5, 4, 0.1, 7);
        assert!(r.data.iter().all(|v| (f64::from(v.abs()) - 0.1).abs() < 1e-7));
        assert!(r.data.iter().any(|&v| v > 0.0) && r.data.iter().any(|&v| v < 0.0));
    }
}
