//! The measure-phase requests still in flight, per step, with their start times: what a step's
//! window leaves unfinished at its end. Their latency is at least their age (censored), which
//! mid-run decisions must count rather than ignore (the finished ones alone are the fast ones
//! past saturation). In rate mode, also the arrivals never sent because their phase ended
//! while they waited for a `--max-inflight` slot: counted per step, never silently dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Per step: request id → start.
#[derive(Debug)]
pub(crate) struct InflightStarts {
    steps: Vec<Mutex<HashMap<u64, Instant>>>,
    /// Per step: arrivals not sent (rate mode).
    unsent: Vec<AtomicU64>,
}

/// What a step's window left behind at its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WindowEnd {
    /// Measure-phase requests of the step still running at the window's end.
    pub unfinished: u64,
    /// Their ages at the window's end, seconds (lower bounds of their latencies).
    pub ages_s: Vec<f64>,
    /// Rate mode: the step's arrivals never sent (filled in once dispatch is over).
    pub unsent_arrivals: u64,
}

impl InflightStarts {
    pub(crate) fn new(steps: usize) -> Self {
        InflightStarts {
            steps: (0..steps).map(|_| Mutex::new(HashMap::new())).collect(),
            unsent: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn lock(&self, step: usize) -> Option<MutexGuard<'_, HashMap<u64, Instant>>> {
        // Inserting or removing cannot panic half-way: a poisoned map is still whole.
        Some(
            self.steps
                .get(step)?
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Request `id` of `step` started at `at`.
    pub(crate) fn begin(&self, step: usize, id: u64, at: Instant) {
        if let Some(mut map) = self.lock(step) {
            map.insert(id, at);
        }
    }

    /// Request `id` of `step` ended.
    pub(crate) fn end(&self, step: usize, id: u64) {
        if let Some(mut map) = self.lock(step) {
            map.remove(&id);
        }
    }

    /// An arrival of `step` was not sent: its phase ended before it could be.
    pub(crate) fn note_unsent(&self, step: usize) {
        if let Some(n) = self.unsent.get(step) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Per step, the arrivals not sent so far.
    pub(crate) fn unsent_arrivals(&self) -> Vec<u64> {
        self.unsent
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }

    /// The step's requests still running at `at` (its window's end), with their ages.
    pub(crate) fn window_end(&self, step: usize, at: Instant) -> WindowEnd {
        let Some(map) = self.lock(step) else {
            return WindowEnd::default();
        };
        let ages_s: Vec<f64> = map
            .values()
            .map(|start| at.saturating_duration_since(*start).as_secs_f64())
            .collect();
        WindowEnd {
            unfinished: ages_s.len() as u64,
            ages_s,
            unsent_arrivals: 0,
        }
    }
}

/// The median of latencies some of which are censored (the request still ran at age `a`, so
/// its latency is at least `a`): a lower bound of the true median, since each censored value
/// is counted at its age. `None` without any value.
pub(crate) fn censored_median_lower_bound(finished: &[f64], censored: &[f64]) -> Option<f64> {
    let mut all: Vec<f64> = finished
        .iter()
        .chain(censored)
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if all.is_empty() {
        return None;
    }
    all.sort_by(f64::total_cmp);
    Some(loadtest_run::percentile_linear(&all, 50.0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn window_end_counts_what_is_still_running() {
        let t0 = Instant::now();
        let starts = InflightStarts::new(2);
        starts.begin(0, 1, t0);
        starts.begin(0, 2, t0 + Duration::from_secs(1));
        starts.begin(1, 3, t0);
        starts.end(0, 1);
        let end = starts.window_end(0, t0 + Duration::from_secs(3));
        assert_eq!(end.unfinished, 1);
        assert_eq!(end.ages_s, vec![2.0]);
        assert_eq!(starts.window_end(5, t0), WindowEnd::default());
        starts.note_unsent(1);
        starts.note_unsent(1);
        starts.note_unsent(7);
        assert_eq!(starts.unsent_arrivals(), vec![0, 2]);
    }

    #[test]
    fn censored_values_raise_the_median() {
        // Finished requests are the fast ones; three more still run after 4 s.
        let finished = [0.5, 0.6];
        assert_eq!(censored_median_lower_bound(&finished, &[]), Some(0.55));
        assert_eq!(
            censored_median_lower_bound(&finished, &[4.0, 4.0, 4.0]),
            Some(4.0)
        );
        assert_eq!(censored_median_lower_bound(&[], &[]), None);
    }
}
