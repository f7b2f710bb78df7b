//! Number formatting for the markdown tables: sensible units and precision, and an empty
//! string (never `NaN`) where a value is missing or not finite.

/// A finite value, or `None`.
pub(crate) fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

/// Three significant digits, at most `max_decimals` decimals: `855`, `51.2`, `5.33`, `0.512`.
pub(crate) fn sig3(x: f64) -> String {
    let a = x.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    format!("{x:.decimals$}")
}

/// A rate or count per second with three significant digits; empty when missing.
pub(crate) fn rate(x: Option<f64>) -> String {
    finite(x).map(sig3).unwrap_or_default()
}

/// A number with a fixed number of decimals; empty when missing.
pub(crate) fn fixed(x: Option<f64>, decimals: usize) -> String {
    finite(x)
        .map(|v| format!("{v:.decimals$}"))
        .unwrap_or_default()
}

/// A 0–1 share as a percentage with one decimal (`12.5 %`); empty when missing.
pub(crate) fn percent(share: Option<f64>) -> String {
    finite(share)
        .map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_default()
}

/// A load level: `16`, `2.5`.
pub(crate) fn load(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The unit a latency is best shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Micros,
    Millis,
    Secs,
}

impl TimeUnit {
    fn of(seconds: f64) -> Self {
        let a = seconds.abs();
        if a != 0.0 && a < 1e-3 {
            TimeUnit::Micros
        } else if a < 1.0 {
            TimeUnit::Millis
        } else {
            TimeUnit::Secs
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Micros => "µs",
            TimeUnit::Millis => "ms",
            TimeUnit::Secs => "s",
        }
    }

    fn scale(self) -> f64 {
        match self {
            TimeUnit::Micros => 1e6,
            TimeUnit::Millis => 1e3,
            TimeUnit::Secs => 1.0,
        }
    }
}

fn bare(seconds: f64, unit: TimeUnit) -> String {
    sig3(seconds * unit.scale())
}

/// A duration given in seconds, in µs, ms or s with three significant digits: `14.4 ms`,
/// `1.68 s`; empty when missing.
pub(crate) fn latency(seconds: Option<f64>) -> String {
    finite(seconds)
        .map(|s| {
            let unit = TimeUnit::of(s);
            format!("{} {}", bare(s, unit), unit.suffix())
        })
        .unwrap_or_default()
}

/// Two durations in one cell, `14.4 / 93.3 ms` (or `933 ms / 1.20 s` when the units
/// differ); a missing half shows as `–`, both missing give an empty cell.
pub(crate) fn latency_pair(a: Option<f64>, b: Option<f64>) -> String {
    match (finite(a), finite(b)) {
        (None, None) => String::new(),
        (Some(a), Some(b)) if TimeUnit::of(a) == TimeUnit::of(b) => {
            let unit = TimeUnit::of(a);
            format!("{} / {} {}", bare(a, unit), bare(b, unit), unit.suffix())
        }
        (a, b) => format!("{} / {}", dash(latency(a)), dash(latency(b))),
    }
}

/// Two plain numbers in one cell (`12.8 / 16`); `–` for a missing half, empty when both are.
pub(crate) fn pair(a: String, b: String) -> String {
    if a.is_empty() && b.is_empty() {
        String::new()
    } else {
        format!("{} / {}", dash(a), dash(b))
    }
}

fn dash(s: String) -> String {
    if s.is_empty() { "–".to_owned() } else { s }
}

/// A duration in seconds as written in run facts: `3 s`, `1.5 s`, `2 min 30 s`.
pub(crate) fn duration_s(seconds: f64) -> String {
    if !seconds.is_finite() {
        return String::new();
    }
    if seconds >= 120.0 {
        let whole = seconds.round() as u64;
        let (m, s) = (whole / 60, whole % 60);
        if s == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {s} s")
        }
    } else {
        format!("{} s", load(seconds))
    }
}

