//! Restarts for every attack family: [`run_with_restarts`] runs [`crate::attack::run_kind`]
//! `cfg.restarts` times and keeps, per image, the run that is worst for the defender
//! ([`super::members`]: untargeted the lowest pixel accuracy against the reference map,
//! targeted the highest agreement with the target).
//!
//! Restart 0 runs the attack as configured (so `restarts = 1` is exactly the plain attack);
//! restart `r ≥ 1` starts from a random point of the ε-ball drawn with
//! [`member_seed`]`(seed, r)`. The budget is `restarts` times that of one run; the observer sees
//! one counter over all of them, a stop ends after the current run, a cancel aborts, and the
//! runs end early once every image's kept result reaches `early_stop`.
//!
//! This is the entry every front end uses ([`crate::attack::run_attack`], the pool, the
//! experiments): it validates the settings once.

use burn::tensor::Tensor;

use super::members::run_members;
use crate::attack::dispatch::run_kind;
use crate::attack::loops::common::Observer;
use crate::attack::loops::outcome::AttackResult;
use crate::attack::settings::{AttackKind, Member, PgdConfig, member_seed};
use crate::attack::spec::goal::Goal;
use crate::error::Result;
use crate::model::SegModel;

/// Run the attack family `kind` with `cfg.restarts` restarts (see the module documentation;
/// otherwise the contract of [`crate::attack::run_kind`]).
pub async fn run_with_restarts<M: SegModel + ?Sized>(
    kind: AttackKind,
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    cfg: &PgdConfig,
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    if cfg.restarts == 1 {
        return run_kind(kind, model, x, goal, cfg, observer).await;
    }
    cfg.validate()?;
    run_members(model, x, goal, &members(kind, cfg), cfg, observer).await
}

/// The runs of `cfg.restarts` restarts of family `kind` (see the module documentation).
pub fn members(kind: AttackKind, cfg: &PgdConfig) -> Vec<Member> {
    (0..cfg.restarts)
        .map(|r| Member {
            kind,
            cfg: match r {
                0 => cfg.clone().with_restarts(1),
                _ => cfg.clone().with_restarts(1).with_random_start(true).with_seed(member_seed(cfg.seed, r)),
            },
            label: format!("restart {}", r + 1),
            loss: None,
        })
        .collect()
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::loops::norm::Norm;
    use crate::attack::loops::outcome::{Control, Progress};
    use crate::attack::loops::testing::{Toy, batch};
    use crate::backend;
    use crate::util::block_on;

    #[test]
    fn seeds_differ_per_restart() {
        assert_eq!(member_seed(7, 0), 7);
        let s: Vec<u64> = (0..6).map(|r| member_seed(7, r)).collect();
        assert!((0..6).all(|i| (0..i).all(|j| s[i] != s[j])), "{s:?}");
        assert_ne!(member_seed(8, 1), member_seed(7, 1));
    }

    #[test]
    fn restarts_keep_per_image_the_strongest_run_for_every_kind() {
        let d = backend::cpu();
        let (xs, x) = batch(31, 3, 4, 5, &d);
        for kind in [AttackKind::Pgd, AttackKind::Apgd, AttackKind::Sea] {
            for (norm, eps) in [(Norm::Linf, 0.04), (Norm::L2, 0.3)] {
                for (goal, targeted) in [(Goal::untargeted(), false), (Goal::to_class(2), true)] {
                    let cfg = PgdConfig::new().with_eps(eps).with_steps(3).with_norm(norm).with_seed(5).with_restarts(3);
                    let r = block_on(run_with_restarts(kind, &Toy::new(&d), x.clone(), &goal, &cfg, None)).unwrap();
                    let per_run = if kind == AttackKind::Sea { 9 } else { 3 };
                    assert_eq!((r.steps_run, r.stopped_early), (3 * per_run, false), "{kind:?}");
                    for k in 0..3 {
                        let one = match k {
                            0 => cfg.clone().with_restarts(1),
                            _ => cfg.clone().with_restarts(1).with_random_start(true).with_seed(member_seed(5, k)),
                        };
                        let single = block_on(run_kind(kind, &Toy::new(&d), x.clone(), &goal, &one, None)).unwrap();
                        assert_eq!(single.clean_maps, r.clean_maps);
                        for (i, (s, a)) in r.adversarial.per_image.iter().zip(&single.adversarial.per_image).enumerate() {
                            let (got, run) = (s.agreement_reference, a.agreement_reference);
                            assert!(if targeted { got >= run } else { got <= run }, "{kind:?} {norm} restart {k} image {i}");
                        }
                    }
                    for (i, img) in r.adversarial.images.iter().enumerate() {
                        assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
                        let delta: Vec<f32> = img.data.iter().zip(&xs[i * 60..(i + 1) * 60]).map(|(a, b)| a - b).collect();
                        assert!(norm.measure(&delta) <= eps + 1e-5, "{kind:?} {norm} image {i}");
                        assert_eq!(delta, r.perturbation[i]);
                    }
                }
            }
        }
    }

    #[test]
    fn one_restart_is_the_plain_attack_and_progress_spans_all_runs() {
        let d = backend::cpu();
        let (_, x) = batch(32, 2, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.05).with_steps(2);
        for kind in [AttackKind::Pgd, AttackKind::Apgd] {
            let a = block_on(run_with_restarts(kind, &Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, None)).unwrap();
            let b = block_on(run_kind(kind, &Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, None)).unwrap();
            assert_eq!(a, b, "{kind:?}");
        }
        let mut seen = Vec::new();
        let mut obs = |p: &Progress| {
            seen.push((p.step, p.steps));
            Control::Continue
        };
        let cfg = cfg.with_restarts(2);
        let r = block_on(run_with_restarts(AttackKind::Apgd, &Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut obs))).unwrap();
        assert_eq!(seen, vec![(0, 4), (1, 4), (2, 4), (2, 4), (3, 4), (4, 4)]);
        assert_eq!(r.history.iter().map(|h| h.step).collect::<Vec<_>>(), vec![0, 1, 2, 2, 3, 4]);
        let mut cancel = |p: &Progress| if p.step == 3 { Control::Cancel } else { Control::Continue };
        let e = block_on(run_with_restarts(AttackKind::Apgd, &Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut cancel)));
        assert_eq!(e.unwrap_err(), crate::error::Error::Cancelled);
        let e = block_on(run_with_restarts(AttackKind::Apgd, &Toy::new(&d), x, &Goal::untargeted(), &cfg.with_restarts(0), None));
        assert!(e.unwrap_err().to_string().contains("got 0"));
    }
}
