//! The work units of an experiment: every measurement split by model, task (clean pass, one
//! attack setting, one adaptive attack on one defense, the transfer rows) and chunk of images
//! (the attack batches). A unit is computed alone, from its own images, so any process can do
//! any unit; its result ([`super::work::UnitResult`]) adds up exactly with the others'.
//! Each unit has a key: the sha256 of everything its result depends on (the models, the specs,
//! the seed, the batch size and the bytes of its images) — a rerun finds finished units by it.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::file::ExperimentFile;
use super::items::ItemRef;
use crate::attack::GoalKind;
use crate::error::{Error, Result};

/// What a unit measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case")]
pub enum Task {
    /// The model on clean images, undefended and with each defense.
    Clean { model: usize },
    /// One attack setting against the undefended model: its scores, and each defense on the
    /// crafted images (non-adaptive).
    Attack { model: usize, attack: usize, eps: usize, seed: u64 },
    /// The same setting crafted against one defended model (adaptive).
    Adaptive { model: usize, attack: usize, eps: usize, seed: u64, defense: usize },
    /// A transfer model on the clean transfer images.
    TransferClean { model: usize },
    /// Images crafted on one transfer model, scored on every transfer model.
    TransferCraft { source: usize },
}

/// One unit: a task on the images `images` (indices into the experiment's or, for the
/// transfer tasks, the transfer set's images).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// What it measures.
    pub task: Task,
    /// Its images.
    pub images: Range<usize>,
    /// The content key (hex).
    pub key: String,
    /// For messages: `espnetv2-voc: apgd ε=2/255 seed 0, images 1–2`.
    pub description: String,
}

impl Task {
    /// The images of this task's set that its goal needs besides its own: for `targeted-image`,
    /// the target image (its clean map is the goal of every image).
    pub(crate) fn target_image(&self, exp: &ExperimentFile) -> Option<usize> {
        let attack = match *self {
            Task::Attack { attack, .. } | Task::Adaptive { attack, .. } => &exp.attacks[attack],
            Task::TransferCraft { .. } => exp.transfer_attack().ok()?,
            _ => return None,
        };
        (attack.goal == GoalKind::TargetedImage).then(|| attack.target_index.unwrap_or(1) - 1)
    }

    fn describe(&self, exp: &ExperimentFile) -> String {
        let m = |i: usize| exp.models[i].as_str();
        let setting = |attack: usize, eps: usize, seed: u64| {
            let a = &exp.attacks[attack];
            format!("{} ε={} seed {seed}", a.label(), a.eps[eps].text)
        };
        match self {
            Task::Clean { model } => format!("{}: clean", m(*model)),
            Task::Attack { model, attack, eps, seed } => format!("{}: {}", m(*model), setting(*attack, *eps, *seed)),
            Task::Adaptive { model, attack, eps, seed, defense } => {
                format!("{}: {}, {} (adaptive)", m(*model), setting(*attack, *eps, *seed), exp.defenses[*defense].label())
            }
            Task::TransferClean { model } => format!("transfer: clean {}", transfer_models(exp)[*model]),
            Task::TransferCraft { source } => format!("transfer: craft on {}", transfer_models(exp)[*source]),
        }
    }

    /// Everything the task's result depends on, besides the images.
    fn key_material(&self, exp: &ExperimentFile) -> Result<serde_json::Value> {
        let attack_setting = |attack: usize, eps: usize, seed: u64| {
            let a = &exp.attacks[attack];
            serde_json::json!({ "attack": a, "eps": a.eps[eps].value, "seed": seed })
        };
        let v = match *self {
            Task::Clean { model } => serde_json::json!({ "model": exp.models[model], "defenses": exp.defenses }),
            Task::Attack { model, attack, eps, seed } => serde_json::json!({
                "model": exp.models[model], "setting": attack_setting(attack, eps, seed), "defenses": exp.defenses
            }),
            Task::Adaptive { model, attack, eps, seed, defense } => serde_json::json!({
                "model": exp.models[model], "setting": attack_setting(attack, eps, seed), "defense": exp.defenses[defense]
            }),
            Task::TransferClean { model } => serde_json::json!({ "model": transfer_models(exp)[model] }),
            Task::TransferCraft { source } => {
                let t = exp.transfer.as_ref().ok_or_else(|| Error::InvalidArgument("no [transfer] section".into()))?;
                serde_json::json!({
                    "source": t.models[source], "targets": t.models, "attack": exp.transfer_attack()?,
                    "eps": t.eps.value, "seed": exp.seeds[0]
                })
            }
        };
        Ok(serde_json::json!({ "schema": "advseg.unit/1", "task": self, "what": v, "batch": exp.batch }))
    }
}

