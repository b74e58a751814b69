//! The experiment file behind `advseg eval --experiment FILE`: clean, attacked and defended
//! (non-adaptive and adaptive) metrics per ε, targeted agreement, and the transfer matrix,
//! from one TOML file.
//!
//! ```toml
//! name = "voc-shared"
//! images = "shared:fixtures/images/voc"   # NAME.png + NAME_label.png pairs ("shared:" = ../shared)
//! # or a dataset in its standard layout (see `crate::data::layout`):
//! # images = { dataset = "voc", root = "/data/VOCdevkit", split = "val", limit = 100 }
//! models = ["espnetv2-voc", "deeplabv3-mnv2-voc"]
//! seeds = [0]                              # one run per seed where an attack uses randomness
//! batch = 2                                # images per PGD batch
//!
//! [[attacks]]
//! name = "pgd-ce"
//! goal = "untargeted"                      # or targeted-image (target_index) / targeted-class (target_class)
//! loss = "ce"                              # ce, segpgd, cospgd
//! norm = "linf"                            # linf, l2
//! eps = ["2/255", "4/255", "8/255"]
//! steps = 10
//! step_factor = 0.25                       # α = step_factor · ε (see AttackSpec for every key)
//! random_start = false
//! # reference = "clean"                   # untargeted: attack the clean map (default: the ground truth)
//!
//! [[defenses]]
//! name = "multi-scale"
//! multiscale = { scales = [0.5, 0.75, 1.0, 1.25], flip = true, combine = "mean" }
//!
//! [[defenses]]
//! name = "jpeg-75"
//! reconstruct = ["jpeg:75"]
//!
//! [transfer]
//! models = ["espnetv2-voc", "espnetv2-voc-s1.0", "deeplabv3-mnv2-voc"]
//! attack = "pgd-ce"
//! eps = "4/255"
//! ```
//!
//! Protocol. Every image is resized to each model's native input with Pillow's bilinear filter
//! (the reference preprocessing). Predicted maps are compared with ground truth after a
//! nearest resize to the label size, one confusion matrix over all images (void ignored).
//! Attacks run against the *undefended* model; each defense is then evaluated non-adaptively
//! (on those images) and adaptively (on images crafted against the defended model: EOT through
//! multi-scale inference, BPDA through reconstructions, see [`crate::defense`]). Targeted goals
//! also report the agreement with the target map (for `targeted-image`, over the other images).
//! The transfer matrix crafts on each source model at its size, rounds the adversarial image to
//! 8 bits (what a saved file holds), resizes it to each target model's size with Pillow's
//! bilinear filter and reports the target's mIoU against ground truth.
//!
//! The same file gives the same JSON: seeds fix every random choice and the JSON holds no
//! timings (those go to the Markdown and to [`super::ExperimentResult::seconds`]).
//!
//! `[[attacks]]` entries are [`AttackSpec`]s and `[[defenses]]` entries [`DefenseSpec`]s — the
//! same objects the CLI and the page use — with a `name` each.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::attack::{AttackSpec, GoalKind, MapOrigin, Radius};
use crate::data::ImageSource;
use crate::defense::DefenseSpec;
use crate::error::{Error, Result};

/// The experiment file (TOML), as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    /// Name for the report.
    pub name: String,
    /// Free text for the report.
    #[serde(default)]
    pub description: String,
    /// Folder of `NAME.png|jpg` + `NAME_label.png` pairs (or Cityscapes' `X_leftImg8bit.png` +
    /// `X_gtFine_labelTrainIds.png`), or a dataset in its standard layout:
    /// `{ dataset = "voc" | "cityscapes", root = …, split = "val", limit = … }`
    /// ([`crate::data::layout`]). A leading `shared:` in a path means the shared folder
    /// (`$ADVSEG_SHARED`, default `../shared`).
    pub images: ImageSource,
    /// Zoo model names.
    pub models: Vec<String>,
    /// Seeds of the random starts (attacks without random start run once, with the first).
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Images per PGD batch.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Use at most this many images (sorted by name); all when absent.
    #[serde(default)]
    pub max_images: Option<usize>,
    /// Attacks (each with a `name`; `eps` may list several radii).
    #[serde(default)]
    pub attacks: Vec<AttackSpec>,
    /// Defenses (each with a `name`).
    #[serde(default)]
    pub defenses: Vec<DefenseSpec>,
    /// Transferability matrix.
    #[serde(default)]
    pub transfer: Option<TransferSpec>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_batch() -> usize {
    2
}

