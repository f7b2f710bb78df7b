//! A [`ScrapeSummary`] as a plain-text table (what `vllm-loadtest metrics` prints without
//! `--json`).

use crate::alias::{HistogramMetric, ScalarMetric};
use crate::histogram::QuantileBucket;
use crate::quantile_label::edge;
use crate::scrape_summary::ScrapeSummary;

impl ScrapeSummary {
    /// The table's lines, for one scrape or (`is_diff`) the difference of two.
    pub fn table_lines(&self, is_diff: bool) -> Vec<String> {
        render(self, is_diff)
    }
}

fn render(summary: &ScrapeSummary, is_diff: bool) -> Vec<String> {
    let mut out = vec![
        format!(
            "server {}   families {}   samples {}   errors {}",
            summary.server,
            summary.families,
            summary.samples,
            summary.errors.len()
        ),
        if is_diff {
            "counters and histograms: AFTER − BEFORE; gauges: as in AFTER".to_owned()
        } else {
            "cumulative since server start".to_owned()
        },
        String::new(),
        format!("{:<28} {:>14}", "metric", "value"),
    ];
    for metric in ScalarMetric::ALL {
        let value = summary
            .canonical
            .scalars
            .get(metric)
            .map_or_else(|| "-".to_owned(), num);
        out.push(format!("{:<28} {:>14}", metric.name(), value));
    }
    out.push(String::new());
    out.push(format!(
        "{:<10} {:>10} {:>12} {:>11} {:>20} {:>20} {:>20}",
        "histogram", "count", "sum", "mean", "p50", "p90", "p99"
    ));
    for metric in HistogramMetric::ALL {
        let Some(h) = summary.canonical.histogram(metric) else {
            out.push(format!("{:<10} {:>10}", metric.name(), "-"));
            continue;
        };
        let quantile = |q: Option<QuantileBucket>| q.map_or_else(|| "-".to_owned(), |q| q.label());
        out.push(format!(
            "{:<10} {:>10} {:>12} {:>11} {:>20} {:>20} {:>20}",
            metric.name(),
            num(h.count),
            num(h.sum),
            h.mean.map_or_else(|| "-".to_owned(), edge),
            quantile(h.p50),
            quantile(h.p90),
            quantile(h.p99)
        ));
    }
    out.push(
        "sum in seconds; mean = sum / count, exact: the number to read; a percentile is the \
         bucket holding it (an estimate only inside a narrow bucket, hi/lo <= 1.5)"
            .to_owned(),
    );
    if !summary.errors.is_empty() {
        out.push(String::new());
        out.push("skipped lines:".to_owned());
        for e in &summary.errors {
            out.push(format!("  line {}: {}", e.line, e.message));
        }
    }
    out
}

/// Whole numbers without decimals, others with 4 significant decimals (or in e-notation when
/// tiny).
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}
