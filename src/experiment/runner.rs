//! The experiment runner: the images are listed and checked, the work is split into units
//! ([`super::unit`]: per model the clean pass, every attack × ε × seed against the undefended
//! model with each defense non-adaptively, each adaptive attack, then the transfer rows; each
//! on one batch of images), the units of this shard are done — or read back where a folder
//! already holds them — and, when every unit is there, the result is assembled from them.
//! One process, N shards merged, or a run killed and resumed: the same units, the same JSON.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::Device;

use super::assemble::{Finished, assemble};
use super::file::ExperimentFile;
use super::items::{ItemRef, scan_items};
use super::result::{ExperimentProgress, ExperimentResult, Skipped};
use super::shard::Shard;
use super::store::{ListedUnit, MANIFEST_SCHEMA, Manifest, Store};
use super::unit::{Unit, plan};
use super::work::{UnitResult, Worker};
use crate::error::{Error, Result};

/// The images of an experiment, listed and checked, and its units.
pub struct Prepared {
    /// The experiment.
    pub exp: ExperimentFile,
    items: Vec<ItemRef>,
    transfer_items: Vec<ItemRef>,
    skipped: Vec<Skipped>,
    units: Vec<Unit>,
}

impl Prepared {
    /// List and check the images (each is decoded once) and plan the units.
    pub fn new(exp: &ExperimentFile) -> Result<Prepared> {
        exp.validate()?;
        let mut skipped = Vec::new();
        let items = scan_items(&exp.images, exp.max_images, &mut skipped)?;
        let transfer_items = match exp.transfer.as_ref().and_then(|t| t.images.as_ref()) {
            Some(source) => scan_items(source, exp.max_images, &mut skipped)?,
            None => items.clone(),
        };
        let units = plan(exp, &items, &transfer_items)?;
        Ok(Prepared { exp: exp.clone(), items, transfer_items, skipped, units })
    }

    /// Work units in all.
    pub fn n_units(&self) -> usize {
        self.units.len()
    }

    /// What a run folder records of this run.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            schema: MANIFEST_SCHEMA.into(),
            experiment: self.exp.clone(),
            images: self.items.iter().map(|i| i.name().to_string()).collect(),
            transfer_images: self.transfer_items.iter().map(|i| i.name().to_string()).collect(),
            skipped: self.skipped.clone(),
            units: self
                .units
                .iter()
                .map(|u| ListedUnit { key: u.key.clone(), task: u.task.clone(), images: (u.images.start, u.images.end), description: u.description.clone() })
                .collect(),
        }
    }
}

/// How many units a run did and found done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSummary {
    /// Units of this shard.
    pub units: usize,
    /// Done by this run.
    pub done: usize,
    /// Found finished in the folder (a resumed run).
    pub resumed: usize,
}

/// Do the units of `shard` on `device` (any backend; autodiff is added), saving each in
/// `store` as it finishes and skipping those it already holds. Returns the results of the
/// shard's units by key. `on_progress` sees each unit as it starts.
pub fn run_units(
    p: &Prepared,
    device: &Device,
    store: Option<&Store>,
    shard: Shard,
    on_progress: &mut dyn FnMut(&ExperimentProgress),
) -> Result<(HashMap<String, UnitResult>, ShardSummary)> {
    if let Some(s) = store {
        s.write_manifest(&p.manifest())?;
    }
    let ad = crate::backend::autodiff(device);
    let mut worker = Worker::new(&p.exp, &p.items, &p.transfer_items, ad)?;
    let mine: Vec<&Unit> = p.units.iter().enumerate().filter(|(i, _)| shard.holds(*i)).map(|(_, u)| u).collect();
    let total = mine.len();
    let mut summary = ShardSummary { units: total, done: 0, resumed: 0 };
    let mut results = HashMap::new();
    for (i, u) in mine.into_iter().enumerate() {
        if let Some(r) = store.and_then(|s| s.load(&u.key)) {
            on_progress(&ExperimentProgress { done: i, total, message: format!("{} (done before)", u.description) });
            summary.resumed += 1;
            results.insert(u.key.clone(), r);
            continue;
        }
        on_progress(&ExperimentProgress { done: i, total, message: u.description.clone() });
        let r = worker.run(u)?;
        if let Some(s) = store {
            s.save(&r)?;
            s.append_rows(shard, &p.exp, u, &r)?;
        }
        summary.done += 1;
        results.insert(u.key.clone(), r);
    }
    on_progress(&ExperimentProgress { done: total, total, message: "done".into() });
    Ok((results, summary))
}

/// The result of a prepared run from its units' results (all must be there).
pub fn result_of(p: &Prepared, results: &HashMap<String, UnitResult>) -> Result<ExperimentResult> {
    let f = Finished { exp: &p.exp, units: &p.units, results };
    let names = p.items.iter().map(|i| i.name().to_string()).collect();
    assemble(&f, names, p.transfer_items.len(), p.skipped.clone())
}

/// Run a whole experiment in this process, in memory.
pub fn run(exp: &ExperimentFile, device: &Device, on_progress: &mut dyn FnMut(&ExperimentProgress)) -> Result<ExperimentResult> {
    let p = Prepared::new(exp)?;
    let (results, _) = run_units(&p, device, None, Shard::ALL, on_progress)?;
    result_of(&p, &results)
}

/// Merge the run folders `dirs` (the shards of one run, in any number of folders) into the
/// result a single run gives. Every unit must be in one of them; the manifests must agree.
pub fn merge(dirs: &[PathBuf]) -> Result<ExperimentResult> {
    let stores: Vec<Store> = dirs.iter().map(|d| Store::open(d)).collect::<Result<_>>()?;
    let first = stores.first().ok_or_else(|| Error::InvalidArgument("merge needs at least one run folder".into()))?;
    let manifest = first.manifest()?;
    for s in &stores[1..] {
        if s.manifest()? != manifest {
            return Err(Error::InvalidArgument(format!(
                "{} and {} hold different runs (experiment, images or units differ)",
                first.dir().display(),
                s.dir().display()
            )));
        }
    }
    let units = manifest.plan();
    let mut results = HashMap::new();
    let mut missing = Vec::new();
    for (i, u) in units.iter().enumerate() {
        match stores.iter().find_map(|s| s.load(&u.key)) {
            Some(r) => {
                results.insert(u.key.clone(), r);
            }
            None => missing.push((i, &u.description)),
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().take(5).map(|(i, d)| format!("#{} {d}", i + 1)).collect();
        return Err(Error::InvalidArgument(format!(
            "{} of {} units are not done in {}: {}{} — rerun their shards (a unit i of N shards is in shard (i-1) mod N + 1)",
            missing.len(),
            units.len(),
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            list.join("; "),
            if missing.len() > 5 { "; …" } else { "" }
        )));
    }
    let f = Finished { exp: &manifest.experiment, units: &units, results: &results };
    assemble(&f, manifest.images.clone(), manifest.transfer_images.len(), manifest.skipped.clone())
}
