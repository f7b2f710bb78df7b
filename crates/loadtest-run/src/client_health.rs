//! The client block of a step: the evidence for trusting (or not) the client's timings.

use serde::{Deserialize, Serialize};

/// The client block of a step (`step_summary.json`'s `client`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClientHealth {
    /// CPU time of this process over the window ÷ window length, in percent of one core.
    pub cpu_pct: Option<f64>,
    /// Cores available to this process.
    pub cores: usize,
    /// 99th percentile of the ticker's lateness, in milliseconds.
    pub sched_lag_p99_ms: Option<f64>,
    /// Largest ticker lateness, in milliseconds.
    pub sched_lag_max_ms: Option<f64>,
    /// True when the client itself was the bottleneck: lag p99 above 5 ms, or CPU above
    /// 90 % of all cores.
    pub bound: bool,
}
