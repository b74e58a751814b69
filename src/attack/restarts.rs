//! Restarts for every attack family: [`run_with_restarts`] runs [`super::run_kind`]
//! `cfg.restarts` times and keeps, per image, the run that is worst for the defender
//! ([`super::ensemble`]: untargeted the lowest pixel accuracy against the reference map,
//! targeted the highest agreement with the target).
//!
//! Restart 0 runs the attack as configured (so `restarts = 1` is exactly the plain attack);
//! restart `r ≥ 1` starts from a random point of the ε-ball drawn with [`restart_seed`]`(seed,
//! r)`. The budget is `restarts` times that of one run; the observer sees one counter over all
//! of them, a stop ends after the current run, a cancel aborts, and the runs end early once
//! every image's kept result reaches `early_stop`.

use burn::tensor::Tensor;

use super::dispatch::run_kind;
use super::ensemble::{merge, reaches, relay};
use super::goal::Goal;
use super::outcome::AttackResult;
use super::pgd::{Observer, PgdConfig};
use super::spec::AttackKind;
use crate::error::Result;
use crate::model::SegModel;
use crate::util::SplitMix64;

/// The seed of restart `r`'s random start: `seed` itself for `r = 0`, else the `r`-th output
/// of SplitMix64 seeded with `seed`.
pub fn restart_seed(seed: u64, r: usize) -> u64 {
    let mut g = SplitMix64::new(seed);
    (0..r).fold(seed, |_, _| g.next_u64())
}

/// Run the attack family `kind` with `cfg.restarts` restarts (see the module documentation;
/// otherwise the contract of [`super::run_kind`]).
pub async fn run_with_restarts<M: SegModel + ?Sized>(
    kind: AttackKind,
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    if cfg.restarts == 1 {
        return run_kind(kind, model, x, goal, cfg, observer).await;
    }
    let mut runs: Vec<AttackResult> = Vec::with_capacity(cfg.restarts);
    let mut stopped = false;
    for r in 0..cfg.restarts {
        let one = match r {
            0 => cfg.clone().with_restarts(1),
            _ => cfg.clone().with_restarts(1).with_random_start(true).with_seed(restart_seed(cfg.seed, r)),
        };
        let offset = runs.iter().map(|r| r.steps_run).sum();
        let run = {
            let mut forward = relay(&mut observer, offset, cfg.restarts, &mut stopped);
            run_kind(kind, model, x.clone(), goal, &one, Some(&mut forward)).await?
        };
        runs.push(run);
        if (stopped || reaches(&runs, cfg.early_stop)) && r + 1 < cfg.restarts {
            return merge(runs, model.num_classes(), true);
        }
    }
    merge(runs, model.num_classes(), stopped)
}
