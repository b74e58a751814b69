//! SEA's progressive radius for APGD (Croce, Singh & Hein, ECCV 2024): the attack first
//! searches a larger ball and then shrinks it to the threat model's ε — `2ε` for the first
//! 3/10 of the `T` steps, `1.5ε` for the next 3/10, `ε` for the last 4/10. After each
//! reduction APGD projects its iterates onto the smaller ball and forgets its best point, so
//! the result only comes from the steps taken at the final ε (or is the start, which lies in
//! every ball).
//!
//! The phases are counted in gradient steps `s = 0, …, T − 1` (step `s` makes iterate
//! `s + 1`): `2ε` for `s < ⌊3T/10⌋`, `1.5ε` for `s < ⌊6T/10⌋`, `ε` after, so the last step is
//! always at ε (for `T ≤ 3` some phases are empty).

/// The radius of gradient step `step` of `steps`, as a multiple of ε (2, 1.5 or 1).
pub fn radius_factor(step: usize, steps: usize) -> f64 {
    if step < 3 * steps / 10 {
        2.0
    } else if step < 6 * steps / 10 {
        1.5
    } else {
        1.0
    }
}

/// Whether iterate `t` (made by step `t − 1`; `t = 0` is the start) lies in the final ε-ball.
pub fn at_final_radius(t: usize, steps: usize) -> bool {
    t == 0 || radius_factor(t - 1, steps) == 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_three_four_and_three_tenths_and_end_at_eps() {
        let f: Vec<f64> = (0..10).map(|s| radius_factor(s, 10)).collect();
        assert_eq!(f, vec![2.0, 2.0, 2.0, 1.5, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0]);
        let f: Vec<f64> = (0..100).map(|s| radius_factor(s, 100)).collect();
        assert_eq!((f.iter().filter(|&&v| v == 2.0).count(), f.iter().filter(|&&v| v == 1.5).count()), (30, 30));
        for steps in 1..30 {
            assert_eq!(radius_factor(steps - 1, steps), 1.0, "T = {steps}");
            // the factors never grow
            assert!((1..steps).all(|s| radius_factor(s, steps) <= radius_factor(s - 1, steps)));
        }
        assert_eq!(radius_factor(0, 1), 1.0);
        assert!(at_final_radius(0, 10) && !at_final_radius(6, 10) && at_final_radius(7, 10) && at_final_radius(10, 10));
    }
}
