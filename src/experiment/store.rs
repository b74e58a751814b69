//! The folder of a resumable or sharded experiment run:
//!
//! ```text
//! DIR/manifest.json        the experiment, its image lists and every unit (key, task, images)
//! DIR/units/KEY.json       one finished unit (written to a temporary name, then renamed:
//!                          a killed process leaves no half-written unit behind)
//! DIR/rows[-K-of-N].jsonl  per-image rows as units finish (one file per shard)
//! ```
//!
//! Shards may share one folder (a cluster's shared file system) or each have their own;
//! `advseg merge` reads the units of all of them.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::ExperimentFile;
use super::result::Skipped;
use super::shard::Shard;
use super::tally::Tally;
use super::unit::{Task, Unit};
use super::work::UnitResult;
use crate::error::{Error, Result};

/// A unit as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedUnit {
    /// Content key.
    pub key: String,
    /// What it measures.
    pub task: Task,
    /// First image (0-based) and one past the last.
    pub images: (usize, usize),
    /// For people.
    pub description: String,
}

/// What every shard of a run agrees on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `advseg.shards/1`.
    pub schema: String,
    /// The experiment.
    pub experiment: ExperimentFile,
    /// The images used, in order.
    pub images: Vec<String>,
    /// The transfer set's images (the same set unless `[transfer] images` names another).
    pub transfer_images: Vec<String>,
    /// Images left out, with the reason.
    pub skipped: Vec<Skipped>,
    /// Every unit, in plan order.
    pub units: Vec<ListedUnit>,
}

/// The manifest schema.
pub const MANIFEST_SCHEMA: &str = "advseg.shards/1";

impl Manifest {
    /// The units as the runner uses them.
    pub fn plan(&self) -> Vec<Unit> {
        self.units
            .iter()
            .map(|u| Unit { task: u.task.clone(), images: u.images.0..u.images.1, key: u.key.clone(), description: u.description.clone() })
            .collect()
    }
}

/// A run's folder.
pub struct Store {
    dir: PathBuf,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))
}

/// Write `text` to `path` through a temporary file in the same folder and a rename.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::InvalidArgument(format!("JSON encoding failed: {e}")))
}

impl Store {
    /// Open (creating) `dir`.
    pub fn create(dir: &Path) -> Result<Store> {
        let units = dir.join("units");
        std::fs::create_dir_all(&units).map_err(|e| Error::io(&units, e))?;
        Ok(Store { dir: dir.to_path_buf() })
    }

    /// Open an existing run folder (for merging).
    pub fn open(dir: &Path) -> Result<Store> {
        if !dir.join("manifest.json").is_file() {
            return Err(Error::InvalidArgument(format!("{} holds no experiment run (no manifest.json)", dir.display())));
        }
        Ok(Store { dir: dir.to_path_buf() })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> Result<Manifest> {
        read_json(&self.dir.join("manifest.json"))
    }

    /// Write `m`, or check that the folder's manifest is the same run (same experiment, images
    /// and units): a folder holds one run.
    pub fn write_manifest(&self, m: &Manifest) -> Result<()> {
        let path = self.dir.join("manifest.json");
        if path.is_file() {
            let old: Manifest = read_json(&path)?;
            if &old == m {
                return Ok(());
            }
            let what = if old.experiment != m.experiment { "another experiment" } else { "other images" };
            return Err(Error::InvalidArgument(format!(
                "{} holds a run of {what} ('{}'); give another --out folder or remove it",
                self.dir.display(),
                old.experiment.name
            )));
        }
        write_atomic(&path, &to_json(m)?)
    }

    fn unit_path(&self, key: &str) -> PathBuf {
        self.dir.join("units").join(format!("{key}.json"))
    }

    /// The finished unit `key`, if this folder holds it; a file that cannot be read (cut short
    /// by a full disk, edited) counts as not done and is said on stderr.
    pub fn load(&self, key: &str) -> Option<UnitResult> {
        let path = self.unit_path(key);
        if !path.is_file() {
            return None;
        }
        match read_json::<UnitResult>(&path) {
            Ok(r) if r.key == key => Some(r),
            Ok(_) => {
                eprintln!("advseg: {} holds another unit's result; redoing it", path.display());
                None
            }
            Err(e) => {
                eprintln!("advseg: redoing an unreadable unit: {e}");
                None
            }
        }
    }

    /// Save a finished unit.
    pub fn save(&self, r: &UnitResult) -> Result<()> {
        write_atomic(&self.unit_path(&r.key), &to_json(r)?)
    }

    /// Append the per-image rows of a finished unit to this shard's JSON-lines file.
    pub fn append_rows(&self, shard: Shard, exp: &ExperimentFile, unit: &Unit, r: &UnitResult) -> Result<()> {
        let name = if shard == Shard::ALL { "rows.jsonl".to_string() } else { format!("rows-{}-of-{}.jsonl", shard.index, shard.count) };
        let path = self.dir.join(name);
        let mut text = String::new();
        for (part, tally) in parts(exp, &unit.task, r) {
            for row in &tally.images {
                let line = serde_json::json!({
                    "unit": unit.description, "part": part, "image": row.image, "miou": row.miou.0,
                    "pixel_accuracy": row.pixel_accuracy.0, "target_agreement": row.target_agreement.map(|a| a.0),
                });
                text += &line.to_string();
                text.push('\n');
            }
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        f.write_all(text.as_bytes()).map_err(|e| Error::io(&path, e))
    }
}

/// The tallies of a unit's result, each with what it is.
fn parts<'a>(exp: &ExperimentFile, task: &Task, r: &'a UnitResult) -> Vec<(String, &'a Tally)> {
    let mut out: Vec<(String, &Tally)> = Vec::new();
    let main = match task {
        Task::Adaptive { defense, .. } => format!("{} (adaptive)", exp.defenses[*defense].label()),
        _ => "undefended".to_string(),
    };
    out.extend(r.main.iter().map(|t| (main.clone(), t)));
    out.extend(r.clean_target.iter().map(|t| ("clean vs target".to_string(), t)));
    for (i, t) in r.each.iter().enumerate() {
        let name = match task {
            Task::TransferCraft { .. } => exp.transfer.as_ref().map(|x| format!("on {}", x.models[i])).unwrap_or_default(),
            Task::Clean { .. } => exp.defenses[i].label(),
            _ => format!("{} (non-adaptive)", exp.defenses[i].label()),
        };
        out.push((name, t));
    }
    out
}
