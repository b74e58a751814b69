//! Checking an [`AttackSpec`] once, where it is made (CLI flags, TOML, the page's JSON, an
//! experiment entry): every value against its kind, goal and norm; errors quote the value.

use crate::attack::losses::loss::LossKind;
use crate::attack::loops::norm::Norm;
use crate::attack::spec::attack_spec::{AttackKind, AttackSpec, GoalKind, MAX_RESTARTS, MAX_STEPS, MapOrigin, invalid, kebab};
use crate::error::Result;

impl AttackSpec {
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
        if let Some(s) = self.steps
            && (s == 0 || s > MAX_STEPS)
        {
            return Err(invalid(format!("steps = {s} must be in 1..={MAX_STEPS}")));
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

    /// `restarts`, `radius_schedule`, `losses` and `members`.
    fn validate_ensemble(&self) -> Result<()> {
        let kind = kebab(&self.kind);
        if self.restarts == 0 || self.restarts > MAX_RESTARTS {
            return Err(invalid(format!("restarts = {} must be in 1..={MAX_RESTARTS}", self.restarts)));
        }
        self.validate_members()?;
        if self.radius_schedule == Some(true) {
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
        only(self.reference == Some(MapOrigin::GroundTruth) && self.goal != GoalKind::Untargeted, "reference", "untargeted")?;
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

    /// `members`: only for `worst-case`, which needs at least one; each a valid attack inside
    /// this one.
    fn validate_members(&self) -> Result<()> {
        let kind = kebab(&self.kind);
        match (&self.members, self.kind) {
            (Some(_), k) if k != AttackKind::WorstCase => Err(invalid(format!("members does not apply to kind '{kind}' (only to worst-case)"))),
            (None, AttackKind::WorstCase) => Err(invalid("kind 'worst-case' needs members (the attacks to take the worst case of)".into())),
            (Some(m), _) if m.is_empty() => Err(invalid("the worst case lists no attack in members".into())),
            (Some(members), _) => {
                if self.loss != LossKind::Ce || self.step_size.is_some() || self.step_factor.is_some() || self.steps.is_some() {
                    return Err(invalid("loss, steps and step sizes do not apply to kind 'worst-case' (give them to each member)".into()));
                }
                members.iter().try_for_each(|m| m.within(self).map(|_| ()))
            }
            (None, _) => Ok(()),
        }
    }
}
