//! The readable (non-JSON) output of `metrics`.

use loadtest_prom::{HistogramMetric, QuantileBucket, ScalarMetric, ScrapeSummary};

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
        "{:<10} {:>10} {:>12} {:>11} {:>20} {:>20} {:>20}",
        "histogram", "count", "sum", "mean", "p50", "p90", "p99"
    ));
    for metric in HistogramMetric::ALL {
        let Some(h) = summary.canonical.histogram(metric) else {
            out.push(format!("{:<10} {:>10}", metric.name(), "-"));
            continue;
        };
        let quantile = |q: Option<QuantileBucket>| q.map_or_else(|| "-".to_owned(), bucket);
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

/// A quantile (seconds) as its bucket: `≤ 300 ms` (a bucket from 0), `300–500 ms`, `> 7680 s`
/// (the `+Inf` bucket), or, in a narrow bucket, the estimate to two significant digits with
/// the bucket: `≈49 ms (40–60 ms)`.
fn bucket(q: QuantileBucket) -> String {
    let Some(hi) = q.hi.filter(|hi| hi.is_finite()) else {
        return format!("> {}", edge(q.lo));
    };
    if q.lo <= 0.0 || q.lo >= hi {
        return format!("≤ {}", edge(hi));
    }
    let range = match (unit(q.lo), unit(hi)) {
        ((a, _), (b, suffix)) if a == b => {
            format!("{}–{} {suffix}", trimmed(q.lo * a, 3), trimmed(hi * b, 3))
        }
        _ => format!("{}–{}", edge(q.lo), edge(hi)),
    };
    match q.est {
        Some(est) => {
            let (scale, suffix) = unit(est);
            format!("≈{} {suffix} ({range})", trimmed(est * scale, 2))
        }
        None => range,
    }
}

/// Scale and suffix for a duration in seconds: µs below 1 ms, ms below 1 s, else s.
fn unit(seconds: f64) -> (f64, &'static str) {
    let a = seconds.abs();
    if a != 0.0 && a < 1e-3 {
        (1e6, "µs")
    } else if a < 1.0 {
        (1e3, "ms")
    } else {
        (1.0, "s")
    }
}

/// A duration with its unit and at most three significant digits, no trailing zeros: a bucket
/// edge (`300 ms`, `2.5 s`) or a mean (`17.7 µs`).
fn edge(seconds: f64) -> String {
    let (scale, suffix) = unit(seconds);
    format!("{} {suffix}", trimmed(seconds * scale, 3))
}

/// `v` rounded to `digits` significant digits (whole part kept), trailing zeros dropped.
fn trimmed(v: f64, digits: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let step = 10f64.powi(magnitude + 1 - digits);
    let rounded = (v / step).round() * step;
    let decimals = usize::try_from(digits - 1 - magnitude).unwrap_or(0);
    let text = format!("{rounded:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(lo: f64, hi: Option<f64>, est: Option<f64>) -> QuantileBucket {
        QuantileBucket { lo, hi, est }
    }

    #[test]
    fn quantiles_print_as_buckets() {
        assert_eq!(bucket(q(0.0, Some(0.3), None)), "≤ 300 ms");
        assert_eq!(bucket(q(0.3, Some(0.5), None)), "300–500 ms");
        assert_eq!(bucket(q(0.0025, Some(0.005), None)), "2.5–5 ms");
        assert_eq!(bucket(q(0.8, Some(1.0), None)), "800 ms–1 s");
        assert_eq!(bucket(q(7680.0, None, None)), "> 7680 s");
        assert_eq!(
            bucket(q(0.04, Some(0.06), Some(0.0488))),
            "≈49 ms (40–60 ms)"
        );
        assert_eq!(
            bucket(q(0.5, Some(0.75), Some(0.625))),
            "≈630 ms (500–750 ms)"
        );
        // A narrow bucket without an estimate (the sum ruled it out) prints the bucket.
        assert_eq!(bucket(q(1.0, Some(1.5), None)), "1–1.5 s");
        assert_eq!(edge(1.771_716e-5), "17.7 µs");
        assert_eq!(edge(0.1019), "102 ms");
    }
}
