//! Hand-made fixtures (tests/data): SGLang, llama.cpp with `nan`, TGI, vLLM V0 names,
//! OpenMetrics with exemplars and `# EOF`, and a hostile file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::time::Duration;

use loadtest_prom::{
    CanonicalSnapshot, Exposition, Format, GaugeWindow, HistogramMetric, LineErrorKind, MetricType,
    ScalarMetric, ScrapeSummary, ServerKind, StepDeltas,
};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/").to_owned() + name)
        .expect("test data present")
}

#[test]
fn sglang() {
    let body = data("sglang.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    assert_eq!(exp.families.len(), 10);
    assert_eq!(exp.sample_count(), 26);
    let snap = CanonicalSnapshot::from_exposition(&exp);
    assert_eq!(snap.server, ServerKind::Sglang);
    assert_eq!(snap.scalars.requests_running, Some(12.0)); // summed over tp ranks
    assert_eq!(snap.scalars.requests_waiting, Some(3.0));
    assert_eq!(snap.scalars.kv_cache_usage, Some(0.375)); // mean over ranks
    assert_eq!(snap.scalars.prompt_tokens_total, Some(1500.0));
    assert_eq!(snap.scalars.generation_tokens_total, Some(4000.0));
    assert_eq!(snap.scalars.request_success_total, Some(40.0));
    assert!(snap.request_success_by_reason.is_empty());
    assert_eq!(snap.scalars.preemptions_total, None);
    let ttft = snap.histograms.ttft_s.as_ref().unwrap();
    assert_eq!((ttft.count, ttft.sum), (40.0, 12.0));
    // p50: rank 20 in (0.1, 0.5] holding 20 → 0.1 + 0.4 × 10/20.
    assert_eq!(ttft.quantile(0.5), Some(0.1 + 0.4 * (10.0 / 20.0)));
    // p99: rank 39.6 in the +Inf bucket → the largest finite bound.
    assert_eq!(ttft.quantile(0.99), Some(0.5));
    assert_eq!(snap.histograms.itl_s.as_ref().unwrap().count, 3960.0);
    assert_eq!(snap.histograms.e2e_s.as_ref().unwrap().mean(), Some(3.0));
    assert_eq!(snap.histograms.queue_s, None);
}

#[test]
fn llamacpp_nan() {
    let body = data("llamacpp_nan.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    assert_eq!(exp.sample_count(), 8);
    assert!(
        exp.family("llamacpp:prompt_tokens_seconds")
            .unwrap()
            .samples[0]
            .value
            .is_nan()
    );
    assert!(
        exp.family("llamacpp:predicted_tokens_seconds")
            .unwrap()
            .samples[0]
            .value
            .is_nan()
    );
    assert_eq!(
        exp.family("llamacpp:kv_cache_tokens").unwrap().samples[0].value,
        f64::INFINITY
    );
    let snap = CanonicalSnapshot::from_exposition(&exp);
    assert_eq!(snap.server, ServerKind::LlamaCpp);
    assert!(snap.scalars.kv_cache_usage.unwrap().is_nan()); // present, NaN as printed
    assert_eq!(snap.scalars.requests_running, Some(3.0));
    assert_eq!(snap.scalars.requests_waiting, Some(1.0));
    assert_eq!(snap.scalars.generation_tokens_total, Some(2048.0));
    // NaN gauge samples are left out of window statistics.
    let mut gauges = GaugeWindow::new();
    gauges.observe(&snap);
    assert!(gauges.stats(ScalarMetric::KvCacheUsage).is_none());
    assert_eq!(
        gauges.stats(ScalarMetric::RequestsRunning).unwrap().max,
        3.0
    );
    // NaN is kept in the snapshot as printed, but vllm_metrics.csv never holds `NaN`: its
    // cell is empty, and the metric is named as not finite.
    assert_eq!(snap.csv_values()[2], "");
    assert_eq!(snap.non_finite(), ["kv_cache_usage"]);
    assert_eq!(snap.csv_values()[5], "");
}

#[test]
fn tgi() {
    let body = data("tgi.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    assert_eq!(exp.families.len(), 9);
    let queue = exp.family("tgi_request_queue_duration").unwrap();
    assert_eq!(queue.kind, MetricType::Summary);
    assert_eq!(queue.samples.len(), 6);
    assert_eq!(queue.samples[2].label("quantile"), Some("0.99"));
    let snap = CanonicalSnapshot::from_exposition(&exp);
    assert_eq!(snap.server, ServerKind::Tgi);
    assert_eq!(snap.scalars.requests_running, Some(12.0));
    assert_eq!(snap.scalars.requests_waiting, Some(4.0));
    assert_eq!(snap.scalars.request_success_total, Some(30.0));
    assert_eq!(snap.scalars.prompt_tokens_total, Some(9000.0));
    assert_eq!(snap.scalars.generation_tokens_total, Some(3000.0));
    let e2e = snap.histograms.e2e_s.as_ref().unwrap();
    assert_eq!(e2e.buckets.len(), 4);
    // p50: rank 15 in (1, 2] holding 15 → 1 + 1 × 5/15.
    assert_eq!(e2e.quantile(0.5), Some(1.0 + 5.0 / 15.0));
    // A summary gives count, sum and mean, but no buckets to interpolate.
    let q = snap.histograms.queue_s.as_ref().unwrap();
    assert_eq!((q.count, q.sum), (30.0, 0.9));
    assert!(q.buckets.is_empty());
    assert_eq!(q.quantile(0.5), None);
    assert_eq!(snap.histograms.itl_s.as_ref().unwrap().mean(), Some(0.02));
}

#[test]
fn vllm_v0_names() {
    let body = data("vllm_v0.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    let snap = CanonicalSnapshot::from_exposition(&exp);
    assert_eq!(snap.server, ServerKind::Vllm);
    assert_eq!(snap.scalars.requests_running, Some(4.0)); // summed over model_name
    assert_eq!(snap.scalars.kv_cache_usage, Some(0.4)); // gpu_cache_usage_perc, mean over series
    assert_eq!(
        snap.scalar_wire_name(ScalarMetric::KvCacheUsage),
        Some("vllm:gpu_cache_usage_perc")
    );
    assert_eq!(snap.scalars.prefix_cache_queries_total, Some(800.0));
    assert_eq!(snap.scalars.prefix_cache_hits_total, Some(200.0));
    assert_eq!(snap.scalars.preemptions_total, Some(4.0));
    assert_eq!(snap.scalars.request_success_total, Some(20.0));
    assert_eq!(snap.request_success_by_reason["length"], 14.0);
    assert_eq!(snap.request_success_by_reason["stop"], 6.0);
    // Buckets written out of order, sorted by numeric `le` (string order would put 10.0 first).
    let itl = snap.histograms.itl_s.as_ref().unwrap();
    let les: Vec<f64> = itl.buckets.iter().map(|b| b.le).collect();
    assert_eq!(les, [0.025, 0.05, 2.5, 10.0, f64::INFINITY]);
    // p50: rank 500 in (0.025, 0.05] holding 500 → 0.025 + 0.025 × 100/500.
    assert_eq!(itl.quantile(0.5), Some(0.025 + 0.025 * 100.0 / 500.0));
    assert_eq!(
        snap.histogram_wire_name(HistogramMetric::Itl),
        Some("vllm:time_per_output_token_seconds")
    );
    // `le="1e+01"` is 10.
    let queue = snap.histograms.queue_s.as_ref().unwrap();
    assert_eq!(queue.buckets[1].le, 10.0);
    assert_eq!(
        snap.histogram_wire_name(HistogramMetric::Queue),
        Some("vllm:time_in_queue_requests")
    );
}

#[test]
fn openmetrics_with_exemplars_and_eof() {
    let body = data("openmetrics.txt");
    let exp = Exposition::parse(&body);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    assert_eq!(exp.format, Format::OpenMetrics);
    let names: Vec<(&str, MetricType)> = exp
        .families
        .iter()
        .map(|f| (f.name.as_ref(), f.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("acme_http_router_request_seconds", MetricType::Summary),
            ("go_goroutines", MetricType::Gauge),
            ("process_cpu_seconds", MetricType::Counter),
            ("foo", MetricType::Histogram),
            ("vllm:prompt_tokens", MetricType::Counter),
            ("vllm:time_to_first_token_seconds", MetricType::Histogram),
            ("build", MetricType::Info),
            ("door", MetricType::StateSet),
            ("queue_depth", MetricType::GaugeHistogram),
        ]
    );
    assert_eq!(exp.sample_count(), 3 + 1 + 1 + 8 + 2 + 5 + 1 + 2 + 4);
    let acme = exp.family("acme_http_router_request_seconds").unwrap();
    assert_eq!(acme.unit, Some("seconds"));
    assert_eq!(
        acme.help.as_deref(),
        Some("Latency though all of ACME's HTTP request router.")
    );
    let foo = exp.family("foo").unwrap();
    assert_eq!(foo.samples[1].exemplar.as_ref().unwrap().value, 0.054);
    assert!(foo.samples[1].exemplar.as_ref().unwrap().labels.is_empty());
    let ex = foo.samples[3].exemplar.as_ref().unwrap();
    assert_eq!(ex.labels[0].value, "oHg5SJYRHA0");
    assert_eq!(ex.timestamp, Some(1_520_879_607.789));
    assert_eq!(foo.samples[7].name, "foo_created"); // two spaces before the value
    let door = exp.family("door").unwrap();
    assert_eq!(door.samples[0].timestamp, Some(1_520_879_607.789));

    // vLLM in OpenMetrics: family `vllm:prompt_tokens`, sample `vllm:prompt_tokens_total`.
    let snap = CanonicalSnapshot::from_exposition(&exp);
    assert_eq!(snap.scalars.prompt_tokens_total, Some(10.0));
    let prompt = exp.family("vllm:prompt_tokens").unwrap();
    assert_eq!(
        prompt.samples[0].exemplar.as_ref().unwrap().labels[0].value,
        "a b}c"
    );
    assert_eq!(
        snap.histograms.ttft_s.as_ref().unwrap().quantile(0.5),
        Some(0.1)
    );

    // Anything after `# EOF` is an error.
    let mut tail = body.clone();
    tail.extend_from_slice(b"late_metric 1\n");
    let exp = Exposition::parse(&tail);
    assert_eq!(exp.errors.len(), 1);
    assert_eq!(exp.errors[0].kind, LineErrorKind::AfterEof);
    assert!(exp.family("late_metric").is_none());
}

#[test]
fn hostile() {
    let body = data("hostile.txt");
    assert!(
        body.windows(2).any(|w| w == b"\r\n"),
        "the file must use CRLF"
    );
    let exp = Exposition::parse(&body);
    let errors: Vec<(usize, LineErrorKind)> = exp
        .errors
        .iter()
        .map(|e| (e.line, e.kind.clone()))
        .collect();
    assert_eq!(
        errors,
        [
            (17, LineErrorKind::InvalidValue("twelve".into())),
            (18, LineErrorKind::ExpectedQuote),
            (19, LineErrorKind::UnterminatedString),
            (20, LineErrorKind::ExpectedMetricName),
            (21, LineErrorKind::MissingValue),
            (22, LineErrorKind::TrailingText("3".into())),
        ]
    );
    assert_eq!(exp.errors[0].column, 18);
    assert_eq!(
        exp.errors[0].to_string(),
        "line 17, column 18: sample value \"twelve\" is not a number"
    );
    assert_eq!(exp.sample_count(), 11);
    let h = exp.family("hostile_metric").unwrap();
    assert_eq!(h.kind, MetricType::Gauge);
    assert_eq!(
        h.help.as_deref(),
        Some("A \"help\" with \\ backslash,\n newline and \"quotes\"")
    );
    let s = &h.samples;
    assert_eq!(s.len(), 7);
    assert_eq!(s[0].label("path"), Some("C:\\DIR\\FILE.TXT"));
    assert_eq!(s[0].label("error"), Some("Cannot find file:\n\"FILE.TXT\""));
    assert_eq!(s[0].value, 1.458_255_915e9);
    assert_eq!(s[1].label("a"), Some("x}y"));
    assert_eq!(s[1].label("b"), Some("1,2"));
    assert_eq!(s[1].label("c"), Some("#"));
    assert_eq!(s[1].label("d"), Some("="));
    assert_eq!(s[1].label("e"), Some("{"));
    assert_eq!(s[2].label("a"), Some("spaced"));
    assert_eq!(s[2].labels.len(), 2);
    assert_eq!(s[2].value, -2.5e-3);
    assert_eq!(s[2].timestamp, Some(1_395_066_363_000.0));
    assert_eq!(s[3].label("unicode"), Some("héllo ☃"));
    assert_eq!(s[3].label("empty"), Some(""));
    assert_eq!(s[3].value, f64::INFINITY);
    assert_eq!(s[3].timestamp, Some(-3_982_045.0));
    assert_eq!(s[4].value, f64::NEG_INFINITY);
    assert!(s[5].value.is_nan());
    assert_eq!(s[6].label("x"), Some("weird escape \\t kept"));
    let colon = exp.family("colon:metric:name").unwrap();
    assert_eq!(colon.kind, MetricType::Untyped);
    assert_eq!(colon.samples[0].value, 7.0);
    let utf8 = exp.family("utf8.metric.name").unwrap();
    assert_eq!(utf8.samples[0].label("label.x"), Some("v"));
    assert_eq!(utf8.samples[0].timestamp, Some(1.5));
    assert_eq!(exp.family("after_bad").unwrap().samples[0].value, 5.0);
}

#[test]
fn not_utf8_is_one_bad_line() {
    let body = b"good 1\nbad{a=\"\xff\"} 2\nalso_good 3\n";
    let exp = Exposition::parse(body);
    assert_eq!(exp.sample_count(), 2);
    assert_eq!(exp.errors.len(), 1);
    assert_eq!(exp.errors[0].line, 2);
    assert_eq!(exp.errors[0].kind, LineErrorKind::InvalidUtf8);
}

#[test]
fn duplicate_and_late_metadata() {
    let body =
        b"# TYPE a gauge\n# TYPE a counter\na 1\n# HELP a x\n# HELP a y\n# TYPE b gauge\nb 1\n";
    let exp = Exposition::parse(body);
    let kinds: Vec<_> = exp
        .errors
        .iter()
        .map(|e| (e.line, e.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (2, LineErrorKind::DuplicateMetadata("TYPE", "a".into())),
            (5, LineErrorKind::DuplicateMetadata("HELP", "a".into())),
        ]
    );
    assert_eq!(exp.family("a").unwrap().kind, MetricType::Gauge);
    assert_eq!(exp.family("a").unwrap().help.as_deref(), Some("x"));
}

#[test]
fn engines_summed_and_restart_detected() {
    let before = b"process_start_time_seconds 100\n\
        vllm:generation_tokens_total{engine=\"0\"} 10\n\
        vllm:generation_tokens_total{engine=\"1\"} 20\n\
        vllm:request_success_total{engine=\"0\",finished_reason=\"stop\"} 3\n\
        vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"1.0\"} 2\n\
        vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"1\"} 1\n\
        vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\"} 2\n\
        vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"+Inf\"} 3\n\
        vllm:e2e_request_latency_seconds_count{engine=\"0\"} 2\n\
        vllm:e2e_request_latency_seconds_count{engine=\"1\"} 3\n\
        vllm:e2e_request_latency_seconds_sum{engine=\"0\"} 1\n\
        vllm:e2e_request_latency_seconds_sum{engine=\"1\"} 4\n";
    let (start, errors) = CanonicalSnapshot::parse(before);
    assert!(errors.is_empty());
    assert_eq!(start.scalars.generation_tokens_total, Some(30.0));
    let e2e = start.histograms.e2e_s.as_ref().unwrap();
    assert_eq!(e2e.buckets.len(), 2); // "1.0" and "1" are the same bound
    assert_eq!((e2e.buckets[0].count, e2e.buckets[1].count), (3.0, 5.0));
    assert_eq!((e2e.count, e2e.sum), (5.0, 5.0));

    // Same process, counters up; a new finish reason counts from 0.
    let later = String::from_utf8(before.to_vec())
        .unwrap()
        .replace("} 20", "} 25")
        + "vllm:request_success_total{engine=\"0\",finished_reason=\"length\"} 2\n";
    let (end, _) = CanonicalSnapshot::parse(later.as_bytes());
    let step = StepDeltas::compute(&start, &end, &GaugeWindow::new(), Duration::from_secs(5));
    assert_eq!(
        step.counter(ScalarMetric::GenerationTokensTotal)
            .unwrap()
            .delta,
        5.0
    );
    assert_eq!(step.derived.generation_tokens_per_s, Some(1.0));
    assert_eq!(step.request_success_by_reason["length"].delta, 2.0);
    assert_eq!(step.request_success_by_reason["stop"].delta, 0.0);
    assert_eq!(
        step.histogram(HistogramMetric::E2e).unwrap().stats.count,
        0.0
    );
    assert_eq!(
        step.histogram(HistogramMetric::E2e).unwrap().stats.p50,
        None
    );

    // Restarted process (start time changed) with higher values: still a reset.
    let restarted = later.replace(
        "process_start_time_seconds 100",
        "process_start_time_seconds 200",
    );
    let (end, _) = CanonicalSnapshot::parse(restarted.as_bytes());
    let step = StepDeltas::compute(&start, &end, &GaugeWindow::new(), Duration::from_secs(5));
    assert!(step.restarted);
    let c = step.counter(ScalarMetric::GenerationTokensTotal).unwrap();
    assert!(c.reset);
    assert_eq!(c.delta, 35.0);
    assert!(step.histogram(HistogramMetric::E2e).unwrap().reset);

    // A restart the caller saw between the scrapes (same start time, values higher).
    let (end, _) = CanonicalSnapshot::parse(later.as_bytes());
    let step = StepDeltas::compute_with_restart(
        &start,
        &end,
        &GaugeWindow::new(),
        Duration::from_secs(5),
        true,
    );
    assert!(step.restarted);
    let c = step.counter(ScalarMetric::GenerationTokensTotal).unwrap();
    assert!(c.reset);
    assert_eq!(c.delta, 35.0);

    // The JSON names canonical and wire names.
    let json = serde_json::to_value(&step).unwrap();
    assert_eq!(
        json["counters"]["generation_tokens_total"]["wire"],
        "vllm:generation_tokens_total"
    );
    assert_eq!(json["histograms"]["e2e_s"]["buckets"][1]["le"], "+Inf");
    assert_eq!(json["server"], "vllm");
}

#[test]
fn summary_json_shape() {
    let body = data("sglang.txt");
    let exp = Exposition::parse(&body);
    let json: serde_json::Value =
        serde_json::from_str(&ScrapeSummary::of(&exp).to_json_pretty()).unwrap();
    assert_eq!(json["server"], "sglang");
    assert_eq!(json["families"], 10);
    assert_eq!(json["samples"], 26);
    assert_eq!(json["errors"].as_array().unwrap().len(), 0);
    let canonical = json["canonical"].as_object().unwrap();
    assert_eq!(canonical["requests_running"], 12.0);
    assert!(!canonical.contains_key("preemptions_total")); // absent, not null
    assert!(!canonical.contains_key("queue_s"));
    let ttft = canonical["ttft_s"].as_object().unwrap();
    let keys: Vec<&str> = ttft.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6);
    for k in ["count", "sum", "mean", "p50", "p90", "p99"] {
        assert!(keys.contains(&k));
    }
}

#[test]
fn derived_values_name_the_wire_metrics_they_came_from() {
    // SGLang names its counters differently from vLLM: the deltas say which ones a rate used.
    let start = CanonicalSnapshot::from_exposition(&Exposition::parse(&data("sglang.txt")));
    let end_text = String::from_utf8(data("sglang.txt"))
        .unwrap()
        .replace("} 1000.0", "} 1100.0")
        .replace("} 2000.0", "} 2500.0");
    let end = CanonicalSnapshot::from_exposition(&Exposition::parse(end_text.as_bytes()));
    let step = StepDeltas::compute(&start, &end, &GaugeWindow::new(), Duration::from_secs(5));
    let sources = &step.derived.sources;
    assert_eq!(
        sources.get("prompt_tokens_per_s"),
        Some(&vec!["sglang:prompt_tokens_total".to_owned()]),
        "{sources:?}"
    );
    assert_eq!(
        sources.get("generation_tokens_per_s"),
        Some(&vec!["sglang:generation_tokens_total".to_owned()]),
        "{sources:?}"
    );
    // Only the values present are sourced; the JSON carries the map.
    assert!(step.derived.preemptions_per_s.is_none());
    assert!(!sources.contains_key("preemptions_per_s"));
    let json = serde_json::to_value(&step).unwrap();
    assert_eq!(
        json["derived"]["sources"]["prompt_tokens_per_s"][0],
        "sglang:prompt_tokens_total"
    );
}
