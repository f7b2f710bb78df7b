//! What `vllm-loadtest metrics [--diff] --json` prints: a scrape (or the difference of two)
//! in canonical terms.

use std::time::Duration;

use serde::Serialize;

use crate::alias::{HistogramMetric, ScalarKind, ScalarMetric, ServerKind};
use crate::deltas::{GaugeWindow, HistogramDelta, StepDeltas};
use crate::error::LineError;
use crate::exposition::Exposition;
use crate::histogram::{HistogramSnapshot, QuantileBucket};
use crate::snapshot::CanonicalSnapshot;

/// One bad line, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorEntry {
    /// 1-based line number.
    pub line: usize,
    /// Reason (with the column; prefixed `before:` / `after:` in a diff).
    pub message: String,
}

impl ErrorEntry {
    fn from_error(err: &LineError, prefix: &str) -> Self {
        Self {
            line: err.line,
            message: format!("{prefix}column {}: {}", err.column, err.kind),
        }
    }
}

/// `count`, `sum`, `mean`, `p50`, `p90`, `p99` of a histogram (or of its delta).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistogramStats {
    /// Observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// `sum / count` (`null` when `count` is 0).
    pub mean: Option<f64>,
    /// Median: `{"lo", "hi", "est"}`, the bucket holding it and an estimate where meaningful
    /// ([`crate::quantile_bucket`]).
    pub p50: Option<QuantileBucket>,
    /// 90th percentile.
    pub p90: Option<QuantileBucket>,
    /// 99th percentile.
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

impl From<&HistogramDelta> for HistogramStats {
    fn from(h: &HistogramDelta) -> Self {
        Self {
            count: h.count,
            sum: h.sum,
            mean: h.mean,
            p50: h.p50,
            p90: h.p90,
            p99: h.p99,
        }
    }
}

/// The canonical values; a metric the server lacks is absent from the JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CanonicalValues {
    /// Scalars by canonical name, in column order.
    #[serde(flatten)]
    pub scalars: Scalars,
    /// `ttft_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_s: Option<HistogramStats>,
    /// `itl_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itl_s: Option<HistogramStats>,
    /// `e2e_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e2e_s: Option<HistogramStats>,
    /// `queue_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_s: Option<HistogramStats>,
    /// `prefill_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefill_s: Option<HistogramStats>,
    /// `decode_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_s: Option<HistogramStats>,
}

/// The scalar canonical values (see [`ScalarMetric`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[allow(missing_docs)] // each field is the ScalarMetric of the same name
pub struct Scalars {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_running: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_waiting: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_usage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_tokens_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_success_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemptions_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache_queries_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hits_total: Option<f64>,
}

impl Scalars {
    /// The value of one metric.
    #[must_use]
    pub fn get(&self, metric: ScalarMetric) -> Option<f64> {
        match metric {
            ScalarMetric::RequestsRunning => self.requests_running,
            ScalarMetric::RequestsWaiting => self.requests_waiting,
            ScalarMetric::KvCacheUsage => self.kv_cache_usage,
            ScalarMetric::PromptTokensTotal => self.prompt_tokens_total,
            ScalarMetric::GenerationTokensTotal => self.generation_tokens_total,
            ScalarMetric::RequestSuccessTotal => self.request_success_total,
            ScalarMetric::PreemptionsTotal => self.preemptions_total,
            ScalarMetric::PrefixCacheQueriesTotal => self.prefix_cache_queries_total,
            ScalarMetric::PrefixCacheHitsTotal => self.prefix_cache_hits_total,
        }
    }

    fn set(&mut self, metric: ScalarMetric, value: Option<f64>) {
        let slot = match metric {
            ScalarMetric::RequestsRunning => &mut self.requests_running,
            ScalarMetric::RequestsWaiting => &mut self.requests_waiting,
            ScalarMetric::KvCacheUsage => &mut self.kv_cache_usage,
            ScalarMetric::PromptTokensTotal => &mut self.prompt_tokens_total,
            ScalarMetric::GenerationTokensTotal => &mut self.generation_tokens_total,
            ScalarMetric::RequestSuccessTotal => &mut self.request_success_total,
            ScalarMetric::PreemptionsTotal => &mut self.preemptions_total,
            ScalarMetric::PrefixCacheQueriesTotal => &mut self.prefix_cache_queries_total,
            ScalarMetric::PrefixCacheHitsTotal => &mut self.prefix_cache_hits_total,
        };
        *slot = value;
    }
}

