//! What the PGD and APGD loops read back from the device, and when.
//!
//! Reading a tensor makes the host wait until the device has finished every queued kernel: on
//! a GPU each read stalls the pipeline (on an H200 the loss and class-map reads made a PGD step
//! on ESPNetv2 77.5 ms against 53.4 ms for its gradient, `docs/results.md`). With
//! [`PgdConfig::progress_every`] `= k` an iterate is read in full (loss, class maps, history,
//! observer) only at `t = 0`, every `k`-th step and at the end; in between PGD reads nothing, and
//! APGD — whose step-size schedule needs each iterate's per-image losses — reads only those, in
//! one small read, never the maps.
//! `early_stop` judges every iterate by its maps, so it reads every step. Which iterate each
//! image keeps is decided on the device ([`super::kept`]) and needs no read.

use burn::tensor::{Int, Tensor};

use crate::attack::losses::loss::PixelTargets;
use crate::attack::settings::PgdConfig;

/// Whether iterate `t` (`last`: the final one) is read in full.
pub(in crate::attack) fn reads_in_full(cfg: &PgdConfig, t: usize, last: bool) -> bool {
    last || t.is_multiple_of(cfg.progress_every.max(1)) || cfg.early_stop.is_some()
}

/// `[N]`: per image, the number of valid reference pixels that `pred` `[N, 1, H, W]` predicts
/// as the reference class (counts below 2²⁴ are exact in f32).
pub(in crate::attack) fn hits(pred: Tensor<4, Int>, targets: &PixelTargets) -> Tensor<1> {
    let n = pred.dims()[0];
    pred.equal(targets.classes.clone()).float().mul(targets.valid.clone()).reshape([n as i32, -1]).sum_dim(1).reshape([n])
}
