//! [`AttackKind`] and [`PgdConfig`]: the attack family and the settings every attack loop reads (radius, steps, norm, loss, start,
//! read-backs, ensembles). An [`crate::attack::AttackSpec`] becomes one
//! ([`crate::attack::AttackSpec::pgd_config`]); the loops only read them. They are validated
//! once, where a run starts ([`crate::attack::run_kind`]).

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::attack::loops::norm::Norm;
use crate::attack::losses::loss::LossKind;
use crate::error::Error;

/// The attack family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// Projected gradient descent with a fixed step (Madry et al. 2018), with the per-pixel
    /// losses of SegPGD and CosPGD.
    Pgd,
    /// APGD (Croce & Hein, ICML 2020), the default: the step size starts at 2ε (targeted ε/2,
    /// or `step_size`) and halves where progress stalls, with momentum.
    #[default]
    Apgd,
    /// SEA (Croce, Singh & Hein, ECCV 2024): APGD once per loss of `losses` (default masked
    /// CE, balanced masked CE, JS) from its own random start, `steps` each, with the progressive
    /// radius, per image the strongest result (`loss` does not apply).
    Sea,
    /// DAG (Xie et al., ICCV 2017): steps `γ·g/‖g‖∞` along the margin gradient of the pixels
    /// not yet fooled (or not yet on their target), until none is left or the steps run out;
    /// γ = `step_size` (or `step_factor · ε`), default 0.5/255; `eps = 1` (L∞) is the paper's
    /// unbounded attack.
    Dag,
    /// The worst case over a list of attacks (`members`, any kinds and settings): per image the
    /// strongest, as SEA and "Trying Harder Pays Off" (Halmosi et al., ECCV 2024) report
    /// robustness; also scored by the per-image choice that minimises the pooled mIoU.
    WorstCase,
}

impl AttackKind {
    /// Every attack family, the default first (front ends list them in this order).
    pub const ALL: [AttackKind; 5] = [AttackKind::Apgd, AttackKind::Pgd, AttackKind::Sea, AttackKind::Dag, AttackKind::WorstCase];

    /// Its name in specs (`apgd`, `pgd`, `sea`, `dag`, `worst-case`).
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::Pgd => "pgd",
            AttackKind::Apgd => "apgd",
            AttackKind::Sea => "sea",
            AttackKind::Dag => "dag",
            AttackKind::WorstCase => "worst-case",
        }
    }

    /// A short title for menus.
    pub fn title(self) -> &'static str {
        match self {
            AttackKind::Pgd => "PGD (fixed step)",
            AttackKind::Apgd => "APGD (adaptive step)",
            AttackKind::Sea => "SEA (APGD × 3 losses, worst case per image)",
            AttackKind::Dag => "DAG (dense margin, until every pixel is fooled)",
            AttackKind::WorstCase => "Worst case over several attacks",
        }
    }

    /// Whether `step_size` / `step_factor` set the step (PGD's fixed step, DAG's γ); APGD and
    /// SEA adapt theirs (a given one is only their first step).
    pub fn uses_step_size(self) -> bool {
        matches!(self, AttackKind::Pgd | AttackKind::Dag)
    }

    /// Whether `loss` steers the attack (SEA runs its own set of losses; DAG follows its margin;
    /// a worst case's members have their own).
    pub fn uses_loss(self) -> bool {
        matches!(self, AttackKind::Pgd | AttackKind::Apgd)
    }

    /// Whether it is an ensemble of several runs (per image the strongest).
    pub fn is_ensemble(self) -> bool {
        matches!(self, AttackKind::Sea | AttackKind::WorstCase)
    }
}

/// One run of an ensemble (SEA's losses, restarts, a worst case's attacks): its family, its
/// settings, a label for reports and, for SEA, the loss each image it wins records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The family of the run.
    pub kind: AttackKind,
    /// Its settings.
    pub cfg: PgdConfig,
    /// Its label (`masked-ce`, `pgd-ce`, `restart 2`, …).
    pub label: String,
    /// SEA: the loss recorded as each image's `winning_loss`.
    pub loss: Option<LossKind>,
}

