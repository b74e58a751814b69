//! What the PGD and APGD loops read back from the device, and when.
//!
//! Reading a tensor makes the host wait until the device has finished every queued kernel: on
//! a GPU each read stalls the pipeline (on an H200 the loss and class-map reads made a PGD step
//! on ESPNetv2 77.5 ms against 53.4 ms for its gradient, `docs/results.md`). With
//! [`PgdConfig::progress_every`] `= k` an iterate is read in full (loss, class maps, history,
//! observer) only at `t = 0`, every `k`-th step and at the end; in between PGD reads nothing, and
//! APGD — whose step-size schedule needs each iterate's per-image losses — reads its losses and
//! the per-image counts of pixels on the reference in one small read, never the maps.
//! `keep_best` and `early_stop` judge every iterate by its maps, so they read every step.

use burn::tensor::{Int, Tensor};

use super::loss::PixelTargets;
use super::pgd::{PgdConfig, backend_err};
use crate::error::Result;

/// Whether iterate `t` (`last`: the final one) is read in full.
pub(super) fn reads_in_full(cfg: &PgdConfig, t: usize, last: bool) -> bool {
    last || t.is_multiple_of(cfg.progress_every.max(1)) || cfg.keep_best || cfg.early_stop.is_some()
}

/// `[N]`: per image, the number of valid reference pixels that `pred` `[N, 1, H, W]` predicts
/// as the reference class (counts below 2²⁴ are exact in f32).
pub(super) fn hits(pred: Tensor<4, Int>, targets: &PixelTargets) -> Tensor<1> {
    let n = pred.dims()[0];
    pred.equal(targets.classes.clone()).float().mul(targets.valid.clone()).reshape([n as i32, -1]).sum_dim(1).reshape([n])
}

/// Per-image losses `[N]` and [`hits`] read back together (one wait): the losses, and the
/// success rates (fraction of valid pixels on the reference if `targeted`, off it otherwise;
/// 0 for an image without valid pixels, as [`crate::metrics::agreement`]).
pub(super) async fn losses_and_success(losses: Tensor<1>, hits: Tensor<1>, targets: &PixelTargets, targeted: bool) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = losses.dims()[0];
    let both = Tensor::cat(vec![losses, hits], 0);
    let data = both.into_data_async().await.map_err(|e| backend_err("reading the loss failed", e))?;
    let v = data.try_into_vec_as::<f32>().map_err(|e| backend_err("reading the loss failed", e))?;
    let losses = v[..n].iter().map(|&x| f64::from(x)).collect();
    let success = v[n..]
        .iter()
        .zip(&targets.valid_per_image)
        .map(|(&h, &valid)| {
            let agreement = if valid == 0 { 0.0 } else { f64::from(h) / valid as f64 };
            if targeted { agreement } else { 1.0 - agreement }
        })
        .collect();
    Ok((losses, success))
}
