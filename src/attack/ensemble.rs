//! Several runs on one batch as one attack — SEA's members ([`super::sea()`]) and the restarts
//! ([`super::run_with_restarts`]): the observer sees one iteration counter over all runs, and
//! the result keeps, per image, the run that is worst for the defender.
//!
//! "Worst for the defender" compares the real-valued adversarial images' agreement with the
//! goal's reference map ([`super::ImageStats::agreement_reference`]): untargeted, the lowest
//! pixel accuracy against the reference (clean prediction or ground truth); targeted, the
//! highest agreement with the target. Ties keep the earlier run, so a run that adds nothing
//! changes nothing.

use burn::tensor::Tensor;

use super::dispatch::run_kind;
use super::goal::Goal;
use super::loss::LossKind;
use super::outcome::{AttackResult, Control, ImageStats, Outcome, Progress, StepRecord};
use super::pgd::{Observer, PgdConfig};
use super::spec::AttackKind;
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::model::SegModel;
use crate::metrics::compare_maps;
use crate::metrics::distance::pooled_psnr;

/// Whether `candidate` is strictly worse for the defender than `kept` (see the module
/// documentation).
pub fn stronger(candidate: &ImageStats, kept: &ImageStats, targeted: bool) -> bool {
    if targeted {
        candidate.agreement_reference > kept.agreement_reference
    } else {
        candidate.agreement_reference < kept.agreement_reference
    }
}

/// Per image, the index of the run it keeps.
pub fn winners(runs: &[AttackResult]) -> Vec<usize> {
    let Some(first) = runs.first() else { return Vec::new() };
    (0..first.adversarial.per_image.len())
        .map(|i| {
            (1..runs.len()).fold(0, |best, r| {
                let (c, k) = (&runs[r].adversarial.per_image[i], &runs[best].adversarial.per_image[i]);
                if stronger(c, k, first.targeted) { r } else { best }
            })
        })
        .collect()
}

/// Whether every image's kept result reaches the success rate `early_stop` (fraction of valid
/// pixels off the reference, or on the target).
pub fn reaches(runs: &[AttackResult], early_stop: Option<f64>) -> bool {
    let (Some(threshold), Some(first)) = (early_stop, runs.first()) else { return false };
    winners(runs).iter().enumerate().all(|(i, &w)| {
        let a = runs[w].adversarial.per_image[i].agreement_reference;
        (if first.targeted { a } else { 1.0 - a }) >= threshold
    })
}

/// The observer of run `run` of `runs` that forwards to the ensemble's `observer`: iterate
/// `step` of a run of `steps` becomes `offset + step` of `runs · steps` (`offset`: the steps
/// the earlier runs took). Sets `stopped` when the ensemble's observer says stop.
pub fn relay<'s>(
    observer: &'s mut Option<Observer<'_>>,
    offset: usize,
    runs: usize,
    stopped: &'s mut bool,
) -> impl FnMut(&Progress) -> Control + 's {
    move |p: &Progress| {
        let Some(obs) = observer.as_mut() else { return Control::Continue };
        let c = obs(&Progress { step: offset + p.step, steps: runs * p.steps, ..p.clone() });
        *stopped |= c == Control::Stop;
        c
    }
}

/// Per image, the outcome of the run it keeps; pooled scores recomputed.
fn pick(outcomes: &[&Outcome], win: &[usize], clean: &[ClassMap], reference: &[ClassMap], k: usize) -> Result<Outcome> {
    let images = win.iter().enumerate().map(|(i, &w)| outcomes[w].images[i].clone()).collect();
    let maps: Vec<ClassMap> = win.iter().enumerate().map(|(i, &w)| outcomes[w].maps[i].clone()).collect();
    let per_image: Vec<ImageStats> = win.iter().enumerate().map(|(i, &w)| outcomes[w].per_image[i]).collect();
    Ok(Outcome {
        vs_clean: compare_maps(&maps, clean, k)?,
        vs_reference: compare_maps(&maps, reference, k)?,
        linf: per_image.iter().map(|s| s.linf).fold(0.0, f64::max),
        l2: per_image.iter().map(|s| s.l2).fold(0.0, f64::max),
        psnr: pooled_psnr(&per_image.iter().map(|s| s.psnr).collect::<Vec<_>>()),
        images,
        maps,
        per_image,
    })
}

/// One run of an ensemble: its settings and, for SEA, the loss each image it keeps records as
/// its `winning_loss` (`None` leaves what the run itself recorded, e.g. restarts of SEA).
pub struct Member {
    /// The run's settings.
    pub cfg: PgdConfig,
    /// The loss to record as the winner.
    pub loss: Option<LossKind>,
}

impl Member {
    /// Record the member's loss (if any) as every image's `winning_loss` in its run `run`.
    pub fn record(&self, run: &mut AttackResult) {
        if let Some(loss) = self.loss {
            let quantized = run.quantized.iter_mut().flat_map(|q| q.per_image.iter_mut());
            for s in run.adversarial.per_image.iter_mut().chain(quantized) {
                s.winning_loss = Some(loss);
            }
        }
    }
}

