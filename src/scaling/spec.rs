//! [`ScalingSpec`]: the one description of an image-scaling attack that the CLI's
//! `scale-attack` flags and the page's scaling options both become.
//!
//! ```json
//! { "pipeline": { "scaler": "opencv-linear", "ratio": 4, "attack": { "eps": 1.0 } },
//!   "target": "class", "target_class": "person",
//!   "craft": { "eps": "16/255", "steps": 30, "loss": "ce" } }
//! ```

use serde::{Deserialize, Serialize};

use super::report::ScalingExperimentConfig;
use crate::attack::{AttackKind, AttackSpec, ClassRef, GoalKind, PgdConfig, Radius};
use crate::error::{Error, Result};

/// What the attack makes the pipeline see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScalingTarget {
    /// A given target image.
    #[default]
    Image,
    /// One class everywhere (`target_class`): a targeted PGD crafts the target image.
    Class,
    /// A wanted class map (`target_map`, or a painted one): a targeted PGD crafts the target
    /// image.
    Map,
}

/// One image-scaling attack (serde; absent keys take their defaults, unknown keys are errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScalingSpec {
    /// The pipeline under attack, the QP's ε (grey levels) and the defenses reported.
    pub pipeline: ScalingExperimentConfig,
    /// What the pipeline should see.
    pub target: ScalingTarget,
    /// `class`: the class, by index or name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_class: Option<ClassRef>,
    /// `map`: a class-index PNG (255 = don't care); absent: the caller's (painted) map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_map: Option<String>,
    /// `class` / `map`: the targeted PGD that crafts the target image from the downscaled
    /// source (its goal is set by `target`; ε, steps, loss, … are read from here). Absent:
    /// ε = 16/255, 30 steps; given, it is a whole [`AttackSpec`] with that type's defaults.
    pub craft: AttackSpec,
}

impl Default for ScalingSpec {
    fn default() -> Self {
        ScalingSpec {
            pipeline: ScalingExperimentConfig::default(),
            target: ScalingTarget::Image,
            target_class: None,
            target_map: None,
            craft: AttackSpec {
                // the crafting attack: PGD by default (any kind goes through the same dispatch)
                kind: AttackKind::Pgd,
                goal: GoalKind::TargetedMap,
                eps: vec![Radius::parse("16/255", "eps").expect("a valid literal")],
                steps: Some(30),
                ..AttackSpec::default()
            },
        }
    }
}

impl ScalingSpec {
    /// Parse JSON text (the page's options).
    pub fn from_json_value(value: serde_json::Value) -> Result<ScalingSpec> {
        let spec: ScalingSpec =
            serde_json::from_value(value).map_err(|e| Error::InvalidArgument(format!("scaling spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Check every value once; errors quote the value.
    pub fn validate(&self) -> Result<()> {
        let p = &self.pipeline;
        if p.ratio == 0 || p.ratio > 16 {
            return Err(Error::InvalidArgument(format!("ratio = {} must be in 1..=16", p.ratio)));
        }
        if !p.attack.eps.is_finite() || p.attack.eps < 0.0 {
            return Err(Error::InvalidArgument(format!("scaling ε = {} grey levels must be a finite number ≥ 0", p.attack.eps)));
        }
        match self.target {
            ScalingTarget::Class if self.target_class.is_none() => {
                return Err(Error::InvalidArgument("target = class needs target_class (an index or a name)".into()));
            }
            ScalingTarget::Image if self.target_class.is_some() || self.target_map.is_some() => {
                return Err(Error::InvalidArgument("target = image takes no target_class or target_map".into()));
            }
            _ => {}
        }
        // the crafting PGD always aims at the wanted map, whatever `craft.goal` says
        let craft = AttackSpec { goal: GoalKind::TargetedMap, ..self.craft.clone() };
        craft.validate().map_err(|e| Error::InvalidArgument(format!("craft: {e}")))
    }

    /// The crafting PGD's settings.
    pub fn craft_config(&self) -> Result<PgdConfig> {
        self.craft.pgd_config(self.craft.radius()?.value, self.craft.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let s = ScalingSpec::from_json_value(serde_json::json!({"target": "class", "target_class": "person", "craft": {"steps": 3}})).unwrap();
        assert_eq!(s.craft.steps(), 3);
        // a `craft` given is a whole attack spec (its ε defaults to the attack default, 8/255)…
        assert!((s.craft_config().unwrap().eps - 8.0 / 255.0).abs() < 1e-15);
        // …an absent one is the crafting default: 16/255, 30 steps
        let d = ScalingSpec::from_json_value(serde_json::json!({"target": "class", "target_class": 15})).unwrap();
        assert!((d.craft_config().unwrap().eps - 16.0 / 255.0).abs() < 1e-15);
        assert_eq!(d.craft.steps(), 30);
        assert_eq!(s.pipeline.ratio, 4);
        let e = |v: serde_json::Value| ScalingSpec::from_json_value(v).unwrap_err().to_string();
        assert!(e(serde_json::json!({"target": "class"})).contains("target_class"));
        assert!(e(serde_json::json!({"pipeline": {"scaler": "gimp"}})).contains("gimp"));
        assert!(e(serde_json::json!({"pipeline": {"ratio": 0}})).contains("ratio = 0"));
        assert!(e(serde_json::json!({"colour": 1})).contains("colour"));
    }
}
