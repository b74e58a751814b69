//! [`UniversalSpec`]: the one description of a universal perturbation (one `δ` for a whole
//! image set) that the CLI's flags, a TOML/JSON file and the page's options deserialize into,
//! and its goal per image.
//!
//! ```toml
//! goal = "hide-class"      # untargeted | hide-class
//! class = "person"         # hide-class: the class to hide (index or name)
//! background = 0           # hide-class: what its pixels should become (default class 0)
//! reference = "predicted"  # untargeted: away from the clean map or the ground truth
//! loss = "ce"              # ce | segpgd | cospgd | masked-ce | balanced-ce | js
//! eps = "8/255"            # L∞ radius of δ
//! steps = 40               # sign steps, each on one mini-batch
//! step_factor = 0.25       # α = step_factor · ε (or step_size = "1/255")
//! batch_size = 4           # images per step (the set is shuffled each pass)
//! seed = 0                 # shuffling, the random start, the random baseline δ
//! random_start = false
//! ```

use serde::{Deserialize, Serialize};

use crate::attack::spec::goal::Goal;
use crate::attack::losses::loss::LossKind;
use crate::attack::spec::radius::Radius;
use crate::attack::spec::attack_spec::{ClassRef, MapOrigin, MAX_STEPS};
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::model::zoo::ModelSpec;

/// What the universal perturbation aims for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UniversalGoal {
    /// Lower the pixel accuracy against the reference map (clean prediction or ground truth).
    #[default]
    Untargeted,
    /// Per image, the pixels of `class` in the clean map become `background`; the others keep
    /// their clean class (a targeted goal built from each image's clean map, as the "dynamic
    /// target" of Metzen et al., ICCV 2017).
    HideClass,
}

/// One universal perturbation, as every front end describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UniversalSpec {
    /// The goal.
    pub goal: UniversalGoal,
    /// `hide-class`: the class to hide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<ClassRef>,
    /// `hide-class`: the class its pixels should become.
    pub background: ClassRef,
    /// `untargeted`: the reference map.
    pub reference: MapOrigin,
    /// The per-pixel loss.
    pub loss: LossKind,
    /// L∞ radius of `δ`.
    pub eps: Radius,
    /// Sign steps (each on one mini-batch).
    pub steps: usize,
    /// Step size α (a number or a fraction); wins over `step_factor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<Radius>,
    /// α = `step_factor · ε` (default 0.25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_factor: Option<f64>,
    /// Images per step.
    pub batch_size: usize,
    /// Seed of the shuffling, the random start and the random baseline.
    pub seed: u64,
    /// Start from a random `δ` in the ε-ball instead of 0.
    pub random_start: bool,
}

