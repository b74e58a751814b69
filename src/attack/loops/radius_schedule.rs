//! SEA's progressive radius for APGD (Croce, Singh & Hein, ECCV 2024; `apgd_largereps` in their
//! code): the attack first searches a larger ball and then shrinks it to the threat model's ε.
//! It is three APGD runs ([`super::apgd`]) — at `2ε` for `⌊0.3T⌋` steps, at `1.5ε` for
//! `⌊0.3T⌋` steps and at `ε` for the remaining `T − 2⌊0.3T⌋` — each with its own checkpoints
//! and initial step size (twice its radius), each starting from the previous run's most
//! successful point projected onto its ball. Only the last run's result is returned, so it lies
//! in the ε-ball. For `T ≤ 3` the first two runs are empty and the attack is one run at ε.

use crate::attack::settings::PgdConfig;

/// One APGD run of the attack: its radius and its gradient steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// The radius of its ball.
    pub radius: f64,
    /// Its gradient steps (at least 1).
    pub steps: usize,
}

/// The runs of an APGD attack with the settings `cfg`: one at ε, or with `radius_schedule` the
/// non-empty ones of 2ε, 1.5ε and ε (see the module documentation).
pub fn phases(cfg: &PgdConfig) -> Vec<Phase> {
    if !cfg.radius_schedule {
        return vec![Phase { radius: cfg.eps, steps: cfg.steps }];
    }
    let part = (0.3 * cfg.steps as f64) as usize;
    [(2.0, part), (1.5, part), (1.0, cfg.steps - 2 * part)]
        .into_iter()
        .filter(|&(_, steps)| steps > 0)
        .map(|(f, steps)| Phase { radius: f * cfg.eps, steps })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_tenths_three_tenths_and_the_rest_ending_at_eps() {
        let at = |steps| phases(&PgdConfig::new().with_eps(0.1).with_steps(steps).with_radius_schedule(true));
        let p = at(50);
        assert_eq!(p.iter().map(|p| p.steps).collect::<Vec<_>>(), vec![15, 15, 20]);
        assert!((p[0].radius - 0.2).abs() < 1e-12 && (p[1].radius - 0.15).abs() < 1e-12 && p[2].radius == 0.1);
        assert_eq!(at(300).iter().map(|p| p.steps).collect::<Vec<_>>(), vec![90, 90, 120]);
        assert_eq!(at(10).iter().map(|p| p.steps).collect::<Vec<_>>(), vec![3, 3, 4]);
        assert_eq!(at(3), vec![Phase { radius: 0.1, steps: 3 }]);
        for steps in 1..40 {
            let p = at(steps);
            assert_eq!(p.iter().map(|p| p.steps).sum::<usize>(), steps);
            assert_eq!(p.last().unwrap().radius, 0.1);
        }
        assert_eq!(phases(&PgdConfig::new().with_eps(0.1).with_steps(7)), vec![Phase { radius: 0.1, steps: 7 }]);
    }
}
