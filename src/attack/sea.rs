//! SEA, the Segmentation Ensemble Attack (Croce, Singh & Hein, "Towards Reliable Evaluation
//! and Fast Training of Robust Semantic Segmentation Models", ECCV 2024), written from the
//! paper's description: APGD ([`super::apgd()`]) once per loss — by default SEA's
//! complementary losses, masked CE, balanced masked CE and the Jensen–Shannon divergence
//! ([`LossKind::SEA`], see [`super::loss_sea`]) — and per image the result that is worst for
//! the defender ([`super::ensemble`]): untargeted the lowest pixel accuracy against the
//! reference map, targeted the highest agreement with the target.
//!
//! Budget: each member runs the full `steps`, so SEA with `M` losses costs `M` times one APGD
//! run (`M·T` gradient steps, `M·(T + 1)` forward passes). Each member is APGD with the
//! settings of the [`PgdConfig`] (ε, norm, random start and its seed — the same for every
//! member —, early stop, the radius schedule) and `keep_best`: it returns its most successful
//! iterate, the quantity SEA compares. A member run alone with the same settings gives the
//! same images, so SEA is per image at least as strong as each of its members.
//!
//! The observer sees the iterates of all members with one counter (`steps = M·T`); a stop
//! ends the ensemble after the current member (keeping what it has), a cancel aborts it, and
//! the ensemble ends early once every image's kept result reaches `early_stop`. Each image
//! records the loss of the member it kept ([`super::ImageStats::winning_loss`]).

use burn::tensor::Tensor;

use super::apgd::apgd;
use super::ensemble::{merge, reaches, relay};
use super::goal::Goal;
use super::loss::LossKind;
use super::outcome::AttackResult;
use super::pgd::{Observer, PgdConfig};
use crate::error::Result;
use crate::model::SegModel;

/// The losses of the ensemble of `cfg`: `cfg.losses`, else SEA's.
pub fn members(cfg: &PgdConfig) -> Vec<LossKind> {
    cfg.losses.clone().unwrap_or_else(|| LossKind::SEA.to_vec())
}

/// Run SEA on a batch `x` `[N, 3, H, W]` in `[0, 1]` (contract as [`super::apgd()`]; see the
/// module documentation for the ensemble).
pub async fn sea<M: SegModel + ?Sized>(
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    let losses = members(cfg);
    let mut runs: Vec<AttackResult> = Vec::with_capacity(losses.len());
    let mut stopped = false;
    for (m, &loss) in losses.iter().enumerate() {
        let member = cfg.clone().with_loss(loss).with_keep_best(true).with_losses(None);
        let offset = runs.iter().map(|r| r.steps_run).sum();
        let mut r = {
            let mut forward = relay(&mut observer, offset, losses.len(), &mut stopped);
            apgd(model, x.clone(), goal, &member, Some(&mut forward)).await?
        };
        for s in r.adversarial.per_image.iter_mut().chain(r.quantized.iter_mut().flat_map(|q| q.per_image.iter_mut())) {
            s.winning_loss = Some(loss);
        }
        runs.push(r);
        if (stopped || reaches(&runs, cfg.early_stop)) && m + 1 < losses.len() {
            return merge(runs, model.num_classes(), true);
        }
    }
    merge(runs, model.num_classes(), stopped)
}
