//! Several runs on one batch as one attack — SEA's losses ([`super::sea`]), restarts
//! ([`super::restarts`]) and a worst case's attacks ([`super::worst_case`]): the observer sees
//! one iteration counter over all runs, and the result keeps, per image, the run that is worst
//! for the defender.
//!
//! "Worst for the defender" compares the real-valued adversarial images' agreement with the
//! goal's reference map ([`crate::attack::ImageStats::agreement_reference`]): untargeted, the
//! lowest pixel accuracy against the reference (clean prediction or ground truth); targeted, the
//! highest agreement with the target. Ties keep the earlier run, so a run that adds nothing
//! changes nothing. The 8-bit images follow the real-valued ones. With several runs the result
//! also carries the mIoU worst case ([`super::greedy`]).

use burn::tensor::Tensor;

use super::greedy::miou_worst_case;
use crate::attack::dispatch::run_kind;
use crate::attack::loops::common::Observer;
use crate::attack::loops::outcome::{AttackResult, Control, ImageStats, Outcome, Progress, StepRecord};
use crate::attack::settings::{Member, PgdConfig};
use crate::attack::spec::goal::Goal;
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::metrics::compare_maps;
use crate::metrics::distance::pooled_psnr;
use crate::model::SegModel;

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

/// The observer of a run that forwards to the ensemble's `observer`: iterate `step` of the run
/// becomes `offset + step` of the ensemble's `total` steps (`offset`: the steps the earlier runs
/// took). Sets `stopped` when the ensemble's observer says stop.
pub fn relay<'s>(
    observer: &'s mut Option<Observer<'_>>,
    offset: usize,
    total: usize,
    stopped: &'s mut bool,
) -> impl FnMut(&Progress) -> Control + 's {
    move |p: &Progress| {
        let Some(obs) = observer.as_mut() else { return Control::Continue };
        let c = obs(&Progress { step: offset + p.step, steps: total, ..p.clone() });
        *stopped |= c == Control::Stop;
        c
    }
}

