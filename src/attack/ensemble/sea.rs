//! SEA, the Segmentation Ensemble Attack (Croce, Singh & Hein, "Towards Reliable Evaluation
//! and Fast Training of Robust Semantic Segmentation Models", ECCV 2024), run as its authors run
//! it (`apgd_largereps` and the SEA driver of their repository): APGD
//! ([`crate::attack::loops::apgd`]) once per loss — by default SEA's complementary losses,
//! masked CE, balanced masked CE and the Jensen–Shannon divergence ([`LossKind::SEA`], see
//! [`crate::attack::losses::sea`]) — each with
//!
//! - its own random start (seed [`member_seed`]`(seed, k)` for the `k`-th loss; with
//!   `random_start`, SEA's default),
//! - the progressive radius (three APGD runs at 2ε, 1.5ε, ε; SEA's default), and
//! - the step-size schedule following plain CE (`track_loss`), as the authors track `ce-avg`:
//!   the masked losses fall as pixels flip, which would halve the steps of a run that succeeds;
//!
//! and per image the result that is worst for the defender ([`super::members`]): untargeted the
//! lowest pixel accuracy against the reference map, targeted the highest agreement with the
//! target; the mIoU worst case beside it ([`super::greedy`]).
//!
//! Budget: each loss runs the full `steps` (default 300, the authors' evaluation), so SEA with
//! `M` losses costs `M` times one APGD run. The observer sees the iterates of all losses with one
//! counter; a stop ends the ensemble after the current loss (keeping what it has), a cancel
//! aborts it, and the ensemble ends early once every image's kept result reaches `early_stop`.
//! Each image records the loss of the run it kept ([`crate::attack::ImageStats::winning_loss`]).

use crate::attack::losses::loss::LossKind;
use crate::attack::settings::{AttackKind, Member, PgdConfig, member_seed};

/// The losses of the ensemble of `cfg`: `cfg.losses`, else SEA's.
pub fn losses(cfg: &PgdConfig) -> Vec<LossKind> {
    cfg.losses.clone().unwrap_or_else(|| LossKind::SEA.to_vec())
}

