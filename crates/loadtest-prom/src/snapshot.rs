//! One scrape reduced to the canonical metrics: small, owned, kept by the sweep per window.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use crate::alias::{
    Aggregation, FINISHED_REASON_LABEL, HistogramMetric, LE_LABEL, PROCESS_START_TIME,
    ScalarMetric, ServerKind, detect_server,
};
use crate::error::LineError;
use crate::exposition::Exposition;
use crate::histogram::{Bucket, HistogramSnapshot, coalesce_buckets};
use crate::histograms::Histograms;
use crate::lex::parse_number;
use crate::scalars::Scalars;
use crate::types::Sample;

/// The canonical metrics of one scrape (cumulative values as the server reported them).
///
/// Every field is `None` when the server does not expose any of its wire names
/// ([`crate::SCALAR_ALIASES`], [`crate::HISTOGRAM_ALIASES`]). A value the server printed as
/// `NaN` (or `±Inf`) stays so here, as printed; it goes no further: [`Self::csv_values`] writes
/// an empty cell for it, [`crate::StepDeltas`] leaves it out of the window's numbers, and
/// [`Self::non_finite`] names it so that a caller can say what was left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CanonicalSnapshot {
    /// Server detected from the metric names.
    pub server: ServerKind,
    /// The scalar metrics: gauges (running and waiting requests summed over engines, KV-cache
    /// usage as their mean) and counters (tokens, finished requests with every
    /// `finished_reason` summed, preemptions, prefix-cache queries and hits in tokens).
    pub scalars: Scalars,
    /// Finished requests per `finished_reason` (empty when the server has no such label).
    pub request_success_by_reason: BTreeMap<String, f64>,
    /// The latency histograms (cumulative, as the server reported them).
    pub histograms: Histograms<HistogramSnapshot>,
    /// `process_start_time_seconds` (max over series): a change means the server restarted.
    pub process_start_time_s: Option<f64>,
    scalar_wire: [Option<&'static str>; 9],
    histogram_wire: [Option<&'static str>; 6],
}

/// Column names of `vllm_metrics.csv` after `unix_s, elapsed_s, step, phase` (§9), in order;
/// [`CanonicalSnapshot::csv_values`] gives a row.
pub const CSV_COLUMNS: [&str; 17] = [
    "requests_running",
    "requests_waiting",
    "kv_cache_usage",
    "prompt_tokens_total",
    "generation_tokens_total",
    "request_success_total",
    "preemptions_total",
    "prefix_cache_queries_total",
    "prefix_cache_hits_total",
    "ttft_count",
    "ttft_sum_s",
    "itl_count",
    "itl_sum_s",
    "e2e_count",
    "e2e_sum_s",
    "queue_count",
    "queue_sum_s",
];

const CSV_HISTOGRAMS: [HistogramMetric; 4] = [
    HistogramMetric::Ttft,
    HistogramMetric::Itl,
    HistogramMetric::E2e,
    HistogramMetric::Queue,
];

impl CanonicalSnapshot {
    /// Parses a scrape body and reduces it; the bad lines (skipped) come back alongside.
    #[must_use]
    pub fn parse(body: &[u8]) -> (Self, Vec<LineError>) {
        let exposition = Exposition::parse(body);
        let snapshot = Self::from_exposition(&exposition);
        (snapshot, exposition.errors)
    }

    /// Reduces a parsed exposition to the canonical metrics.
    #[must_use]
    pub fn from_exposition(exposition: &Exposition<'_>) -> Self {
        // Only the samples a canonical metric can read are indexed (a scrape holds hundreds
        // of series, a few dozen of them canonical): the lookups below ask for nothing else.
        let wanted = wanted_names();
        let mut by_name: HashMap<&str, Vec<&Sample<'_>>> = HashMap::new();
        for sample in exposition.samples() {
            let name: &str = sample.name.as_ref();
            if wanted.contains(name) {
                by_name.entry(name).or_default().push(sample);
            }
        }
        let server = detect_server(exposition.families.iter().map(|f| f.name.as_ref()));
        let mut snap = Self {
            server,
            ..Self::default()
        };
        for metric in ScalarMetric::ALL {
            let alias = metric.alias();
            let Some((wire, samples)) = alias
                .wire
                .iter()
                .find_map(|w| by_name.get(w.name).map(|s| (w.name, s)))
            else {
                continue;
            };
            let sum: f64 = samples.iter().map(|s| s.value).sum();
            let value = match alias.aggregation {
                Aggregation::Sum => sum,
                Aggregation::Mean => sum / samples.len() as f64,
            };
            *snap.scalar_slot(metric) = Some(value);
            snap.scalar_wire[metric as usize] = Some(wire);
            if metric == ScalarMetric::RequestSuccessTotal {
                for s in samples {
                    if let Some(reason) = s.label(FINISHED_REASON_LABEL) {
                        *snap
                            .request_success_by_reason
                            .entry(reason.to_owned())
                            .or_insert(0.0) += s.value;
                    }
                }
            }
        }
        for metric in HistogramMetric::ALL {
            for w in metric.alias().wire {
                if let Some(h) = histogram_of(&by_name, w.name) {
                    *snap.histogram_slot(metric) = Some(h);
                    snap.histogram_wire[metric as usize] = Some(w.name);
                    break;
                }
            }
        }
        snap.process_start_time_s = by_name.get(PROCESS_START_TIME).and_then(|samples| {
            samples
                .iter()
                .map(|s| s.value)
                .filter(|v| v.is_finite())
                .max_by(f64::total_cmp)
        });
        snap
    }

    /// The value of a scalar metric.
    #[must_use]
    pub fn scalar(&self, metric: ScalarMetric) -> Option<f64> {
        self.scalars.get(metric)
    }

    fn scalar_slot(&mut self, metric: ScalarMetric) -> &mut Option<f64> {
        self.scalars.slot(metric)
    }

    /// A histogram metric.
    #[must_use]
    pub fn histogram(&self, metric: HistogramMetric) -> Option<&HistogramSnapshot> {
        self.histograms.get(metric)
    }

    fn histogram_slot(&mut self, metric: HistogramMetric) -> &mut Option<HistogramSnapshot> {
        self.histograms.slot(metric)
    }

    /// The wire name a scalar metric was read from (`None` when absent).
    #[must_use]
    pub fn scalar_wire_name(&self, metric: ScalarMetric) -> Option<&'static str> {
        self.scalar_wire[metric as usize]
    }

    /// The wire (family) name a histogram metric was read from (`None` when absent).
    #[must_use]
    pub fn histogram_wire_name(&self, metric: HistogramMetric) -> Option<&'static str> {
        self.histogram_wire[metric as usize]
    }

    /// The canonical metrics whose value in this scrape is not finite (NaN or ±Inf): a
    /// scalar (or one of its `finished_reason` series), or a histogram whose `_count`, `_sum`
    /// or a bucket count is. Each is left out of [`csv_values`](Self::csv_values) (an empty
    /// cell) and of [`crate::StepDeltas`]; empty for a sane server.
    #[must_use]
    pub fn non_finite(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for metric in ScalarMetric::ALL {
            let bad_reason = metric == ScalarMetric::RequestSuccessTotal
                && self
                    .request_success_by_reason
                    .values()
                    .any(|v| !v.is_finite());
            if self.scalar(metric).is_some_and(|v| !v.is_finite()) || bad_reason {
                out.push(metric.name());
            }
        }
        for metric in HistogramMetric::ALL {
            if self.histogram(metric).is_some_and(|h| !h.is_finite()) {
                out.push(metric.name());
            }
        }
        out
    }

    /// One `vllm_metrics.csv` row for [`CSV_COLUMNS`]: numbers in Rust's shortest round-trip
    /// form, an empty string when absent or not finite (a NaN or ±Inf the server printed:
    /// never `NaN` or `inf` in the file).
    #[must_use]
    pub fn csv_values(&self) -> [String; 17] {
        let fmt = |v: Option<f64>| {
            v.filter(|v| v.is_finite())
                .map_or_else(String::new, |v| v.to_string())
        };
        let mut row: [String; 17] = Default::default();
        for (i, metric) in ScalarMetric::ALL.into_iter().enumerate() {
            row[i] = fmt(self.scalar(metric));
        }
        for (i, metric) in CSV_HISTOGRAMS.into_iter().enumerate() {
            let h = self.histogram(metric);
            row[9 + 2 * i] = fmt(h.map(|h| h.count));
            row[10 + 2 * i] = fmt(h.map(|h| h.sum));
        }
        row
    }
}

