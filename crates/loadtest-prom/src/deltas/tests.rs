//! Unit tests of the parent module.
use super::*;
use crate::histogram::{Bucket, HistogramSnapshot};

fn snapshot(buckets: &[(f64, f64)], count: f64, sum: f64) -> HistogramSnapshot {
    HistogramSnapshot {
        buckets: buckets
            .iter()
            .map(|&(le, count)| Bucket { le, count })
            .collect(),
        count,
        sum,
    }
}

#[test]
fn histogram_delta_json_reads_back_and_old_files_are_recomputed() {
    let start = snapshot(
        &[(0.3, 10.0), (0.5, 10.0), (f64::INFINITY, 10.0)],
        10.0,
        2e-4,
    );
    let end = snapshot(
        &[(0.3, 66.0), (0.5, 66.0), (f64::INFINITY, 66.0)],
        66.0,
        1.4e-3,
    );
    let delta = HistogramDelta::between("vllm:request_queue_time_seconds", &start, &end, false);
    let p50 = delta.stats.p50.unwrap();
    assert_eq!((p50.lo, p50.hi, p50.est), (0.0, Some(0.3), None));
    let json = serde_json::to_string(&delta).unwrap();
    // The statistics are flattened into the object, in the order the file always had.
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json)
            .unwrap()
            .keys()
            .cloned()
            .collect();
    let at = |k: &str| json.find(&format!("\"{k}\":")).unwrap();
    assert_eq!(keys.len(), 9, "{json}");
    let order = [
        "wire", "count", "sum", "mean", "p50", "p90", "p99", "buckets", "reset",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{json}");
    assert!(
        json.contains(r#""p50":{"lo":0.0,"hi":0.3,"est":null}"#),
        "{json}"
    );
    let back: HistogramDelta = serde_json::from_str(&json).unwrap();
    assert_eq!(back, delta);
    // Written before quantiles were buckets: p50 = 0.15 (interpolated); read back, the
    // quantiles come from the buckets again.
    let old = json.replace(r#"{"lo":0.0,"hi":0.3,"est":null}"#, "0.15");
    assert!(old.contains(r#""p50":0.15"#));
    let back: HistogramDelta = serde_json::from_str(&old).unwrap();
    assert_eq!(back, delta);
}
