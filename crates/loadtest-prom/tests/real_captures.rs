//! The real vLLM 0.32 and llama.cpp captures: every family and sample counted, values
//! spot-checked against the files, and the idle → after-load diff checked by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::time::Duration;

use loadtest_prom::{
    CSV_COLUMNS, CanonicalSnapshot, Exposition, Format, GaugeWindow, HistogramMetric, MetricType,
    QuantileBucket, ScalarMetric, ScrapeSummary, ServerKind, StepDeltas,
};

const VLLM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/vllm-0.32.0/");
const LLAMACPP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/llamacpp-0c1e57098/"
);

fn read(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!("{dir}{name}")).expect("fixture present")
}

/// Sample lines counted independently of the parser: not blank, not `#`.
fn sample_lines(body: &[u8]) -> usize {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count()
}

fn type_lines(body: &[u8]) -> usize {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("# TYPE "))
        .count()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn after_load_every_family_and_sample() {
    let body = read(VLLM, "metrics_after_load.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    assert_eq!(exp.format, Format::PrometheusText);
    assert_eq!(exp.families.len(), 92);
    assert_eq!(exp.families.len(), type_lines(&body));
    assert_eq!(exp.sample_count(), 477);
    assert_eq!(exp.sample_count(), sample_lines(&body));

    // Families, names and types exactly as metric_families.txt lists them.
    let listed = String::from_utf8(read(VLLM, "metric_families.txt")).unwrap();
    let listed: Vec<(&str, &str)> = listed.lines().map(|l| l.split_once(' ').unwrap()).collect();
    let parsed: Vec<(&str, &str)> = exp
        .families
        .iter()
        .map(|f| (f.name.as_ref(), f.kind.as_str()))
        .collect();
    assert_eq!(parsed, listed);
    // Every family has its HELP.
    assert!(exp.families.iter().all(|f| f.help.is_some()));
}

#[test]
fn after_load_spot_checks() {
    let body = read(VLLM, "metrics_after_load.txt");
    let exp = Exposition::parse(&body);

    // A histogram whose name ends in `_total` keeps it.
    let it = exp.family("vllm:iteration_tokens_total").unwrap();
    assert_eq!(it.kind, MetricType::Histogram);
    assert_eq!(it.samples.len(), 14 + 2);
    assert_eq!(it.samples[0].name, "vllm:iteration_tokens_total_bucket");
    assert_eq!(it.samples[0].label("le"), Some("1.0"));
    assert_eq!(it.samples[0].value, 2425.0);
    let sum = it
        .samples
        .iter()
        .find(|s| s.name.ends_with("_sum"))
        .unwrap();
    assert_eq!(sum.value, 6833.0);

    let success = exp.family("vllm:request_success_total").unwrap();
    assert_eq!(success.kind, MetricType::Counter);
    assert_eq!(success.samples.len(), 5);
    let length = &success.samples[1];
    assert_eq!(length.label("finished_reason"), Some("length"));
    assert_eq!(length.label("engine"), Some("0"));
    assert_eq!(length.label("model_name"), Some("tiny-llama"));
    assert_eq!(length.value, 55.0);

    let created = exp.family("vllm:generation_tokens_created").unwrap();
    assert_eq!(created.kind, MetricType::Gauge);
    assert_eq!(created.samples[0].value, 1.795_874_041_379_777_2e9);

    let start = exp.family("process_start_time_seconds").unwrap();
    assert_eq!(start.samples[0].value, 1.795_874_007_78e9);
    assert!(start.samples[0].labels.is_empty());

    let info = exp.family("python_info").unwrap();
    assert_eq!(info.samples[0].labels.len(), 5);
    assert_eq!(info.samples[0].label("version"), Some("3.11.7"));

    let summary = exp.family("http_request_size_bytes").unwrap();
    assert_eq!(summary.kind, MetricType::Summary);
    assert!(
        summary
            .samples
            .iter()
            .all(|s| s.name.ends_with("_count") || s.name.ends_with("_sum"))
    );

    let config = exp.family("vllm:cache_config_info").unwrap();
    assert_eq!(config.samples.len(), 1);
    assert!(config.samples[0].labels.len() > 10);
    assert_eq!(config.samples[0].label("engine"), Some("0"));
}

#[test]
fn after_load_canonical() {
    let (snap, errors) = CanonicalSnapshot::parse(&read(VLLM, "metrics_after_load.txt"));
    assert!(errors.is_empty());
    assert_eq!(snap.server, ServerKind::Vllm);
    assert_eq!(snap.scalars.requests_running, Some(0.0));
    assert_eq!(snap.scalars.requests_waiting, Some(0.0));
    assert_eq!(snap.scalars.kv_cache_usage, Some(0.0));
    assert_eq!(snap.scalars.prompt_tokens_total, Some(6263.0));
    assert_eq!(snap.scalars.generation_tokens_total, Some(2490.0));
    assert_eq!(snap.scalars.request_success_total, Some(56.0));
    assert_eq!(snap.request_success_by_reason.len(), 5);
    assert_eq!(snap.request_success_by_reason["length"], 55.0);
    assert_eq!(snap.request_success_by_reason["stop"], 1.0);
    assert_eq!(snap.scalars.preemptions_total, Some(0.0));
    assert_eq!(snap.scalars.prefix_cache_queries_total, Some(6263.0));
    assert_eq!(snap.scalars.prefix_cache_hits_total, Some(1920.0));
    assert_eq!(snap.process_start_time_s, Some(1.795_874_007_78e9));

    let ttft = snap.histograms.ttft_s.as_ref().unwrap();
    assert_eq!(ttft.count, 56.0);
    assert_eq!(ttft.sum, 0.506_645_202_636_718_8);
    assert_eq!(ttft.buckets.len(), 23);
    assert_eq!(ttft.buckets[22].le, f64::INFINITY);
    // p50: rank 28 in (0.005, 0.01] holding 43 − 10 = 33 → 0.005 + 0.005 × 18/33.
    assert!(close(
        ttft.quantile(0.5).unwrap(),
        0.005 + 0.005 * 18.0 / 33.0
    ));
    // p90: rank 50.4 in (0.01, 0.02] holding 9 → 0.01 + 0.01 × 7.4/9.
    assert!(close(ttft.quantile(0.9).unwrap(), 0.01 + 0.01 * 7.4 / 9.0));
    // p99: rank 55.44 in (0.04, 0.06] holding 1 → 0.04 + 0.02 × 0.44.
    assert!(close(ttft.quantile(0.99).unwrap(), 0.04 + 0.02 * 0.44));
    // As buckets: p50 in (0.005, 0.01] is too wide for an estimate (hi/lo = 2); p99 in
    // (0.04, 0.06] is narrow (1.5) and keeps PromQL's.
    let p50 = ttft.quantile_bucket(0.5).unwrap();
    assert_eq!((p50.lo, p50.hi, p50.est), (0.005, Some(0.01), None));
    let p99 = ttft.quantile_bucket(0.99).unwrap();
    assert_eq!((p99.lo, p99.hi), (0.04, Some(0.06)));
    assert_eq!(p99.est, ttft.quantile(0.99));
    // Which of vLLM 0.32's TTFT buckets are narrow enough for an estimate (docs/metrics.md).
    let narrow: Vec<(f64, f64)> = ttft
        .buckets
        .windows(2)
        .filter(|w| {
            QuantileBucket {
                lo: w[0].le,
                hi: Some(w[1].le),
                est: None,
            }
            .is_narrow()
        })
        .map(|w| (w[0].le, w[1].le))
        .collect();
    assert_eq!(
        narrow,
        [
            (0.04, 0.06),
            (0.06, 0.08),
            (0.08, 0.1),
            (0.5, 0.75),
            (0.75, 1.0),
            (5.0, 7.5),
            (7.5, 10.0)
        ]
    );
    // Queue time: all 56 in (0, 0.3], mean 18 µs; PromQL says p50 = 0.15 s.
    let queue = snap.histograms.queue_s.as_ref().unwrap();
    assert!(close(queue.quantile(0.5).unwrap(), 0.15));
    for q in [0.5, 0.9, 0.99] {
        let got = queue.quantile_bucket(q).unwrap();
        assert_eq!((got.lo, got.hi, got.est), (0.0, Some(0.3), None), "q {q}");
    }

    assert_eq!(snap.histograms.itl_s.as_ref().unwrap().count, 2434.0);
    assert_eq!(
        snap.histograms.e2e_s.as_ref().unwrap().sum,
        5.706_118_345_260_62
    );
    assert_eq!(
        snap.histograms.queue_s.as_ref().unwrap().sum,
        0.000_992_160_999_658_153_7
    );
    assert_eq!(
        snap.histograms.prefill_s.as_ref().unwrap().sum,
        0.279_932_646_000_133_9
    );
    assert_eq!(snap.histograms.decode_s.as_ref().unwrap().count, 56.0);
    assert_eq!(
        snap.histogram_wire_name(HistogramMetric::Itl),
        Some("vllm:inter_token_latency_seconds")
    );

    let row = snap.csv_values();
    assert_eq!(row.len(), CSV_COLUMNS.len());
    assert_eq!(
        row.to_vec(),
        [
            "0",
            "0",
            "0",
            "6263",
            "2490",
            "56",
            "0",
            "6263",
            "1920",
            "56",
            "0.5066452026367188",
            "2434",
            "5.21831319599994",
            "56",
            "5.70611834526062",
            "56",
            "0.0009921609996581537"
        ]
    );
}

#[test]
fn idle_every_family_and_sample() {
    let body = read(VLLM, "metrics_idle.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    assert_eq!(exp.families.len(), 88);
    assert_eq!(exp.families.len(), type_lines(&body));
    assert_eq!(exp.sample_count(), 415);
    assert_eq!(exp.sample_count(), sample_lines(&body));
    // Families declared with no samples yet (no HTTP request served) still count.
    assert!(
        exp.family("http_requests_total")
            .unwrap()
            .samples
            .is_empty()
    );
    let (snap, _) = CanonicalSnapshot::parse(&body);
    assert_eq!(snap.scalars.prompt_tokens_total, Some(0.0));
    assert_eq!(snap.histograms.ttft_s.as_ref().unwrap().count, 0.0);
    assert_eq!(snap.histograms.ttft_s.as_ref().unwrap().quantile(0.5), None);
}

#[test]
fn idle_to_after_load_diff() {
    let idle = read(VLLM, "metrics_idle.txt");
    let after = read(VLLM, "metrics_after_load.txt");
    let (start, _) = CanonicalSnapshot::parse(&idle);
    let (end, _) = CanonicalSnapshot::parse(&after);
    let mut gauges = GaugeWindow::new();
    gauges.observe(&start);
    gauges.observe(&end);
    let step = StepDeltas::compute(&start, &end, &gauges, Duration::from_secs(10));
    assert!(!step.restarted);
    let delta = |m| step.counter(m).unwrap().delta;
    assert_eq!(delta(ScalarMetric::PromptTokensTotal), 6263.0 - 0.0);
    assert_eq!(delta(ScalarMetric::GenerationTokensTotal), 2490.0);
    assert_eq!(delta(ScalarMetric::RequestSuccessTotal), 56.0);
    assert_eq!(delta(ScalarMetric::PrefixCacheHitsTotal), 1920.0);
    assert!(step.counters.values().all(|c| !c.reset));
    assert_eq!(step.request_success_by_reason["length"].delta, 55.0);
    assert_eq!(
        step.gauge(ScalarMetric::RequestsRunning).unwrap().samples,
        2
    );

    let d = &step.derived;
    assert_eq!(d.generation_tokens_per_s, Some(249.0));
    assert_eq!(d.prompt_tokens_per_s, Some(626.3));
    assert_eq!(d.requests_per_s, Some(5.6));
    assert_eq!(d.prefix_cache_hit_rate, Some(1920.0 / 6263.0));
    let split = d.ttft_split.as_ref().unwrap();
    assert!(close(
        split.queue_mean_s,
        0.000_992_160_999_658_153_7 / 56.0
    ));
    assert!(close(split.prefill_mean_s, 0.279_932_646_000_133_9 / 56.0));
    assert!(close(
        split.ttft_mean_s.unwrap(),
        0.506_645_202_636_718_8 / 56.0
    ));

    let ttft = step.histogram(HistogramMetric::Ttft).unwrap();
    assert_eq!(ttft.stats.count, 56.0);
    assert!(!ttft.reset);
    // Bucket deltas: idle buckets are all 0, so the deltas are the after-load buckets.
    assert_eq!(ttft.buckets[2].le, 0.01);
    assert_eq!(ttft.buckets[2].count, 43.0);

    // The CLI's summary agrees.
    let summary = ScrapeSummary::diff(&Exposition::parse(&idle), &Exposition::parse(&after));
    assert_eq!(summary.server, ServerKind::Vllm);
    assert_eq!(summary.families, 92);
    assert_eq!(summary.samples, 477);
    assert_eq!(
        summary.canonical.scalars.generation_tokens_total,
        Some(2490.0)
    );
    let e2e = summary.canonical.histograms.e2e_s.as_ref().unwrap();
    assert_eq!(e2e.count, 56.0);
    // e2e p50: rank 28 in (0, 0.3] holding 51: PromQL's 0.3 × 28/51 is no estimate in a
    // bucket from 0; the quantile is the bucket.
    let p50 = e2e.p50.unwrap();
    assert_eq!((p50.lo, p50.hi, p50.est), (0.0, Some(0.3), None));

    // After → idle looks like a restart: counters count from 0 again.
    let back = StepDeltas::compute(&end, &start, &GaugeWindow::new(), Duration::from_secs(1));
    let c = back.counter(ScalarMetric::GenerationTokensTotal).unwrap();
    assert!(c.reset);
    assert_eq!(c.delta, 0.0);
    assert!(back.histogram(HistogramMetric::Ttft).unwrap().reset);
}

#[test]
fn llamacpp_capture() {
    let body = read(LLAMACPP, "metrics_idle.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty());
    assert_eq!(exp.families.len(), 15);
    assert_eq!(exp.families.len(), type_lines(&body));
    assert_eq!(exp.sample_count(), 15);
    assert_eq!(exp.sample_count(), sample_lines(&body));
    let (snap, _) = CanonicalSnapshot::parse(&body);
    assert_eq!(snap.server, ServerKind::LlamaCpp);
    assert_eq!(snap.scalars.requests_running, Some(0.0));
    assert_eq!(snap.scalars.requests_waiting, Some(0.0));
    assert_eq!(snap.scalars.prompt_tokens_total, Some(0.0));
    assert_eq!(snap.scalars.generation_tokens_total, Some(0.0));
    assert_eq!(snap.scalars.kv_cache_usage, None);
    assert_eq!(snap.scalars.request_success_total, None);
    assert_eq!(snap.histograms.ttft_s, None);
    assert_eq!(
        snap.scalar_wire_name(ScalarMetric::GenerationTokensTotal),
        Some("llamacpp:tokens_predicted_total")
    );
}