/// Reads histogram `family` from `family_bucket{le}`, `family_count`, `family_sum`, summing
/// series with the same `le`. Present when the count (or a `+Inf` bucket) and the sum are.
/// A summary (no buckets) gives a histogram with no buckets: count, sum and mean only.
/// Every sample name [`CanonicalSnapshot::from_exposition`] looks up: the scalars' wire
/// names, each histogram wire family's `_bucket`, `_count` and `_sum`, and the process start
/// time.
fn wanted_names() -> &'static HashSet<String> {
    static WANTED: OnceLock<HashSet<String>> = OnceLock::new();
    WANTED.get_or_init(|| {
        let mut names: HashSet<String> = ScalarMetric::ALL
            .into_iter()
            .flat_map(|m| m.alias().wire.iter().map(|w| w.name.to_owned()))
            .collect();
        for metric in HistogramMetric::ALL {
            for w in metric.alias().wire {
                for suffix in ["_bucket", "_count", "_sum"] {
                    names.insert(format!("{}{suffix}", w.name));
                }
            }
        }
        names.insert(PROCESS_START_TIME.to_owned());
        names
    })
}

fn histogram_of(
    by_name: &HashMap<&str, Vec<&Sample<'_>>>,
    family: &str,
) -> Option<HistogramSnapshot> {
    let total = |suffix: &str| -> Option<f64> {
        by_name
            .get(format!("{family}{suffix}").as_str())
            .map(|samples| samples.iter().map(|s| s.value).sum())
    };
    let mut buckets = Vec::new();
    if let Some(samples) = by_name.get(format!("{family}_bucket").as_str()) {
        for s in samples {
            match s.label(LE_LABEL).and_then(parse_number) {
                // A `-Inf` bound holds nothing a histogram can use, and JSON could not carry it.
                Some(le) if !le.is_nan() && le != f64::NEG_INFINITY => {
                    buckets.push(Bucket { le, count: s.value });
                }
                _ => tracing::warn!(family, "histogram bucket without a usable `le` skipped"),
            }
        }
    }
    let buckets = coalesce_buckets(buckets);
    let inf = buckets
        .last()
        .filter(|b| b.le == f64::INFINITY)
        .map(|b| b.count);
    let count = total("_count").or(inf)?;
    let sum = total("_sum")?;
    if let Some(inf) = inf
        && inf != count
    {
        tracing::warn!(
            family,
            inf,
            count,
            "histogram +Inf bucket differs from _count"
        );
    }
    Some(HistogramSnapshot {
        buckets,
        count,
        sum,
    })
}
