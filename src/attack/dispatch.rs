//! The one place that turns an [`AttackKind`] into its loop: the CLI, the page (both through
//! [`crate::attack::run_attack`]), the pool and the experiment runner reach it through
//! [`crate::attack::run_with_restarts`], so a new attack family is added here once and every
//! front end gets it. The loops validate their settings; an ensemble's are validated here.

use burn::tensor::Tensor;

use crate::attack::ensemble::members::run_members;
use crate::attack::ensemble::{sea, worst_case};
use crate::attack::loops::apgd::apgd;
use crate::attack::loops::common::Observer;
use crate::attack::loops::dag::dag;
use crate::attack::loops::outcome::AttackResult;
use crate::attack::loops::pgd::pgd;
use crate::attack::settings::{AttackKind, PgdConfig};
use crate::attack::spec::goal::Goal;
use crate::error::Result;
use crate::model::SegModel;

/// Run the attack family `kind` on the batch `x` once (see [`pgd()`], [`apgd()`], [`dag()`],
/// [`sea`] and [`worst_case`] for the contract; all take the same settings and return the same
/// result). Front ends call [`crate::attack::run_with_restarts`], which wraps this for
/// `cfg.restarts`.
pub async fn run_kind<M: SegModel + ?Sized>(
    kind: AttackKind,
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    // the loops check their settings; an ensemble's are checked here, before its members run
    if kind.is_ensemble() {
        cfg.validate()?;
    }
    match kind {
        AttackKind::Pgd => pgd(model, x, goal, cfg, observer).await,
        AttackKind::Apgd => apgd(model, x, goal, cfg, observer).await,
        AttackKind::Dag => dag(model, x, goal, cfg, observer).await,
        // boxed: an ensemble runs its members through this function again (an async recursion)
        AttackKind::Sea => Box::pin(run_members(model, x, goal, &sea::runs(cfg), cfg, observer)).await,
        AttackKind::WorstCase => Box::pin(run_members(model, x, goal, &worst_case::runs(cfg), cfg, observer)).await,
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::attack::loops::norm::Norm;
    use crate::attack::loops::quantize::below_grid;
    use crate::attack::loops::testing::{Toy, grid_batch};
    use crate::attack::settings::Member;
    use crate::backend;
    use crate::util::block_on;

    /// Every kind with small budgets, as the worst case's members too.
    fn kinds(cfg: &PgdConfig) -> Vec<(AttackKind, PgdConfig)> {
        let members = vec![
            Member { kind: AttackKind::Pgd, cfg: cfg.clone(), label: "pgd".into(), loss: None },
            Member { kind: AttackKind::Dag, cfg: cfg.clone().with_step_size(Some(cfg.eps / 2.0)), label: "dag".into(), loss: None },
        ];
        vec![
            (AttackKind::Pgd, cfg.clone()),
            (AttackKind::Apgd, cfg.clone()),
            (AttackKind::Apgd, cfg.clone().with_radius_schedule(true)),
            (AttackKind::Sea, cfg.clone().with_radius_schedule(true).with_random_start(true)),
            (AttackKind::Dag, cfg.clone().with_step_size(Some(cfg.eps / 2.0))),
            (AttackKind::WorstCase, cfg.clone().with_members(Some(members))),
        ]
    }

    #[test]
    fn every_8bit_output_keeps_its_budget() {
        let d = backend::cpu();
        let (xs, x) = grid_batch(3, 2, 4, 5, &d);
        for norm in [Norm::Linf, Norm::L2] {
            for levels in [0.25, 0.5, 1.0, 4.0] {
                let eps = levels / 255.0;
                let base = PgdConfig::new().with_eps(eps).with_steps(3).with_norm(norm).with_quantize(true).with_grid_steps(2);
                for (kind, cfg) in kinds(&base) {
                    let r = block_on(run_kind(kind, &Toy::new(&d), x.clone(), &crate::attack::Goal::untargeted(), &cfg, None)).unwrap();
                    let q = r.quantized.as_ref().unwrap();
                    let what = format!("{kind:?} {norm} {levels}/255");
                    assert!(q.linf <= eps || norm == Norm::L2, "{what}: L∞ {} > {eps}", q.linf);
                    assert!(norm == Norm::Linf || q.l2 <= eps, "{what}: L2 {} > {eps}", q.l2);
                    for (i, img) in q.images.iter().enumerate() {
                        let delta: Vec<f32> = img.data.iter().zip(&xs[i * 60..(i + 1) * 60]).map(|(a, b)| a - b).collect();
                        assert!(img.data.iter().all(|v| ((v * 255.0).round() - v * 255.0).abs() < 1e-3), "{what}: off the grid");
                        assert!(norm.measure(&delta) <= eps + 1e-6, "{what}: image {i}");
                        if below_grid(eps) {
                            assert!(delta.iter().all(|&v| v == 0.0), "{what}: below one grey level the 8-bit image is the clean one");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_settings_are_refused_where_a_run_starts() {
        let d = backend::cpu();
        let (_, x) = grid_batch(5, 1, 4, 4, &d);
        for kind in AttackKind::ALL {
            let e = block_on(run_kind(kind, &Toy::new(&d), x.clone(), &crate::attack::Goal::untargeted(), &PgdConfig::new().with_steps(0), None));
            assert!(e.unwrap_err().to_string().contains("got 0"), "{kind:?}");
        }
    }
}