/// Makes text safe inside a table cell: no pipes, no line breaks, no control characters,
/// at most `max_chars` characters.
pub(crate) fn cell(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(max_chars)
        .collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// A server-histogram quantile in seconds, shown as what the histogram knows (the bucket
/// holding it, with an estimate only in a narrow one): [`loadtest_prom::QuantileBucket::label`].
pub(crate) fn latency_bucket(lo: f64, hi: Option<f64>, est: Option<f64>) -> String {
    loadtest_prom::QuantileBucket { lo, hi, est }.label()
}

/// Signed change `b − a` and its percentage of `a`: `+12.3 (+4.5 %)`.
pub(crate) fn change(a: f64, b: f64, as_latency: bool) -> String {
    let d = b - a;
    let sign = if d > 0.0 {
        "+"
    } else if d < 0.0 {
        "−"
    } else {
        "±"
    };
    let magnitude = if as_latency {
        latency(Some(d.abs()))
    } else {
        sig3(d.abs())
    };
    match relative(a, b) {
        Some(r) => format!(
            "{sign}{magnitude} ({}{:.1} %)",
            if r >= 0.0 { "+" } else { "−" },
            r.abs() * 100.0
        ),
        None => format!("{sign}{magnitude}"),
    }
}

/// `(b − a) / a`, when `a` is not zero.
pub(crate) fn relative(a: f64, b: f64) -> Option<f64> {
    (a != 0.0 && a.is_finite() && b.is_finite()).then(|| (b - a) / a.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies() {
        assert_eq!(latency(Some(0.0144)), "14.4 ms");
        assert_eq!(latency(Some(0.0055)), "5.50 ms");
        assert_eq!(latency(Some(1.68)), "1.68 s");
        assert_eq!(latency(Some(0.000_25)), "250 µs");
        assert_eq!(latency(Some(0.0)), "0 ms");
        assert_eq!(latency(Some(f64::NAN)), "");
        assert_eq!(latency(None), "");
        assert_eq!(latency_pair(Some(0.0144), Some(0.0933)), "14.4 / 93.3 ms");
        assert_eq!(latency_pair(Some(0.933), Some(1.2)), "933 ms / 1.20 s");
        assert_eq!(latency_pair(None, Some(1.2)), "– / 1.20 s");
        assert_eq!(latency_pair(None, Some(f64::INFINITY)), "");
    }

    #[test]
    fn numbers() {
        assert_eq!(rate(Some(855.0)), "855");
        assert_eq!(rate(Some(51.23)), "51.2");
        assert_eq!(rate(Some(5.333)), "5.33");
        assert_eq!(rate(Some(0.0)), "0");
        assert_eq!(rate(Some(f64::NAN)), "");
        assert_eq!(percent(Some(0.0157)), "1.6 %");
        assert_eq!(load(16.0), "16");
        assert_eq!(load(2.5), "2.5");
        assert_eq!(duration_s(3.0), "3 s");
        assert_eq!(duration_s(150.0), "2 min 30 s");
        assert_eq!(pair(String::new(), "3".into()), "– / 3");
        assert_eq!(cell("a|b\nc", 3), "a/b…");
    }

    #[test]
    fn latency_buckets() {
        // All of vLLM's queue time in its first bucket: only "at most 300 ms" is known.
        assert_eq!(latency_bucket(0.0, Some(0.3), None), "≤ 300 ms");
        assert_eq!(latency_bucket(0.3, Some(0.5), None), "300–500 ms");
        assert_eq!(latency_bucket(0.0025, Some(0.005), None), "2.5–5 ms");
        assert_eq!(latency_bucket(0.8, Some(1.0), None), "800 ms–1 s");
        assert_eq!(latency_bucket(7680.0, None, None), "> 7680 s");
        assert_eq!(latency_bucket(2.5, None, Some(3.0)), "> 2.5 s");
        assert_eq!(
            latency_bucket(0.04, Some(0.06), Some(0.0488)),
            "≈49 ms (40–60 ms)"
        );
        assert_eq!(
            latency_bucket(1.0, Some(1.5), Some(1.23)),
            "≈1.2 s (1–1.5 s)"
        );
        assert_eq!(latency_bucket(f64::NAN, Some(1.0), None), "");
    }

    #[test]
    fn changes() {
        assert_eq!(change(100.0, 110.0, false), "+10.0 (+10.0 %)");
        assert_eq!(change(0.020, 0.018, true), "−2.00 ms (−10.0 %)");
        assert_eq!(change(0.0, 1.0, false), "+1.00");
        assert_eq!(change(5.0, 5.0, false), "±0 (+0.0 %)");
    }
}
