//! Finding the knee of a sweep: the load after which output throughput stops growing while
//! latency keeps climbing.

use serde::{Deserialize, Serialize};

use crate::config_json::KneeRule;
use crate::step_summary::StepSummary;

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

/// The e2e latency a step is judged by: from the scheduled arrival in rate mode (what a user
/// felt), else from the send.
pub fn step_latency_p50(step: &StepSummary) -> Option<f64> {
    step.e2e_from_sched_s
        .or(step.e2e_s)
        .map(|s| s.p50)
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// The first step `i` such that step `i + 1` gains less than `rule.min_throughput_gain` in
/// output tokens/s while its e2e p50 grows by more than `rule.max_latency_growth`. Partial
/// steps are not judged.
pub fn find_knee(steps: &[StepSummary], rule: &KneeRule) -> Option<Knee> {
    steps.windows(2).find_map(|pair| {
        let (a, b) = (&pair[0], &pair[1]);
        if a.partial || b.partial || a.output_tokens_per_s <= 0.0 {
            return None;
        }
        let gain = b.output_tokens_per_s / a.output_tokens_per_s - 1.0;
        let growth = step_latency_p50(b)? / step_latency_p50(a)? - 1.0;
        (gain < rule.min_throughput_gain && growth > rule.max_latency_growth).then_some(Knee {
            step: a.step,
            load: a.load,
            next_throughput_gain: gain,
            next_latency_growth: growth,
        })
    })
}
