//! The statistics of a histogram (or of its delta over a window): the one type for them,
//! in `metrics --json`, `vllm_step_deltas.json` and step_summary.json's server block.

use serde::{Deserialize, Serialize};

use crate::histogram::{HistogramSnapshot, QuantileBucket, deserialize_quantile};

/// `count`, `sum`, `mean`, `p50`, `p90`, `p99` of a histogram, in its unit (seconds for the
/// latency histograms).
///
/// The mean is exact (`sum / count`); a percentile is the bucket `(lo, hi]` holding it, with
/// an estimate only where meaningful ([`crate::quantile_bucket`]). Files written before
/// percentiles were buckets hold bare numbers there: they read as `None`; files written
/// before `sum` was kept read it as 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistogramStats {
    /// Observations.
    pub count: f64,
    /// Sum of observations.
    #[serde(default)]
    pub sum: f64,
    /// `sum / count` (`null` when `count` is 0).
    pub mean: Option<f64>,
    /// Median: `{"lo", "hi", "est"}`, the bucket holding it and an estimate where meaningful.
    #[serde(default, deserialize_with = "deserialize_quantile")]
    pub p50: Option<QuantileBucket>,
    /// 90th percentile.
    #[serde(default, deserialize_with = "deserialize_quantile")]
    pub p90: Option<QuantileBucket>,
    /// 99th percentile.
    #[serde(default, deserialize_with = "deserialize_quantile")]
    pub p99: Option<QuantileBucket>,
}

impl From<&HistogramSnapshot> for HistogramStats {
    fn from(h: &HistogramSnapshot) -> Self {
        Self {
            count: h.count,
            sum: h.sum,
            mean: h.mean(),
            p50: h.quantile_bucket(0.5),
            p90: h.quantile_bucket(0.9),
            p99: h.quantile_bucket(0.99),
        }
    }
}

impl HistogramStats {
    /// Every number is finite (serde_json writes a NaN or ±Inf as `null`, which would not read
    /// back).
    pub(crate) fn is_finite(&self) -> bool {
        let quantile_ok = |q: &Option<QuantileBucket>| {
            q.is_none_or(|q| {
                q.lo.is_finite()
                    && q.hi.is_none_or(f64::is_finite)
                    && q.est.is_none_or(f64::is_finite)
            })
        };
        self.count.is_finite()
            && self.sum.is_finite()
            && self.mean.is_none_or(f64::is_finite)
            && [&self.p50, &self.p90, &self.p99]
                .into_iter()
                .all(quantile_ok)
    }
}
