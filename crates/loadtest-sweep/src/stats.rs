//! Statistics the engine computes from HDR histograms (pooled inter-token gaps, dispatch lag).

use hdrhistogram::Histogram;
use loadtest_run::LatencyStats;

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
}