/// The runs of the ensemble of `cfg`: APGD once per loss from its own seed, tracking CE.
pub fn runs(cfg: &PgdConfig) -> Vec<Member> {
    losses(cfg)
        .into_iter()
        .enumerate()
        .map(|(k, loss)| Member {
            kind: AttackKind::Apgd,
            cfg: cfg.clone().with_loss(loss).with_track_loss(Some(LossKind::Ce)).with_seed(member_seed(cfg.seed, k)).with_losses(None).with_restarts(1),
            label: loss.to_string(),
            loss: Some(loss),
        })
        .collect()
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::dispatch::run_kind;
    use crate::attack::loops::norm::Norm;
    use crate::attack::loops::outcome::AttackResult;
    use crate::attack::spec::goal::Goal;
    use crate::error::Result;
    use burn::tensor::Tensor;
    use crate::attack::loops::outcome::{Control, Progress};
    use crate::attack::loops::testing::{Toy, batch};
    use crate::backend;
    use crate::error::Error;
    use crate::util::block_on;

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        block_on(run_kind(AttackKind::Sea, &Toy::new(&backend::cpu()), x, goal, cfg, None))
    }

    fn observed(cfg: &PgdConfig, x: Tensor<4>, obs: &mut dyn FnMut(&Progress) -> Control) -> Result<AttackResult> {
        block_on(run_kind(AttackKind::Sea, &Toy::new(&backend::cpu()), x, &Goal::untargeted(), cfg, Some(obs)))
    }

    #[test]
    fn each_loss_runs_apgd_from_its_own_seed_tracking_ce() {
        let cfg = PgdConfig::new().with_seed(9).with_radius_schedule(true).with_random_start(true);
        let r = runs(&cfg);
        assert_eq!(r.iter().map(|m| m.loss).collect::<Vec<_>>(), LossKind::SEA.map(Some).to_vec());
        assert!(r.iter().all(|m| m.kind == AttackKind::Apgd && m.cfg.track_loss == Some(LossKind::Ce) && m.cfg.radius_schedule));
        assert_eq!(r[0].cfg.seed, 9);
        assert!(r[1].cfg.seed != 9 && r[2].cfg.seed != r[1].cfg.seed);
    }

    #[test]
    fn at_least_as_strong_per_image_as_each_member_alone_and_records_the_winner() {
        let d = backend::cpu();
        let (xs, x) = batch(21, 4, 4, 5, &d);
        for (goal, targeted) in [(Goal::untargeted(), false), (Goal::to_class(1), true)] {
            for norm in [Norm::Linf, Norm::L2] {
                let eps = if norm == Norm::L2 { 0.3 } else { 0.04 };
                let cfg = PgdConfig::new().with_eps(eps).with_steps(5).with_norm(norm).with_random_start(true).with_seed(3);
                let r = run(&goal, &cfg, x.clone()).unwrap();
                assert_eq!((r.steps_run, r.history.len(), r.stopped_early), (15, 18, false));
                for member in runs(&cfg) {
                    let loss = member.loss.unwrap();
                    let alone = block_on(run_kind(AttackKind::Apgd, &Toy::new(&d), x.clone(), &goal, &member.cfg, None)).unwrap();
                    for (i, (s, a)) in r.adversarial.per_image.iter().zip(&alone.adversarial.per_image).enumerate() {
                        let (got, member) = (s.agreement_reference, a.agreement_reference);
                        assert!(if targeted { got >= member } else { got <= member }, "{norm} {loss} image {i}: {got} vs {member}");
                        if s.winning_loss == Some(loss) {
                            assert_eq!(r.adversarial.images[i], alone.adversarial.images[i], "{norm} image {i}: the winner's image");
                        }
                    }
                }
                for (i, img) in r.adversarial.images.iter().enumerate() {
                    assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
                    let delta: Vec<f32> = img.data.iter().zip(&xs[i * 60..(i + 1) * 60]).map(|(a, b)| a - b).collect();
                    assert!(norm.measure(&delta) <= eps + 1e-5, "{norm} image {i}");
                    assert_eq!(delta, r.perturbation[i]);
                    assert!(r.adversarial.per_image[i].winning_loss.is_some());
                }
            }
        }
    }

    #[test]
    fn losses_choose_the_members() {
        let d = backend::cpu();
        let (_, x) = batch(22, 2, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.05).with_steps(4).with_losses(Some(vec![LossKind::Js]));
        let r = run(&Goal::untargeted(), &cfg, x.clone()).unwrap();
        let alone = block_on(run_kind(AttackKind::Apgd, &Toy::new(&d), x, &Goal::untargeted(), &runs(&cfg)[0].cfg, None)).unwrap();
        assert_eq!(r.adversarial.images, alone.adversarial.images);
        assert_eq!((r.steps_run, r.history, r.perturbation), (alone.steps_run, alone.history, alone.perturbation));
        assert!(r.adversarial.per_image.iter().all(|s| s.winning_loss == Some(LossKind::Js)));
        let e = run(&Goal::untargeted(), &cfg.with_losses(Some(Vec::new())), batch(1, 1, 4, 4, &d).1).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn progress_counts_over_the_ensemble_and_stop_and_cancel_work() {
        let d = backend::cpu();
        let (_, x) = batch(23, 2, 4, 4, &d);
        let cfg = PgdConfig::new().with_eps(0.05).with_steps(4);
        let mut seen = Vec::new();
        let mut obs = |p: &Progress| {
            seen.push((p.step, p.steps));
            Control::Continue
        };
        observed(&cfg, x.clone(), &mut obs).unwrap();
        let steps: Vec<usize> = seen.iter().map(|s| s.0).collect();
        assert_eq!(steps, vec![0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12]);
        assert!(seen.iter().all(|s| s.1 == 12));
        // a stop in the second member ends the ensemble with what it has
        let mut stop = |p: &Progress| if p.step == 6 { Control::Stop } else { Control::Continue };
        let r = observed(&cfg, x.clone(), &mut stop).unwrap();
        assert_eq!((r.steps_run, r.stopped_early), (6, true));
        assert!(r.adversarial.per_image.iter().all(|s| s.winning_loss.is_some_and(|l| l != LossKind::Js)));
        let mut cancel = |p: &Progress| if p.step == 9 { Control::Cancel } else { Control::Continue };
        let e = observed(&cfg, x, &mut cancel).unwrap_err();
        assert_eq!(e, Error::Cancelled);
    }
}
