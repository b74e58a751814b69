//! An ensemble attack split by its runs — the page's pool of CPU workers runs some of the
//! restarts, SEA's losses or a worst case's attacks in each worker on the whole batch — and the
//! runs merged back as [`crate::attack::ensemble::members::run_members`] merges them. This is
//! how a single image gains from the pool: its batch cannot be split by images
//! ([`super::by_images`]), but the top-level runs of an ensemble are independent of each other.
//!
//! The top-level runs are [`crate::attack::run::top_level_runs`]: the restarts when
//! `restarts > 1` (each a whole run of the family, SEA included), else SEA's losses or a worst
//! case's attacks. Each run is exactly the one `run_members` would start (same settings, seeds
//! and goal); without early stop (which ends the ensemble once the runs so far suffice) nothing
//! else couples them, so [`merge`] of the runs in order gives the same result, history and mIoU
//! worst case included. A defense stays on one worker (its defended maps and EOT members).

use crate::attack::ensemble::members::{merge, relay, run_member};
use crate::attack::loops::common::Observer;
use crate::attack::loops::outcome::{AttackResult, Control, Progress};
use crate::attack::run::{BatchImage, GoalMaps, Setup, top_level_runs};
use crate::attack::spec::attack_spec::AttackSpec;
use crate::error::{Error, Result};
use crate::model::Segmenter;

/// Why the attack of `spec` cannot be split by its runs (`None`: it can).
pub fn unsplittable_runs(spec: &AttackSpec) -> Option<&'static str> {
    if spec.defense.is_some() {
        return Some("a defense keeps its maps and EOT members on one worker");
    }
    if spec.early_stop.is_some() {
        return Some("early stop ends the ensemble once the runs so far suffice");
    }
    if spec.restarts < 2 && !spec.kind.is_ensemble() {
        return Some("one run (no restarts, not an ensemble)");
    }
    None
}

/// How many top-level runs the attack of `spec` has.
pub fn run_count(spec: &AttackSpec) -> Result<usize> {
    let cfg = spec.pgd_config(spec.radius()?.value, spec.seed)?;
    Ok(top_level_runs(spec.kind, &cfg).len())
}

/// Runs `first..first + count` of the attack of `spec` on the whole batch `images`, each
/// finished as the ensemble finishes its runs. The observer sees them with the ensemble's
/// counter (the steps of the runs before `first` counted as run).
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
    let setup = Setup::new(model, images, spec, maps, None, spec.seed)?;
    let members = setup.runs();
    let chosen = members.get(first..first + count).filter(|c| !c.is_empty()).ok_or_else(|| {
        Error::InvalidArgument(format!("runs {first}..{} are not runs of an attack of {}", first + count, members.len()))
    })?;
    let total = members.iter().map(|m| m.cfg.total_steps(m.kind)).sum();
    let x = setup.batch(model)?;
    let mut offset: usize = members[..first].iter().map(|m| m.cfg.total_steps(m.kind)).sum();
    let mut out = Vec::with_capacity(count);
    for (j, member) in chosen.iter().enumerate() {
        let mut stopped = false;
        let run = {
            let mut forward = relay(&mut observer, offset, total, &mut stopped);
            let mut shown = |p: &Progress| match forward(p) {
                // a stop asked of one part cannot stop the others: only cancel applies
                Control::Stop => Control::Continue,
                c => c,
            };
            run_member(model, x.clone(), &setup.goal, member, first + j, &setup.cfg, Some(&mut shown)).await?
        };
        offset += run.steps_run;
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
    use crate::attack::ensemble::restarts::run_with_restarts;
    use crate::attack::loops::norm::Norm;
    use crate::attack::settings::{AttackKind, PgdConfig};
    use crate::attack::spec::goal::Goal;
    use crate::attack::loops::testing::{Toy, batch};
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
                let whole = block_on(run_with_restarts(kind, &toy, x.clone(), &goal, &cfg, None)).unwrap();
                let members = top_level_runs(kind, &cfg);
                let parts: Vec<AttackResult> =
                    members.iter().enumerate().map(|(j, m)| block_on(run_member(&toy, x.clone(), &goal, m, j, &cfg, None)).unwrap()).collect();
                assert_eq!(parts.len(), if kind == AttackKind::Sea { 3 } else { restarts });
                assert_eq!(merge_runs(parts, 3).unwrap(), whole, "{kind:?} × {restarts} {goal:?}");
            }
        }
    }

    #[test]
    fn only_independent_runs_split() {
        let spec = |json: &str| AttackSpec::from_json(json).unwrap();
        assert_eq!(unsplittable_runs(&spec(r#"{"kind": "sea"}"#)), None);
        assert_eq!(unsplittable_runs(&spec(r#"{"kind": "worst-case", "members": [{"kind": "pgd"}, {"kind": "dag"}]}"#)), None);
        assert_eq!(run_count(&spec(r#"{"kind": "worst-case", "members": [{"kind": "pgd"}, {"kind": "dag"}]}"#)).unwrap(), 2);
        assert_eq!(unsplittable_runs(&spec(r#"{"kind": "pgd", "restarts": 3}"#)), None);
        assert_eq!(run_count(&spec(r#"{"kind": "sea"}"#)).unwrap(), 3);
        assert_eq!(run_count(&spec(r#"{"kind": "dag", "restarts": 4}"#)).unwrap(), 4);
        for json in [r#"{"kind": "apgd"}"#, r#"{"kind": "sea", "early_stop": 0.5}"#] {
            assert!(unsplittable_runs(&spec(json)).is_some(), "{json}");
        }
    }
}
