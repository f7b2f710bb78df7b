//! Prometheus text 0.0.4 and OpenMetrics 1.0 parser (hand-written on nom) for what vLLM,
//! SGLang, llama.cpp and TGI expose on `/metrics`, the alias tables that map their wire names
//! to one set of canonical metrics, and the arithmetic that turns two scrapes into the numbers
//! of a load-test step.
//!
//! Three layers:
//!
//! 1. [`Exposition::parse`] — every family and sample, names and labels borrowed from the
//!    body. Metric names may contain `:`; label values may hold `,` `}` `#` `=` and the
//!    escapes `\\` `\"` `\n`; NaN/±Inf, timestamps, exemplars, `# EOF`, CRLF. A bad line becomes
//!    a [`LineError`] (line, column, reason) and is skipped; [`lines`] lets a caller stop at the
//!    first one instead.
//! 2. [`CanonicalSnapshot`] — the canonical metrics of one scrape (the scalar columns of
//!    `vllm_metrics.csv`, six latency histograms, the server kind), owned and small. Wire
//!    names come from [`SCALAR_ALIASES`] / [`HISTOGRAM_ALIASES`], first present wins; series
//!    are summed over `engine` and every other label.
//! 3. [`StepDeltas`] — one window: counter deltas with reset detection, gauge mean/max over
//!    the window's scrapes ([`GaugeWindow`]), histogram deltas with p50/p90/p99 as the bucket
//!    holding each ([`QuantileBucket`]; an estimate by PromQL [`histogram_quantile`] rules only
//!    where meaningful, see [`quantile_bucket`]), and derived rates.
//!
//! ```
//! use std::time::Duration;
//! use loadtest_prom::{CanonicalSnapshot, GaugeWindow, ScalarMetric, StepDeltas};
//!
//! let before = b"\
//! ## TYPE vllm:generation_tokens_total counter
//! vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} 100.0
//! vllm:generation_tokens_total{engine=\"1\",model_name=\"m\"} 50.0
//! ## TYPE vllm:num_requests_running gauge
//! vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0
//! ";
//! let after = b"\
//! ## TYPE vllm:generation_tokens_total counter
//! vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} 400.0
//! vllm:generation_tokens_total{engine=\"1\",model_name=\"m\"} 250.0
//! ## TYPE vllm:num_requests_running gauge
//! vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 5.0
//! this line is broken
//! ";
//! let (start, errors) = CanonicalSnapshot::parse(before);
//! assert!(errors.is_empty());
//! let (end, errors) = CanonicalSnapshot::parse(after);
//! assert_eq!(errors.len(), 1);
//! assert_eq!(errors[0].line, 6); // "this line is broken": skipped, reported
//! assert_eq!(end.scalars.generation_tokens_total, Some(650.0)); // summed over engines
//!
//! // Gauges: every scrape of the window goes through a GaugeWindow (constant memory).
//! let mut gauges = GaugeWindow::new();
//! gauges.observe(&start);
//! gauges.observe(&end);
//! let step = StepDeltas::compute(&start, &end, &gauges, Duration::from_secs(10));
//! assert_eq!(step.counter(ScalarMetric::GenerationTokensTotal).map(|c| c.delta), Some(500.0));
//! assert_eq!(step.derived.generation_tokens_per_s, Some(50.0));
//! assert_eq!(step.gauge(ScalarMetric::RequestsRunning).map(|g| g.mean), Some(4.0));
//! let json = serde_json::to_string(&step)?; // vllm_step_deltas.json
//! assert!(json.contains("\"wire\":\"vllm:generation_tokens_total\""));
//! # Ok::<(), serde_json::Error>(())
//! ```

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod alias;
mod deltas;
mod error;
mod exposition;
mod grammar;
mod histogram;
mod histogram_delta;
mod histogram_stats;
mod histograms;
mod lex;
mod quantile_label;
mod scalars;
mod scrape_summary;
mod scrape_table;
mod snapshot;
mod types;

pub use alias::{
    Aggregation, FINISHED_REASON_LABEL, HISTOGRAM_ALIASES, HistogramAlias, HistogramMetric,
    LE_LABEL, PROCESS_START_TIME, SCALAR_ALIASES, SERVER_PREFIXES, ScalarAlias, ScalarKind,
    ScalarMetric, ServerKind, WireName, detect_server,
};
pub use deltas::{
    CounterDelta, DerivedRates, GaugeStats, GaugeWindow, HistogramDelta, StepDeltas, TtftSplit,
};
pub use error::{LineError, LineErrorKind};
pub use exposition::{Exposition, Family, Format, Lines, lines};
pub use grammar::{Line, parse_line};
pub use histogram::{
    Bucket, HistogramSnapshot, NARROW_BUCKET_RATIO, QuantileBucket, coalesce_buckets,
    deserialize_quantile, histogram_quantile, quantile_bucket,
};
pub use histogram_stats::HistogramStats;
pub use histograms::Histograms;
pub use scalars::Scalars;
pub use scrape_summary::{CanonicalValues, ErrorEntry, ScrapeSummary};
pub use snapshot::{CSV_COLUMNS, CanonicalSnapshot};
pub use types::{Exemplar, Label, MetricType, Sample, escape_label_value};
