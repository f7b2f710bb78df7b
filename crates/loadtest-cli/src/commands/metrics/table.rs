//! The readable (non-JSON) output of `metrics`.

use loadtest_prom::{HistogramMetric, ScalarMetric, ScrapeSummary};

/// Lines of the table for one scrape or a diff.
pub(super) fn render(summary: &ScrapeSummary, is_diff: bool) -> Vec<String> {
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
        "{:<10} {:>10} {:>12} {:>11} {:>11} {:>11} {:>11}",
        "histogram", "count", "sum", "mean", "p50", "p90", "p99"
    ));
    for metric in HistogramMetric::ALL {
        let Some(h) = summary.canonical.histogram(metric) else {
            out.push(format!("{:<10} {:>10}", metric.name(), "-"));
            continue;
        };
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), num);
        out.push(format!(
            "{:<10} {:>10} {:>12} {:>11} {:>11} {:>11} {:>11}",
            metric.name(),
            num(h.count),
            num(h.sum),
            opt(h.mean),
            opt(h.p50),
            opt(h.p90),
            opt(h.p99)
        ));
    }
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
