//! [`AttackSpec`]: the one description of an attack that every front end becomes — the CLI's
//! flags, an experiment file's `[[attacks]]` entry (TOML) and the page's options (JSON) —
//! validated once, then turned into the loop's settings ([`PgdConfig`]) and a [`Goal`].
//!
//! ```toml
//! kind = "pgd"                  # the attack family: apgd (default) | pgd | sea | dag | worst-case
//! goal = "targeted-class"       # untargeted | targeted-image | targeted-class | targeted-map
//! # reference = "ground-truth"  # untargeted: attack the ground truth (default: the clean map;
//! #                             # experiments: the ground truth where every image has one)
//! target_class = "person"       # index or name
//! loss = "segpgd"               # ce | segpgd | cospgd | masked-ce | balanced-ce | js
//! norm = "linf"                 # linf | l2
//! eps = "8/255"                 # a number or a fraction; experiments may list several
//! steps = 10                    # default 10; sea: 300 per loss (its authors' evaluation)
//! step_factor = 0.25            # α = step_factor · ε (or step_size = "2/255"); apgd: the first step
//! random_start = false          # default false; sea: true (one seed per loss)
//! restarts = 1                  # runs from different random starts, per image the strongest
//! # radius_schedule = true      # apgd / sea: 2ε, 1.5ε, then ε (default: sea only)
//! # losses = ["masked-ce", "js"] # sea: the ensemble (default masked-ce, balanced-ce, js)
//! # members = [{ kind = "sea" }, { kind = "pgd", loss = "cospgd" }]  # worst-case: its attacks
//! # grid_steps = 10             # steps on the 8-bit grid for the saved images (default 0)
//! defense = { multiscale = { scales = [0.5, 1.0] }, adaptive = true }
//! ```
//!
//! The same object in JSON (what the page sends) has the same keys and values.

use serde::{Deserialize, Serialize};

use crate::attack::losses::loss::LossKind;
use crate::attack::loops::norm::Norm;
use crate::attack::settings::{Member, PgdConfig, member_seed};
pub use crate::attack::settings::AttackKind;
use crate::attack::spec::member_spec::MemberSpec;
use crate::attack::spec::radius::{Radius, one_or_list, one_or_many};
use crate::defense::DefenseSpec;
use crate::error::{Error, Result};
use crate::model::zoo::ModelSpec;

/// The most steps one attack may take (a guard against typos such as `steps = 10000000`).
pub const MAX_STEPS: usize = 100_000;
/// The most restarts of one attack (the same guard).
pub const MAX_RESTARTS: usize = 1_000;
/// SEA's steps per loss when `steps` is not given: its authors' evaluation setting.
pub const SEA_STEPS: usize = 300;

/// What the attack aims for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum GoalKind {
    /// Away from the reference map (the clean prediction, or the ground truth).
    #[default]
    Untargeted,
    /// Every image to the map of image `target_index` (1-based) of the batch.
    TargetedImage,
    /// One class everywhere (`target_class`).
    TargetedClass,
    /// A class-index map (`target_map`, or the map the caller supplies, e.g. a painted one).
    TargetedMap,
}

impl TryFrom<String> for GoalKind {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        Ok(match s.as_str() {
            "untargeted" => GoalKind::Untargeted,
            "targeted-image" => GoalKind::TargetedImage,
            "targeted-class" => GoalKind::TargetedClass,
            "targeted-map" => GoalKind::TargetedMap,
            other => {
                return Err(invalid(format!(
                    "unknown goal '{other}' (untargeted, targeted-image, targeted-class, targeted-map)"
                )));
            }
        })
    }
}

/// Where a map comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MapOrigin {
    /// The model's clean prediction (also written `clean`).
    #[default]
    #[serde(alias = "clean")]
    Predicted,
    /// The image's ground-truth label map.
    GroundTruth,
}

/// A class by index (`15`) or by name (`"person"`), resolved against the model's classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassRef {
    /// A class index.
    Index(u32),
    /// A class name.
    Name(String),
}

impl ClassRef {
    /// The class index for `model` (errors quote the value and the valid range or names).
    pub fn resolve(&self, model: &ModelSpec) -> Result<u8> {
        match self {
            ClassRef::Index(i) => model.parse_class(&i.to_string(), "target_class"),
            ClassRef::Name(n) => model.parse_class(n, "target_class"),
        }
    }
}

