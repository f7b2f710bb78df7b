//! `--steps auto`: concurrency doubles from 1, and the sweep stops after the first step whose
//! end shows the knee passed, the SLO broken, or errors above the limit. The check runs at the
//! end of each window on that step's interim numbers (requests finished so far); the report's
//! knee and SLO verdict are computed afterwards on the final numbers.

use std::time::{Duration, Instant};

use loadtest_run::{AutoStop, AutoStopped, KneeRule, LatencyStats, Slo, SloMetric, knee_between};

use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::inflight::{InflightStarts, WindowEnd, censored_median_lower_bound};
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
    /// e2e p50 counting the step's unfinished requests at their age: a lower bound.
    e2e_p50_lower_s: Option<f64>,
    /// Measure-phase requests of the step still running at the window's end.
    unfinished: u64,
    window_s: f64,
    ttft: Option<LatencyStats>,
    tpot: Option<LatencyStats>,
    e2e: Option<LatencyStats>,
    started: u64,
    /// Failed ÷ finished without being cancelled.
    error_rate: Option<f64>,
    slo_good: u64,
}

impl Interim {
    fn of(acc: &StepAccumulator, window: Duration, end: &WindowEnd) -> Self {
        let window_s = window.as_secs_f64().max(1e-9);
        Interim {
            output_tokens_per_s: acc.output_tokens_in_window as f64 / window_s,
            e2e_p50_lower_s: censored_median_lower_bound(&acc.e2e_s, &end.ages_s),
            unfinished: end.unfinished,
            window_s,
            ttft: LatencyStats::from_values(&mut acc.ttft_s.clone()),
            tpot: LatencyStats::from_values(&mut acc.tpot_s.clone()),
            e2e: LatencyStats::from_values(&mut acc.e2e_s.clone()),
            started: acc.counts.started,
            error_rate: acc.counts.error_rate(),
            slo_good: acc.slo_good,
        }
    }
}

/// The share of a step's requests still running at its window's end above which, with
/// throughput no longer growing, `--steps auto` calls the server saturated.
pub const SATURATED_UNFINISHED_SHARE: f64 = 0.5;

/// What the window-end watcher needs.
pub(crate) struct AutoWatch {
    /// `--steps auto`'s rule; `None`: only record what each window left unfinished.
    pub rule: Option<AutoStop>,
    pub knee: KneeRule,
    pub slo: Option<Slo>,
    pub timeline: Timeline,
    pub run_start: Instant,
    pub steps: SharedSteps,
    pub inflight: Arc<InflightStarts>,
    /// Cancelled to stop dispatching (by this controller).
    pub stop_dispatch: CancelToken,
    /// Cancelled when the run is over: windows not yet ended are left open.
    pub stop: CancelToken,
}

/// At the end of each step's window: records the requests still running (censored) and,
/// with `--steps auto`, checks the stop conditions; on one, stops dispatch and says where.
/// Returns where it stopped (`None` when the schedule ran out or the run ended first) and,
/// per step whose window ended, what it left unfinished.
pub(crate) async fn watch(w: AutoWatch) -> (Option<AutoStopped>, Vec<WindowEnd>) {
    let mut ends = Vec::new();
    let mut previous: Option<Interim> = None;
    for index in 0..w.timeline.len() {
        // A count step's end is learned when its requests have finished.
        let end_of = |t: &Timeline| {
            t.step(index)
                .map_or(crate::timeline::OPEN, |s| s.measure_end)
        };
        tokio::select! {
            biased;
            () = w.timeline.sleep_until(w.run_start, end_of) => {}
            () = w.stop.cancelled() => break,
        }
        let Some(step) = w.timeline.step(index) else {
            break;
        };
        if let (Some(n), Some(_)) = (w.timeline.num_prompts(), &w.rule) {
            // A count step ends as its last row is handed over: judge it once folded.
            for _ in 0..200 {
                let started = w
                    .steps
                    .lock()
                    .ok()
                    .and_then(|s| Some(s.get(index)?.counts.started));
                if started.is_none_or(|started| started >= n) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let at = w.run_start + step.measure_end;
        let end = w.inflight.window_end(step.index, at);
        let interim = w.steps.lock().ok().and_then(|steps| {
            Some(Interim::of(
                steps.get(step.index)?,
                step.measure_len(),
                &end,
            ))
        });
        ends.push(end);
        let (Some(rule), Some(interim)) = (&w.rule, interim) else {
            continue;
        };
        if w.stop_dispatch.is_cancelled() {
            continue; // Ctrl-C: nothing more to decide
        }
        if let Some(reason) = stop_reason(&w, rule, previous.as_ref(), &interim) {
            w.stop_dispatch.cancel();
            return (
                Some(AutoStopped {
                    step: step.index,
                    load: step.load,
                    reason,
                }),
                ends,
            );
        }
        previous = Some(interim);
    }
    (None, ends)
}

fn stop_reason(
    w: &AutoWatch,
    rule: &AutoStop,
    previous: Option<&Interim>,
    now: &Interim,
) -> Option<String> {
    if let Some(error_rate) = now.error_rate
        && error_rate > rule.max_error_rate
    {
        return Some(format!(
            "{:.1} % of the step's requests failed (limit {:.0} %)",
            error_rate * 100.0,
            rule.max_error_rate * 100.0
        ));
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
    // Requests outliving the window are censored, not absent: past saturation the finished
    // ones are the fast ones (or there are none).
    let all = now.started + now.unfinished;
    let unfinished_share = if all > 0 {
        now.unfinished as f64 / all as f64
    } else {
        0.0
    };
    let gain = if prev.output_tokens_per_s > 0.0 {
        now.output_tokens_per_s / prev.output_tokens_per_s - 1.0
    } else {
        f64::INFINITY
    };
    if unfinished_share > SATURATED_UNFINISHED_SHARE && gain < w.knee.min_throughput_gain {
        return Some(format!(
            "saturated: {:.0} % of the step's requests were still running at its end (their latency is at least their age) while output throughput changed {:+.1} %",
            unfinished_share * 100.0,
            gain * 100.0
        ));
    }
    let (gain, growth) = knee_between(
        &w.knee,
        (prev.output_tokens_per_s, prev.e2e_p50_lower_s?),
        (now.output_tokens_per_s, now.e2e_p50_lower_s?),
    )?;
    Some(format!(
        "knee passed: output throughput {:+.1} % for e2e p50 {:+.0} % (unfinished requests counted at their age)",
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
