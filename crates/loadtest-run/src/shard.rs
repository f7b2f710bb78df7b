//! Sharded runs: one load test driven by several client processes (or machines), each a
//! shard `i/n` running its share of every step, whose run folders merge into one.
//!
//! The split is exact: a step of concurrency `L` gives shard `i` `⌊L/n⌋` streams plus one
//! more for the first `L mod n` shards, so the shards' streams add up to `L`; a step of `R`
//! requests/s gives each `R/n` (independent Poisson or gamma arrivals at `R/n` add up to
//! arrivals at `R`); request `k` of shard `i` is request `k·n + i` of the whole run, so its
//! inputs are the single run's request `k·n + i`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most shards a run may have.
pub const MAX_SHARDS: u32 = 4096;

/// One shard of a run: `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredShard")]
pub struct Shard {
    index: u32,
    count: u32,
}

#[derive(Deserialize)]
struct StoredShard {
    index: u32,
    count: u32,
}

impl TryFrom<StoredShard> for Shard {
    type Error = ShardError;

    fn try_from(s: StoredShard) -> Result<Self, Self::Error> {
        Shard::new(s.index, s.count)
    }
}

/// Why a shard cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `index` is not below `count`, `count` is 0 or above [`MAX_SHARDS`].
    #[error("shard {index}/{count}: expected 0 <= index < count <= {MAX_SHARDS}")]
    OutOfRange {
        /// The index given.
        index: u32,
        /// The count given.
        count: u32,
    },
    /// Not `i/n` with two whole numbers.
    #[error("{0:?}: expected i/n, e.g. 0/4 (0-based index / number of shards)")]
    Syntax(String),
    /// `auto` found none of the launchers' variables.
    #[error(
        "cannot tell this process's shard: set SLURM_PROCID and SLURM_NTASKS (srun does), or \
         JOB_COMPLETION_INDEX (a Kubernetes Indexed Job does) with the number of shards given"
    )]
    NoLauncher,
    /// A launcher's variable holds something other than a whole number.
    #[error("{name}={value:?} is not a whole number")]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// Its value (sanitised: at most 32 characters, no control characters).
        value: String,
    },
    /// `JOB_COMPLETION_INDEX` without the number of shards.
    #[error("JOB_COMPLETION_INDEX is set but not the number of shards (the Job's completions)")]
    NoShardCount,
}