/// One attack, as every front end describes it (serde; absent keys take their defaults,
/// unknown keys are errors). See the module documentation for the TOML and JSON forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttackSpec {
    /// A name for tables (experiment files); optional elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The attack family.
    pub kind: AttackKind,
    /// What the attack aims for.
    pub goal: GoalKind,
    /// `untargeted`: push away from the clean prediction (`clean`, the CLI's and the page's
    /// default) or from the ground truth (`ground-truth`, the experiments' default where every
    /// image has one, as SEA's and APGD's authors attack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<MapOrigin>,
    /// `targeted-image`: the 1-based position in the batch (or data set) of the image whose map
    /// is the target of all images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_index: Option<usize>,
    /// `targeted-image`: that image's predicted or ground-truth map.
    pub target_source: MapOrigin,
    /// `targeted-class`: the class, by index or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_class: Option<ClassRef>,
    /// `targeted-map`: a class-index PNG (255 = don't care), nearest-resized to the input
    /// size; absent: the map the caller supplies (the page's painted map).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_map: Option<String>,
    /// `targeted-map`: pixels the map leaves at 255 keep their clean class (instead of being
    /// left out of the loss).
    pub keep_unpainted: bool,
    /// Targeted goals: restrict the target to the non-black pixels of this PNG.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// With `mask`: keep the clean prediction outside it (instead of ignoring those pixels).
    pub keep_outside: bool,
    /// The per-pixel loss.
    pub loss: LossKind,
    /// The threat model.
    pub norm: Norm,
    /// The radius ε (one value; experiment files may list several to sweep).
    #[serde(deserialize_with = "one_or_many", serialize_with = "one_or_list")]
    pub eps: Vec<Radius>,
    /// Gradient steps (default 10; SEA: 300 per loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Step size α in pixel units; default `step_factor · ε`. APGD and SEA: the initial step
    /// (default 2ε, targeted APGD ε/2), which then adapts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<Radius>,
    /// Step size as a multiple of ε (PGD's default 0.25 when `step_size` is absent; APGD and
    /// SEA: the initial step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_factor: Option<f64>,
    /// Start from a random point of the ε-ball (default: SEA yes, the others no).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_start: Option<bool>,
    /// Seed of the random start.
    pub seed: u64,
    /// Stop once every image's success rate reaches this fraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<f64>,
    /// Run the attack this many times (restart 0 as configured, the others from random starts
    /// seeded from `seed`) and keep per image the strongest result.
    pub restarts: usize,
    /// `apgd` / `sea`: SEA's progressive radius (three APGD runs at 2ε, 1.5ε and ε over 3/10,
    /// 3/10 and 4/10 of the steps; default: SEA yes, APGD no).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_schedule: Option<bool>,
    /// `sea`: the losses of the ensemble (default masked-ce, balanced-ce, js).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub losses: Option<Vec<LossKind>>,
    /// `worst-case`: its attacks (each with its own family and settings; the goal, radius,
    /// norm, seed and defense are the worst case's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberSpec>>,
    /// Gradient steps on the 8-bit grid inside the ball after the attack, for the saved images
    /// (see [`crate::attack::loops::quantize`]; default 0: only the two roundings).
    #[serde(skip_serializing_if = "is_zero")]
    pub grid_steps: usize,
    /// Read the loss and class maps back for progress and history every this many steps
    /// (PGD and APGD; 1: every step). On a GPU each read stalls the device.
    #[serde(skip_serializing_if = "is_one")]
    pub progress_every: usize,
    /// A defense in front of the model: the attack result is also evaluated on it, and with
    /// `adaptive` the perturbation is crafted against the defended model itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defense: Option<DefenseSpec>,
}

