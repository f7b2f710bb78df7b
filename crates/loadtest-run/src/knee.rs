//! Finding the knee of a sweep: the load after which output throughput stops growing while
//! latency keeps climbing.

use serde::{Deserialize, Serialize};

/// The knee rule : the knee is the load after which output
/// throughput grows by less than `min_throughput_gain` while e2e latency p50 grows by more
/// than `max_latency_growth` (both relative to the previous step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KneeRule {
    /// Relative throughput gain below which the curve has flattened (`--knee-throughput-gain`).
    pub min_throughput_gain: f64,
    /// Relative latency growth above which latency is climbing (`--knee-latency-growth`).
    pub max_latency_growth: f64,
}

impl Default for KneeRule {
    fn default() -> Self {
        KneeRule {
            min_throughput_gain: 0.10,
            max_latency_growth: 0.50,
        }
    }
}

/// Where the knee is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// The step at the knee: the last one worth its load.
    pub step: usize,
    /// Its load level.
    pub load: f64,
    /// Output throughput gain of the next step over this one (relative).
    pub next_throughput_gain: f64,
    /// e2e p50 growth of the next step over this one (relative).
    pub next_latency_growth: f64,
}

/// The knee rule between two consecutive points `(output tokens/s, latency p50 s)`: the
/// relative throughput gain and latency growth of `b` over `a` when `b` gains less than
/// `rule.min_throughput_gain` while its latency grows by more than
/// `rule.max_latency_growth`; `None` otherwise (or when `a` has no throughput or latency).
/// The one implementation: [`find_knee`](crate::find_knee) and the `--steps auto` controller
/// both use it.
///
/// ```
/// use loadtest_run::{KneeRule, knee_between};
/// let rule = KneeRule::default(); // gain < 10 % while latency grows > 50 %
/// assert!(knee_between(&rule, (1000.0, 1.0), (1050.0, 2.0)).is_some());
/// assert!(knee_between(&rule, (1000.0, 1.0), (1500.0, 2.0)).is_none());
/// ```
pub fn knee_between(rule: &KneeRule, a: (f64, f64), b: (f64, f64)) -> Option<(f64, f64)> {
    let ((tput_a, lat_a), (tput_b, lat_b)) = (a, b);
    if !(tput_a > 0.0 && lat_a > 0.0) {
        return None;
    }
    let gain = tput_b / tput_a - 1.0;
    let growth = lat_b / lat_a - 1.0;
    (gain < rule.min_throughput_gain && growth > rule.max_latency_growth).then_some((gain, growth))
}
