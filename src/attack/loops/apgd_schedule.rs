//! APGD's step-size schedule (Croce & Hein, ICML 2020), per image, as its authors' code runs it
//! (auto-attack's `autopgd_base.py`, and `apgd_train` of SEA's repository): the host-side
//! bookkeeping of one APGD run of `n` steps.
//!
//! Checkpoints come after `k` steps, then after `k − d`, `k − 2d`, … steps, never fewer than
//! `m`, with `k = max(⌊0.22 n⌋, 1)`, `d = max(⌊0.03 n⌋, 1)`, `m = max(⌊0.06 n⌋, 1)` — the
//! paper's `p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)` in whole steps (for `n = 100`:
//! 22, 41, 57, 70, 80, 87, 93, 99; for short runs the checkpoints soon come every step). At a
//! checkpoint an image halves its step size and restarts from its highest-objective point when
//!
//! 1. at most `ρ = 0.75` of the steps since the last checkpoint raised the objective (each step
//!    compared with the one before it; the run's first step counts as a rise, as the authors'
//!    code compares it with the zero its loss array starts with), or
//! 2. its step size was not halved at the last checkpoint (there is none before the first) and
//!    the best objective has not improved since.
//!
//! Objectives are "higher is better": the tracked loss ([`crate::attack::PgdConfig::track_loss`]),
//! negated for targeted goals.

/// Fraction `ρ` of steps between two checkpoints that must raise the objective to keep the step.
pub const RHO: f64 = 0.75;

/// The iterates (counted from the run's start, `t = 1..=n`) after which a run of `n` steps
/// checks its step sizes.
pub fn checkpoints(n: usize) -> Vec<usize> {
    let frac = |f: f64| ((f * n as f64) as usize).max(1);
    let (mut k, decrease, min) = (frac(0.22), frac(0.03), frac(0.06));
    let (mut out, mut t) = (Vec::new(), 0);
    while t + k <= n {
        t += k;
        out.push(t);
        k = k.saturating_sub(decrease).max(min);
    }
    out
}

/// APGD's per-image bookkeeping for one run: step sizes, the best objective and what the
/// checkpoints compare.
#[derive(Debug, Clone)]
pub struct Schedule {
    checkpoints: Vec<usize>,
    last_checkpoint: usize,
    /// Current step size of each image.
    pub eta: Vec<f64>,
    /// Best objective so far per image.
    pub best: Vec<f64>,
    /// Objective of the latest iterate per image.
    latest: Vec<f64>,
    /// Steps since the last checkpoint that raised the objective.
    rises: Vec<usize>,
    /// Best objective at the last checkpoint.
    best_at_checkpoint: Vec<f64>,
    /// Whether the step size was halved at the last checkpoint (true before the first).
    halved: Vec<bool>,
}

impl Schedule {
    /// A run of `steps` steps on `n` images, all starting with step size `eta`.
    pub fn new(n: usize, eta: f64, steps: usize) -> Self {
        Schedule {
            checkpoints: checkpoints(steps),
            last_checkpoint: 0,
            eta: vec![eta; n],
            best: vec![f64::NEG_INFINITY; n],
            latest: vec![0.0; n],
            rises: vec![0; n],
            best_at_checkpoint: vec![f64::NEG_INFINITY; n],
            halved: vec![true; n],
        }
    }

    /// Record the objectives of iterate `t` (`t = 0`: the run's start); per image, whether it is
    /// a new best (strictly higher; always at `t = 0`).
    pub fn record(&mut self, t: usize, objective: &[f64]) -> Vec<bool> {
        let mut improved = Vec::with_capacity(objective.len());
        for (i, &f) in objective.iter().enumerate() {
            if t == 0 {
                self.best_at_checkpoint[i] = f;
                self.latest[i] = 0.0;
            } else if f > self.latest[i] || t == 1 {
                self.rises[i] += 1;
            }
            if t > 0 {
                self.latest[i] = f;
            }
            let better = t == 0 || f > self.best[i];
            if better {
                self.best[i] = f;
            }
            improved.push(better);
        }
        improved
    }

    /// After iterate `t`: per image, whether it halves its step size and restarts from its best
    /// point (never, away from the checkpoints).
    pub fn checkpoint(&mut self, t: usize) -> Vec<bool> {
        let n = self.eta.len();
        if !self.checkpoints.contains(&t) {
            return vec![false; n];
        }
        let span = (t - self.last_checkpoint) as f64;
        let mut halve = Vec::with_capacity(n);
        for i in 0..n {
            let few_rises = (self.rises[i] as f64) <= RHO * span;
            let stalled = !self.halved[i] && self.best[i] <= self.best_at_checkpoint[i];
            let h = few_rises || stalled;
            if h {
                self.eta[i] /= 2.0;
            }
            self.halved[i] = h;
            self.best_at_checkpoint[i] = self.best[i];
            self.rises[i] = 0;
            halve.push(h);
        }
        self.last_checkpoint = t;
        halve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_the_authors_countdown() {
        assert_eq!(checkpoints(100), vec![22, 41, 57, 70, 80, 87, 93, 99]);
        assert_eq!(checkpoints(300), vec![66, 123, 171, 210, 240, 261, 279, 297]);
        // short runs: k = 4, d = 1, m = 1 for 20 steps
        assert_eq!(checkpoints(20), vec![4, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
        assert_eq!(checkpoints(15), vec![3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(checkpoints(1), vec![1]);
    }

    #[test]
    fn halves_on_few_rises_or_a_stall_and_not_for_a_stall_at_the_first_checkpoint() {
        // checkpoints(20) = [4, 7, …]; three images
        let mut s = Schedule::new(3, 1.0, 20);
        // image 0 rises every step; image 1 rises at t = 1 (always counted) and t = 4 only: 2 of
        // 4 ≤ 3 → halves; image 2 rises 3 of 4 (≤ 0.75·4) → halves although it improved
        let rows = [[0.0, 5.0, 0.0], [1.0, 1.0, 1.0], [2.0, 0.5, 2.0], [3.0, 0.4, 1.5], [4.0, 0.6, 3.0]];
        for (t, row) in rows.iter().enumerate() {
            s.record(t, row);
            let want = if t == 4 { vec![false, true, true] } else { vec![false; 3] };
            assert_eq!(s.checkpoint(t), want, "t = {t}");
        }
        assert_eq!(s.eta, vec![1.0, 0.5, 0.5]);
        assert_eq!(s.best, vec![4.0, 5.0, 3.0]);
        // next checkpoint t = 7 (span 3): every image rises 3 of 3; image 1 does not beat 5 but
        // was halved last time, so condition 2 does not apply → nobody halves
        for (t, row) in [(5, [5.0, 1.0, 3.1]), (6, [6.0, 2.0, 3.2]), (7, [7.0, 3.0, 3.3])] {
            s.record(t, &row);
        }
        assert_eq!(s.checkpoint(7), vec![false, false, false]);
        // t = 9 (span 2): image 1 rises twice without beating 5, and was not halved at t = 7 →
        // condition 2 halves it
        for (t, row) in [(8, [8.0, 3.5, 3.4]), (9, [9.0, 4.0, 3.5])] {
            s.record(t, &row);
        }
        assert_eq!(s.checkpoint(9), vec![false, true, false]);
    }
}