impl CanonicalValues {
    /// One histogram's statistics.
    #[must_use]
    pub fn histogram(&self, metric: HistogramMetric) -> Option<&HistogramStats> {
        match metric {
            HistogramMetric::Ttft => self.ttft_s.as_ref(),
            HistogramMetric::Itl => self.itl_s.as_ref(),
            HistogramMetric::E2e => self.e2e_s.as_ref(),
            HistogramMetric::Queue => self.queue_s.as_ref(),
            HistogramMetric::Prefill => self.prefill_s.as_ref(),
            HistogramMetric::Decode => self.decode_s.as_ref(),
        }
    }

    fn set_histogram(&mut self, metric: HistogramMetric, value: Option<HistogramStats>) {
        let slot = match metric {
            HistogramMetric::Ttft => &mut self.ttft_s,
            HistogramMetric::Itl => &mut self.itl_s,
            HistogramMetric::E2e => &mut self.e2e_s,
            HistogramMetric::Queue => &mut self.queue_s,
            HistogramMetric::Prefill => &mut self.prefill_s,
            HistogramMetric::Decode => &mut self.decode_s,
        };
        *slot = value;
    }
}

/// `{"server", "families", "samples", "errors", "canonical"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScrapeSummary {
    /// Detected server.
    pub server: ServerKind,
    /// Metric families (of AFTER in a diff).
    pub families: usize,
    /// Samples (of AFTER in a diff).
    pub samples: usize,
    /// Bad lines (skipped).
    pub errors: Vec<ErrorEntry>,
    /// Canonical values: cumulative for one scrape; for a diff, counters and histograms as
    /// AFTER − BEFORE (reset-aware) and gauges as in AFTER.
    pub canonical: CanonicalValues,
}

impl ScrapeSummary {
    /// Summary of one scrape: histogram statistics over everything since server start.
    #[must_use]
    pub fn of(exposition: &Exposition<'_>) -> Self {
        let snap = CanonicalSnapshot::from_exposition(exposition);
        let mut canonical = CanonicalValues::default();
        for metric in ScalarMetric::ALL {
            canonical.scalars.set(metric, snap.scalar(metric));
        }
        for metric in HistogramMetric::ALL {
            canonical.set_histogram(metric, snap.histogram(metric).map(HistogramStats::from));
        }
        Self {
            server: snap.server,
            families: exposition.families.len(),
            samples: exposition.sample_count(),
            errors: exposition
                .errors
                .iter()
                .map(|e| ErrorEntry::from_error(e, ""))
                .collect(),
            canonical,
        }
    }

    /// Difference AFTER − BEFORE: counters and histograms as deltas (a counter that went down
    /// counts from 0), gauges as in AFTER. A counter or histogram missing from either scrape
    /// is absent.
    #[must_use]
    pub fn diff(before: &Exposition<'_>, after: &Exposition<'_>) -> Self {
        let start = CanonicalSnapshot::from_exposition(before);
        let end = CanonicalSnapshot::from_exposition(after);
        let mut gauges = GaugeWindow::new();
        gauges.observe(&end);
        let deltas = StepDeltas::compute(&start, &end, &gauges, Duration::ZERO);
        let mut canonical = CanonicalValues::default();
        for metric in ScalarMetric::ALL {
            let value = match metric.kind() {
                ScalarKind::Gauge => end.scalar(metric),
                ScalarKind::Counter => deltas.counter(metric).map(|c| c.delta),
            };
            canonical.scalars.set(metric, value);
        }
        for metric in HistogramMetric::ALL {
            canonical.set_histogram(metric, deltas.histogram(metric).map(HistogramStats::from));
        }
        let errors = before
            .errors
            .iter()
            .map(|e| ErrorEntry::from_error(e, "before: "))
            .chain(
                after
                    .errors
                    .iter()
                    .map(|e| ErrorEntry::from_error(e, "after: ")),
            )
            .collect();
        Self {
            server: end.server,
            families: after.families.len(),
            samples: after.sample_count(),
            errors,
            canonical,
        }
    }

    /// Pretty-printed JSON.
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        match serde_json::to_string_pretty(self) {
            Ok(json) => json,
            // Serializing plain structs of numbers and strings cannot fail; keep a valid
            // document if it ever does.
            Err(err) => format!("{{\"error\": {:?}}}", err.to_string()),
        }
    }
}
