//! The experiment's result from the results of its units: tallies of the chunks merged in
//! image order, then scored — the same steps whether the units ran in one process or in many
//! shards, so that both give the same JSON byte for byte.

use std::collections::HashMap;

use super::file::ExperimentFile;
use super::result::{AttackRow, DefenseScore, ExperimentResult, ModelResult, Skipped, TransferResult};
use super::tally::Tally;
use super::unit::{Task, Unit};
use super::work::UnitResult;
use crate::error::{Error, Result};
use crate::metrics::distance::pooled_psnr;
use crate::model::zoo;

/// The finished units of an experiment, by key.
pub(crate) struct Finished<'a> {
    pub exp: &'a ExperimentFile,
    pub units: &'a [Unit],
    pub results: &'a HashMap<String, UnitResult>,
}

impl Finished<'_> {
    /// The results of `task`'s units, in image order.
    fn of(&self, task: &Task) -> Result<Vec<&UnitResult>> {
        self.units
            .iter()
            .filter(|u| &u.task == task)
            .map(|u| self.results.get(&u.key).ok_or_else(|| Error::InvalidArgument(format!("unit not done: {}", u.description))))
            .collect()
    }

    fn main(&self, task: &Task, k: usize) -> Result<Tally> {
        let parts = self.of(task)?;
        let tallies: Vec<&Tally> = parts.iter().map(|r| r.main.as_ref().ok_or_else(|| missing(r, "main"))).collect::<Result<_>>()?;
        Tally::merged(k, tallies)
    }

    fn each(&self, task: &Task, i: usize, k: usize) -> Result<Tally> {
        let parts = self.of(task)?;
        Tally::merged(k, parts.iter().map(|r| r.each.get(i).ok_or_else(|| missing(r, "each"))).collect::<Result<Vec<_>>>()?)
    }

    fn seconds(&self, pred: impl Fn(&Task) -> bool) -> f64 {
        self.units.iter().filter(|u| pred(&u.task)).filter_map(|u| self.results.get(&u.key)).map(|r| r.seconds).sum()
    }
}

fn missing(r: &UnitResult, what: &str) -> Error {
    Error::InvalidArgument(format!("the result of '{}' has no '{what}' tally", r.description))
}

/// Everything measured on model `m` of the experiment.
fn model_result(f: &Finished<'_>, m: usize, n_images: usize) -> Result<ModelResult> {
    let exp = f.exp;
    let spec = zoo::spec(&exp.models[m])?;
    let k = spec.num_classes();
    let clean_task = Task::Clean { model: m };
    let clean = f.main(&clean_task, k)?;
    let mut clean_defended = Vec::new();
    for (i, d) in exp.defenses.iter().enumerate() {
        clean_defended.push((d.label(), f.each(&clean_task, i, k)?.score()?));
    }
    let mut attacks = Vec::new();
    for (ai, a) in exp.attacks.iter().enumerate() {
        let seeds: &[u64] = if a.random_start() { &exp.seeds } else { &exp.seeds[..1] };
        for (ei, eps) in a.eps.iter().enumerate() {
            for &seed in seeds {
                let task = Task::Attack { model: m, attack: ai, eps: ei, seed };
                let parts = f.of(&task)?;
                let attacked = f.main(&task, k)?;
                let clean_target_agreement = match a.is_targeted() {
                    true => {
                        let t: Vec<&Tally> = parts.iter().map(|r| r.clean_target.as_ref().ok_or_else(|| missing(r, "clean_target"))).collect::<Result<_>>()?;
                        Tally::merged(k, t)?.score()?.target_agreement
                    }
                    false => None,
                };
                let mut defenses = Vec::new();
                for (di, d) in exp.defenses.iter().enumerate() {
                    let adaptive = match d.adaptive {
                        true => Some(f.main(&Task::Adaptive { model: m, attack: ai, eps: ei, seed, defense: di }, k)?.score()?),
                        false => None,
                    };
                    defenses.push(DefenseScore { defense: d.label(), non_adaptive: f.each(&task, di, k)?.score()?, adaptive });
                }
                let psnrs: Vec<f64> = parts.iter().flat_map(|r| r.psnrs.iter().map(|p| p.0)).collect();
                attacks.push(AttackRow {
                    attack: a.label(),
                    reference: (a.goal == crate::attack::GoalKind::Untargeted).then(|| match a.reference() {
                        crate::attack::MapOrigin::GroundTruth => "ground-truth".to_string(),
                        crate::attack::MapOrigin::Predicted => "clean".to_string(),
                    }),
                    eps: eps.text.clone(),
                    eps_value: eps.value,
                    seed,
                    attacked: attacked.score()?,
                    clean_target_agreement,
                    linf: parts.iter().fold(0.0, |m, r| m.max(r.linf.0)),
                    psnr: pooled_psnr(&psnrs),
                    seconds: parts.iter().map(|r| r.craft_seconds).sum(),
                    defenses,
                    per_image: attacked.image_scores(),
                    detail: attacked.detail()?,
                });
            }
        }
    }
    Ok(ModelResult {
        model: spec.name.to_string(),
        input_size: spec.native_size,
        n_images,
        clean: clean.score()?,
        clean_defended,
        attacks,
        classes: spec.classes().iter().map(|c| c.to_string()).collect(),
        clean_per_image: clean.image_scores(),
        clean_detail: clean.detail()?,
    })
}

/// The transfer matrix.
fn transfer_result(f: &Finished<'_>, n_images: usize) -> Result<Option<TransferResult>> {
    let Some(t) = &f.exp.transfer else { return Ok(None) };
    let ks: Vec<usize> = t.models.iter().map(|m| Ok(zoo::spec(m)?.num_classes())).collect::<Result<_>>()?;
    let clean_miou = (0..t.models.len()).map(|i| Ok(f.main(&Task::TransferClean { model: i }, ks[i])?.score()?.miou)).collect::<Result<_>>()?;
    let (mut miou, mut pixel_accuracy) = (Vec::new(), Vec::new());
    for s in 0..t.models.len() {
        let task = Task::TransferCraft { source: s };
        let scores: Vec<_> = (0..t.models.len()).map(|j| f.each(&task, j, ks[j])?.score()).collect::<Result<_>>()?;
        miou.push(scores.iter().map(|s| s.miou).collect());
        pixel_accuracy.push(scores.iter().map(|s| s.pixel_accuracy).collect());
    }
    Ok(Some(TransferResult { models: t.models.clone(), attack: t.attack.clone(), eps: t.eps.text.clone(), n_images, clean_miou, miou, pixel_accuracy }))
}

/// The whole result; `images` and `transfer_images`: the names of the two sets.
pub(crate) fn assemble(f: &Finished<'_>, images: Vec<String>, n_transfer: usize, skipped: Vec<Skipped>) -> Result<ExperimentResult> {
    let models = (0..f.exp.models.len()).map(|m| model_result(f, m, images.len())).collect::<Result<Vec<_>>>()?;
    let mut seconds: Vec<(String, f64)> = f
        .exp
        .models
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mine = |t: &Task| matches!(*t, Task::Clean { model } | Task::Attack { model, .. } | Task::Adaptive { model, .. } if model == i);
            (name.clone(), f.seconds(mine))
        })
        .collect();
    let transfer = transfer_result(f, n_transfer)?;
    if transfer.is_some() {
        seconds.push(("transfer".into(), f.seconds(|t| matches!(t, Task::TransferClean { .. } | Task::TransferCraft { .. }))));
    }
    Ok(ExperimentResult { experiment: f.exp.clone(), images, skipped, models, transfer, seconds })
}
