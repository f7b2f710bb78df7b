//! The delta of one histogram over a window (`vllm_step_deltas.json`'s `histograms`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::histogram::{Bucket, HistogramSnapshot};
use crate::histogram_stats::HistogramStats;

/// Delta of one histogram over a window, with its statistics.
///
/// Read back from JSON, the statistics (`mean`, `p50`, `p90`, `p99`) are computed again from
/// `count`, `sum` and `buckets`, the data they derive from; files written before quantiles were
/// buckets (bare numbers) read the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredHistogramDelta")]
pub struct HistogramDelta {
    /// Wire family name it was read from.
    pub wire: Cow<'static, str>,
    /// Count, sum, mean and percentiles of the window (flattened into the object).
    #[serde(flatten)]
    pub stats: HistogramStats,
    /// Cumulative bucket deltas, sorted by `le`.
    pub buckets: Vec<Bucket>,
    /// The histogram went down or changed its buckets, or the server restarted: the delta is
    /// the window-end histogram itself.
    pub reset: bool,
}

/// What a [`HistogramDelta`] is read from: its data; the statistics are recomputed.
#[derive(Deserialize)]
struct StoredHistogramDelta {
    wire: Cow<'static, str>,
    count: f64,
    sum: f64,
    buckets: Vec<Bucket>,
    reset: bool,
}

impl From<StoredHistogramDelta> for HistogramDelta {
    fn from(stored: StoredHistogramDelta) -> Self {
        HistogramDelta::with_wire(
            stored.wire,
            HistogramSnapshot {
                buckets: stored.buckets,
                count: stored.count,
                sum: stored.sum,
            },
            stored.reset,
        )
    }
}

impl HistogramDelta {
    /// The delta `end − start` (or `end` on a reset).
    #[must_use]
    pub fn between(
        wire: &'static str,
        start: &HistogramSnapshot,
        end: &HistogramSnapshot,
        restarted: bool,
    ) -> Self {
        let same_layout = start.buckets.len() == end.buckets.len()
            && start
                .buckets
                .iter()
                .zip(&end.buckets)
                .all(|(a, b)| a.le == b.le);
        let went_down = end.count < start.count
            || start
                .buckets
                .iter()
                .zip(&end.buckets)
                .any(|(a, b)| b.count < a.count);
        let reset = restarted || !same_layout || went_down;
        let window = if reset {
            end.clone()
        } else {
            HistogramSnapshot {
                buckets: start
                    .buckets
                    .iter()
                    .zip(&end.buckets)
                    .map(|(a, b)| Bucket {
                        le: b.le,
                        count: b.count - a.count,
                    })
                    .collect(),
                count: end.count - start.count,
                sum: end.sum - start.sum,
            }
        };
        Self::from_window(wire, window, reset)
    }

    /// Statistics of a histogram taken as a whole (what `metrics` without `--diff` shows).
    #[must_use]
    pub fn from_window(wire: &'static str, window: HistogramSnapshot, reset: bool) -> Self {
        Self::with_wire(Cow::Borrowed(wire), window, reset)
    }

    /// Every number is finite (`+Inf` only as the last bucket's bound): what a window may
    /// hold, so that its JSON reads back (serde_json writes a NaN or ±Inf as `null`).
    pub(crate) fn is_finite(&self) -> bool {
        self.stats.is_finite()
            && self
                .buckets
                .iter()
                .all(|b| b.count.is_finite() && (b.le.is_finite() || b.le == f64::INFINITY))
    }

    fn with_wire(wire: Cow<'static, str>, window: HistogramSnapshot, reset: bool) -> Self {
        Self {
            wire,
            stats: HistogramStats::from(&window),
            buckets: window.buckets,
            reset,
        }
    }
}
