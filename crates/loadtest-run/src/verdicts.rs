//! The verdicts drawn from finished steps: the knee of a sweep and each step's SLO result.
//! The rules themselves ([`knee_between`](crate::knee_between),
//! [`Slo::evaluate_with`]) live beside their types; this module applies them to steps.

use crate::config_json::Arrival;
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

/// The sweep's knee ([`find_knee`]) and first saturated step ([`find_saturation`]), or
/// neither when the steps are not a sweep: under `--arrival trace` each step's load is the
/// trace's own rate in that slice, rising and falling with it, so "the next load gained
/// little" compares unrelated slices and would claim a capacity the run never probed.
pub fn sweep_verdicts(
    steps: &[StepSummary],
    arrival: &Arrival,
    rule: &KneeRule,
) -> (Option<Knee>, Option<Saturation>) {
    match arrival {
        Arrival::Trace => (None, None),
        Arrival::Poisson | Arrival::Constant | Arrival::Gamma { .. } => {
            (find_knee(steps, rule), find_saturation(steps))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A closed-loop step at `load` with this throughput and TTFT p50 / e2e p50.
    fn step(index: usize, load: f64, tok_per_s: f64, ttft_p50_s: f64) -> StepSummary {
        let stats = |p50: f64| {
            serde_json::json!({"count": 100, "mean": p50, "p50": p50, "p90": p50, "p95": p50,
                               "p99": p50, "max": p50})
        };
        serde_json::from_value(serde_json::json!({
            "step": index, "load": load, "load_mode": "rate", "window_start_s": 0.0,
            "window_end_s": 10.0, "window_s": 10.0, "partial": false,
            "counts": {"started": 100, "ok": 100, "http_error": 0, "timeout": 0,
                       "connect_error": 0, "stream_error": 0, "cancelled": 0},
            "rps": 10.0, "output_tokens_per_s": tok_per_s, "input_tokens_per_s": 100.0,
            "completed_in_window": 100, "usage_missing": 0,
            "ttft_s": stats(ttft_p50_s), "e2e_s": stats(ttft_p50_s * 10.0), "tpot_s": null,
            "itl_s": null, "inflight": null, "errors": [], "server": null, "gpu": [],
            "tokens_per_joule": null,
            "client": {"cpu_pct": null, "cores": 2, "sched_lag_p99_ms": null,
                       "sched_lag_max_ms": null, "bound": false}
        }))
        .unwrap()
    }

    #[test]
    fn a_trace_replay_gets_no_knee_and_no_saturation() {
        // Load 4 gives 5 % more than load 1 while TTFT p50 and e2e p50 grow fivefold: a knee
        // and a saturated step in a sweep.
        let steps = [step(0, 1.0, 1000.0, 0.1), step(1, 4.0, 1050.0, 0.5)];
        let rule = KneeRule::default();
        for arrival in [Arrival::Poisson, Arrival::Constant] {
            let (knee, saturation) = sweep_verdicts(&steps, &arrival, &rule);
            assert_eq!(knee.map(|k| k.load), Some(1.0), "{arrival:?}");
            assert_eq!(saturation.map(|s| s.load), Some(4.0), "{arrival:?}");
        }
        assert!(matches!(
            sweep_verdicts(&steps, &Arrival::Trace, &rule),
            (None, None)
        ));
    }
}
