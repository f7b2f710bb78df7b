//! `--steps auto`: concurrency doubles from 1, and the sweep stops after the first step whose
//! end shows the knee passed, the SLO broken, or errors above the limit. The check runs at the
//! end of each window on that step's interim numbers (requests finished so far); the report's
//! knee and SLO verdict are computed afterwards on the final numbers.

use std::time::{Duration, Instant};

use loadtest_run::{AutoStop, AutoStopped, KneeRule, LatencyStats, Slo, SloMetric, knee_between};

use crate::cancel::CancelToken;
use crate::recorder::{SharedSteps, StepAccumulator};
use crate::timeline::Timeline;

/// The concurrency levels `--steps auto` may visit: 1, 2, 4, … up to `max_inflight`.
pub fn doubling_steps(max_inflight: usize) -> Vec<f64> {
    std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n <= max_inflight.max(1))
        .map(|n| n as f64)
        .collect()
}

/// A step's numbers at the end of its window.
struct Interim {
    output_tokens_per_s: f64,
    window_s: f64,
    ttft: Option<LatencyStats>,
    tpot: Option<LatencyStats>,
    e2e: Option<LatencyStats>,
    started: u64,
    failed: u64,
    slo_good: u64,
}

impl Interim {
    fn of(acc: &StepAccumulator, window: Duration) -> Self {
        let window_s = window.as_secs_f64().max(1e-9);
        Interim {
            output_tokens_per_s: acc.output_tokens_in_window as f64 / window_s,
            window_s,
            ttft: LatencyStats::from_values(&mut acc.ttft_s.clone()),
            tpot: LatencyStats::from_values(&mut acc.tpot_s.clone()),
            e2e: LatencyStats::from_values(&mut acc.e2e_s.clone()),
            started: acc.counts.started,
            failed: acc.counts.failed(),
            slo_good: acc.slo_good,
        }
    }
}

/// What the controller needs.
pub(crate) struct AutoWatch {
    pub rule: AutoStop,
    pub knee: KneeRule,
    pub slo: Option<Slo>,
    pub timeline: Timeline,
    pub run_start: Instant,
    pub steps: SharedSteps,
    /// Cancelled to stop dispatching (by this controller, or by Ctrl-C).
    pub stop_dispatch: CancelToken,
}

/// Checks each step at the end of its window; on a stop condition, stops dispatch and says
/// where. Returns `None` when the schedule ran out (or Ctrl-C came first).
pub(crate) async fn watch(w: AutoWatch) -> Option<AutoStopped> {
    let mut previous: Option<Interim> = None;
    for step in w.timeline.steps() {
        tokio::select! {
            () = tokio::time::sleep_until((w.run_start + step.measure_end).into()) => {}
            () = w.stop_dispatch.cancelled() => return None,
        }
        let interim = {
            let steps = w.steps.lock().ok()?;
            Interim::of(steps.get(step.index)?, step.measure_len())
        };
        let reason = stop_reason(&w, previous.as_ref(), &interim);
        if let Some(reason) = reason {
            w.stop_dispatch.cancel();
            return Some(AutoStopped {
                step: step.index,
                load: step.load,
                reason,
            });
        }
        previous = Some(interim);
    }
    None
}

fn stop_reason(w: &AutoWatch, previous: Option<&Interim>, now: &Interim) -> Option<String> {
    if now.started > 0 {
        let error_rate = now.failed as f64 / now.started as f64;
        if error_rate > w.rule.max_error_rate {
            return Some(format!(
                "{:.1} % of the step's requests failed (limit {:.0} %)",
                error_rate * 100.0,
                w.rule.max_error_rate * 100.0
            ));
        }
    }
    if let Some(slo) = &w.slo
        && now.started > 0
    {
        // The same rule as the step's final verdict (percentile objectives included).
        let result =
            slo.evaluate_with(
                now.slo_good,
                now.started,
                now.window_s,
                |metric| match metric {
                    SloMetric::Ttft => now.ttft,
                    SloMetric::Tpot => now.tpot,
                    SloMetric::E2e => now.e2e,
                },
            );
        if !result.met {
            let missed: Vec<&str> = result
                .percentiles
                .iter()
                .filter(|p| !p.met)
                .map(|p| p.objective.as_str())
                .collect();
            return Some(format!(
                "SLO {slo} broken: {:.1} % of requests met it (needs {:.0} %){}",
                result.good_fraction.unwrap_or(0.0) * 100.0,
                slo.attainment * 100.0,
                if missed.is_empty() {
                    String::new()
                } else {
                    format!("; missed {}", missed.join(", "))
                }
            ));
        }
    }
    let prev = previous?;
    let (gain, growth) = knee_between(
        &w.knee,
        (prev.output_tokens_per_s, prev.e2e?.p50),
        (now.output_tokens_per_s, now.e2e?.p50),
    )?;
    Some(format!(
        "knee passed: output throughput {:+.1} % for e2e p50 {:+.0} %",
        gain * 100.0,
        growth * 100.0
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_up_to_the_cap() {
        assert_eq!(doubling_steps(10), vec![1.0, 2.0, 4.0, 8.0]);
        assert_eq!(doubling_steps(1), vec![1.0]);
        assert_eq!(doubling_steps(4096).len(), 13);
    }
}
