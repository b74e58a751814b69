//! [`AttackSpec`]: the one description of an attack that every front end becomes — the CLI's
//! flags, an experiment file's `[[attacks]]` entry (TOML) and the page's options (JSON) —
//! validated once, then turned into the loop's settings ([`PgdConfig`]) and a [`Goal`].
//!
//! ```toml
//! kind = "pgd"                  # the attack family
//! goal = "targeted-class"       # untargeted | targeted-image | targeted-class | targeted-map
//! target_class = "person"       # index or name
//! loss = "segpgd"               # ce | segpgd | cospgd
//! norm = "linf"                 # linf | l2
//! eps = "8/255"                 # a number or a fraction; experiments may list several
//! steps = 10
//! step_factor = 0.25            # α = step_factor · ε (or step_size = "2/255")
//! random_start = false
//! defense = { multiscale = { scales = [0.5, 1.0] }, adaptive = true }
//! ```
//!
//! The same object in JSON (what the page sends) has the same keys and values.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::goal::{Goal, Mask};
use super::loss::LossKind;
use super::norm::Norm;
use super::pgd::PgdConfig;
use crate::data::{ClassMap, VOID};
use crate::defense::DefenseSpec;
use crate::error::{Error, Result};
use crate::model::zoo::ModelSpec;
use crate::util::parse_fraction;

/// The most steps one attack may take (a guard against typos such as `steps = 10000000`).
pub const MAX_STEPS: usize = 100_000;

/// The attack family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Projected gradient descent with a fixed step (Madry et al. 2018), with the per-pixel
    /// losses of SegPGD and CosPGD.
    #[default]
    Pgd,
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

/// A length in `[0, 1]` pixel units as written: a number (`0.03`) or a fraction (`"8/255"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Radius {
    /// Its value.
    pub value: f64,
    /// As written (kept for tables and reports).
    pub text: String,
}

impl Radius {
    /// Parse `8/255`, `0.03`; errors quote the text and name `what`.
    pub fn parse(text: &str, what: &str) -> Result<Radius> {
        Ok(Radius { value: parse_fraction(text, what)?, text: text.trim().to_string() })
    }

    /// A value without a written form.
    pub fn of(value: f64) -> Radius {
        Radius { value, text: format!("{value}") }
    }
}

