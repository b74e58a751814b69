//! `--shard K/N`: the K-th of N deterministic slices of an experiment's work units (every
//! N-th unit from the K-th, so that every slice gets a share of each kind of work).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1..=count.
    pub index: usize,
    /// How many shards the units are split into.
    pub count: usize,
}

impl Shard {
    /// The whole run as one shard.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Shard `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 || index == 0 || index > count {
            return Err(Error::InvalidArgument(format!("shard {index}/{count} is out of range: K/N needs 1 ≤ K ≤ N")));
        }
        Ok(Shard { index, count })
    }

    /// Whether unit number `i` (0-based, in plan order) belongs to this shard.
    pub fn holds(&self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// `K/N`, e.g. `2/4` (schedulers that count from 0: [`Shard::from_zero_based`]).
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::InvalidArgument(format!("--shard '{s}': expected K/N with 1 ≤ K ≤ N (e.g. 2/4)"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n) = (k.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        Shard::new(k, n)
    }
}

impl Shard {
    /// Shard from a scheduler's 0-based task index (Slurm's `SLURM_ARRAY_TASK_ID` from 0,
    /// Kubernetes' `JOB_COMPLETION_INDEX`) and the task count.
    pub fn from_zero_based(index: usize, count: usize) -> Result<Shard> {
        Shard::new(index + 1, count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_partitions() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "1/-2"] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(bad) || e.contains("out of range"), "{bad}: {e}");
        }
        assert!("5/4".parse::<Shard>().unwrap_err().to_string().contains("5/4 is out of range"));
        assert_eq!(Shard::from_zero_based(0, 3).unwrap().to_string(), "1/3");
        // every unit in exactly one shard, for every N
        for n in 1..5 {
            let shards: Vec<Shard> = (1..=n).map(|k| Shard::new(k, n).unwrap()).collect();
            for i in 0..20 {
                assert_eq!(shards.iter().filter(|s| s.holds(i)).count(), 1);
            }
        }
        assert!((0..7).all(|i| Shard::ALL.holds(i)));
    }
}
