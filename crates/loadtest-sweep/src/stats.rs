//! Statistics the engine computes from HDR histograms (pooled inter-token gaps, dispatch lag),
//! and the histograms' exact stored form (`step_histograms.json`, what `merge` adds up).

use hdrhistogram::Histogram;
use loadtest_run::{LatencyStats, StoredHistogram};

/// The unit [`store_histogram_us`] writes and [`restore_histogram_us`] expects.
pub const HISTOGRAM_UNIT_US: &str = "us";

/// Why a stored histogram cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// Its settings or unit are not the engine's (1 µs to 1 hour, 3 significant digits, µs).
    #[error(
        "a histogram of unit {unit:?}, {lowest}..{highest} with {digits} digits is not the engine's (us, 1..3600000000, 3 digits)"
    )]
    Settings {
        /// Its unit.
        unit: String,
        /// Its lowest discernible value.
        lowest: u64,
        /// Its highest trackable value.
        highest: u64,
        /// Its significant digits.
        digits: u8,
    },
    /// A bucket's value is outside the histogram's range.
    #[error("bucket value {value} is outside the histogram's range")]
    Value {
        /// The value.
        value: u64,
    },
    /// The counts do not add up to `total`.
    #[error("the buckets hold {counted} values, not the {total} the histogram says")]
    Total {
        /// The sum of the counts.
        counted: u64,
        /// `total`.
        total: u64,
    },
}

/// `hist` (recorded in microseconds) in its exact stored form: its settings and non-empty
/// buckets.
pub fn store_histogram_us(hist: &Histogram<u64>) -> StoredHistogram {
    StoredHistogram {
        unit: HISTOGRAM_UNIT_US.to_owned(),
        lowest: hist.low(),
        highest: hist.high(),
        significant_digits: hist.sigfig(),
        total: hist.len(),
        buckets: hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect(),
    }
}

/// The histogram `stored` holds: every bucket as recorded, so every statistic of it equals the
/// original's ([`latency_from_histogram_us`]) and adding it to others is exact.
pub fn restore_histogram_us(stored: &StoredHistogram) -> Result<Histogram<u64>, HistogramError> {
    let mut hist = new_us_histogram();
    if stored.unit != HISTOGRAM_UNIT_US
        || stored.lowest != hist.low()
        || stored.highest != hist.high()
        || stored.significant_digits != hist.sigfig()
    {
        return Err(HistogramError::Settings {
            unit: stored.unit.clone(),
            lowest: stored.lowest,
            highest: stored.highest,
            digits: stored.significant_digits,
        });
    }
    for &(value, count) in &stored.buckets {
        hist.record_n(value, count)
            .map_err(|_| HistogramError::Value { value })?;
    }
    if hist.len() != stored.total {
        return Err(HistogramError::Total {
            counted: hist.len(),
            total: stored.total,
        });
    }
    Ok(hist)
}

/// Statistics of a histogram recorded in microseconds; `None` when empty.
pub fn latency_from_histogram_us(hist: &Histogram<u64>) -> Option<LatencyStats> {
    if hist.is_empty() {
        return None;
    }
    let s = |us: u64| us as f64 / 1e6;
    Some(LatencyStats {
        count: hist.len(),
        mean: hist.mean() / 1e6,
        p50: s(hist.value_at_quantile(0.50)),
        p90: s(hist.value_at_quantile(0.90)),
        p95: s(hist.value_at_quantile(0.95)),
        p99: s(hist.value_at_quantile(0.99)),
        max: s(hist.max()),
    })
}

/// A histogram for durations in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn new_us_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 3_600_000_000, 3) {
        Ok(hist) => hist,
        // The bounds are constants that hdrhistogram accepts.
        Err(err) => unreachable!("constant histogram bounds rejected: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_histogram() {
        let mut h = new_us_histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let s = latency_from_histogram_us(&h).unwrap();
        assert!((s.p50 - 0.5).abs() < 0.001, "{}", s.p50);
        assert!((s.max - 1.0).abs() < 0.001);
    }

    #[test]
    fn stored_histograms_restore_exactly() {
        let mut h = new_us_histogram();
        for us in [0u64, 1, 7, 5_003, 5_004, 123_456_789, 3_600_000_000] {
            h.record_n(us, us % 5 + 1).unwrap();
        }
        let stored = store_histogram_us(&h);
        let back = restore_histogram_us(&stored).unwrap();
        assert_eq!(back, h);
        assert_eq!(
            latency_from_histogram_us(&back),
            latency_from_histogram_us(&h)
        );
        let mut bad = stored.clone();
        bad.total += 1;
        assert!(matches!(
            restore_histogram_us(&bad),
            Err(HistogramError::Total { .. })
        ));
        bad = stored;
        bad.significant_digits = 2;
        assert!(matches!(
            restore_histogram_us(&bad),
            Err(HistogramError::Settings { .. })
        ));
    }
}
