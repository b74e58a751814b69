//! [`AttackSpec`]: the one description of an attack that every front end becomes — the CLI's
//! flags, an experiment file's `[[attacks]]` entry (TOML) and the page's options (JSON) —
//! validated once, then turned into the loop's settings ([`PgdConfig`]) and a [`Goal`].
//!
//! ```toml
//! kind = "pgd"                  # the attack family: apgd (default) | pgd | sea | dag
//! goal = "targeted-class"       # untargeted | targeted-image | targeted-class | targeted-map
//! target_class = "person"       # index or name
//! loss = "segpgd"               # ce | segpgd | cospgd | masked-ce | balanced-ce | js
//! norm = "linf"                 # linf | l2
//! eps = "8/255"                 # a number or a fraction; experiments may list several
//! steps = 10
//! step_factor = 0.25            # α = step_factor · ε (or step_size = "2/255")
//! random_start = false
//! restarts = 1                  # runs from different random starts, per image the strongest
//! # radius_schedule = true      # apgd / sea: 2ε, 1.5ε, then ε (SEA's progressive radius)
//! # losses = ["masked-ce", "js"] # sea: the ensemble (default masked-ce, balanced-ce, js)
//! defense = { multiscale = { scales = [0.5, 1.0] }, adaptive = true }
//! ```
//!
//! The same object in JSON (what the page sends) has the same keys and values.

use serde::{Deserialize, Serialize};

use super::loss::LossKind;
use super::norm::Norm;
use super::pgd::PgdConfig;
use super::radius::{Radius, one_or_list, one_or_many};
use crate::defense::DefenseSpec;
use crate::error::{Error, Result};
use crate::model::zoo::ModelSpec;

/// The most steps one attack may take (a guard against typos such as `steps = 10000000`).
pub const MAX_STEPS: usize = 100_000;
/// The most restarts of one attack (the same guard).
pub const MAX_RESTARTS: usize = 1_000;

/// The attack family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Projected gradient descent with a fixed step (Madry et al. 2018), with the per-pixel
    /// losses of SegPGD and CosPGD.
    Pgd,
    /// APGD (Croce & Hein, ICML 2020), the default: the step size starts at 2ε and halves
    /// where progress stalls, with momentum and each image's best iterate (`step_size` and
    /// `step_factor` do not apply; the highest-loss iterate is kept, or with `keep_best` the
    /// most successful one).
    #[default]
    Apgd,
    /// SEA (Croce, Singh & Hein, ECCV 2024): APGD once per loss of `losses` (default masked
    /// CE, balanced masked CE, JS), `steps` each, per image the strongest result (`loss` does
    /// not apply).
    Sea,
    /// DAG (Xie et al., ICCV 2017): steps `γ·g/‖g‖∞` along the margin gradient of the pixels
    /// not yet fooled (or not yet on their target), until none is left or the steps run out;
    /// γ = `step_size` (or `step_factor · ε`), default 0.5/255; the best iterate per image is
    /// kept; `eps = 1` (L∞) is the paper's unbounded attack.
    Dag,
}

impl AttackKind {
    /// Every attack family, the default first (front ends list them in this order).
    pub const ALL: [AttackKind; 4] = [AttackKind::Apgd, AttackKind::Pgd, AttackKind::Sea, AttackKind::Dag];