/// Per image, the outcome of the run `win[i]` (each shifted by `offsets[run]` steps); pooled
/// scores recomputed.
pub(crate) fn pick(outcomes: &[&Outcome], win: &[usize], offsets: &[usize], clean: &[ClassMap], reference: &[ClassMap], k: usize) -> Result<Outcome> {
    let images = win.iter().enumerate().map(|(i, &w)| outcomes[w].images[i].clone()).collect();
    let maps: Vec<ClassMap> = win.iter().enumerate().map(|(i, &w)| outcomes[w].maps[i].clone()).collect();
    let per_image: Vec<ImageStats> = win
        .iter()
        .enumerate()
        .map(|(i, &w)| ImageStats { kept_step: outcomes[w].per_image[i].kept_step.map(|s| s + offsets[w]), ..outcomes[w].per_image[i] })
        .collect();
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

/// Record run `index` of an ensemble in its result: every image's `winner`, and SEA's loss as
/// its `winning_loss`.
fn record(member: &Member, index: usize, run: &mut AttackResult) {
    let quantized = run.quantized.iter_mut().flat_map(|q| q.per_image.iter_mut());
    for s in run.adversarial.per_image.iter_mut().chain(quantized) {
        s.winner = Some(index);
        if let Some(loss) = member.loss {
            s.winning_loss = Some(loss);
        }
    }
}

/// One run of an ensemble, as [`run_members`] runs it: `member`'s settings with the ensemble's
/// 8-bit rounding, recorded as run `index`.
pub async fn run_member<M: SegModel + ?Sized>(
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    member: &Member,
    index: usize,
    outer: &PgdConfig,
    observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    let cfg = member.cfg.clone().with_quantize(outer.quantize).with_grid_steps(outer.grid_steps);
    let mut run = run_kind(member.kind, model, x, goal, &cfg, observer).await?;
    record(member, index, &mut run);
    Ok(run)
}

/// Run the `members` one after the other on the batch `x`, the observer seeing one counter over
/// all of them, and [`merge`] them (`outer`: the ensemble's settings — its early stop and 8-bit
/// rounding). A stop ends the ensemble after the current run (keeping what it has), a cancel
/// aborts it, and it ends early once every image's kept result reaches `early_stop`.
pub async fn run_members<M: SegModel + ?Sized>(
    model: &M,
    x: Tensor<4>,
    goal: &Goal,
    members: &[Member],
    outer: &PgdConfig,
    mut observer: Option<Observer<'_>>,
) -> Result<AttackResult> {
    let total = members.iter().map(|m| m.cfg.total_steps(m.kind)).sum();
    let mut runs: Vec<AttackResult> = Vec::with_capacity(members.len());
    let mut stopped = false;
    for (m, member) in members.iter().enumerate() {
        let offset = runs.iter().map(|r| r.steps_run).sum();
        let run = {
            let mut forward = relay(&mut observer, offset, total, &mut stopped);
            Box::pin(run_member(model, x.clone(), goal, member, m, outer, Some(&mut forward))).await?
        };
        runs.push(run);
        if (stopped || reaches(&runs, outer.early_stop)) && m + 1 < members.len() {
            return merge(runs, model.num_classes(), true);
        }
    }
    merge(runs, model.num_classes(), stopped)
}

/// One result from the runs on one batch (same clean images, goal and reference maps): per
/// image the run that is worst for the defender ([`winners`]); the 8-bit images follow the
/// real-valued ones. `steps_run` adds up, the histories follow each other with the steps
/// counted over the whole ensemble, and so do the kept steps. With several runs, also the mIoU
/// worst case ([`miou_worst_case`]). `k`: the model's number of classes.
pub fn merge(runs: Vec<AttackResult>, k: usize, stopped_early: bool) -> Result<AttackResult> {
    let first = runs.first().ok_or_else(|| Error::InvalidArgument("an ensemble of no runs".into()))?;
    if runs.iter().any(|r| r.reference_maps != first.reference_maps || r.targeted != first.targeted) {
        return Err(Error::InvalidArgument("the runs of an ensemble have different goals".into()));
    }
    let win = winners(&runs);
    let offsets: Vec<usize> = runs.iter().scan(0, |o, r| Some(std::mem::replace(o, *o + r.steps_run))).collect();
    let (clean, reference) = (&first.clean_maps, &first.reference_maps);
    let adversarial = pick(&runs.iter().map(|r| &r.adversarial).collect::<Vec<_>>(), &win, &offsets, clean, reference, k)?;
    let quantized_runs = runs.iter().map(|r| r.quantized.as_ref()).collect::<Option<Vec<_>>>();
    let quantized = match &quantized_runs {
        Some(q) => Some(pick(q, &win, &offsets, clean, reference, k)?),
        None => None,
    };
    let miou = if runs.len() > 1 { Some(miou_worst_case(&runs, &win, &offsets, k)?) } else { None };
    let perturbation = win.iter().enumerate().map(|(i, &w)| runs[w].perturbation[i].clone()).collect();
    let mut history = Vec::new();
    for (r, &offset) in runs.iter().zip(&offsets) {
        history.extend(r.history.iter().map(|h| StepRecord { step: offset + h.step, ..h.clone() }));
    }
    Ok(AttackResult {
        targeted: first.targeted,
        steps_run: runs.iter().map(|r| r.steps_run).sum(),
        stopped_early,
        clean_maps: clean.clone(),
        reference_maps: reference.clone(),
        clean_vs_reference: first.clean_vs_reference.clone(),
        adversarial,
        quantized,
        perturbation,
        history,
        miou_worst_case: miou,
    })
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))] // the blocking wrappers are native only
mod tests {
    use super::*;
    use crate::attack::spec::goal::Goal;
    use crate::attack::loops::testing::{Toy, batch};
    use crate::attack::loops::pgd::pgd;
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
            let mw = m.miou_worst_case.as_ref().unwrap();
            let chosen: Vec<ClassMap> = mw.winners.iter().enumerate().map(|(i, &w)| runs[w].adversarial.maps[i].clone()).collect();
            assert_eq!(mw.adversarial.maps, chosen);
            let miou = |maps: &[ClassMap]| compare_maps(maps, &m.reference_maps, 3).unwrap().miou;
            let better = |a: f64, b: f64| if goal.is_targeted() { a >= b - 1e-12 } else { a <= b + 1e-12 };
            assert!(better(mw.adversarial.vs_reference.miou, m.adversarial.vs_reference.miou), "the greedy choice starts from the accuracy choice");
            for r in &runs {
                assert!(better(mw.adversarial.vs_reference.miou, miou(&r.adversarial.maps)), "no single run beats the mIoU choice");
            }
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