impl Shard {
    /// The whole run in one process.
    pub const SINGLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    ///
    /// # Errors
    ///
    /// [`ShardError::OutOfRange`] unless `index < count <= MAX_SHARDS`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if index < count && count <= MAX_SHARDS {
            Ok(Shard { index, count })
        } else {
            Err(ShardError::OutOfRange { index, count })
        }
    }

    /// Shard 0 of the same run: the one with the largest share of every step.
    #[must_use]
    pub fn first(self) -> Shard {
        Shard {
            index: 0,
            count: self.count,
        }
    }

    /// This shard's index, 0-based.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards the run has.
    pub fn count(self) -> u32 {
        self.count
    }

    /// This shard's streams of a concurrency step of `load` (rounded to whole streams):
    /// `⌊L/n⌋`, plus one for the first `L mod n` shards.
    pub fn concurrency_share(self, load: f64) -> u64 {
        // Validated loads are whole, finite and positive; anything else gets nothing.
        let load = if load.is_finite() && load > 0.0 {
            load.round() as u64
        } else {
            0
        };
        let n = u64::from(self.count);
        load / n + u64::from(u64::from(self.index) < load % n)
    }

    /// This shard's arrival rate of a rate step of `rate_per_s` requests/s.
    pub fn rate_share(self, rate_per_s: f64) -> f64 {
        rate_per_s / f64::from(self.count)
    }

    /// The run-wide index of this shard's request `local` (its `local`-th request, 0-based):
    /// `local · n + index`.
    pub fn global_index(self, local: u64) -> u64 {
        local
            .saturating_mul(u64::from(self.count))
            .saturating_add(u64::from(self.index))
    }

    /// The shard a launcher gave this process, read through `env` (one variable of the
    /// process environment): Slurm's `SLURM_PROCID` / `SLURM_NTASKS`, else a Kubernetes
    /// Indexed Job's `JOB_COMPLETION_INDEX` with `shards` (the Job's completions).
    ///
    /// # Errors
    ///
    /// Why none could be read ([`ShardError`]).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        shards: Option<u32>,
    ) -> Result<Self, ShardError> {
        let number = |name: &'static str| -> Result<Option<u32>, ShardError> {
            match env(name) {
                None => Ok(None),
                Some(value) => {
                    value
                        .trim()
                        .parse::<u32>()
                        .map(Some)
                        .map_err(|_| ShardError::BadVariable {
                            name,
                            value: value.chars().filter(|c| !c.is_control()).take(32).collect(),
                        })
                }
            }
        };
        if let (Some(index), Some(count)) = (number("SLURM_PROCID")?, number("SLURM_NTASKS")?) {
            return Shard::new(index, count);
        }
        match number("JOB_COMPLETION_INDEX")? {
            Some(index) => Shard::new(index, shards.ok_or(ShardError::NoShardCount)?),
            None => Err(ShardError::NoLauncher),
        }
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::SINGLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax =
            || ShardError::Syntax(s.chars().filter(|c| !c.is_control()).take(32).collect());
        let (index, count) = s.trim().split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse::<u32>().map_err(|_| syntax())?;
        let count = count.trim().parse::<u32>().map_err(|_| syntax())?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn parses_and_prints_i_of_n() {
        let s: Shard = "2/4".parse().unwrap();
        assert_eq!(
            (s.index(), s.count(), s.to_string()),
            (2, 4, "2/4".to_owned())
        );
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap(), Shard::SINGLE);
        for bad in ["4/4", "1/0", "0/5000", "-1/4", "1", "a/b", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"index":2,"count":4}"#);
        assert_eq!(serde_json::from_str::<Shard>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Shard>(r#"{"index":4,"count":4}"#).is_err());
    }

    #[test]
    fn the_launcher_tells_the_shard() {
        let slurm = [("SLURM_PROCID", "3"), ("SLURM_NTASKS", "4")];
        assert_eq!(
            Shard::from_env(env(&slurm), None).unwrap().to_string(),
            "3/4"
        );
        let k8s = [("JOB_COMPLETION_INDEX", "1")];
        assert_eq!(
            Shard::from_env(env(&k8s), Some(3)).unwrap().to_string(),
            "1/3"
        );
        assert_eq!(
            Shard::from_env(env(&k8s), None).unwrap_err(),
            ShardError::NoShardCount
        );
        assert_eq!(
            Shard::from_env(env(&[]), Some(3)).unwrap_err(),
            ShardError::NoLauncher
        );
        let bad = [("SLURM_PROCID", "x\u{1b}[2J"), ("SLURM_NTASKS", "4")];
        let err = Shard::from_env(env(&bad), None).unwrap_err().to_string();
        assert!(
            err.contains("SLURM_PROCID") && !err.contains('\u{1b}'),
            "{err}"
        );
        let out = [("SLURM_PROCID", "4"), ("SLURM_NTASKS", "4")];
        assert!(Shard::from_env(env(&out), None).is_err());
    }

    #[test]
    fn concurrency_shares_spread_the_remainder() {
        let shares = |load: f64, n: u32| -> Vec<u64> {
            (0..n)
                .map(|i| Shard::new(i, n).unwrap().concurrency_share(load))
                .collect()
        };
        assert_eq!(shares(10.0, 4), [3, 3, 2, 2]);
        assert_eq!(shares(1.0, 4), [1, 0, 0, 0]);
        assert_eq!(shares(64.0, 1), [64]);
        assert_eq!(shares(f64::NAN, 2), [0, 0]);
    }

    proptest! {
        #[test]
        fn shares_add_up_and_indices_partition(load in 0u32..100_000, n in 1u32..64, k in 0u64..1000) {
            let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
            let total: u64 = shards.iter().map(|s| s.concurrency_share(f64::from(load))).sum();
            prop_assert_eq!(total, u64::from(load));
            let max = shards.iter().map(|s| s.concurrency_share(f64::from(load))).max().unwrap();
            let min = shards.iter().map(|s| s.concurrency_share(f64::from(load))).min().unwrap();
            prop_assert!(max - min <= 1);
            let rates: f64 = shards.iter().map(|s| s.rate_share(f64::from(load))).sum();
            prop_assert!((rates - f64::from(load)).abs() <= 1e-9 * f64::from(load.max(1)));
            // The first k requests of every shard are exactly the run's first k·n requests.
            let indices: BTreeSet<u64> = shards
                .iter()
                .flat_map(|s| (0..k).map(move |local| s.global_index(local)))
                .collect();
            prop_assert_eq!(indices.len() as u64, k * u64::from(n));
            prop_assert!(indices.iter().copied().eq(0..k * u64::from(n)));
        }
    }
}
