//! The 8-bit image searched on the grid itself: after an attack's real-valued result has been
//! rounded into the L∞ ball ([`super::quantize`]), `grid_steps` sign-gradient steps of one grey
//! level move each value among the grid points of the ball (`x + j/255`, `|j| ≤ ⌊255·ε⌋`,
//! inside `[0, 1]`), and each image keeps its most successful grid point ([`super::kept`]), the
//! rounded start included. Every iterate is an 8-bit image, so what is kept is exactly what a
//! saved PNG holds. The cost is `grid_steps` forward and backward passes.

use burn::tensor::{Tensor, TensorData};

use super::common::{Refs, read_f32, read_maps};
use super::kept::{Kept, won};
use crate::attack::losses::loss::{PixelTargets, segmentation_loss};
use crate::attack::settings::PgdConfig;
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::model::SegModel;

/// `q` (8-bit images inside the ball, host) improved by `cfg.grid_steps` steps on the grid; with
/// their maps (`maps`: those of `q`).
pub(in crate::attack) async fn grid_search<M: SegModel + ?Sized>(
    model: &M,
    q: Vec<f32>,
    maps: Vec<ClassMap>,
    refs: &Refs<'_>,
    cfg: &PgdConfig,
    targeted: bool,
) -> Result<(Vec<f32>, Vec<ClassMap>)> {
    let [n, _, h, w] = refs.dims;
    let r = (cfg.eps * 255.0 + 1e-9).floor() as f32;
    let level = |v: f32| (f64::from(v) * 255.0).round() as f32;
    let kx: Vec<f32> = refs.x_host.iter().map(|&v| level(v)).collect();
    let lo: Vec<f32> = kx.iter().map(|&k| (-r).max(-k)).collect();
    let hi: Vec<f32> = kx.iter().map(|&k| r.min(255.0 - k)).collect();
    let j0: Vec<f32> = q.iter().zip(&kx).map(|(&v, &k)| level(v) - k).collect();
    let tensor = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, refs.dims), refs.device);
    let (kx, lo, hi, mut j) = (tensor(kx), tensor(lo), tensor(hi), tensor(j0));
    let targets = PixelTargets::new(refs.reference, refs.device)?;
    let steps = cfg.grid_steps;
    let mut kept: Option<Kept> = None;
    for t in 0..=steps {
        let xq = kx.clone().add(j.clone()).div_scalar(255.0);
        let xa = xq.clone().autodiff().require_grad();
        let logits = model.logits(xa.clone())?;
        let pred = logits.clone().without_autodiff().argmax(1);
        let got = won(pred.clone(), &targets, targeted);
        match kept.as_mut() {
            None => kept = Some(Kept::new(xq, got, t)),
            Some(k) => k.update(&xq, got, t),
        }
        if t == steps {
            break;
        }
        let loss = segmentation_loss(cfg.loss, logits, pred, &targets, targeted, t, steps);
        let grads = if targeted { loss.neg() } else { loss }.backward();
        let g = xa.grad(&grads).ok_or_else(|| Error::Backend("the model gave no gradient for the input image".into()))?;
        j = j.add(g.sign()).max_pair(lo.clone()).min_pair(hi.clone());
    }
    let kept = kept.ok_or_else(|| Error::Backend("the grid search evaluated no iterate".into()))?;
    let best = read_f32(kept.x()).await?;
    if best == q {
        return Ok((q, maps));
    }
    let pred = model.logits(kept.x())?.without_autodiff().argmax(1);
    Ok((best, read_maps(pred, n, h, w, refs.num_classes).await?))
}