impl Default for UniversalSpec {
    fn default() -> Self {
        UniversalSpec {
            goal: UniversalGoal::Untargeted,
            class: None,
            background: ClassRef::Index(0),
            reference: MapOrigin::Predicted,
            loss: LossKind::Ce,
            eps: Radius { value: 8.0 / 255.0, text: "8/255".into() },
            steps: 40,
            step_size: None,
            step_factor: None,
            batch_size: 4,
            seed: 0,
            random_start: false,
        }
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

impl UniversalSpec {
    /// Read and validate a JSON object (the page's options, `--spec FILE.json`).
    pub fn from_json_value(value: serde_json::Value) -> Result<UniversalSpec> {
        let spec: UniversalSpec = serde_json::from_value(value).map_err(|e| invalid(format!("bad universal spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Read and validate TOML (`--spec FILE.toml`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_toml(text: &str) -> Result<UniversalSpec> {
        let spec: UniversalSpec = toml::from_str(text).map_err(|e| invalid(format!("bad universal spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Check every setting; errors quote the bad value.
    pub fn validate(&self) -> Result<()> {
        let eps = self.eps.value;
        if !(eps.is_finite() && eps > 0.0 && eps <= 1.0) {
            return Err(invalid(format!("eps must lie in (0, 1], got {}", self.eps.text)));
        }
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(invalid(format!("steps must be in 1..={MAX_STEPS}, got {}", self.steps)));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size must be at least 1, got 0".into()));
        }
        if let Some(f) = self.step_factor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(invalid(format!("step_factor must be > 0, got {f}")));
        }
        if let Some(a) = &self.step_size
            && !(a.value.is_finite() && a.value > 0.0)
        {
            return Err(invalid(format!("step_size must be > 0, got {}", a.text)));
        }
        match (self.goal, &self.class) {
            (UniversalGoal::HideClass, None) => Err(invalid("hide-class needs class (an index or a name)".into())),
            (UniversalGoal::Untargeted, Some(_)) => Err(invalid("class applies to the hide-class goal only".into())),
            _ => Ok(()),
        }
    }

    /// The step size α.
    pub fn alpha(&self) -> f64 {
        match &self.step_size {
            Some(a) => a.value,
            None => self.step_factor.unwrap_or(0.25) * self.eps.value,
        }
    }

    /// `(hidden class, background)` of a hide-class goal for `model`; `None` when untargeted.
    pub fn hide_classes(&self, model: &ModelSpec) -> Result<Option<(u8, u8)>> {
        match (self.goal, &self.class) {
            (UniversalGoal::HideClass, Some(c)) => {
                let (c, b) = (c.resolve(model)?, self.background.resolve(model)?);
                if c == b {
                    return Err(invalid(format!("class and background are the same class ({c})")));
                }
                Ok(Some((c, b)))
            }
            (UniversalGoal::HideClass, None) => Err(invalid("hide-class needs class (an index or a name)".into())),
            (UniversalGoal::Untargeted, _) => Ok(None),
        }
    }

    /// The goal for a set with clean maps `clean` (and ground truth where known), resolved to
    /// one reference map per image at the maps' size, and whether it is targeted.
    pub fn references(&self, model: &ModelSpec, clean: &[ClassMap], ground_truth: &[Option<ClassMap>]) -> Result<(Vec<ClassMap>, bool)> {
        let first = clean.first().ok_or_else(|| invalid("no images".into()))?;
        let (w, h) = (first.width, first.height);
        let goal = match self.hide_classes(model)? {
            Some((c, b)) => Goal::to_maps(clean.iter().map(|m| hide(m, c, b)).collect()),
            None => match self.reference {
                MapOrigin::Predicted => Goal::untargeted(),
                MapOrigin::GroundTruth => {
                    let gts = (0..clean.len())
                        .map(|i| {
                            ground_truth.get(i).cloned().flatten().ok_or_else(|| {
                                invalid(format!("reference = ground-truth needs a ground-truth map for image {}", i + 1))
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Goal::untargeted_vs_ground_truth(gts)
                }
            },
        };
        Ok((goal.resolve(clean, model.num_classes(), w, h)?, goal.is_targeted()))
    }
}

/// `clean` with every `class` pixel set to `background` (void pixels stay void).
pub fn hide(clean: &ClassMap, class: u8, background: u8) -> ClassMap {
    let data = clean.data.iter().map(|&v| if v == class && v != VOID { background } else { v }).collect();
    ClassMap { width: clean.width, height: clean.height, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo;

    #[test]
    fn json_defaults_and_errors() {
        let s = UniversalSpec::from_json_value(serde_json::json!({})).unwrap();
        assert_eq!((s.goal, s.steps, s.batch_size), (UniversalGoal::Untargeted, 40, 4));
        assert!((s.alpha() - 2.0 / 255.0).abs() < 1e-12);
        let s = UniversalSpec::from_json_value(serde_json::json!({"goal": "hide-class", "class": "person", "eps": "4/255", "step_size": "1/255"})).unwrap();
        assert!((s.eps.value - 4.0 / 255.0).abs() < 1e-12 && (s.alpha() - 1.0 / 255.0).abs() < 1e-12);
        for (bad, quote) in [
            (serde_json::json!({"goal": "hide-class"}), "needs class"),
            (serde_json::json!({"class": 1}), "hide-class goal only"),
            (serde_json::json!({"eps": 0}), "eps"),
            (serde_json::json!({"steps": 0}), "got 0"),
            (serde_json::json!({"batch_size": 0}), "batch_size"),
            (serde_json::json!({"norm": "l2"}), "norm"),
        ] {
            let e = UniversalSpec::from_json_value(bad.clone()).unwrap_err().to_string();
            assert!(e.contains(quote), "{bad}: {e}");
        }
    }

    #[test]
    fn references_per_goal() {
        let selfie = zoo::spec("selfie").unwrap();
        let clean = vec![ClassMap { width: 2, height: 1, data: vec![1, 0] }, ClassMap { width: 2, height: 1, data: vec![0, 0] }];
        let (r, targeted) = UniversalSpec::default().references(selfie, &clean, &[]).unwrap();
        assert!(!targeted);
        assert_eq!(r, clean);
        let hide_person = UniversalSpec { goal: UniversalGoal::HideClass, class: Some(ClassRef::Name("person".into())), ..Default::default() };
        let (r, targeted) = hide_person.references(selfie, &clean, &[]).unwrap();
        assert!(targeted);
        assert_eq!(r[0].data, vec![0, 0]);
        assert_eq!(r[1].data, vec![0, 0]);
        let same = UniversalSpec { class: Some(ClassRef::Index(0)), ..hide_person };
        assert!(same.references(selfie, &clean, &[]).unwrap_err().to_string().contains("same class"));
        let gt = UniversalSpec { reference: MapOrigin::GroundTruth, ..Default::default() };
        assert!(gt.references(selfie, &clean, &[]).unwrap_err().to_string().contains("image 1"));
        let gts = vec![Some(ClassMap { width: 1, height: 1, data: vec![1] }); 2];
        assert_eq!(gt.references(selfie, &clean, &gts).unwrap().0[1].data, vec![1, 1]);
        assert_eq!(hide(&ClassMap { width: 3, height: 1, data: vec![15, VOID, 2] }, 15, 0).data, vec![0, VOID, 2]);
    }
}
