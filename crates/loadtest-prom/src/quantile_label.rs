//! Durations and quantile buckets as text: the few digits a histogram's edges justify.

use crate::histogram::QuantileBucket;

impl QuantileBucket {
    /// The quantile (in seconds) as what the histogram knows, for a person: `≤ 300 ms` (a
    /// bucket from 0), `300–500 ms`, `> 7680 s` (the `+Inf` bucket), or, in a narrow bucket,
    /// the estimate to two significant digits with the bucket: `≈49 ms (40–60 ms)`. Empty when
    /// `lo` is not finite. The one rendering, for `metrics` and summary.md alike.
    #[must_use]
    pub fn label(&self) -> String {
        if self.lo.is_finite() {
            label(*self)
        } else {
            String::new()
        }
    }
}

fn label(q: QuantileBucket) -> String {
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
    match q.est.filter(|e| e.is_finite()) {
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
pub(crate) fn edge(seconds: f64) -> String {
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

    fn lbl(q: QuantileBucket) -> String {
        q.label()
    }

    #[test]
    fn quantiles_print_as_buckets() {
        assert_eq!(lbl(q(0.0, Some(0.3), None)), "≤ 300 ms");
        assert_eq!(lbl(q(0.3, Some(0.5), None)), "300–500 ms");
        assert_eq!(lbl(q(0.0025, Some(0.005), None)), "2.5–5 ms");
        assert_eq!(lbl(q(0.8, Some(1.0), None)), "800 ms–1 s");
        assert_eq!(q(7680.0, None, None).label(), "> 7680 s");
        assert_eq!(lbl(q(0.04, Some(0.06), Some(0.0488))), "≈49 ms (40–60 ms)");
        assert_eq!(lbl(q(0.5, Some(0.75), Some(0.625))), "≈630 ms (500–750 ms)");
        // A narrow bucket without an estimate (the sum ruled it out) prints the bucket.
        assert_eq!(lbl(q(1.0, Some(1.5), None)), "1–1.5 s");
        assert_eq!(edge(1.771_716e-5), "17.7 µs");
        assert_eq!(edge(0.1019), "102 ms");
        // What summary.md showed before this was the one rendering.
        assert_eq!(lbl(q(2.5, None, Some(3.0))), "> 2.5 s");
        assert_eq!(lbl(q(1.0, Some(1.5), Some(1.23))), "≈1.2 s (1–1.5 s)");
        assert_eq!(lbl(q(f64::NAN, Some(1.0), None)), "");
    }
}
