//! What every attack loop shares: reading the device, the batch check, the starting point,
//! scoring an iterate for the observer and the history, and the end of a run ([`finish`]: the
//! kept iterates projected, predicted, scored and rounded to 8 bits inside the ball).

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::grid::grid_search;
use super::kept::Kept;
use super::norm::Norm;
use super::outcome::{AttackResult, Control, ImageStats, Outcome, Progress, StepRecord};
use super::quantize::{below_grid, grid_norms, round_in_ball, round_outward};
use crate::attack::settings::PgdConfig;
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::image::RgbImage01;
use crate::metrics::{self, compare_maps};
use crate::model::SegModel;
use crate::util::SplitMix64;

/// The observer of [`pgd`] and [`crate::attack::apgd()`]: called once per iterate, returns what to do next.
pub type Observer<'a> = &'a mut dyn FnMut(&Progress) -> Control;

pub(in crate::attack) fn backend_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Backend(format!("{what}: {e:?}"))
}

pub(in crate::attack) async fn read_f32(t: Tensor<4>) -> Result<Vec<f32>> {
    let data = t.into_data_async().await.map_err(|e| backend_err("reading images failed", e))?;
    data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading images failed", e))
}

pub(in crate::attack) async fn read_scalar(t: Tensor<1>) -> Result<f64> {
    let data = t.into_data_async().await.map_err(|e| backend_err("reading the loss failed", e))?;
    let v = data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading the loss failed", e))?;
    v.first().map(|&x| f64::from(x)).ok_or_else(|| Error::Backend("the loss tensor is empty".into()))
}

pub(in crate::attack) async fn read_maps(pred: Tensor<4, Int>, n: usize, h: usize, w: usize, k: usize) -> Result<Vec<ClassMap>> {
    let data = pred.into_data_async().await.map_err(|e| backend_err("reading class maps failed", e))?;
    crate::model::predict::maps_from_data(data, n, h, w, k)
}

/// Per-image agreement of `maps` with `refs` (void reference pixels ignored).
fn agreements(maps: &[ClassMap], refs: &[ClassMap]) -> Result<Vec<f64>> {
    maps.iter().zip(refs).map(|(m, r)| metrics::agreement(&m.data, &r.data, Some(VOID))).collect()
}

/// What adversarial images are compared with: the clean batch (host, batch-major CHW), its
/// clean maps and the goal's reference maps.
pub(in crate::attack) struct Refs<'a> {
    pub x_host: &'a [f32],
    pub clean: &'a [ClassMap],
    pub reference: &'a [ClassMap],
    pub dims: [usize; 4],
    pub num_classes: usize,
    pub device: &'a Device,
}

