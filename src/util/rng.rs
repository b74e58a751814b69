//! A seedable random number generator, identical on every platform.

/// SplitMix64's state increment per draw (the golden-ratio constant).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A small, fast, seedable PRNG (SplitMix64, Steele, Lea & Flood, OOPSLA 2014): enough for
/// random starts and property tests, identical on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Skip the next `n` draws of [`Self::next_u64`] in O(1) (the state advances by a constant
    /// per draw): the generator then continues exactly as if it had drawn them.
    pub fn skip(&mut self, n: u64) {
        self.state = self.state.wrapping_add(GAMMA.wrapping_mul(n));
    }

    /// The seed of a generator that starts where `SplitMix64::new(seed)` is after `n` draws
    /// (the seed is the state): how a part of a batch draws its slice of a batch-wide stream.
    pub fn seed_after(seed: u64, n: u64) -> u64 {
        let mut g = SplitMix64::new(seed);
        g.skip(n);
        g.state
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `0..n` (`n > 0`; tiny modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Standard normal (Box–Muller).
    pub fn next_gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_continues_as_if_the_draws_were_made() {
        for (seed, n) in [(0u64, 0u64), (7, 1), (42, 1000), (u64::MAX, 12_345)] {
            let mut drawn = SplitMix64::new(seed);
            for _ in 0..n {
                drawn.next_u64();
            }
            let mut skipped = SplitMix64::new(seed);
            skipped.skip(n);
            let mut reseeded = SplitMix64::new(SplitMix64::seed_after(seed, n));
            let a: Vec<u64> = (0..5).map(|_| drawn.next_u64()).collect();
            let b: Vec<u64> = (0..5).map(|_| skipped.next_u64()).collect();
            let c: Vec<u64> = (0..5).map(|_| reseeded.next_u64()).collect();
            assert_eq!(a, b, "seed {seed}, skip {n}");
            assert_eq!(a, c, "seed {seed}, reseeded after {n}");
        }
    }
}