/// Settings of an attack loop. Build with `PgdConfig::new().with_eps(4.0 / 255.0).with_steps(10)`.
#[derive(Config, Debug, PartialEq)]
pub struct PgdConfig {
    /// Radius ε of the threat model, in `[0, 1]` pixel units: the largest change of any value
    /// (L∞) or the Euclidean length of each image's perturbation over its `3·H·W` values (L2).
    #[config(default = "8.0 / 255.0")]
    pub eps: f64,
    /// Step size α (PGD, DAG's γ); `None` means `ε / 4` (PGD).
    pub step_size: Option<f64>,
    /// Number of gradient steps `T` (at least 1).
    #[config(default = 10)]
    pub steps: usize,
    /// Start from a random point of the ε-ball instead of the clean image.
    #[config(default = false)]
    pub random_start: bool,
    /// Seed of the random start.
    #[config(default = 0)]
    pub seed: u64,
    /// Threat model.
    #[config(default = "Norm::Linf")]
    pub norm: Norm,
    /// Per-pixel loss.
    #[config(default = "LossKind::Ce")]
    pub loss: LossKind,
    /// APGD: the loss whose per-image values drive the step-size schedule and the restart
    /// point (`None`: the optimised loss). SEA's members track plain CE, as its authors do: the
    /// masked losses fall as pixels flip, which would halve the steps of a run that succeeds.
    pub track_loss: Option<LossKind>,
    /// Stop as soon as every image's success rate (fraction of valid pixels off the reference
    /// for untargeted goals, on the target for targeted ones) reaches this value in `[0, 1]`
    /// (with the radius schedule: only at the final radius).
    pub early_stop: Option<f64>,
    /// Also round the adversarial images to 8 bits inside the ε-ball and evaluate them
    /// ([`crate::attack::AttackResult::quantized`], see [`crate::attack::loops::quantize`]).
    #[config(default = false)]
    pub quantize: bool,
    /// With `quantize`: gradient steps on the 8-bit grid inside the ball after the attack,
    /// starting from the better rounding of its result (0: only the roundings).
    #[config(default = 0)]
    pub grid_steps: usize,
    /// Run the attack this many times, restart `r ≥ 1` from a random start seeded from `seed`
    /// and `r`, and keep per image the strongest result ([`crate::attack::run_with_restarts`]).
    #[config(default = 1)]
    pub restarts: usize,
    /// APGD (and SEA's members): SEA's progressive radius — three APGD runs at 2ε, 1.5ε and ε
    /// over 3/10, 3/10 and the rest of the steps, each starting from the previous one's most
    /// successful point ([`crate::attack::loops::radius_schedule`]).
    #[config(default = false)]
    pub radius_schedule: bool,
    /// SEA: the losses of the ensemble, one APGD run each (`None`: [`LossKind::SEA`]).
    pub losses: Option<Vec<LossKind>>,
    /// The worst case's attacks (`kind = worst-case`), each with its own family and settings.
    pub members: Option<Vec<Member>>,
    /// Read an iterate's loss and class maps back for the observer and the history only every
    /// this many steps (and at the first and last iterate); `1`: every step. On a GPU each read
    /// stalls the device (see [`crate::attack::loops::readback`]); the observer, and so a
    /// cancel, is also only reached every this many steps.
    #[config(default = 1)]
    pub progress_every: usize,
}

/// The seed of run `k` of an ensemble (restart `k`, SEA's `k`-th loss, a worst case's `k`-th
/// attack): `seed` itself for `k = 0`, else the `k`-th output of SplitMix64 seeded with `seed`.
pub fn member_seed(seed: u64, k: usize) -> u64 {
    let mut g = crate::util::SplitMix64::new(seed);
    (0..k).fold(seed, |_, _| g.next_u64())
}

impl PgdConfig {
    /// Every gradient step an attack of family `kind` with these settings takes, over all its
    /// runs (restarts × SEA's losses × steps, or the sum over a worst case's attacks).
    pub fn total_steps(&self, kind: AttackKind) -> usize {
        let one = match kind {
            AttackKind::Sea => self.losses.as_ref().map_or(LossKind::SEA.len(), Vec::len) * self.steps,
            AttackKind::WorstCase => self.members.iter().flatten().map(|m| m.cfg.total_steps(m.kind)).sum(),
            _ => self.steps,
        };
        self.restarts * one
    }

    /// The step size α actually used by PGD.
    pub fn alpha(&self) -> f64 {
        self.step_size.unwrap_or(self.eps / 4.0)
    }

    /// Check every setting; errors quote the bad value.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if !self.eps.is_finite() || self.eps < 0.0 {
            return bad(format!("eps must be a finite number ≥ 0, got {}", self.eps));
        }
        if self.steps == 0 {
            return bad("steps must be at least 1, got 0".into());
        }
        if let Some(a) = self.step_size
            && (!a.is_finite() || a <= 0.0)
        {
            return bad(format!("step size must be a finite number > 0, got {a}"));
        }
        if let Some(s) = self.early_stop
            && !(0.0..=1.0).contains(&s)
        {
            return bad(format!("early stop must be a success rate in [0, 1], got {s}"));
        }
        if self.restarts == 0 {
            return bad("restarts must be at least 1, got 0".into());
        }
        if self.radius_schedule && self.eps <= 0.0 {
            return bad(format!("the radius schedule needs eps > 0, got {}", self.eps));
        }
        if self.progress_every == 0 {
            return bad("progress_every must be at least 1, got 0".into());
        }
        if self.losses.as_ref().is_some_and(Vec::is_empty) {
            return bad("the ensemble's loss list is empty".into());
        }
        if self.members.as_ref().is_some_and(Vec::is_empty) {
            return bad("the worst case lists no attack".into());
        }
        for m in self.members.iter().flatten() {
            m.cfg.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_json() {
        let c = PgdConfig::new();
        assert!((c.eps - 8.0 / 255.0).abs() < 1e-15 && c.steps == 10 && c.norm == Norm::Linf);
        assert!((c.alpha() - 2.0 / 255.0).abs() < 1e-15);
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["norm"], "linf");
        assert_eq!(j["loss"], "ce");
        let back: PgdConfig = serde_json::from_value(j).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn bad_settings_quote_the_value() {
        let bad = [
            (PgdConfig::new().with_eps(-0.1), "-0.1"),
            (PgdConfig::new().with_eps(f64::NAN), "NaN"),
            (PgdConfig::new().with_steps(0), "got 0"),
            (PgdConfig::new().with_step_size(Some(0.0)), "step size"),
            (PgdConfig::new().with_early_stop(Some(1.5)), "1.5"),
            (PgdConfig::new().with_restarts(0), "restarts"),
            (PgdConfig::new().with_progress_every(0), "progress_every"),
            (PgdConfig::new().with_eps(0.0).with_radius_schedule(true), "got 0"),
            (PgdConfig::new().with_losses(Some(Vec::new())), "empty"),
        ];
        for (cfg, quote) in bad {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(quote), "{e}");
        }
        assert!(PgdConfig::new().validate().is_ok());
    }
}