/// Check a batch's shape and that its values lie in `[0, 1]`; its values on the host.
pub(in crate::attack) async fn host_batch(x: &Tensor<4>) -> Result<Vec<f32>> {
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
pub(in crate::attack) fn select(choose: &[bool], if_true: Tensor<4>, if_false: Tensor<4>) -> Tensor<4> {
    let m: Vec<f32> = choose.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    let m = Tensor::<4>::from_data(TensorData::new(m, [choose.len(), 1, 1, 1]), &if_true.device());
    if_false.mul(m.clone().neg().add_scalar(1.0)).add(if_true.mul(m))
}

/// The starting point `x_0` of a loop (`x`, or a random point of the ball of `radius` — ε, or the
/// radius schedule's first 2ε), its forward pass
/// with the input gradient enabled `(x_0, logits)`, and the clean maps of `x` (the forward
/// pass of `x_0` doubles as the clean prediction without a random start). This also checks
/// that the model takes the input size.
pub(in crate::attack) async fn start<M: SegModel + ?Sized>(
    model: &M,
    x: &Tensor<4>,
    cfg: &PgdConfig,
    radius: f64,
) -> Result<(Tensor<4>, (Tensor<4>, Tensor<4>), Vec<ClassMap>)> {
    let dims = x.dims();
    let [n, _, h, w] = dims;
    let x0 = if cfg.random_start {
        let mut rng = SplitMix64::new(cfg.seed);
        cfg.norm.apply(x.clone(), cfg.norm.random_start(dims, radius, &mut rng, &x.device()), radius)
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
pub(in crate::attack) struct Scored {
    pub maps: Vec<ClassMap>,
    pub agreement: Vec<f64>,
    pub success: Vec<f64>,
    pub mean_agreement: f64,
    pub miou: f64,
}

impl Scored {
    /// Score the predicted classes `pred` `[N, 1, H, W]` of an iterate.
    pub(in crate::attack) async fn new(pred: Tensor<4, Int>, refs: &Refs<'_>, targeted: bool) -> Result<Scored> {
        let [n, _, h, w] = refs.dims;
        let maps = read_maps(pred, n, h, w, refs.num_classes).await?;
        let agreement = agreements(&maps, refs.reference)?;
        let miou = compare_maps(&maps, refs.reference, refs.num_classes)?.miou;
        let mean_agreement = agreement.iter().sum::<f64>() / n as f64;
        let success = agreement.iter().map(|&a| if targeted { a } else { 1.0 - a }).collect();
        Ok(Scored { maps, agreement, success, mean_agreement, miou })
    }

    /// The history line of iterate `t` with batch loss `loss`.
    pub(in crate::attack) fn record(&self, t: usize, loss: f64) -> StepRecord {
        StepRecord { step: t, loss, mean_agreement: self.mean_agreement, miou: self.miou }
    }

    /// Whether every image reaches the `early_stop` success rate.
    pub(in crate::attack) fn reaches(&self, early_stop: Option<f64>) -> bool {
        early_stop.is_some_and(|threshold| self.success.iter().all(|&s| s >= threshold))
    }

    /// Show iterate `t` (batch loss `loss`) to the observer: `Ok(true)` to stop now,
    /// [`Error::Cancelled`] to cancel.
    pub(in crate::attack) fn observe(&self, observer: &mut Option<Observer<'_>>, t: usize, steps: usize, loss: f64, targeted: bool) -> Result<bool> {
        let Some(obs) = observer.as_mut() else { return Ok(false) };
        let (agreement, mean_agreement, miou, maps) = (self.agreement.clone(), self.mean_agreement, self.miou, self.maps.clone());
        match obs(&Progress { step: t, steps, loss, agreement, mean_agreement, miou, targeted, maps }) {
            Control::Continue => Ok(false),
            Control::Stop => Ok(true),
            Control::Cancel => Err(Error::Cancelled),
        }
    }
}

/// How a loop ended: what [`finish`] adds to the kept iterates.
pub(in crate::attack) struct Ending {
    pub targeted: bool,
    pub steps_run: usize,
    pub stopped_early: bool,
    pub history: Vec<StepRecord>,
}

/// `adv` (host, batch-major, `per` values per image) moved into the ball of `eps` around `x`
/// and `[0, 1]` where it lies outside; values inside are left bit for bit.
fn project_host(adv: &mut [f32], x: &[f32], per: usize, norm: Norm, eps: f64) {
    match norm {
        Norm::Linf => {
            for (a, &c) in adv.iter_mut().zip(x) {
                let (lo, hi) = ((f64::from(c) - eps).max(0.0), (f64::from(c) + eps).min(1.0));
                if f64::from(*a) > hi {
                    *a = hi as f32;
                } else if f64::from(*a) < lo {
                    *a = lo as f32;
                }
            }
        }
        Norm::L2 => {
            for (a, c) in adv.chunks_mut(per).zip(x.chunks(per)) {
                let delta: Vec<f32> = a.iter().zip(c).map(|(a, c)| a - c).collect();
                let len = norm.measure(&delta);
                if len > eps * (1.0 + 1e-6) {
                    let f = eps / len;
                    for ((a, &c), d) in a.iter_mut().zip(c).zip(&delta) {
                        *a = (f64::from(c) + f * f64::from(*d)).clamp(0.0, 1.0) as f32;
                    }
                }
            }
        }
    }
}

/// The class maps of images `x` (host values, `refs.dims`) and the tensor they were made from.
async fn predict_host<M: SegModel + ?Sized>(model: &M, x: &[f32], refs: &Refs<'_>) -> Result<(Tensor<4>, Vec<ClassMap>)> {
    let [n, _, h, w] = refs.dims;
    let t = Tensor::<4>::from_data(TensorData::new(x.to_vec(), refs.dims), refs.device);
    let maps = read_maps(model.logits(t.clone())?.without_autodiff().argmax(1), n, h, w, refs.num_classes).await?;
    Ok((t, maps))
}

/// The [`AttackResult`] of a loop whose kept iterates are `kept` (see [`super::kept`]): moved
/// into the ε-ball of `cfg` where they are not (after a stop during the radius schedule's larger
/// balls; a no-op otherwise), predicted once, scored, and with `cfg.quantize` rounded to 8 bits
/// inside the ball ([`super::quantize`]).
pub(in crate::attack) async fn finish<M: SegModel + ?Sized>(
    model: &M,
    kept: &Kept,
    refs: &Refs<'_>,
    cfg: &PgdConfig,
    end: Ending,
) -> Result<AttackResult> {
    let [_, _, h, w] = refs.dims;
    let per = 3 * h * w;
    let steps = kept.steps().await?;
    let mut adv_host = read_f32(kept.x()).await?;
    project_host(&mut adv_host, refs.x_host, per, cfg.norm, cfg.eps);
    let (_, maps) = predict_host(model, &adv_host, refs).await?;
    let perturbation: Vec<Vec<f32>> =
        adv_host.chunks(per).zip(refs.x_host.chunks(per)).map(|(a, c)| a.iter().zip(c).map(|(a, c)| a - c).collect()).collect();
    let quantized = if cfg.quantize { Some(quantized_outcome(model, &adv_host, refs, cfg, end.targeted).await?) } else { None };
    let mut adversarial = outcome(adv_host, maps, refs)?;
    for (s, &k) in adversarial.per_image.iter_mut().zip(&steps) {
        s.kept_step = Some(k);
    }
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
        miou_worst_case: None,
    })
}

/// Per image, the fraction of valid reference pixels the attack has won in `maps`.
fn success_of(maps: &[ClassMap], refs: &Refs<'_>, targeted: bool) -> Result<Vec<f64>> {
    let a = agreements(maps, refs.reference)?;
    Ok(a.into_iter().map(|a| if targeted { a } else { 1.0 - a }).collect())
}

/// The real-valued result `adv_host` as an 8-bit image inside the ball: per image the more
/// successful of the nearest and the outward rounding, then `cfg.grid_steps` steps on the grid
/// (see [`super::quantize`]); norms measured on the grid.
async fn quantized_outcome<M: SegModel + ?Sized>(model: &M, adv_host: &[f32], refs: &Refs<'_>, cfg: &PgdConfig, targeted: bool) -> Result<Outcome> {
    let [_, _, h, w] = refs.dims;
    let per = 3 * h * w;
    let mut q = round_in_ball(refs.x_host, adv_host, per, cfg.norm, cfg.eps);
    let (_, mut maps) = predict_host(model, &q, refs).await?;
    if cfg.norm == Norm::Linf && !below_grid(cfg.eps) {
        let out = round_outward(refs.x_host, adv_host, cfg.eps);
        let (_, out_maps) = predict_host(model, &out, refs).await?;
        let (a, b) = (success_of(&maps, refs, targeted)?, success_of(&out_maps, refs, targeted)?);
        for i in (0..a.len()).filter(|&i| b[i] > a[i]) {
            q[i * per..(i + 1) * per].copy_from_slice(&out[i * per..(i + 1) * per]);
            maps[i] = out_maps[i].clone();
        }
        if cfg.grid_steps > 0 {
            (q, maps) = grid_search(model, q, maps, refs, cfg, targeted).await?;
        }
    }
    let mut o = outcome(q, maps, refs)?;
    for (i, s) in o.per_image.iter_mut().enumerate() {
        if let Some((linf, l2)) = grid_norms(&o.images[i].data, &refs.x_host[i * per..(i + 1) * per]) {
            (s.linf, s.l2) = (linf, l2);
        }
    }
    o.linf = o.per_image.iter().map(|s| s.linf).fold(0.0, f64::max);
    o.l2 = o.per_image.iter().map(|s| s.l2).fold(0.0, f64::max);
    Ok(o)
}
/// Statistics of adversarial images `adv` (host, batch-major CHW) against the clean batch.
fn outcome(adv: Vec<f32>, maps: Vec<ClassMap>, refs: &Refs<'_>) -> Result<Outcome> {
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
            winner: None,
            kept_step: None,
        });
        images.push(RgbImage01::new(w, h, a.to_vec())?);
    }
    pooled_outcome(images, maps, per_image, clean, reference, num_classes)
}

/// The [`Outcome`] of per-image results: the maps scored against the clean and reference maps,
/// the largest L∞ and L2, the PSNR of the pooled MSE.
pub(in crate::attack) fn pooled_outcome(
    images: Vec<RgbImage01>,
    maps: Vec<ClassMap>,
    per_image: Vec<ImageStats>,
    clean: &[ClassMap],
    reference: &[ClassMap],
    num_classes: usize,
) -> Result<Outcome> {
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

