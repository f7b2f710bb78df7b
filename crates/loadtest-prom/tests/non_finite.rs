//! NaN and ±Inf on `/metrics` (a hostile or broken server): kept in the snapshot as printed,
//! but never in a CSV cell or a window's numbers, whose JSON must read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use loadtest_prom::{
    CSV_COLUMNS, CanonicalSnapshot, GaugeWindow, HistogramMetric, ScalarMetric, StepDeltas,
};

const RUNNING: &str = "vllm:num_requests_running{engine=\"0\"}";
const WAITING: &str = "vllm:num_requests_waiting{engine=\"0\"}";
const KV: &str = "vllm:kv_cache_usage_perc{engine=\"0\"}";
const PROMPT: &str = "vllm:prompt_tokens_total{engine=\"0\"}";
const GENERATION: &str = "vllm:generation_tokens_total{engine=\"0\"}";
const STOP: &str = "vllm:request_success_total{engine=\"0\",finished_reason=\"stop\"}";
const E2E_SUM: &str = "vllm:e2e_request_latency_seconds_sum{engine=\"0\"}";
const TTFT_LOW_BUCKET: &str = "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.1\"}";

/// The largest finite values a server could print: finite, but their sums overflow.
const HUGE: &str = "1.7e308";
const MINUS_HUGE: &str = "-1.7e308";

/// A vLLM scrape: `tokens` prompt and generation tokens, `done` requests (0.5 s end to end,
/// 50 ms to the first token), with the value of each series named in `set` replaced.
fn scrape(tokens: u32, done: u32, set: &[(&str, &str)]) -> CanonicalSnapshot {
    let text = format!(
        "{RUNNING} 4\n\
         {WAITING} 1\n\
         {KV} 0.25\n\
         {PROMPT} {tokens}\n\
         {GENERATION} {tokens}\n\
         {STOP} {done}\n\
         vllm:num_preemptions_total{{engine=\"0\"}} 0\n\
         vllm:e2e_request_latency_seconds_bucket{{engine=\"0\",le=\"1.0\"}} {done}\n\
         vllm:e2e_request_latency_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {done}\n\
         vllm:e2e_request_latency_seconds_count{{engine=\"0\"}} {done}\n\
         {E2E_SUM} {half}\n\
         {TTFT_LOW_BUCKET} {done}\n\
         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {done}\n\
         vllm:time_to_first_token_seconds_count{{engine=\"0\"}} {done}\n\
         vllm:time_to_first_token_seconds_sum{{engine=\"0\"}} {twentieth}\n",
        half = f64::from(done) / 2.0,
        twentieth = f64::from(done) / 20.0,
    );
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (series, value) in set {
        let line = lines
            .iter_mut()
            .find(|l| l.starts_with(&format!("{series} ")))
            .unwrap_or_else(|| panic!("no {series}"));
        *line = format!("{series} {value}");
    }
    let (snap, errors) = CanonicalSnapshot::parse(lines.join("\n").as_bytes());
    assert!(errors.is_empty(), "{errors:?}");
    snap
}

/// `compute`'s JSON reads back into an equal `StepDeltas` (a NaN would be written as `null`
/// and fail to read back into an `f64`).
fn round_trips(step: &StepDeltas) {
    let json = serde_json::to_string(step).unwrap();
    let back: StepDeltas = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(&back, step);
}

#[test]
fn non_finite_values_are_empty_cells_and_named() {
    let snap = scrape(
        100,
        10,
        &[
            (KV, "NaN"),
            (WAITING, "-Inf"),
            (PROMPT, "+Inf"),
            (E2E_SUM, "nan"),
        ],
    );
    // Kept as printed in the snapshot …
    assert!(snap.scalars.kv_cache_usage.unwrap().is_nan());
    assert_eq!(snap.scalars.requests_waiting, Some(f64::NEG_INFINITY));
    assert_eq!(snap.scalars.prompt_tokens_total, Some(f64::INFINITY));
    // … named …
    assert_eq!(
        snap.non_finite(),
        [
            "requests_waiting",
            "kv_cache_usage",
            "prompt_tokens_total",
            "e2e_s"
        ]
    );
    // … and empty in the CSV row, the finite ones still there.
    let cells = snap.csv_values();
    for c in &cells {
        let lower = c.to_ascii_lowercase();
        assert!(
            !lower.contains("nan") && !lower.contains("inf"),
            "{cells:?}"
        );
    }
    let cell = |name: &str| &cells[CSV_COLUMNS.iter().position(|c| *c == name).unwrap()];
    for name in [
        "requests_waiting",
        "kv_cache_usage",
        "prompt_tokens_total",
        "e2e_sum_s",
    ] {
        assert_eq!(cell(name), "", "{name}");
    }
    assert_eq!(cell("requests_running"), "4");
    assert_eq!(cell("generation_tokens_total"), "100");
    assert_eq!(cell("e2e_count"), "10");
    assert_eq!(cell("ttft_sum_s"), "0.5");
    // A sane scrape names nothing.
    assert!(scrape(100, 10, &[]).non_finite().is_empty());
}

