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

use super::ensemble::{Member, run_members};
use super::goal::Goal;
use super::loss::LossKind;
use super::outcome::AttackResult;
use super::pgd::{Observer, PgdConfig};
use super::spec::AttackKind;
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
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    cfg.validate()?;
    run_members(AttackKind::Apgd, model, x, goal, &runs(cfg), cfg.early_stop, observer).await
}

/// The runs of the ensemble of `cfg`: APGD once per loss, each keeping its most successful
/// iterate and recording its loss as the winner.
pub fn runs(cfg: &PgdConfig) -> Vec<Member> {
    members(cfg)
        .into_iter()
        .map(|loss| Member { cfg: cfg.clone().with_loss(loss).with_keep_best(true).with_losses(None), loss: Some(loss) })
        .collect()
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::apgd::apgd;
    use crate::attack::norm::Norm;
    use crate::attack::outcome::{Control, Progress};
    use crate::attack::pgd::tests::{Toy, batch};
    use crate::backend;
    use crate::error::Error;
    use crate::util::block_on;

    fn run(goal: &Goal, cfg: &PgdConfig, x: Tensor<4>) -> Result<AttackResult> {
        block_on(sea(&Toy::new(&backend::cpu()), x, goal, cfg, None))
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
                for loss in LossKind::SEA {
                    let member = cfg.clone().with_loss(loss).with_keep_best(true);
                    let alone = block_on(apgd(&Toy::new(&d), x.clone(), &goal, &member, None)).unwrap();
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
        let alone = block_on(apgd(&Toy::new(&d), x, &Goal::untargeted(), &cfg.clone().with_loss(LossKind::Js).with_keep_best(true), None)).unwrap();
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
        block_on(sea(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut obs))).unwrap();
        let steps: Vec<usize> = seen.iter().map(|s| s.0).collect();
        assert_eq!(steps, vec![0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 10, 11, 12]);
        assert!(seen.iter().all(|s| s.1 == 12));
        // a stop in the second member ends the ensemble with what it has
        let mut stop = |p: &Progress| if p.step == 6 { Control::Stop } else { Control::Continue };
        let r = block_on(sea(&Toy::new(&d), x.clone(), &Goal::untargeted(), &cfg, Some(&mut stop))).unwrap();
        assert_eq!((r.steps_run, r.stopped_early), (6, true));
        assert!(r.adversarial.per_image.iter().all(|s| s.winning_loss.is_some_and(|l| l != LossKind::Js)));
        let mut cancel = |p: &Progress| if p.step == 9 { Control::Cancel } else { Control::Continue };
        let e = block_on(sea(&Toy::new(&d), x, &Goal::untargeted(), &cfg, Some(&mut cancel))).unwrap_err();
        assert_eq!(e, Error::Cancelled);
    }
}
