//! The verdicts drawn from finished steps: the knee of a sweep and each step's SLO result.
//! The rules themselves ([`knee_between`](crate::knee_between),
//! [`Slo::evaluate_with`]) live beside their types; this module applies them to steps.

use crate::knee::{Knee, KneeRule, knee_between};
use crate::slo::{Slo, SloMetric, SloResult};
use crate::step_summary::{Saturation, StepSummary};

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
        if a.partial || b.partial {
            return None;
        }
        let (gain, growth) = knee_between(
            rule,
            (a.output_tokens_per_s, step_latency_p50(a)?),
            (b.output_tokens_per_s, step_latency_p50(b)?),
        )?;
        Some(Knee {
            step: a.step,
            load: a.load,
            next_throughput_gain: gain,
            next_latency_growth: growth,
        })
    })
}

impl Slo {
    /// The step's result: `good` requests met every per-request objective; percentile
    /// objectives are read from the step's statistics (from the scheduled arrival in rate
    /// mode).
    pub fn evaluate(&self, good: u64, window_s: f64, step: &StepSummary) -> SloResult {
        self.evaluate_with(good, step.counts.started, window_s, |metric| match metric {
            SloMetric::Ttft => step.ttft_from_sched_s.or(step.ttft_s),
            SloMetric::Tpot => step.tpot_s,
            SloMetric::E2e => step.e2e_from_sched_s.or(step.e2e_s),
        })
    }
}

/// A step is saturated when, against the step before it, (1) its output throughput grew by
/// less than half of what the load increase would give if it scaled (e.g. under +150 % for
/// 4× the load), and (2) requests queued: the server's waiting requests average at least half
/// of its running ones, or the client's TTFT p50 more than tripled. Partial steps are not
/// judged.
pub fn find_saturation(steps: &[StepSummary]) -> Option<Saturation> {
    steps.windows(2).find_map(|pair| {
        let (a, b) = (&pair[0], &pair[1]);
        if a.partial || b.partial || b.load <= a.load || a.output_tokens_per_s <= 0.0 {
            return None;
        }
        let gain = b.output_tokens_per_s / a.output_tokens_per_s - 1.0;
        let scaling = b.load / a.load - 1.0;
        if gain >= 0.5 * scaling {
            return None;
        }
        let ttft = (a.ttft_s.map(|s| s.p50), b.ttft_s.map(|s| s.p50));
        let ttft_tripled = matches!(ttft, (Some(x), Some(y)) if x > 0.0 && y > 3.0 * x);
        let server = b
            .server
            .as_ref()
            .and_then(|s| Some((s.waiting_mean?, s.running_mean?)))
            .filter(|(w, r)| w.is_finite() && r.is_finite());
        let queued = server.is_some_and(|(w, r)| r > 0.0 && w >= 0.5 * r);
        (queued || ttft_tripled).then_some(Saturation {
            step: b.step,
            load: b.load,
            below_load: a.load,
            throughput_gain: gain,
            ttft_p50_s: ttft,
            server_waiting_running: server,
        })
    })
}
