//! Unit tests of the parent module.
use super::*;

fn b(le: f64, count: f64) -> Bucket {
    Bucket { le, count }
}

#[test]
fn promql_rules() {
    let h = [b(1.0, 10.0), b(2.0, 20.0), b(f64::INFINITY, 20.0)];
    assert_eq!(histogram_quantile(0.5, &h), Some(1.0));
    assert_eq!(histogram_quantile(0.75, &h), Some(1.5));
    assert_eq!(histogram_quantile(0.25, &h), Some(0.5)); // first bucket starts at 0
    assert_eq!(histogram_quantile(-0.1, &h), Some(f64::NEG_INFINITY));
    assert_eq!(histogram_quantile(1.1, &h), Some(f64::INFINITY));
    assert_eq!(histogram_quantile(f64::NAN, &h), None);
    // Rank in the +Inf bucket → largest finite bound.
    let tail = [b(1.0, 1.0), b(f64::INFINITY, 10.0)];
    assert_eq!(histogram_quantile(0.99, &tail), Some(1.0));
    // No +Inf bucket, a single bucket, or nothing observed → none.
    assert_eq!(histogram_quantile(0.5, &h[..2]), None);
    assert_eq!(histogram_quantile(0.5, &h[2..]), None);
    assert_eq!(
        histogram_quantile(0.5, &[b(1.0, 0.0), b(f64::INFINITY, 0.0)]),
        None
    );
    // A first bucket with le <= 0 returns its bound.
    let neg = [b(-1.0, 5.0), b(0.0, 6.0), b(f64::INFINITY, 10.0)];
    assert_eq!(histogram_quantile(0.2, &neg), Some(-1.0));
    // Non-monotonic counts are raised to the running maximum first.
    let bumpy = [
        b(1.0, 10.0),
        b(2.0, 8.0),
        b(4.0, 20.0),
        b(f64::INFINITY, 20.0),
    ];
    assert_eq!(histogram_quantile(0.5, &bumpy), Some(1.0));
    assert_eq!(
        histogram_quantile(0.75, &bumpy),
        Some(2.0 + 2.0 * 5.0 / 10.0)
    );
}

const INF: f64 = f64::INFINITY;

#[test]
fn a_coarse_first_bucket_is_a_bucket_not_a_point() {
    // vLLM queue time: 56 observations all in (0, 0.3], mean 22 µs.
    let h = [b(0.3, 56.0), b(0.5, 56.0), b(INF, 56.0)];
    let sum = 56.0 * 22e-6;
    // PromQL invents 150 ms …
    assert_eq!(histogram_quantile(0.5, &h), Some(0.15));
    // … the bucket says only "at most 300 ms".
    for q in [0.5, 0.9, 0.99] {
        let got = quantile_bucket(q, &h, sum).unwrap();
        assert_eq!(
            got,
            QuantileBucket {
                lo: 0.0,
                hi: Some(0.3),
                est: None
            },
            "q {q}"
        );
        assert!(!got.is_narrow());
    }
}

#[test]
fn a_narrow_bucket_gives_an_estimate() {
    // 10 in (0, 0.04], 10 in (0.04, 0.06]: p75 interpolates to 0.05.
    let h = [b(0.04, 10.0), b(0.06, 20.0), b(INF, 20.0)];
    let got = quantile_bucket(0.75, &h, 20.0 * 0.04).unwrap();
    assert_eq!(got.lo, 0.04);
    assert_eq!(got.hi, Some(0.06));
    assert_eq!(got.est, histogram_quantile(0.75, &h));
    assert!(got.is_narrow());
    // In a wider bucket (hi/lo = 1.67) PromQL's 0.4 is no estimate: the bucket only.
    let wide = [b(0.3, 10.0), b(0.5, 20.0), b(INF, 20.0)];
    assert_eq!(histogram_quantile(0.75, &wide), Some(0.4));
    let got = quantile_bucket(0.75, &wide, 20.0 * 0.4).unwrap();
    assert_eq!((got.lo, got.hi, got.est), (0.3, Some(0.5), None));
    assert!(!got.is_narrow());
}

#[test]
fn an_estimate_above_what_the_sum_allows_is_dropped() {
    // All 20 observations in the narrow (1, 1.5], p50 interpolates to 1.25. With sum
    // 20.002 (mean 1.0001) the 10 smallest add at least 10, so the 10 at or above p50 add
    // at most 10.002: p50 ≤ 1.0002, and 1.25 contradicts the mean.
    let h = [b(1.0, 0.0), b(1.5, 20.0), b(INF, 20.0)];
    assert_eq!(histogram_quantile(0.5, &h), Some(1.25));
    let capped = quantile_bucket(0.5, &h, 20.002).unwrap();
    assert_eq!((capped.lo, capped.hi, capped.est), (1.0, Some(1.5), None));
    // Mean 1.25: the bound is 1.5, the estimate stands.
    let fine = quantile_bucket(0.5, &h, 25.0).unwrap();
    assert_eq!(fine.est, Some(1.25));
}

#[test]
fn a_quantile_in_the_inf_bucket_has_no_upper_bound() {
    let h = [b(1.0, 1.0), b(2.0, 2.0), b(INF, 10.0)];
    let got = quantile_bucket(0.99, &h, 100.0).unwrap();
    assert_eq!(
        got,
        QuantileBucket {
            lo: 2.0,
            hi: None,
            est: None
        }
    );
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        r#"{"lo":2.0,"hi":null,"est":null}"#
    );
}

#[test]
fn no_quantile_where_promql_has_none() {
    let h = [b(1.0, 10.0), b(INF, 10.0)];
    assert_eq!(quantile_bucket(f64::NAN, &h, 1.0), None);
    assert_eq!(quantile_bucket(1.5, &h, 1.0), None);
    assert_eq!(quantile_bucket(0.5, &h[..1], 1.0), None);
    assert_eq!(quantile_bucket(0.5, &[b(1.0, 0.0), b(INF, 0.0)], 0.0), None);
    let neg = [b(-1.0, 5.0), b(0.0, 6.0), b(INF, 10.0)];
    let got = quantile_bucket(0.2, &neg, -5.0).unwrap();
    assert_eq!((got.lo, got.hi, got.est), (-1.0, Some(-1.0), None));
}

#[test]
fn quantiles_read_back_and_old_numbers_read_as_unknown() {
    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "deserialize_quantile")]
        p: Option<QuantileBucket>,
    }
    let q = QuantileBucket {
        lo: 0.04,
        hi: Some(0.06),
        est: Some(0.05),
    };
    let json = format!("{{\"p\":{}}}", serde_json::to_string(&q).unwrap());
    let back: Holder = serde_json::from_str(&json).unwrap();
    assert_eq!(back.p, Some(q));
    for old in [r#"{"p":0.15}"#, r#"{"p":null}"#, "{}"] {
        let back: Holder = serde_json::from_str(old).unwrap();
        assert_eq!(back.p, None, "{old}");
    }
    assert!(serde_json::from_str::<Holder>(r#"{"p":"x"}"#).is_err());
}

#[test]
fn coalesce_sorts_numerically_and_merges() {
    let merged = coalesce_buckets(vec![
        b(10.0, 3.0),
        b(f64::INFINITY, 4.0),
        b(2.5, 1.0),
        b(10.0, 2.0),
        b(f64::NAN, 9.0),
    ]);
    assert_eq!(merged, [b(2.5, 1.0), b(10.0, 5.0), b(f64::INFINITY, 4.0)]);
}