impl Default for AttackSpec {
    fn default() -> Self {
        AttackSpec {
            name: None,
            kind: AttackKind::Apgd,
            goal: GoalKind::Untargeted,
            reference: None,
            target_index: None,
            target_source: MapOrigin::Predicted,
            target_class: None,
            target_map: None,
            keep_unpainted: false,
            mask: None,
            keep_outside: false,
            loss: LossKind::Ce,
            norm: Norm::Linf,
            eps: vec![Radius::parse("8/255", "eps").expect("a valid literal")],
            steps: None,
            step_size: None,
            step_factor: None,
            random_start: None,
            seed: 0,
            early_stop: None,
            restarts: 1,
            radius_schedule: None,
            losses: None,
            members: None,
            grid_steps: 0,
            progress_every: 1,
            defense: None,
        }
    }
}

pub(super) fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

impl AttackSpec {
    /// Parse TOML text (an attack file, or an experiment's `[[attacks]]` entry).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_toml(text: &str) -> Result<AttackSpec> {
        let spec: AttackSpec = toml::from_str(text).map_err(|e| invalid(format!("attack spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parse JSON text (the page's options, a report's `spec`).
    pub fn from_json(text: &str) -> Result<AttackSpec> {
        let spec: AttackSpec = serde_json::from_str(text).map_err(|e| invalid(format!("attack spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Take a JSON value (what the browser's options object becomes).
    pub fn from_json_value(value: serde_json::Value) -> Result<AttackSpec> {
        let spec: AttackSpec = serde_json::from_value(value).map_err(|e| invalid(format!("attack spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Whether the goal is targeted.
    pub fn is_targeted(&self) -> bool {
        self.goal != GoalKind::Untargeted
    }

    /// A label for tables: the name, else `pgd-ce` (SEA: `sea`, or `sea-js+masked-ce` with
    /// `losses`).
    pub fn label(&self) -> String {
        if self.kind == AttackKind::WorstCase {
            let members: Vec<String> = self.members.iter().flatten().map(MemberSpec::label).collect();
            return self.name.clone().unwrap_or_else(|| format!("worst-case({})", members.join("+")));
        }
        let losses = match (&self.kind, &self.losses) {
            (AttackKind::Sea, None) => return self.name.clone().unwrap_or_else(|| "sea".into()),
            (AttackKind::Sea, Some(l)) => l.iter().map(ToString::to_string).collect::<Vec<_>>().join("+"),
            _ => self.loss.to_string(),
        };
        self.name.clone().unwrap_or_else(|| format!("{}-{losses}", kebab(&self.kind)))
    }

    /// The single radius of a run (an error when `eps` lists several).
    pub fn radius(&self) -> Result<&Radius> {
        match self.eps.as_slice() {
            [one] => Ok(one),
            many => Err(invalid(format!("eps lists {} radii; one attack run takes one", many.len()))),
        }
    }

    /// Every loss the attack optimises (its own, SEA's, its members').
    pub fn losses_used(&self) -> Vec<LossKind> {
        let own = match self.kind {
            AttackKind::Sea => self.losses.clone().unwrap_or_else(|| LossKind::SEA.to_vec()),
            AttackKind::WorstCase => Vec::new(),
            _ => vec![self.loss],
        };
        let members = self.members.iter().flatten().filter_map(|m| m.within(self).ok()).flat_map(|m| m.losses_used());
        own.into_iter().chain(members).collect()
    }

    /// Gradient steps of one run (default 10; SEA: [`SEA_STEPS`] per loss).
    pub fn steps(&self) -> usize {
        self.steps.unwrap_or(if self.kind == AttackKind::Sea { SEA_STEPS } else { 10 })
    }

    /// Whether the runs start from a random point of the ball (default: SEA only).
    pub fn random_start(&self) -> bool {
        self.random_start.unwrap_or(self.kind == AttackKind::Sea)
    }

    /// Whether APGD / SEA use the progressive radius (default: SEA only).
    pub fn radius_schedule(&self) -> bool {
        self.radius_schedule.unwrap_or(self.kind == AttackKind::Sea)
    }

    /// What an untargeted attack pushes away from (default: the clean prediction).
    pub fn reference(&self) -> MapOrigin {
        self.reference.unwrap_or_default()
    }

    /// The spec with every kind-dependent default written out (what a report echoes).
    pub fn resolved(&self) -> AttackSpec {
        let untargeted = self.goal == GoalKind::Untargeted;
        let applies = matches!(self.kind, AttackKind::Apgd | AttackKind::Sea);
        AttackSpec {
            reference: untargeted.then(|| self.reference()),
            steps: (self.kind != AttackKind::WorstCase).then(|| self.steps()),
            random_start: Some(self.random_start()),
            radius_schedule: applies.then(|| self.radius_schedule()),
            ..self.clone()
        }
    }

    /// The spec for `model`: [`Self::resolved`], and SEA's default losses where the model is a
    /// PASCAL VOC one — masked CE, balanced masked CE with the authors' fixed VOC weights
    /// (`balanced-ce-voc`, what their code runs on VOC; per-image weights leave DeepLabV3 at
    /// ε = 1/255 with pooled accuracy 0.0205 where the fixed ones reach 0.0000, docs/results.md),
    /// JS; elsewhere [`LossKind::SEA`] (per-image class weights).
    pub fn for_model(&self, model: &ModelSpec) -> AttackSpec {
        let mut spec = self.resolved();
        // trained on VOC's classes (an ONNX model with classes of its own is not, whatever its labels)
        let voc = model.dataset == crate::data::Dataset::Voc && model.dataset_classes();
        if spec.kind == AttackKind::Sea && spec.losses.is_none() && voc {
            spec.losses = Some(LossKind::SEA_VOC.to_vec());
        }
        spec.members = spec.members.map(|list| {
            list.into_iter()
                .map(|m| match (m.kind, &m.losses) {
                    (AttackKind::Sea, None) if voc => MemberSpec { losses: Some(LossKind::SEA_VOC.to_vec()), ..m },
                    _ => m,
                })
                .collect()
        });
        spec
    }

    /// Every gradient step of the attack, over all its runs (what a progress bar counts).
    pub fn total_steps(&self) -> Result<usize> {
        Ok(self.pgd_config(self.radius()?.value, self.seed)?.total_steps(self.kind))
    }

    /// The loop's settings at radius `eps` with `seed` for the random start (the spec is valid:
    /// [`Self::validate`]).
    pub fn pgd_config(&self, eps: f64, seed: u64) -> Result<PgdConfig> {
        let step = match (&self.step_size, self.step_factor, self.kind) {
            (Some(a), _, _) => Some(a.value),
            (None, None, AttackKind::Dag) => Some(crate::attack::loops::dag::GAMMA),
            (None, None, AttackKind::Apgd | AttackKind::Sea) => None,
            (None, f, _) => Some(f.unwrap_or(0.25) * eps).filter(|a| *a > 0.0),
        };
        let members = match &self.members {
            Some(list) => Some(
                list.iter()
                    .enumerate()
                    .map(|(k, m)| {
                        let spec = m.within(self)?;
                        let cfg = spec.pgd_config(eps, member_seed(seed, k))?;
                        Ok(Member { kind: spec.kind, cfg, label: m.label(), loss: None })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        Ok(PgdConfig::new()
            .with_eps(eps)
            .with_step_size(step)
            .with_steps(self.steps())
            .with_loss(self.loss)
            .with_norm(self.norm)
            .with_random_start(self.random_start())
            .with_seed(seed)
            .with_early_stop(self.early_stop)
            .with_restarts(self.restarts)
            .with_radius_schedule(self.radius_schedule() && eps > 0.0 && matches!(self.kind, AttackKind::Apgd | AttackKind::Sea))
            .with_losses(self.losses.clone())
            .with_members(members)
            .with_grid_steps(self.grid_steps)
            .with_progress_every(self.progress_every))
    }
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

/// The serde (kebab-case) name of a unit enum value.
pub(super) fn kebab<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    #[test]
    fn toml_and_json_give_the_same_spec() {
        let t = AttackSpec::from_toml(
            "goal = \"targeted-class\"\ntarget_class = \"person\"\nloss = \"segpgd\"\neps = \"4/255\"\nsteps = 3\n",
        )
        .unwrap();
        let j = AttackSpec::from_json(r#"{"goal": "targeted-class", "target_class": "person", "loss": "segpgd", "eps": "4/255", "steps": 3}"#)
            .unwrap();
        assert_eq!(t, j);
        assert!((t.radius().unwrap().value - 4.0 / 255.0).abs() < 1e-15);
        // the serialised spec reads back as itself
        assert_eq!(AttackSpec::from_json(&serde_json::to_string(&t).unwrap()).unwrap(), t);
        let cfg = t.pgd_config(4.0 / 255.0, 0).unwrap();
        assert!((cfg.alpha() - 1.0 / 255.0).abs() < 1e-15);
    }

    #[test]
    fn the_kind_reads_from_toml_and_json() {
        assert_eq!(AttackSpec::default().kind, AttackKind::Apgd);
        let t = AttackSpec::from_toml("kind = \"pgd\"\nsteps = 20\n").unwrap();
        let j = AttackSpec::from_json(r#"{"kind": "pgd", "steps": 20}"#).unwrap();
        assert_eq!((t.kind, t.label()), (AttackKind::Pgd, "pgd-ce".to_string()));
        assert_eq!(t, j);
        assert_eq!(serde_json::to_value(&t).unwrap()["kind"], "pgd");
        assert_eq!(serde_json::to_value(AttackSpec::default()).unwrap()["kind"], "apgd");
        let d = AttackSpec::from_toml("kind = \"dag\"\neps = 1\nsteps = 50\n").unwrap();
        assert_eq!((d.kind, d.label()), (AttackKind::Dag, "dag-ce".to_string()));
        // DAG's default step is the paper's γ = 0.5/255, whatever ε
        assert!((d.pgd_config(1.0, 0).unwrap().alpha() - 0.5 / 255.0).abs() < 1e-15);
        let d = AttackSpec::from_json(r#"{"kind": "dag", "step_factor": 0.1, "eps": "8/255"}"#).unwrap();
        assert!((d.pgd_config(8.0 / 255.0, 0).unwrap().alpha() - 0.8 / 255.0).abs() < 1e-15);
        let e = AttackSpec::from_json(r#"{"kind": "fgsm"}"#).unwrap_err().to_string();
        assert!(e.contains("fgsm") && e.contains("apgd"), "{e}");
    }

    #[test]
    fn errors_quote_the_value() {
        let e = |text: &str| AttackSpec::from_json(text).unwrap_err().to_string();
        assert!(e(r#"{"colour": 1}"#).contains("colour"));
        assert!(e(r#"{"loss": "hinge"}"#).contains("hinge"));
        assert!(e(r#"{"eps": "1/0"}"#).contains("1/0"));
        assert!(e(r#"{"eps": 2}"#).contains("'2'"));
        assert!(e(r#"{"steps": 0}"#).contains("steps = 0"));
        assert!(e(r#"{"goal": "targeted-image"}"#).contains("target_index"));
        assert!(e(r#"{"goal": "targeted-class"}"#).contains("target_class"));
        assert!(e(r#"{"target_class": 3}"#).contains("does not apply"));
        assert!(e(r#"{"step_size": "1/255", "step_factor": 0.5}"#).contains("not both"));
        assert!(e(r#"{"goal": "sideways"}"#).contains("sideways"));
        assert!(e(r#"{"restarts": 0}"#).contains("restarts = 0"));
        assert!(e(r#"{"radius_schedule": true, "eps": "0/255"}"#).contains("'0/255'"));
        assert!(e(r#"{"radius_schedule": true, "kind": "pgd"}"#).contains("'pgd'"));
        assert!(e(r#"{"kind": "apgd", "losses": ["js"]}"#).contains("'apgd'"));
        assert!(e(r#"{"kind": "sea", "losses": ["js", "hinge"]}"#).contains("'hinge'"));
        assert!(e(r#"{"kind": "sea", "losses": []}"#).contains("no loss"));
        assert!(e(r#"{"kind": "sea", "loss": "js"}"#).contains("'js'"));
        assert!(e(r#"{"kind": "sea", "losses": ["js", "masked-ce", "js"]}"#).contains("'js' twice"));
    }

    #[test]
    fn sea_restarts_and_the_radius_schedule_read_from_toml_and_json() {
        let t = AttackSpec::from_toml("kind = \"sea\"\nlosses = [\"js\", \"masked-ce\"]\nrestarts = 2\nradius_schedule = true\n").unwrap();
        let j = AttackSpec::from_json(r#"{"kind": "sea", "losses": ["js", "masked-ce"], "restarts": 2, "radius_schedule": true}"#).unwrap();
        assert_eq!(t, j);
        assert_eq!((t.kind, t.label()), (AttackKind::Sea, "sea-js+masked-ce".to_string()));
        assert_eq!(AttackSpec { losses: None, ..t.clone() }.label(), "sea");
        assert_eq!(AttackSpec::from_json(&serde_json::to_string(&t).unwrap()).unwrap(), t);
        let cfg = t.pgd_config(8.0 / 255.0, 0).unwrap();
        assert_eq!((cfg.restarts, cfg.radius_schedule, cfg.losses), (2, true, Some(vec![LossKind::Js, LossKind::MaskedCe])));
        let d = AttackSpec::default();
        assert_eq!((d.restarts, d.radius_schedule(), d.losses), (1, false, None));
    }

    #[test]
    fn sea_defaults_to_its_authors_evaluation_and_reports_write_defaults_out() {
        let sea = AttackSpec::from_json(r#"{"kind": "sea", "eps": "0.5/255"}"#).unwrap();
        assert_eq!((sea.steps(), sea.random_start(), sea.radius_schedule()), (SEA_STEPS, true, true));
        let cfg = sea.pgd_config(0.5 / 255.0, 3).unwrap();
        assert_eq!((cfg.steps, cfg.random_start, cfg.radius_schedule, cfg.seed), (300, true, true, 3));
        let short = AttackSpec::from_json(r#"{"kind": "sea", "steps": 20, "random_start": false, "radius_schedule": false}"#).unwrap();
        assert_eq!((short.steps(), short.random_start(), short.radius_schedule()), (20, false, false));
        let apgd = AttackSpec::default();
        assert_eq!((apgd.steps(), apgd.random_start(), apgd.radius_schedule()), (10, false, false));
        let r = sea.resolved();
        assert_eq!((r.steps, r.random_start, r.radius_schedule, r.reference), (Some(300), Some(true), Some(true), Some(MapOrigin::Predicted)));
        assert_eq!(AttackSpec::from_json(&serde_json::to_string(&r).unwrap()).unwrap(), r);
        // SEA at ε = 0 runs without the schedule rather than failing
        assert!(!AttackSpec { eps: vec![Radius::of(0.0)], ..sea }.pgd_config(0.0, 0).unwrap().radius_schedule);
    }

    #[test]
    fn sea_on_voc_models_uses_the_authors_fixed_class_weights() {
        let voc = crate::model::zoo::spec("deeplabv3-mnv2-voc").unwrap();
        let city = crate::model::zoo::spec("espnetv2-city").unwrap();
        let sea = AttackSpec::from_json(r#"{"kind": "sea"}"#).unwrap();
        assert_eq!(sea.for_model(voc).losses, Some(LossKind::SEA_VOC.to_vec()));
        assert_eq!(sea.for_model(city).losses, None);
        let own = AttackSpec::from_json(r#"{"kind": "sea", "losses": ["js"]}"#).unwrap();
        assert_eq!(own.for_model(voc).losses, Some(vec![LossKind::Js]));
        let wc = AttackSpec::from_json(r#"{"kind": "worst-case", "members": [{"kind": "sea"}, {"kind": "pgd"}]}"#).unwrap();
        let m = wc.for_model(voc).members.unwrap();
        assert_eq!((m[0].losses.clone(), m[1].losses.clone()), (Some(LossKind::SEA_VOC.to_vec()), None));
        assert_eq!(AttackSpec::default().for_model(voc), AttackSpec::default().resolved());
    }

    #[test]
    fn reference_reads_clean_and_ground_truth() {
        let c = AttackSpec::from_json(r#"{"reference": "clean"}"#).unwrap();
        let p = AttackSpec::from_json(r#"{"reference": "predicted"}"#).unwrap();
        let g = AttackSpec::from_json(r#"{"reference": "ground-truth"}"#).unwrap();
        assert_eq!((c.reference(), p.reference(), g.reference()), (MapOrigin::Predicted, MapOrigin::Predicted, MapOrigin::GroundTruth));
        assert_eq!(AttackSpec::default().reference(), MapOrigin::Predicted);
        assert!(AttackSpec::from_json(r#"{"keep_best": true}"#).unwrap_err().to_string().contains("keep_best"));
    }
}