    /// Its name in specs (`apgd`, `pgd`, `sea`, `dag`).
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::Pgd => "pgd",
            AttackKind::Apgd => "apgd",
            AttackKind::Sea => "sea",
            AttackKind::Dag => "dag",
        }
    }

    /// A short title for menus.
    pub fn title(self) -> &'static str {
        match self {
            AttackKind::Pgd => "PGD (fixed step)",
            AttackKind::Apgd => "APGD (adaptive step)",
            AttackKind::Sea => "SEA (APGD × 3 losses, worst case per image)",
            AttackKind::Dag => "DAG (dense margin, until every pixel is fooled)",
        }
    }

    /// Whether `step_size` / `step_factor` apply (PGD's fixed step, DAG's γ).
    pub fn uses_step_size(self) -> bool {
        matches!(self, AttackKind::Pgd | AttackKind::Dag)
    }

    /// Whether `loss` steers the attack (SEA runs its own set of losses; DAG follows its margin).
    pub fn uses_loss(self) -> bool {
        !matches!(self, AttackKind::Sea | AttackKind::Dag)
    }
}

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
    /// The model's clean prediction.
    #[default]
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
    /// `untargeted`: push away from the clean prediction or from the ground truth.
    pub reference: MapOrigin,
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
    /// Gradient steps.
    pub steps: usize,
    /// Step size α in pixel units; default `step_factor · ε`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<Radius>,
    /// Step size as a multiple of ε (default 0.25 when `step_size` is absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_factor: Option<f64>,
    /// Start from a random point of the ε-ball.
    pub random_start: bool,
    /// Seed of the random start.
    pub seed: u64,
    /// Stop once every image's success rate reaches this fraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<f64>,
    /// Keep each image's best iterate instead of the last one.
    pub keep_best: bool,
    /// Run the attack this many times (restart 0 as configured, the others from random starts
    /// seeded from `seed`) and keep per image the strongest result.
    pub restarts: usize,
    /// `apgd` / `sea`: SEA's progressive radius (2ε, 1.5ε, ε over 3/10, 3/10, 4/10 of the steps).
    pub radius_schedule: bool,
    /// `sea`: the losses of the ensemble (default masked-ce, balanced-ce, js).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub losses: Option<Vec<LossKind>>,
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
            reference: MapOrigin::Predicted,
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
            steps: 10,
            step_size: None,
            step_factor: None,
            random_start: false,
            seed: 0,
            early_stop: None,
            keep_best: false,
            restarts: 1,
            radius_schedule: false,
            losses: None,
            progress_every: 1,
            defense: None,
        }
    }
}