fn transfer_models(exp: &ExperimentFile) -> &[String] {
    exp.transfer.as_ref().map_or(&[], |t| t.models.as_slice())
}

/// The tasks of the experiment in report order (per model: clean, then each attack × ε ×
/// seed followed by its adaptive runs; then the transfer rows).
pub(crate) fn tasks(exp: &ExperimentFile) -> Vec<(Task, bool)> {
    let mut out = Vec::new();
    for model in 0..exp.models.len() {
        out.push((Task::Clean { model }, false));
        for (attack, a) in exp.attacks.iter().enumerate() {
            let seeds: &[u64] = if a.random_start() { &exp.seeds } else { &exp.seeds[..1] };
            for eps in 0..a.eps.len() {
                for &seed in seeds {
                    out.push((Task::Attack { model, attack, eps, seed }, false));
                    for (defense, d) in exp.defenses.iter().enumerate() {
                        if d.adaptive {
                            out.push((Task::Adaptive { model, attack, eps, seed, defense }, false));
                        }
                    }
                }
            }
        }
    }
    if let Some(t) = &exp.transfer {
        out.extend((0..t.models.len()).map(|model| (Task::TransferClean { model }, true)));
        out.extend((0..t.models.len()).map(|source| (Task::TransferCraft { source }, true)));
    }
    out
}

/// Every unit of the experiment: each task on each chunk of `exp.batch` images of its set
/// (`items`, or `transfer_items` for the transfer tasks).
pub(crate) fn plan(exp: &ExperimentFile, items: &[ItemRef], transfer_items: &[ItemRef]) -> Result<Vec<Unit>> {
    let mut units = Vec::new();
    for (task, on_transfer_set) in tasks(exp) {
        let set = if on_transfer_set { transfer_items } else { items };
        let material = task.key_material(exp)?;
        let target = task.target_image(exp);
        for start in (0..set.len()).step_by(exp.batch.max(1)) {
            let r = start..(start + exp.batch).min(set.len());
            // a targeted-image goal also depends on the chunk that holds the target image
            let mut hashes: Vec<&str> = set[r.clone()].iter().map(|i| i.hash.as_str()).collect();
            if let Some(t) = target.filter(|&t| t < set.len()) {
                let c = (t / exp.batch) * exp.batch;
                hashes.extend(set[c..(c + exp.batch).min(set.len())].iter().map(|i| i.hash.as_str()));
            }
            let key = sha256_hex(&serde_json::json!({ "task": material, "images": hashes }).to_string());
            let description = format!("{}, images {}–{}", task.describe(exp), r.start + 1, r.end);
            units.push(Unit { task: task.clone(), images: r, key, description });
        }
    }
    Ok(units)
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::folder::Pair;

    fn refs(n: usize) -> Vec<ItemRef> {
        (0..n)
            .map(|i| ItemRef {
                pair: Pair { name: format!("{i}"), image: format!("{i}.png").into(), label: format!("{i}_label.png").into(), labels: Default::default() },
                hash: format!("h{i}"),
            })
            .collect()
    }

    fn exp() -> ExperimentFile {
        ExperimentFile::parse(super::super::file::tests::GOOD).unwrap()
    }

    #[test]
    fn units_cover_every_task_and_chunk_with_distinct_stable_keys() {
        let e = exp();
        let items = refs(5);
        let units = plan(&e, &items, &items).unwrap();
        let n_tasks = tasks(&e).len();
        let chunks = 5usize.div_ceil(e.batch);
        assert_eq!(units.len(), n_tasks * chunks);
        let mut keys: Vec<&str> = units.iter().map(|u| u.key.as_str()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), units.len(), "keys must differ");
        assert_eq!(plan(&e, &items, &items).unwrap(), units, "the plan is deterministic");
        // another image's bytes change only the units of its chunk (and, for a targeted-image
        // goal, of every chunk whose target it holds)
        let mut changed = items.clone();
        changed[4].hash = "other".into();
        let again = plan(&e, &changed, &changed).unwrap();
        let differ: Vec<&Unit> = units.iter().zip(&again).filter(|(a, b)| a.key != b.key).map(|(a, _)| a).collect();
        assert!(!differ.is_empty());
        assert!(differ.iter().all(|u| u.images.contains(&4)), "{differ:?}");
        assert_eq!(units[0].description, format!("{}: clean, images 1–{}", e.models[0], e.batch));
    }
}