/// The transfer matrix of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    /// Models, as sources (rows) and targets (columns).
    pub models: Vec<String>,
    /// Name of the attack of `[[attacks]]` whose settings craft the perturbations.
    pub attack: String,
    /// The radius.
    pub eps: Radius,
    /// Images, if not the experiment's (e.g. Cityscapes models need Cityscapes images).
    #[serde(default)]
    pub images: Option<ImageSource>,
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Fail on a repeated or missing name, quoting it.
fn unique_names<'a>(what: &str, names: impl Iterator<Item = Option<&'a String>>) -> Result<Vec<&'a str>> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, n) in names.enumerate() {
        let n = n.ok_or_else(|| invalid(format!("{what} {} has no name", i + 1)))?;
        if seen.contains(&n.as_str()) {
            return Err(invalid(format!("two {what}s are named '{n}'")));
        }
        seen.push(n);
    }
    Ok(seen)
}

impl ExperimentFile {
    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let mut f: ExperimentFile = toml::from_str(text).map_err(|e| invalid(format!("experiment file: {e}")))?;
        // every image of an experiment has ground truth: untargeted attacks attack it unless the
        // entry says `reference = "clean"`, as SEA's and APGD's authors evaluate
        for a in f.attacks.iter_mut().filter(|a| a.goal == GoalKind::Untargeted && a.reference.is_none()) {
            a.reference = Some(MapOrigin::GroundTruth);
        }
        f.validate()?;
        Ok(f)
    }

    /// Read and parse a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))
    }

    /// Check names and settings without loading anything heavy.
    pub fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(invalid("the experiment names no models".into()));
        }
        let specs: Vec<_> = self.models.iter().map(|m| crate::model::zoo::spec(m)).collect::<Result<_>>()?;
        same_dataset(&self.images, &specs)?;
        if self.seeds.is_empty() {
            return Err(invalid("seeds must list at least one seed".into()));
        }
        if self.batch == 0 {
            return Err(invalid("batch must be at least 1, got 0".into()));
        }
        unique_names("attack", self.attacks.iter().map(|a| a.name.as_ref()))?;
        for a in &self.attacks {
            let name = a.label();
            let at = |e: Error| invalid(format!("attack '{name}': {e}"));
            a.validate().map_err(at)?;
            if let Some(c) = &a.target_class {
                for s in &specs {
                    c.resolve(s).map_err(at)?;
                }
            }
            if a.goal == GoalKind::TargetedMap && a.target_map.is_none() {
                return Err(at(invalid("targeted-map needs target_map (a class-index PNG) in an experiment".into())));
            }
        }
        unique_names("defense", self.defenses.iter().map(|d| d.name.as_ref()))?;
        for d in &self.defenses {
            d.config()?;
        }
        if let Some(t) = &self.transfer {
            if t.models.is_empty() {
                return Err(invalid("transfer lists no models".into()));
            }
            let tspecs: Vec<_> = t.models.iter().map(|m| crate::model::zoo::spec(m)).collect::<Result<_>>()?;
            same_dataset(t.images.as_ref().unwrap_or(&self.images), &tspecs)?;
            self.transfer_attack()?;
        }
        Ok(())
    }

    /// The `[[attacks]]` entry the transfer matrix crafts with.
    pub fn transfer_attack(&self) -> Result<&AttackSpec> {
        let t = self.transfer.as_ref().ok_or_else(|| invalid("the experiment has no [transfer] section".into()))?;
        self.attacks
            .iter()
            .find(|a| a.name.as_deref() == Some(t.attack.as_str()))
            .ok_or_else(|| invalid(format!("transfer names attack '{}', which [[attacks]] lacks", t.attack)))
    }
}