/// Run the `members` of family `kind` one after the other on the batch `x`, the observer
/// seeing one counter over all of them, and [`merge`] them. A stop ends the ensemble after the
/// current run (keeping what it has), a cancel aborts it, and it ends early once every image's
/// kept result reaches `early_stop`.
pub async fn run_members<M: SegModel + ?Sized>(
    kind: AttackKind,
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    members: &[Member],
    early_stop: Option<f64>,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    let mut runs: Vec<AttackResult> = Vec::with_capacity(members.len());
    let mut stopped = false;
    for (m, member) in members.iter().enumerate() {
        let offset = runs.iter().map(|r| r.steps_run).sum();
        let mut run = {
            let mut forward = relay(&mut observer, offset, members.len(), &mut stopped);
            run_kind(kind, model, x.clone(), goal, &member.cfg, Some(&mut forward)).await?
        };
        member.record(&mut run);
        runs.push(run);
        if (stopped || reaches(&runs, early_stop)) && m + 1 < members.len() {
            return merge(runs, model.num_classes(), true);
        }
    }
    merge(runs, model.num_classes(), stopped)
}

/// One result from the runs on one batch (same clean images, goal and reference maps): per
/// image the run that is worst for the defender ([`winners`]); the 8-bit images follow the
/// real-valued ones. `steps_run` adds up, the histories follow each other with the steps
/// counted over the whole ensemble. `k`: the model's number of classes.
pub fn merge(runs: Vec<AttackResult>, k: usize, stopped_early: bool) -> Result<AttackResult> {
    let first = runs.first().ok_or_else(|| Error::InvalidArgument("an ensemble of no runs".into()))?;
    if runs.iter().any(|r| r.reference_maps != first.reference_maps || r.targeted != first.targeted) {
        return Err(Error::InvalidArgument("the runs of an ensemble have different goals".into()));
    }
    let win = winners(&runs);
    let (clean, reference) = (&first.clean_maps, &first.reference_maps);
    let adversarial = pick(&runs.iter().map(|r| &r.adversarial).collect::<Vec<_>>(), &win, clean, reference, k)?;
    let quantized = match runs.iter().map(|r| r.quantized.as_ref()).collect::<Option<Vec<_>>>() {
        Some(q) => Some(pick(&q, &win, clean, reference, k)?),
        None => None,
    };
    let perturbation = win.iter().enumerate().map(|(i, &w)| runs[w].perturbation[i].clone()).collect();
    let (mut history, mut offset) = (Vec::new(), 0);
    for r in &runs {
        history.extend(r.history.iter().map(|h| StepRecord { step: offset + h.step, ..h.clone() }));
        offset += r.steps_run;
    }
    Ok(AttackResult {
        targeted: first.targeted,
        steps_run: offset,
        stopped_early,
        clean_maps: clean.clone(),
        reference_maps: reference.clone(),
        clean_vs_reference: first.clean_vs_reference.clone(),
        adversarial,
        quantized,
        perturbation,
        history,
    })
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::goal::Goal;
    use crate::attack::pgd::tests::{Toy, batch};
    use crate::attack::pgd::{PgdConfig, pgd};
    use crate::backend;
    use crate::util::block_on;

    #[test]
    fn merge_keeps_per_image_the_worst_case_and_rescores_the_batch() {
        let d = backend::cpu();
        let (_, x) = batch(41, 4, 4, 4, &d);
        for goal in [Goal::untargeted(), Goal::to_class(0)] {
            let runs: Vec<AttackResult> = [0.01, 0.08, 0.03]
                .iter()
                .map(|&eps| block_on(pgd(&Toy::new(&d), x.clone(), &goal, &PgdConfig::new().with_eps(eps).with_steps(2).with_quantize(true), None)).unwrap())
                .collect();
            let win = winners(&runs);
            let m = merge(runs.clone(), 3, false).unwrap();
            for (i, &w) in win.iter().enumerate() {
                let got = m.adversarial.per_image[i].agreement_reference;
                for r in &runs {
                    let a = r.adversarial.per_image[i].agreement_reference;
                    assert!(if goal.is_targeted() { got >= a } else { got <= a }, "image {i}");
                }
                // ties keep the earlier run
                assert!((0..w).all(|e| stronger(&runs[w].adversarial.per_image[i], &runs[e].adversarial.per_image[i], goal.is_targeted())));
                assert_eq!(m.adversarial.images[i], runs[w].adversarial.images[i]);
                assert_eq!(m.quantized.as_ref().unwrap().maps[i], runs[w].quantized.as_ref().unwrap().maps[i]);
                assert_eq!(m.perturbation[i], runs[w].perturbation[i]);
            }
            assert_eq!(m.adversarial.vs_reference, compare_maps(&m.adversarial.maps, &m.reference_maps, 3).unwrap());
            assert_eq!(m.adversarial.vs_clean, compare_maps(&m.adversarial.maps, &m.clean_maps, 3).unwrap());
            assert_eq!(m.steps_run, 6);
            assert_eq!(m.history.iter().map(|h| h.step).collect::<Vec<_>>(), vec![0, 1, 2, 2, 3, 4, 4, 5, 6]);
            assert!(reaches(&runs, Some(0.0)) && !reaches(&runs, None));
        }
        assert!(merge(Vec::new(), 3, false).is_err());
    }
}
