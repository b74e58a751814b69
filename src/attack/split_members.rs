//! An ensemble attack split by its runs — the page's pool of CPU workers runs some of the
//! restarts, or of SEA's losses, in each worker on the whole batch — and the runs merged back
//! as [`super::ensemble::run_members`] merges them. This is how a single image gains from the
//! pool: its batch cannot be split by images ([`super::split`]), but SEA's three APGD runs
//! (or `restarts` runs) are independent of each other.
//!
//! The top-level runs are the restarts when `restarts > 1` (each a whole run of the family,
//! SEA included), else SEA's losses ([`super::sea::runs`]). Each run is exactly the one
//! `run_members` would start (same settings, seeds and goal); without early stop (which ends
//! the ensemble once the runs so far suffice) nothing else couples them, so
//! [`super::ensemble::merge`] of the runs in order gives the same result, history included.
//! A defense stays on one worker (its defended maps and EOT members).

use super::dispatch::run_kind;
use super::ensemble::{Member, merge, relay};
use super::outcome::{AttackResult, Control, Progress};
use super::pgd::{Observer, PgdConfig};
use super::restarts;
use super::run::{BatchImage, GoalMaps, batch_goal};
use super::sea;
use super::spec::{AttackKind, AttackSpec};
use crate::error::{Error, Result};
use crate::image::{RgbImage01, to_tensor01};
use crate::model::{Segmenter, batch_tensor};

/// Why the attack of `spec` cannot be split by its runs (`None`: it can).
pub fn unsplittable_runs(spec: &AttackSpec) -> Option<&'static str> {
    if spec.defense.is_some() {
        return Some("a defense keeps its maps and EOT members on one worker");
    }
    if spec.early_stop.is_some() {
        return Some("early stop ends the ensemble once the runs so far suffice");
    }
    if spec.restarts < 2 && spec.kind != AttackKind::Sea {
        return Some("one run (no restarts, not SEA)");
    }
    None
}

/// The family each top-level run is of, and the runs (see the module documentation).
pub fn runs(kind: AttackKind, cfg: &PgdConfig) -> (AttackKind, Vec<Member>) {
    if cfg.restarts > 1 {
        (kind, restarts::members(cfg))
    } else if kind == AttackKind::Sea {
        (AttackKind::Apgd, sea::runs(cfg))
    } else {
        (kind, vec![Member { cfg: cfg.clone(), loss: None }])
    }
}

/// How many top-level runs the attack of `spec` has.
pub fn run_count(spec: &AttackSpec) -> Result<usize> {
    let cfg = spec.pgd_config(spec.radius()?.value, spec.seed)?;
    Ok(runs(spec.kind, &cfg).1.len())
}

/// Runs `first..first + count` of the attack of `spec` on the whole batch `images`, each
/// finished as the ensemble finishes its runs. The observer sees them with the ensemble's
/// counter (iterate `t` of run `m` as `m·steps + t`).
pub async fn run_runs(
    model: &Segmenter,
    images: &[BatchImage],
    spec: &AttackSpec,
    maps: GoalMaps,
    first: usize,
    count: usize,
    mut observer: Option<Observer<'_>>,
) -> Result<Vec<AttackResult>> {
    if let Some(why) = unsplittable_runs(spec) {
        return Err(Error::InvalidArgument(format!("this attack cannot be split over workers: {why}")));
    }
    spec.validate()?;
    let head = images.first().ok_or_else(|| Error::InvalidArgument("no images given (an empty batch)".into()))?;
    model.spec.check_size(head.image.width() as usize, head.image.height() as usize)?;
    let cfg = spec.pgd_config(spec.radius()?.value, spec.seed)?.with_quantize(true);
    let (kind, members) = runs(spec.kind, &cfg);
    let chosen = members.get(first..first + count).filter(|c| !c.is_empty()).ok_or_else(|| {
        Error::InvalidArgument(format!("runs {first}..{} are not runs of an attack of {}", first + count, members.len()))
    })?;
    let goal = batch_goal(model, images, spec, maps)?;
    let clean01: Vec<RgbImage01> = images.iter().map(|b| to_tensor01(&b.image)).collect();
    let x = batch_tensor(&clean01, &model.device())?;
    let mut out = Vec::with_capacity(count);
    for (j, member) in chosen.iter().enumerate() {
        let mut stopped = false;
        let mut run = {
            let mut forward = relay(&mut observer, (first + j) * member.cfg.steps, members.len(), &mut stopped);
            let mut shown = |p: &Progress| match forward(p) {
                // a stop asked of one part cannot stop the others: only cancel applies
                Control::Stop => Control::Continue,
                c => c,
            };
            run_kind(kind, model, x.clone(), &goal, &member.cfg, Some(&mut shown)).await?
        };
        member.record(&mut run);
        out.push(run);
    }
    Ok(out)
}

/// The runs of every part, in order, as the ensemble's result (no early stop).
pub fn merge_runs(runs: Vec<AttackResult>, num_classes: usize) -> Result<AttackResult> {
    merge(runs, num_classes, false)
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::goal::Goal;
    use crate::attack::norm::Norm;
    use crate::attack::pgd::tests::{Toy, batch};
    use crate::backend;
    use crate::util::block_on;

    #[test]
    fn runs_one_at_a_time_merge_into_the_ensembles_result() {
        let d = backend::cpu();
        let (_, x) = batch(5, 2, 4, 5, &d);
        let toy = Toy::new(&d);
        for (kind, restarts) in [(AttackKind::Sea, 1), (AttackKind::Apgd, 3), (AttackKind::Pgd, 2)] {
            for goal in [Goal::untargeted(), Goal::to_class(1)] {
                let cfg = PgdConfig::new().with_eps(0.05).with_steps(3).with_norm(Norm::Linf).with_restarts(restarts).with_quantize(true);
                let whole = block_on(restarts::run_with_restarts(kind, &toy, x.clone(), &goal, &cfg, None)).unwrap();
                let (k, members) = runs(kind, &cfg);
                let parts: Vec<AttackResult> = members
                    .iter()
                    .map(|m| {
                        let mut r = block_on(run_kind(k, &toy, x.clone(), &goal, &m.cfg, None)).unwrap();
                        m.record(&mut r);
                        r
                    })
                    .collect();
                assert_eq!(parts.len(), if kind == AttackKind::Sea { 3 } else { restarts });
                assert_eq!(merge_runs(parts, 3).unwrap(), whole, "{kind:?} × {restarts} {goal:?}");
            }
        }
    }

    #[test]
    fn only_independent_runs_split() {
        let spec = |json: &str| AttackSpec::from_json(json).unwrap();
        assert_eq!(unsplittable_runs(&spec(r#"{"kind": "sea"}"#)), None);
        assert_eq!(unsplittable_runs(&spec(r#"{"kind": "pgd", "restarts": 3}"#)), None);
        assert_eq!(run_count(&spec(r#"{"kind": "sea"}"#)).unwrap(), 3);
        assert_eq!(run_count(&spec(r#"{"kind": "dag", "restarts": 4}"#)).unwrap(), 4);
        for json in [r#"{"kind": "apgd"}"#, r#"{"kind": "sea", "early_stop": 0.5}"#] {
            assert!(unsplittable_runs(&spec(json)).is_some(), "{json}");
        }
    }
}
