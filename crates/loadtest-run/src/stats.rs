//! Latency statistics of a step: exact percentiles over per-request values (numpy's default
//! linear interpolation). The engine also fills them from pooled HDR histograms.

use serde::{Deserialize, Serialize};

/// {mean, p50, p90, p95, p99, max} of one quantity over a step, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// How many values the statistics cover.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl LatencyStats {
    /// Exact statistics of `values` (sorted in place); `None` when empty. NaNs are ignored.
    pub fn from_values(values: &mut Vec<f64>) -> Option<Self> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(LatencyStats {
            count: values.len() as u64,
            mean,
            p50: percentile_linear(values, 50.0),
            p90: percentile_linear(values, 90.0),
            p95: percentile_linear(values, 95.0),
            p99: percentile_linear(values, 99.0),
            max: values[values.len() - 1],
        })
    }

    /// The statistic standing for percentile `pct` (50, 90, 95, 99; 100 = max), when kept.
    pub fn percentile(&self, pct: f64) -> Option<f64> {
        [
            (50.0, self.p50),
            (90.0, self.p90),
            (95.0, self.p95),
            (99.0, self.p99),
            (100.0, self.max),
        ]
        .into_iter()
        .find(|(p, _)| *p == pct)
        .map(|(_, value)| value)
    }
}

/// The `p`-th percentile (0–100) of `sorted` (ascending, non-empty) by linear interpolation
/// between closest ranks: numpy's default (`method="linear"`).
pub fn percentile_linear(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = rank.ceil() as usize;
            let frac = rank - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) == [2.5, 3.7, 3.97]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_linear(&v, 50.0) - 2.5).abs() < 1e-12);
        assert!((percentile_linear(&v, 90.0) - 3.7).abs() < 1e-12);
        assert!((percentile_linear(&v, 99.0) - 3.97).abs() < 1e-12);
        assert_eq!(percentile_linear(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn stats_of_values() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        v.push(f64::NAN);
        let s = LatencyStats::from_values(&mut v).unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.max, 100.0);
        assert!((s.mean - 50.5).abs() < 1e-12);
        assert!((s.p50 - 50.5).abs() < 1e-12);
        assert!((s.p99 - 99.01).abs() < 1e-9);
        assert!(LatencyStats::from_values(&mut Vec::new()).is_none());
    }
}
