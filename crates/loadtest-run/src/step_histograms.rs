//! `step_histograms.json`: the distributions behind a step's histogram-based percentiles
//! (pooled inter-token gaps, rate mode's dispatch lag), stored exactly, so that the run folders
//! of a sharded run merge into the histogram one process would have recorded.
//!
//! A histogram is its settings plus its non-empty buckets, each as `[value, count]` where
//! `value` is the highest value equivalent to the bucket (HDR's `value_iterated_to`).
//! Recording each `count` at its `value` into an empty histogram of the same settings gives
//! back every bucket, hence every percentile, the mean and the max. The file's size is bounded
//! by the buckets (a few thousand at most per histogram), never by the samples.

use serde::{Deserialize, Serialize};

/// One HDR histogram, stored exactly: its settings and its non-empty buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHistogram {
    /// The unit of the values: `us` (microseconds).
    pub unit: String,
    /// Lowest discernible value.
    pub lowest: u64,
    /// Highest trackable value.
    pub highest: u64,
    /// Significant decimal digits of the buckets.
    pub significant_digits: u8,
    /// Values recorded (the sum of the counts).
    pub total: u64,
    /// Non-empty buckets in increasing value order: `[value, count]`, `value` the highest
    /// value equivalent to the bucket.
    pub buckets: Vec<(u64, u64)>,
}

/// The histograms of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepHistograms {
    /// Step index.
    pub step: usize,
    /// Gaps between token events of the step's measure-phase requests, pooled
    /// (`step_summary.json`'s `itl_s`).
    pub itl_us: Option<StoredHistogram>,
    /// Rate mode: how late the dispatcher fired each measure-phase arrival (`dispatch_lag_s`,
    /// and its count is `scheduled_rps` × window); null in concurrency mode.
    #[serde(default)]
    pub dispatch_lag_us: Option<StoredHistogram>,
}

/// The whole `step_histograms.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepHistogramsFile {
    /// One entry per step in `step_summary.json`, same order.
    pub steps: Vec<StepHistograms>,
}

impl StepHistogramsFile {
    /// The histograms of step `index`, if stored.
    pub fn step(&self, index: usize) -> Option<&StepHistograms> {
        self.steps.iter().find(|s| s.step == index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_pairs() {
        let file = StepHistogramsFile {
            steps: vec![StepHistograms {
                step: 0,
                itl_us: Some(StoredHistogram {
                    unit: "us".to_owned(),
                    lowest: 1,
                    highest: 3_600_000_000,
                    significant_digits: 3,
                    total: 3,
                    buckets: vec![(5003, 2), (10_007, 1)],
                }),
                dispatch_lag_us: None,
            }],
        };
        let text = serde_json::to_string(&file).unwrap();
        assert!(text.contains("\"buckets\":[[5003,2],[10007,1]]"), "{text}");
        let back: StepHistogramsFile = serde_json::from_str(&text).unwrap();
        assert_eq!(back, file);
        assert!(back.step(0).is_some() && back.step(1).is_none());
    }
}