fn invalid(msg: String) -> Error {
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
        let losses = match (&self.kind, &self.losses) {
            (AttackKind::Sea, None) => return self.name.clone().unwrap_or_else(|| "sea".into()),
            (AttackKind::Sea, Some(l)) => l.iter().map(ToString::to_string).collect::<Vec<_>>().join("+"),
            _ => self.loss.to_string(),
        };
        self.name.clone().unwrap_or_else(|| format!("{}-{losses}", kebab(&self.kind)))
    }

    /// Check every value once; errors quote the value.
    pub fn validate(&self) -> Result<()> {
        if self.eps.is_empty() {
            return Err(invalid("eps lists no radius".into()));
        }
        for e in &self.eps {
            let linf = self.norm == Norm::Linf;
            if !e.value.is_finite() || e.value < 0.0 || (linf && e.value > 1.0) {
                let range = if linf { "in [0, 1] (pixel units, e.g. 8/255)" } else { "≥ 0" };
                return Err(invalid(format!("eps '{}' must be a number {range}", e.text)));
            }
        }
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(invalid(format!("steps = {} must be in 1..={MAX_STEPS}", self.steps)));
        }
        if self.step_size.is_some() && self.step_factor.is_some() {
            return Err(invalid("give step_size or step_factor, not both".into()));
        }
        if let Some(a) = &self.step_size
            && !(a.value.is_finite() && a.value > 0.0)
        {
            return Err(invalid(format!("step_size '{}' must be a number > 0", a.text)));
        }
        if let Some(f) = self.step_factor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(invalid(format!("step_factor = {f} must be a number > 0")));
        }
        if let Some(s) = self.early_stop
            && !(0.0..=1.0).contains(&s)
        {
            return Err(invalid(format!("early_stop = {s} must be a success rate in [0, 1]")));
        }
        if self.progress_every == 0 {
            return Err(invalid("progress_every = 0 must be at least 1".into()));
        }
        self.validate_goal()?;
        self.validate_ensemble()?;
        if let Some(d) = &self.defense {
            d.config()?;
        }
        Ok(())
    }

    /// `restarts`, `radius_schedule` and `losses`.
    fn validate_ensemble(&self) -> Result<()> {
        let kind = kebab(&self.kind);
        if self.restarts == 0 || self.restarts > MAX_RESTARTS {
            return Err(invalid(format!("restarts = {} must be in 1..={MAX_RESTARTS}", self.restarts)));
        }
        if self.radius_schedule {
            if !matches!(self.kind, AttackKind::Apgd | AttackKind::Sea) {
                return Err(invalid(format!("radius_schedule does not apply to kind '{kind}' (only to apgd and sea)")));
            }
            if let Some(e) = self.eps.iter().find(|e| e.value <= 0.0) {
                return Err(invalid(format!("radius_schedule needs eps > 0, got eps '{}'", e.text)));
            }
        }
        if self.kind == AttackKind::Sea && self.loss != LossKind::Ce {
            return Err(invalid(format!("loss '{}' does not apply to kind 'sea' (give its members as losses)", self.loss)));
        }
        let Some(losses) = &self.losses else { return Ok(()) };
        if self.kind != AttackKind::Sea {
            return Err(invalid(format!("losses does not apply to kind '{kind}' (only to sea)")));
        }
        if losses.is_empty() {
            return Err(invalid("losses lists no loss (give one or more, or leave it out for SEA's)".into()));
        }
        if let Some((i, l)) = losses.iter().enumerate().find(|(i, l)| losses[..*i].contains(l)) {
            return Err(invalid(format!("losses lists '{l}' twice (entries {} and {})", losses.iter().position(|m| m == l).unwrap_or(0) + 1, i + 1)));
        }
        Ok(())
    }

    fn validate_goal(&self) -> Result<()> {
        let goal = kebab(&self.goal);
        let only = |set: bool, key: &str, kinds: &str| -> Result<()> {
            if set {
                return Err(invalid(format!("{key} does not apply to goal '{goal}' (only to {kinds})")));
            }
            Ok(())
        };
        only(self.reference != MapOrigin::Predicted && self.goal != GoalKind::Untargeted, "reference", "untargeted")?;
        only(self.target_index.is_some() && self.goal != GoalKind::TargetedImage, "target_index", "targeted-image")?;
        only(self.target_source != MapOrigin::Predicted && self.goal != GoalKind::TargetedImage, "target_source", "targeted-image")?;
        only(self.target_class.is_some() && self.goal != GoalKind::TargetedClass, "target_class", "targeted-class")?;
        only(self.target_map.is_some() && self.goal != GoalKind::TargetedMap, "target_map", "targeted-map")?;
        only(self.keep_unpainted && self.goal != GoalKind::TargetedMap, "keep_unpainted", "targeted-map")?;
        only(self.mask.is_some() && !self.is_targeted(), "mask", "targeted goals")?;
        only(self.keep_outside && self.mask.is_none(), "keep_outside", "goals with a mask")?;
        match self.goal {
            GoalKind::TargetedImage if self.target_index.is_none_or(|k| k == 0) => {
                Err(invalid(format!("targeted-image needs target_index ≥ 1 (1-based), got {:?}", self.target_index)))
            }
            GoalKind::TargetedClass if self.target_class.is_none() => {
                Err(invalid("targeted-class needs target_class (an index or a name)".into()))
            }
            _ => Ok(()),
        }
    }

    /// The single radius of a run (an error when `eps` lists several).
    pub fn radius(&self) -> Result<&Radius> {
        match self.eps.as_slice() {
            [one] => Ok(one),
            many => Err(invalid(format!("eps lists {} radii; one attack run takes one", many.len()))),
        }
    }

    /// The loop's settings at radius `eps` with `seed` for the random start.
    pub fn pgd_config(&self, eps: f64, seed: u64) -> Result<PgdConfig> {
        let step = match (&self.step_size, self.step_factor, self.kind) {
            (Some(a), _, _) => Some(a.value),
            (None, None, AttackKind::Dag) => Some(super::dag::GAMMA),
            (None, f, _) => Some(f.unwrap_or(0.25) * eps).filter(|a| *a > 0.0),
        };
        let cfg = PgdConfig::new()
            .with_eps(eps)
            .with_step_size(step)
            .with_steps(self.steps)
            .with_loss(self.loss)
            .with_norm(self.norm)
            .with_random_start(self.random_start)
            .with_seed(seed)
            .with_early_stop(self.early_stop)
            .with_keep_best(self.keep_best)
            .with_restarts(self.restarts)
            .with_radius_schedule(self.radius_schedule)
            .with_losses(self.losses.clone())
            .with_progress_every(self.progress_every);
        cfg.validate()?;
        Ok(cfg)
    }
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

/// The serde (kebab-case) name of a unit enum value.
fn kebab<T: Serialize>(v: &T) -> String {
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
        assert_eq!((d.restarts, d.radius_schedule, d.losses), (1, false, None));
    }
}
