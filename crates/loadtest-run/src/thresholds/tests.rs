use super::*;

fn step(load: f64) -> StepSummary {
    let json = serde_json::json!({
        "step": 0, "load": load, "load_mode": "concurrency", "window_start_s": 0.0,
        "window_end_s": 10.0, "window_s": 10.0, "partial": false,
        "counts": {"started": 100, "ok": 99, "http_error": 1, "timeout": 0,
                   "connect_error": 0, "stream_error": 0, "cancelled": 0},
        "rps": 9.9, "output_tokens_per_s": 950.0, "input_tokens_per_s": 100.0,
        "completed_in_window": 99, "usage_missing": 0,
        "ttft_s": {"count": 99, "mean": 0.1, "p50": 0.09, "p90": 0.2, "p95": 0.3,
                   "p99": 0.45, "max": 0.6},
        "e2e_s": null, "tpot_s": null, "itl_s": null, "inflight": null,
        "errors": [], "server": null, "gpu": [], "tokens_per_joule": null,
        "client": {"cpu_pct": null, "cores": 2, "sched_lag_p99_ms": null,
                   "sched_lag_max_ms": null, "bound": false}
    });
    serde_json::from_value(json).unwrap()
}

fn t(s: &str) -> Threshold {
    s.parse().unwrap()
}

#[test]
fn parses_the_documented_forms() {
    let a = t("ttft.p99 < 500ms");
    assert_eq!(a.expr, "ttft.p99<500ms");
    assert_eq!(a.metric, ThresholdMetric::Ttft);
    assert_eq!(a.stat, Some(ThresholdStat::P99));
    assert_eq!(a.op, Some(ThresholdOp::Lt));
    assert!((a.bound.unwrap() - 0.5).abs() < 1e-12);
    let b = t("throughput@16>=900tok/s");
    assert_eq!(b.at_load, Some(16.0));
    assert_eq!(b.op, Some(ThresholdOp::Ge));
    assert_eq!(b.bound, Some(900.0));
    assert_eq!(t("goodput>=8rps").bound, Some(8.0));
    assert_eq!(t("error_rate<1%").bound, Some(0.01));
    assert_eq!(t("error_rate<0.01").bound, Some(0.01));
    assert_eq!(t("slo@4").metric, ThresholdMetric::Slo);
    assert_eq!(t("tpot.p50<=30ms").op, Some(ThresholdOp::Le));
}

#[test]
fn errors_name_the_bad_part() {
    let e = |s: &str| s.parse::<Threshold>().unwrap_err();
    assert_eq!(
        e("latency.p99<1s"),
        ThresholdError::UnknownMetric("latency".into())
    );
    assert_eq!(e("ttft<1s"), ThresholdError::MissingStat("ttft".into()));
    assert_eq!(e("ttft.p42<1s"), ThresholdError::UnknownStat("p42".into()));
    assert!(matches!(e("ttft.p99<500"), ThresholdError::BadUnit { .. }));
    assert!(matches!(
        e("throughput>=9rps"),
        ThresholdError::BadUnit { .. }
    ));
    assert!(matches!(
        e("goodput.p99>=9"),
        ThresholdError::UnexpectedStat { .. }
    ));
    assert_eq!(e("ttft.p99<abcms"), ThresholdError::BadValue("".into()));
    assert_eq!(e("ttft.p99"), ThresholdError::NoOperator("ttft.p99".into()));
    assert_eq!(e("throughput@x>=1"), ThresholdError::BadLoad("x".into()));
    assert_eq!(e("slo<1"), ThresholdError::SloWithOperator);
    assert_eq!(e("  "), ThresholdError::Empty);
    assert!(e("ttft<1s").to_string().contains("ttft.p99"));
}

#[test]
fn evaluates_on_a_step() {
    let s = step(16.0);
    let v = t("ttft.p99<500ms").evaluate(&s).unwrap();
    assert!(v.passed && !v.no_data);
    assert_eq!(v.observed, Some(0.45));
    assert_eq!(v.unit, "s");
    assert!(!t("ttft.p99<400ms").evaluate(&s).unwrap().passed);
    assert!(t("throughput@16>=900tok/s").evaluate(&s).unwrap().passed);
    assert!(t("throughput@8>=900tok/s").evaluate(&s).is_none());
    assert!(!t("error_rate<0.01").evaluate(&s).unwrap().passed);
    assert!(t("error_rate<=1%").evaluate(&s).unwrap().passed);
    // No data fails, and says so.
    let missing = t("tpot.p50<30ms").evaluate(&s).unwrap();
    assert!(!missing.passed && missing.no_data && missing.observed.is_none());
    let no_slo = t("goodput>=1").evaluate(&s).unwrap();
    assert!(!no_slo.passed && no_slo.no_data);
}

#[test]
fn unmatched_loads_are_reported() {
    let steps = [step(1.0), step(2.0)];
    let ts = [t("ttft.p99<1s"), t("throughput@4>=1")];
    let (per_step, unmatched) = evaluate_thresholds(&ts, &steps);
    assert_eq!(per_step.len(), 2);
    assert_eq!(per_step[0].len(), 1);
    assert_eq!(unmatched, vec!["throughput@4>=1".to_owned()]);
}

#[test]
fn verdict_wire_format() {
    let v = t("ttft.p99<500ms").evaluate(&step(1.0)).unwrap();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"{"expr":"ttft.p99<500ms","load":1.0,"observed":0.45,"unit":"s","passed":true,"no_data":false}"#
    );
}