#[test]
fn a_non_finite_edge_leaves_the_metric_out_of_the_window() {
    let start = scrape(100, 10, &[]);
    // A counter NaN, a finish reason NaN, a histogram sum +Inf, a bucket count -Inf, a gauge
    // Inf: at the window end.
    let end = scrape(
        300,
        30,
        &[
            (GENERATION, "NaN"),
            (STOP, "NaN"),
            (E2E_SUM, "+Inf"),
            (TTFT_LOW_BUCKET, "-Inf"),
            (KV, "Inf"),
        ],
    );
    assert_eq!(
        end.non_finite(),
        [
            "kv_cache_usage",
            "generation_tokens_total",
            "request_success_total",
            "ttft_s",
            "e2e_s"
        ]
    );
    let mut gauges = GaugeWindow::new();
    gauges.observe(&start);
    gauges.observe(&end);
    let step = StepDeltas::compute(&start, &end, &gauges, Duration::from_secs(10));
    // Left out: no delta, no rate, no histogram, no statistics from the Inf sample.
    assert!(step.counter(ScalarMetric::GenerationTokensTotal).is_none());
    assert_eq!(step.derived.generation_tokens_per_s, None);
    assert!(step.counter(ScalarMetric::RequestSuccessTotal).is_none());
    assert_eq!(step.derived.requests_per_s, None);
    assert!(step.request_success_by_reason.is_empty());
    assert!(step.histogram(HistogramMetric::E2e).is_none());
    assert!(step.histogram(HistogramMetric::Ttft).is_none());
    let kv = step.gauge(ScalarMetric::KvCacheUsage).unwrap();
    assert_eq!(
        (kv.samples, kv.mean, kv.max, kv.last),
        (1, 0.25, 0.25, 0.25)
    );
    // The finite ones stay.
    let prompt = step.counter(ScalarMetric::PromptTokensTotal).unwrap();
    assert_eq!(prompt.delta, 200.0);
    assert_eq!(step.derived.prompt_tokens_per_s, Some(20.0));
    round_trips(&step);

    // Non-finite at the window start instead.
    let step = StepDeltas::compute(&end, &start, &GaugeWindow::new(), Duration::from_secs(10));
    assert!(step.counter(ScalarMetric::GenerationTokensTotal).is_none());
    assert!(step.histogram(HistogramMetric::E2e).is_none());
    assert!(step.histogram(HistogramMetric::Ttft).is_none());
    round_trips(&step);
}

#[test]
fn finite_values_whose_arithmetic_overflows_are_left_out() {
    let start = scrape(
        100,
        10,
        &[(PROMPT, MINUS_HUGE), (E2E_SUM, MINUS_HUGE), (RUNNING, HUGE)],
    );
    let end = scrape(300, 30, &[(PROMPT, HUGE), (E2E_SUM, HUGE), (RUNNING, HUGE)]);
    assert!(start.non_finite().is_empty() && end.non_finite().is_empty());
    let mut gauges = GaugeWindow::new();
    gauges.observe(&start);
    gauges.observe(&end);
    let step = StepDeltas::compute(&start, &end, &gauges, Duration::from_secs(10));
    // huge − (−huge) overflows: no counter delta, no histogram; huge + huge: no gauge mean.
    assert!(step.counter(ScalarMetric::PromptTokensTotal).is_none());
    assert_eq!(step.derived.prompt_tokens_per_s, None);
    assert!(step.histogram(HistogramMetric::E2e).is_none());
    assert!(step.gauge(ScalarMetric::RequestsRunning).is_none());
    // The rest of the window stands.
    assert_eq!(step.derived.generation_tokens_per_s, Some(20.0));
    assert_eq!(
        step.histogram(HistogramMetric::Ttft).unwrap().stats.count,
        20.0
    );
    round_trips(&step);

    // A finite delta over a window so short that the rate overflows: no rate.
    let start = scrape(0, 10, &[]);
    let end = scrape(0, 10, &[(GENERATION, HUGE)]);
    let step = StepDeltas::compute(&start, &end, &GaugeWindow::new(), Duration::from_nanos(1));
    assert!(step.counter(ScalarMetric::GenerationTokensTotal).is_some());
    assert_eq!(step.derived.generation_tokens_per_s, None);
    round_trips(&step);
}
