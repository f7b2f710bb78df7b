//! Merging the stored histograms of shards is exact: K histograms of random samples, each
//! stored as `step_histograms.json` stores it, read back and added, equal one histogram of
//! all the samples — every bucket's count, every percentile, the mean and the max.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use loadtest_run::StoredHistogram;
use loadtest_sweep::stats::{
    latency_from_histogram_us, new_us_histogram, restore_histogram_us, store_histogram_us,
};
use proptest::prelude::*;

/// Samples in µs: mostly inter-token gaps (1 µs – 1 s), some up to the hour the histogram
/// tracks.
fn sample() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 1u64..1_000_000,
        1 => 0u64..10,
        1 => 1_000_000u64..=3_600_000_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merged_histograms_equal_one_histogram_of_all_samples(
        parts in prop::collection::vec(prop::collection::vec(sample(), 0..300), 1..6)
    ) {
        let mut whole = new_us_histogram();
        let mut merged = new_us_histogram();
        for part in &parts {
            let mut hist = new_us_histogram();
            for &us in part {
                hist.record(us).unwrap();
                whole.record(us).unwrap();
            }
            // Through the file's JSON form, as merge reads it.
            let text = serde_json::to_string(&store_histogram_us(&hist)).unwrap();
            let stored: StoredHistogram = serde_json::from_str(&text).unwrap();
            merged.add(restore_histogram_us(&stored).unwrap()).unwrap();
        }
        prop_assert!(merged == whole, "histograms differ");
        prop_assert_eq!(store_histogram_us(&merged), store_histogram_us(&whole));
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            prop_assert_eq!(merged.value_at_quantile(q), whole.value_at_quantile(q));
        }
        prop_assert_eq!(latency_from_histogram_us(&merged), latency_from_histogram_us(&whole));
    }
}