/// A dataset layout's labels must be the models' classes (a flat folder is not checked).
fn same_dataset(images: &ImageSource, specs: &[&crate::model::zoo::ModelSpec]) -> Result<()> {
    if let Some(d) = images.dataset() {
        // the person/background models take VOC and Cityscapes labels (people → person)
        // (an ONNX model with its own classes is scored by class index: not checked)
        if let Some(s) = specs.iter().find(|s| s.dataset_classes() && s.dataset != d && s.dataset != crate::data::Dataset::Selfie) {
            return Err(invalid(format!("model '{}' predicts {} classes, but the images are {}", s.name, s.dataset.title(), images.describe())));
        }
    }
    Ok(())
}

/// Resolve an images path of an experiment file.
pub fn resolve_images(path: &str) -> PathBuf {
    match path.strip_prefix("shared:") {
        Some(rest) => std::env::var_os("ADVSEG_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared"))
            .join(rest),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const GOOD: &str = r#"
name = "t"
images = "shared:fixtures/images/voc"
models = ["deeplabv3-mnv2-voc"]

[[attacks]]
name = "a"
eps = ["4/255"]

[[defenses]]
name = "ms"
multiscale = { scales = [1.0], flip = true }

[[defenses]]
name = "jpeg"
reconstruct = ["jpeg:75"]
adaptive = false

[transfer]
models = ["deeplabv3-mnv2-voc"]
attack = "a"
eps = "2/255"
"#;

    #[test]
    fn a_dataset_layout_must_hold_the_models_classes() {
        let voc = GOOD.replace(r#"images = "shared:fixtures/images/voc""#, r#"images = { dataset = "voc", root = "/data/VOCdevkit" }"#);
        let f = ExperimentFile::parse(&voc).unwrap();
        assert_eq!(f.images.dataset(), Some(crate::data::Dataset::Voc));
        let city = voc.replace(r#"dataset = "voc""#, r#"dataset = "cityscapes""#);
        let e = ExperimentFile::parse(&city).unwrap_err().to_string();
        assert!(e.contains("deeplabv3-mnv2-voc") && e.contains("cityscapes val (/data/VOCdevkit)"), "{e}");
    }

    #[test]
    fn parses_with_defaults() {
        let f = ExperimentFile::parse(GOOD).unwrap();
        assert_eq!(f.seeds, vec![0]);
        assert_eq!(f.batch, 2);
        let a = &f.attacks[0];
        let cfg = a.pgd_config(4.0 / 255.0, 0).unwrap();
        assert_eq!(cfg.steps, 10);
        assert_eq!(a.reference, Some(MapOrigin::GroundTruth));
        assert!((cfg.alpha() - 1.0 / 255.0).abs() < 1e-12);
        let ms = f.defenses[0].config().unwrap();
        assert_eq!(ms.multiscale.as_ref().unwrap().scales, vec![1.0]);
        assert!(!f.defenses[1].adaptive);
        assert_eq!(f.defenses[1].config().unwrap().label(), "jpeg:75");
    }

    #[test]
    fn bad_files_are_explained() {
        for (edit, needle) in [
            (("deeplabv3-mnv2-voc\"]", "unicornnet\"]"), "'unicornnet'"),
            (("eps = [\"4/255\"]", "eps = [\"x\"]"), "'x'"),
            (("name = \"a\"\n", "name = \"a\"\ngoal = \"sideways\"\n"), "'sideways'"),
            (("name = \"a\"\n", "name = \"a\"\ngoal = \"targeted-class\"\ntarget_class = \"unicorn\"\n"), "'unicorn'"),
            (("name = \"a\"\n", "name = \"a\"\ngoal = \"targeted-image\"\n"), "target_index"),
            (("reconstruct = [\"jpeg:75\"]", "reconstruct = [\"jpeg:0\"]"), "got 0"),
            (("attack = \"a\"", "attack = \"b\""), "'b'"),
            (("name = \"t\"", "name = \"t\"\ncolour = 1"), "colour"),
            (("multiscale = { scales = [1.0], flip = true }", ""), "does nothing"),
        ] {
            let text = GOOD.replacen(edit.0, edit.1, 1);
            let e = ExperimentFile::parse(&text).unwrap_err().to_string();
            assert!(e.contains(needle), "{edit:?}: {e}");
        }
    }

    #[test]
    fn shared_prefix_resolves() {
        let p = resolve_images("plain/dir");
        assert_eq!(p, PathBuf::from("plain/dir"));
        assert!(resolve_images("shared:fixtures").ends_with("fixtures"));
    }
}
