//! Axis scales. Log axes are drawn as linear axes over log-transformed values, with tick
//! marks placed here: at the step loads on x, at 1–2–5 multiples on y. A [`Scale`] is a
//! plotters coordinate (it implements [`Ranged`]) over mapped values.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// How values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mapping {
    Linear,
    /// log2 (loads: doubling steps land evenly).
    Log2,
    /// log10 (latencies).
    Log10,
}

/// One axis: its mapping, its range and ticks in mapped space.
#[derive(Debug, Clone)]
pub(crate) struct Scale {
    pub mapping: Mapping,
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
}

impl Ranged for Scale {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span.abs() < f64::EPSILON {
            return (limit.0 + limit.1) / 2;
        }
        let share = (*value - self.lo) / span;
        let pixels = f64::from(limit.1 - limit.0) * share;
        limit.0 + pixels.round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Grid lines at the ticks only: no light (minor) lines.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Loads spanning at least this ratio get a log2 x axis.
const X_LOG_RATIO: f64 = 8.0;
/// At most this many x ticks (every k-th load is kept beyond it).
const MAX_X_TICKS: usize = 12;

impl Scale {
    /// `v` in mapped space, `None` where the mapping cannot take it (≤ 0 on a log axis).
    pub(crate) fn forward(&self, v: f64) -> Option<f64> {
        let m = match self.mapping {
            Mapping::Linear => v,
            Mapping::Log2 if v > 0.0 => v.log2(),
            Mapping::Log10 if v > 0.0 => v.log10(),
            Mapping::Log2 | Mapping::Log10 => return None,
        };
        m.is_finite().then_some(m)
    }

    /// The label of a mapped value: the original value, briefly.
    pub(crate) fn label(&self, mapped: f64) -> String {
        let v = match self.mapping {
            Mapping::Linear => mapped,
            Mapping::Log2 => mapped.exp2(),
            Mapping::Log10 => 10f64.powf(mapped),
        };
        tick_label(v)
    }

    /// True on a log axis.
    pub(crate) fn is_log(&self) -> bool {
        self.mapping != Mapping::Linear
    }
}

/// The x axis over the step loads: log2 when they span ≥ 8×, ticks at the loads.
pub(crate) fn x_scale(loads: &[f64]) -> Scale {
    let mut xs: Vec<f64> = loads.iter().copied().filter(|x| x.is_finite()).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let (min, max) = match (xs.first(), xs.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => (0.0, 1.0),
    };
    let mapping = if min > 0.0 && max / min >= X_LOG_RATIO {
        Mapping::Log2
    } else {
        Mapping::Linear
    };
    let mut scale = Scale {
        mapping,
        lo: 0.0,
        hi: 1.0,
        ticks: Vec::new(),
    };
    let mapped: Vec<f64> = xs.iter().filter_map(|x| scale.forward(*x)).collect();
    let (lo, hi) = match (mapped.first(), mapped.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => (0.0, 1.0),
    };
    let pad = if hi > lo { (hi - lo) * 0.06 } else { 0.5 };
    scale.lo = lo - pad;
    scale.hi = hi + pad;
    let every = mapped.len().div_ceil(MAX_X_TICKS).max(1);
    scale.ticks = mapped.iter().copied().step_by(every).collect();
    scale
}

/// A y axis over `values` (finite ones): from 0 (or below, for negatives) to a little
/// above the largest, or log10 when `allow_log` and they span more than `log_ratio`.
pub(crate) fn y_scale(values: &[f64], allow_log: bool, log_ratio: f64) -> Scale {
    let ys: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let min = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if allow_log && min > 0.0 && max / min > log_ratio {
        let lo = (min / 1.3).log10();
        let hi = (max * 1.3).log10();
        let mut ticks = Vec::new();
        let mut decade = lo.floor() as i32;
        while f64::from(decade) <= hi.ceil() {
            for m in [1.0, 2.0, 5.0] {
                let t = (m * 10f64.powi(decade)).log10();
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
            decade += 1;
        }
        return Scale {
            mapping: Mapping::Log10,
            lo,
            hi,
            ticks,
        };
    }
    let (min, max) = if ys.is_empty() {
        (0.0, 1.0)
    } else {
        (min, max)
    };
    let lo_raw = min.min(0.0);
    let hi_raw = if max > lo_raw {
        max * 1.08
    } else {
        lo_raw + 1.0
    };
    let step = nice_step((hi_raw - lo_raw) / 5.0);
    let lo = (lo_raw / step).floor() * step;
    let hi = (hi_raw / step).ceil() * step;
    let count = ((hi - lo) / step).round() as usize;
    let ticks = (0..=count).map(|i| lo + step * i as f64).collect();
    Scale {
        mapping: Mapping::Linear,
        lo,
        hi,
        ticks,
    }
}

/// The 1–2–5 multiple of a power of ten nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A tick value with at most four significant digits, no trailing zeros: `0.5`, `16`, `2500`.
pub(crate) fn tick_label(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let digits = 4 - 1 - v.abs().log10().floor() as i32;
    let factor = 10f64.powi(digits);
    let rounded = (v * factor).round() / factor;
    if digits > 0 {
        let text = format!("{rounded:.prec$}", prec = digits as usize);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_owned()
    } else {
        format!("{rounded:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_log_ticks_at_loads() {
        let s = x_scale(&[1.0, 4.0, 16.0, 64.0]);
        assert_eq!(s.mapping, Mapping::Log2);
        let labels: Vec<String> = s.ticks.iter().map(|t| s.label(*t)).collect();
        assert_eq!(labels, ["1", "4", "16", "64"]);
        assert!(s.lo < 0.0 && s.hi > 6.0);
        let lin = x_scale(&[2.0, 4.0]);
        assert_eq!(lin.mapping, Mapping::Linear);
        let one = x_scale(&[8.0]);
        assert!(one.lo < 8.0 && one.hi > 8.0);
        assert_eq!(x_scale(&[]).ticks.len(), 0);
        let many: Vec<f64> = (1..=40).map(f64::from).collect();
        assert!(x_scale(&many).ticks.len() <= MAX_X_TICKS);
    }

    #[test]
    fn y_linear_and_log() {
        let s = y_scale(&[146.7, 511.7, 855.0], true, 20.0);
        assert_eq!(s.mapping, Mapping::Linear);
        assert_eq!(s.lo, 0.0);
        assert!(s.hi >= 855.0 * 1.08 - 1e-9);
        assert!(s.ticks.len() >= 4 && s.ticks.len() <= 12, "{:?}", s.ticks);
        let l = y_scale(&[5.5, 93.3, 1810.0], true, 20.0);
        assert_eq!(l.mapping, Mapping::Log10);
        let labels: Vec<String> = l.ticks.iter().map(|t| l.label(*t)).collect();
        assert!(
            labels.contains(&"10".to_owned()) && labels.contains(&"1000".to_owned()),
            "{labels:?}"
        );
        assert_eq!(
            y_scale(&[5.5, 1810.0], false, 20.0).mapping,
            Mapping::Linear
        );
        let zero = y_scale(&[0.0, 0.0], true, 20.0);
        assert!(zero.hi > zero.lo);
        let empty = y_scale(&[], true, 20.0);
        assert!(empty.hi > empty.lo);
    }

    #[test]
    fn labels() {
        assert_eq!(tick_label(16.000000000000004), "16");
        assert_eq!(tick_label(0.5), "0.5");
        assert_eq!(tick_label(2500.0), "2500");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(123456.0), "123500");
        assert_eq!(tick_label(0.0), "0");
    }
}
