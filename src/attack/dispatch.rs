//! The one place that turns an [`AttackKind`] into its loop: the CLI, the page (both through
//! [`super::run_attack`]) and the experiment runner call [`run_kind`], so a new attack family
//! is added here once and every front end gets it.

use burn::tensor::Tensor;

use super::apgd::apgd;
use super::dag::dag;
use super::goal::Goal;
use super::outcome::AttackResult;
use super::pgd::{Observer, PgdConfig, pgd};
use super::sea::sea;
use super::spec::AttackKind;
use crate::error::Result;
use crate::model::SegModel;

/// Run the attack family `kind` on the batch `x` once (see [`pgd()`], [`apgd()`], [`sea()`] and
/// [`dag()`] for the contract; all take the same settings and return the same result). Front
/// ends call [`super::run_with_restarts`], which wraps this for `cfg.restarts`.
pub async fn run_kind<M: SegModel + ?Sized>(
    kind: AttackKind,
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    match kind {
        AttackKind::Pgd => pgd(model, x, goal, cfg, observer).await,
        AttackKind::Apgd => apgd(model, x, goal, cfg, observer).await,
        // boxed: SEA runs its members through this function again (an async recursion)
        AttackKind::Sea => Box::pin(sea(model, x, goal, cfg, observer)).await,
        AttackKind::Dag => dag(model, x, goal, cfg, observer).await,
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::attack::pgd::tests::{Toy, batch};
    use crate::backend;

    #[test]
    fn each_kind_runs_its_own_loop() {
        let d = backend::cpu();
        let (_, x) = batch(7, 2, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.1).with_steps(4);
        let run = |kind, f: fn(&Toy, Tensor<4>, &PgdConfig) -> AttackResult| {
            let got = crate::util::block_on(run_kind(kind, &Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, None)).unwrap();
            assert_eq!(got, f(&Toy::new(&d), x.clone(), &cfg), "{kind:?}");
        };
        run(AttackKind::Pgd, |m, x, c| crate::util::block_on(pgd(m, x, &Goal::untargeted(), c, None)).unwrap());
        run(AttackKind::Apgd, |m, x, c| crate::util::block_on(apgd(m, x, &Goal::untargeted(), c, None)).unwrap());
        run(AttackKind::Sea, |m, x, c| crate::util::block_on(sea(m, x, &Goal::untargeted(), c, None)).unwrap());
        run(AttackKind::Dag, |m, x, c| crate::util::block_on(dag(m, x, &Goal::untargeted(), c, None)).unwrap());
    }
}
