//! What one exposition line holds: samples with borrowed names and labels, and metric types.

use std::borrow::Cow;
use std::fmt;

/// The type a `# TYPE` line gives a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// `counter`: samples `x_total` (OpenMetrics) or `x` named as declared (text 0.0.4), and
    /// `x_created`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`: `x_bucket{le}`, `x_count`, `x_sum`, `x_created`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics): `x_bucket{le}`, `x_gcount`, `x_gsum`.
    GaugeHistogram,
    /// `summary`: `x{quantile}`, `x_count`, `x_sum`, `x_created`.
    Summary,
    /// `info` (OpenMetrics): `x_info`.
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` (text 0.0.4), `unknown` (OpenMetrics), or no `# TYPE` line at all.
    Untyped,
}

impl MetricType {
    /// Reads a `# TYPE` keyword (`untyped` and `unknown` both give [`MetricType::Untyped`]).
    #[must_use]
    pub fn from_keyword(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "untyped" | "unknown" => Self::Untyped,
            _ => return None,
        })
    }

    /// The keyword as written in a `# TYPE` line (`untyped` for [`MetricType::Untyped`]).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::GaugeHistogram => "gaugehistogram",
            Self::Summary => "summary",
            Self::Info => "info",
            Self::StateSet => "stateset",
            Self::Untyped => "untyped",
        }
    }

    /// Sample-name suffixes that belong to a family of this type (besides the bare name).
    #[must_use]
    pub fn suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Counter => &["_total", "_created"],
            Self::Histogram => &["_bucket", "_count", "_sum", "_created"],
            Self::GaugeHistogram => &["_bucket", "_gcount", "_gsum", "_created"],
            Self::Summary => &["_count", "_sum", "_created"],
            Self::Info => &["_info"],
            Self::Gauge | Self::StateSet | Self::Untyped => &[],
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `name="value"` pair. Borrowed from the input unless escapes had to be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Label<'a> {
    /// Label name.
    pub name: Cow<'a, str>,
    /// Label value with `\\`, `\"` and `\n` decoded.
    pub value: Cow<'a, str>,
}

/// An OpenMetrics exemplar: ` # {labels} value [timestamp]` after a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// Exemplar labels (often `trace_id`).
    pub labels: Vec<Label<'a>>,
    /// Exemplar value.
    pub value: f64,
    /// Exemplar timestamp as written (seconds in OpenMetrics).
    pub timestamp: Option<f64>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Full sample name, suffix included (`vllm:time_to_first_token_seconds_bucket`).
    pub name: Cow<'a, str>,
    /// Labels in the order written.
    pub labels: Vec<Label<'a>>,
    /// Value (`NaN`, `±Inf` allowed).
    pub value: f64,
    /// Timestamp as written: integer milliseconds in text 0.0.4, float seconds in OpenMetrics.
    pub timestamp: Option<f64>,
    /// Exemplar, if any.
    pub exemplar: Option<Exemplar<'a>>,
}

impl Sample<'_> {
    /// The value of label `name`, if present (the first one if repeated).
    #[must_use]
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_ref())
    }
}

/// Escapes a label value for the text formats: `\` → `\\`, `"` → `\"`, newline → `\n`.
#[must_use]
pub fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}
