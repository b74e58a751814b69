//! [`MemberSpec`]: one attack of a worst case (`kind = "worst-case"`). A member names only what
//! makes it a different attack — its family, loss, steps, step size, start, restarts, SEA's
//! settings — and takes the goal, the radius, the norm, the seed and the defense from the worst
//! case around it, so every member attacks the same images towards the same goal in the same
//! ball, and the worst case per image is meaningful.
//!
//! ```toml
//! kind = "worst-case"
//! eps = "4/255"
//! members = [
//!   { kind = "apgd", loss = "segpgd", steps = 100 },
//!   { kind = "pgd", loss = "cospgd", steps = 100, step_factor = 0.125 },
//!   { kind = "sea", steps = 100 },
//!   { kind = "dag", steps = 200 },
//! ]
//! ```

use serde::{Deserialize, Serialize};

use super::attack_spec::AttackSpec;
use super::radius::Radius;
use crate::attack::losses::loss::LossKind;
use crate::attack::settings::AttackKind;
use crate::error::{Error, Result};

/// One attack of a worst case (see the module documentation). Absent keys take the member
/// kind's defaults; unknown keys — and the ones the worst case decides (goal, eps, norm,
/// defense, …) — are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MemberSpec {
    /// A label for reports (default: the attack's label, e.g. `apgd-segpgd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The attack family (any but `worst-case`).
    pub kind: AttackKind,
    /// The per-pixel loss (PGD, APGD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossKind>,
    /// Gradient steps (default: the kind's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// PGD / DAG: the step size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<Radius>,
    /// PGD / DAG: the step size as a multiple of ε.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_factor: Option<f64>,
    /// Start from a random point of the ball (default: the kind's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_start: Option<bool>,
    /// Runs from random starts, per image the strongest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarts: Option<usize>,
    /// APGD / SEA: SEA's progressive radius (default: the kind's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_schedule: Option<bool>,
    /// SEA: its losses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub losses: Option<Vec<LossKind>>,
}

impl MemberSpec {
    /// The whole attack this member runs inside `outer` (the worst case): `outer`'s goal,
    /// radius, norm, seed, read-backs and defense with the member's own family and settings.
    pub fn within(&self, outer: &AttackSpec) -> Result<AttackSpec> {
        if self.kind == AttackKind::WorstCase {
            return Err(Error::InvalidArgument("a worst case cannot be a member of a worst case (list its attacks instead)".into()));
        }
        let spec = AttackSpec {
            name: Some(self.label()),
            kind: self.kind,
            loss: self.loss.unwrap_or_default(),
            steps: self.steps,
            step_size: self.step_size.clone(),
            step_factor: self.step_factor,
            random_start: self.random_start,
            restarts: self.restarts.unwrap_or(1),
            radius_schedule: self.radius_schedule,
            losses: self.losses.clone(),
            members: None,
            ..outer.clone()
        };
        spec.validate().map_err(|e| Error::InvalidArgument(format!("worst-case member '{}': {e}", self.label())))?;
        Ok(spec)
    }

    /// Its label: `name`, else the attack's (`pgd-ce`, `apgd-segpgd`, `sea`, `dag`).
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let spec = AttackSpec { kind: self.kind, loss: self.loss.unwrap_or_default(), losses: self.losses.clone(), ..AttackSpec::default() };
        match self.kind {
            AttackKind::Dag => "dag".into(),
            _ => spec.label(),
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;

    #[test]
    fn members_inherit_the_goal_radius_and_norm_and_refuse_what_the_worst_case_decides() {
        let outer = AttackSpec::from_json(
            r#"{"kind": "worst-case", "eps": "4/255", "norm": "l2", "seed": 7, "goal": "targeted-class", "target_class": 15,
                "members": [{"kind": "pgd", "loss": "cospgd", "steps": 5}, {"kind": "sea", "steps": 3}]}"#,
        )
        .unwrap();
        let members = outer.members.clone().unwrap();
        let pgd = members[0].within(&outer).unwrap();
        assert_eq!((pgd.kind, pgd.loss, pgd.steps(), pgd.seed), (AttackKind::Pgd, LossKind::CosPgd, 5, 7));
        assert_eq!((pgd.eps.clone(), pgd.norm, pgd.goal, pgd.target_class.clone()), (outer.eps.clone(), outer.norm, outer.goal, outer.target_class.clone()));
        assert_eq!(members[0].label(), "pgd-cospgd");
        let sea = members[1].within(&outer).unwrap();
        assert_eq!((sea.kind, sea.steps(), sea.radius_schedule(), sea.random_start()), (AttackKind::Sea, 3, true, true));
        let e = |j: &str| AttackSpec::from_json(j).unwrap_err().to_string();
        assert!(e(r#"{"kind": "worst-case", "members": [{"kind": "pgd", "eps": "1/255"}]}"#).contains("eps"));
        assert!(e(r#"{"kind": "worst-case", "members": [{"kind": "pgd", "goal": "targeted-class"}]}"#).contains("goal"));
        assert!(e(r#"{"kind": "worst-case", "members": [{"kind": "worst-case"}]}"#).contains("cannot be a member"));
        assert!(e(r#"{"kind": "worst-case", "members": []}"#).contains("no attack"));
        assert!(e(r#"{"kind": "worst-case"}"#).contains("members"));
        assert!(e(r#"{"kind": "pgd", "members": [{"kind": "dag"}]}"#).contains("only to worst-case"));
        assert!(e(r#"{"kind": "worst-case", "members": [{"kind": "pgd", "steps": 0}]}"#).contains("steps = 0"));
    }
}
