//! What `vllm-loadtest metrics [--diff] --json` prints: a scrape (or the difference of two)
//! in canonical terms.

use std::time::Duration;

use serde::Serialize;

use crate::alias::{HistogramMetric, ScalarKind, ScalarMetric, ServerKind};
use crate::deltas::{GaugeWindow, StepDeltas};
use crate::error::LineError;
use crate::exposition::Exposition;
use crate::histogram_stats::HistogramStats;
use crate::histograms::Histograms;
use crate::scalars::Scalars;
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

/// The canonical values; a metric the server lacks is absent from the JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CanonicalValues {
    /// Scalars by canonical name, in column order.
    #[serde(flatten)]
    pub scalars: Scalars,
    /// Histogram statistics by canonical name.
    #[serde(flatten)]
    pub histograms: Histograms<HistogramStats>,
}

impl CanonicalValues {
    /// One histogram's statistics.
    #[must_use]
    pub fn histogram(&self, metric: HistogramMetric) -> Option<&HistogramStats> {
        self.histograms.get(metric)
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
            *canonical.scalars.slot(metric) = snap.scalar(metric);
        }
        for metric in HistogramMetric::ALL {
            *canonical.histograms.slot(metric) = snap.histogram(metric).map(HistogramStats::from);
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
            *canonical.scalars.slot(metric) = value;
        }
        for metric in HistogramMetric::ALL {
            *canonical.histograms.slot(metric) = deltas.histogram(metric).map(|d| d.stats);
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