impl Serialize for Radius {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Reads a radius from a number or a text, or a list of them (serde's untagged enums would
/// hide the parse error, which quotes the bad value).
struct RadiusVisitor {
    many: bool,
}

impl<'de> serde::de::Visitor<'de> for RadiusVisitor {
    type Value = Vec<Radius>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.many { "a radius (8/255, 0.03) or a list of radii" } else { "a radius such as 8/255 or 0.03" })
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok(vec![Radius::of(v)])
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(vec![Radius::of(v as f64)])
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(vec![Radius::of(v as f64)])
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Radius::parse(v, "radius").map(|r| vec![r]).map_err(E::custom)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        if !self.many {
            return Err(serde::de::Error::invalid_type(serde::de::Unexpected::Seq, &self));
        }
        let mut out = Vec::new();
        while let Some(r) = seq.next_element::<Radius>()? {
            out.push(r);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Radius {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut v = d.deserialize_any(RadiusVisitor { many: false })?;
        Ok(v.remove(0))
    }
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

/// One radius as itself, several as a list.
fn one_or_list<S: Serializer>(v: &[Radius], s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<Radius>, D::Error> {
    d.deserialize_any(RadiusVisitor { many: true })
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
    /// A defense in front of the model: the attack result is also evaluated on it, and with
    /// `adaptive` the perturbation is crafted against the defended model itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defense: Option<DefenseSpec>,
}

impl Default for AttackSpec {
    fn default() -> Self {
        AttackSpec {
            name: None,
            kind: AttackKind::Pgd,
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

    /// A label for tables: the name, else `pgd-ce`.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("{}-{}", kebab(&self.kind), self.loss))
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
        self.validate_goal()?;
        if let Some(d) = &self.defense {
            d.config()?;
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
        let step = match (&self.step_size, self.step_factor) {
            (Some(a), _) => Some(a.value),
            (None, f) => Some(f.unwrap_or(0.25) * eps).filter(|a| *a > 0.0),
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
            .with_keep_best(self.keep_best);
        cfg.validate()?;
        Ok(cfg)
    }

    /// The goal for a batch, from what the front end has: the model (class names), the
    /// input size, the batch size, ground truth per image, the maps read from `target_map` and
    /// `mask` (or the page's painted map) — see [`GoalInputs`].
    pub fn goal(&self, inp: &GoalInputs<'_>) -> Result<Goal> {
        let (w, h) = (inp.width, inp.height);
        let gt = |i: usize, key: &str| -> Result<ClassMap> {
            inp.ground_truth.get(i).cloned().flatten().ok_or_else(|| {
                invalid(format!("{key} needs a ground-truth map for image {} ({})", i + 1, inp.name(i)))
            })
        };
        let goal = match self.goal {
            GoalKind::Untargeted => match self.reference {
                MapOrigin::Predicted => Goal::untargeted(),
                MapOrigin::GroundTruth => {
                    Goal::untargeted_vs_ground_truth((0..inp.batch).map(|i| gt(i, "reference = ground-truth")).collect::<Result<_>>()?)
                }
            },
            GoalKind::TargetedImage => {
                let k = self.target_index.unwrap_or(1);
                let idx = k - 1;
                match (self.target_source, inp.set_clean) {
                    // a batch that is part of a larger set: the target comes from the set
                    (source, Some(set)) => {
                        let beyond = || invalid(format!("target_index {k} is beyond the {} images", set.len()));
                        let map = match source {
                            MapOrigin::Predicted => set.get(idx).cloned().ok_or_else(beyond)?,
                            MapOrigin::GroundTruth => {
                                let gts = inp.set_ground_truth.unwrap_or(inp.ground_truth);
                                gts.get(idx).ok_or_else(beyond)?.as_ref().ok_or_else(|| {
                                    invalid(format!("target_source = ground-truth needs a ground-truth map for image {k}"))
                                })?
                                .resized(w, h)?
                            }
                        };
                        Goal::to_maps(vec![map])
                    }
                    (MapOrigin::GroundTruth, None) => Goal::to_image_ground_truth(idx, gt(idx, "target_source = ground-truth")?),
                    (MapOrigin::Predicted, None) if idx < inp.batch => Goal::to_image(idx),
                    (MapOrigin::Predicted, None) => {
                        return Err(invalid(format!(
                            "target_index {k} is outside the batch of {n} image(s) (1..={n})",
                            n = inp.batch
                        )));
                    }
                }
            }
            GoalKind::TargetedClass => {
                let c = self.target_class.as_ref().ok_or_else(|| invalid("targeted-class needs target_class".into()))?;
                Goal::to_class(c.resolve(inp.model)?)
            }
            GoalKind::TargetedMap => {
                let map = inp.target_map.clone().ok_or_else(|| {
                    invalid("targeted-map needs a target map (target_map = FILE, or a painted map)".into())
                })?;
                let map = checked_map(map.resized(w, h)?, inp.model.num_classes())?;
                let painted = Mask::new(w, h, map.data.iter().map(|&c| c != VOID).collect())?;
                let goal = Goal::to_maps(vec![map]);
                if self.keep_unpainted { goal.within(painted, true) } else { goal }
            }
        };
        match (&inp.mask, self.is_targeted()) {
            (Some(m), true) => Ok(goal.within(m.clone(), self.keep_outside)),
            (Some(_), false) => Err(invalid("mask only applies to targeted goals".into())),
            (None, _) => Ok(goal),
        }
    }

    /// Read the files the spec names (`target_map`, `mask`) for an input of `width × height`
    /// (native front ends; the page supplies its painted map instead).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_goal_files(&self, width: usize, height: usize) -> Result<(Option<ClassMap>, Option<Mask>)> {
        let map = match &self.target_map {
            Some(p) => {
                let (data, mw, mh) = crate::image::load_label_png(std::path::Path::new(p))?;
                Some(ClassMap { width: mw, height: mh, data })
            }
            None => None,
        };
        let mask = match &self.mask {
            Some(p) => {
                let m = crate::image::load(std::path::Path::new(p))?;
                let (mw, mh) = (m.width() as usize, m.height() as usize);
                let flags: Vec<u8> = m.pixels().map(|px| u8::from(px.0.iter().any(|&v| v > 127))).collect();
                Some(Mask::from_map(&ClassMap { width: mw, height: mh, data: flags }.resized(width, height)?))
            }
            None => None,
        };
        Ok((map, mask))
    }
}

/// What a front end knows when it turns a spec into a [`Goal`].
#[derive(Clone)]
pub struct GoalInputs<'a> {
    /// The model (class names and count).
    pub model: &'a ModelSpec,
    /// Input width.
    pub width: usize,
    /// Input height.
    pub height: usize,
    /// Images in the batch.
    pub batch: usize,
    /// Image names (for messages); may be empty.
    pub names: &'a [String],
    /// Ground truth per image (`None` where there is none); may be empty.
    pub ground_truth: &'a [Option<ClassMap>],
    /// The clean maps of the whole image set, when the batch is a part of it (experiments):
    /// `targeted-image` then takes its target from here (at the input size).
    pub set_clean: Option<&'a [ClassMap]>,
    /// The ground truth of that whole set (for `target_source = ground-truth`).
    pub set_ground_truth: Option<&'a [Option<ClassMap>]>,
    /// The target map of `targeted-map` (read from `target_map`, or painted).
    pub target_map: Option<ClassMap>,
    /// The mask (read from `mask`).
    pub mask: Option<Mask>,
}

impl GoalInputs<'_> {
    fn name(&self, i: usize) -> String {
        self.names.get(i).cloned().unwrap_or_else(|| format!("image {}", i + 1))
    }
}

/// A target map whose classes the model has (255 = don't care), with at least one class.
fn checked_map(map: ClassMap, num_classes: usize) -> Result<ClassMap> {
    if let Some((i, &c)) = map.data.iter().enumerate().find(|&(_, &c)| c != VOID && usize::from(c) >= num_classes) {
        return Err(invalid(format!(
            "the target map has class {c} at pixel ({}, {}): the model has {num_classes} classes",
            i % map.width,
            i / map.width
        )));
    }
    if map.data.iter().all(|&c| c == VOID) {
        return Err(invalid("the target map is empty: paint some pixels with a class first".into()));
    }
    Ok(map)
}

/// The serde (kebab-case) name of a unit enum value.
fn kebab<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::zoo;

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
    }

    #[test]
    fn goals_resolve() {
        let voc = zoo::spec("espnetv2-voc").unwrap();
        let base = GoalInputs {
            model: voc,
            width: 2,
            height: 2,
            batch: 2,
            names: &[],
            ground_truth: &[],
            set_clean: None,
            set_ground_truth: None,
            target_map: None,
            mask: None,
        };
        let spec = AttackSpec::from_json(r#"{"goal": "targeted-class", "target_class": "person"}"#).unwrap();
        assert_eq!(spec.goal(&base).unwrap(), Goal::to_class(15));
        let spec = AttackSpec::from_json(r#"{"goal": "targeted-image", "target_index": 2}"#).unwrap();
        assert_eq!(spec.goal(&base).unwrap(), Goal::to_image(1));
        let spec3 = AttackSpec::from_json(r#"{"goal": "targeted-image", "target_index": 3}"#).unwrap();
        assert!(spec3.goal(&base).unwrap_err().to_string().contains("target_index 3"));
        // a painted map with unpainted pixels kept
        let painted = ClassMap { width: 2, height: 2, data: vec![15, VOID, VOID, 15] };
        let spec = AttackSpec::from_json(r#"{"goal": "targeted-map", "keep_unpainted": true}"#).unwrap();
        let g = spec.goal(&GoalInputs { target_map: Some(painted.clone()), ..base.clone() }).unwrap();
        let mask = Mask::new(2, 2, vec![true, false, false, true]).unwrap();
        assert_eq!(g, Goal::to_maps(vec![painted]).within(mask, true));
        let bad = ClassMap { width: 2, height: 2, data: vec![40, VOID, VOID, 15] };
        let e = spec.goal(&GoalInputs { target_map: Some(bad), ..base }).unwrap_err().to_string();
        assert!(e.contains("class 40"), "{e}");
    }
}
