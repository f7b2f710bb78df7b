//! Thresholds (`--fail-on ttft.p99<500ms`, `goodput>=8rps`, `throughput@16>=900tok/s`,
//! `slo@16`): typed expressions checked against every step (or only the step at `@LOAD`);
//! each verdict is recorded in `step_summary.json` and a failing one sets the exit code.
//!
//! Grammar: `METRIC[.STAT][@LOAD] OP VALUE[UNIT]`, or `slo[@LOAD]` (the step met `--slo`).
//!
//! | metric | stat | unit |
//! |---|---|---|
//! | `ttft`, `tpot`, `itl`, `e2e` | required: `mean`, `p50`, `p90`, `p95`, `p99`, `max` | `us`, `ms`, `s` (required) |
//! | `throughput` (output tokens/s) | none | `tok/s` (optional) |
//! | `request_throughput` (`rps`) | none | `rps`, `req/s` (optional) |
//! | `goodput` (needs `--slo`) | none | `rps`, `req/s` (optional) |
//! | `error_rate` | none | a fraction, or `%` |
//!
//! A step without the data a threshold needs (no `ok` request, no `--slo`, nothing judged)
//! gets a `no data` verdict, which counts as failing: a gate never passes on silence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::step_summary::StepSummary;

/// The quantity a threshold bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMetric {
    /// Time to first token (a latency: needs a stat).
    Ttft,
    /// Time per output token.
    Tpot,
    /// Inter-token latency (pooled gaps between token events).
    Itl,
    /// End-to-end latency.
    E2e,
    /// Output tokens/s of the step.
    Throughput,
    /// Completed requests/s of the step.
    RequestThroughput,
    /// Requests/s meeting every `--slo` objective.
    Goodput,
    /// Failed share of the judged measure-phase requests (0–1).
    ErrorRate,
    /// The step met `--slo` (no comparison).
    Slo,
}

impl ThresholdMetric {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ttft" => Self::Ttft,
            "tpot" => Self::Tpot,
            "itl" => Self::Itl,
            "e2e" | "e2el" => Self::E2e,
            "throughput" => Self::Throughput,
            "request_throughput" | "rps" => Self::RequestThroughput,
            "goodput" => Self::Goodput,
            "error_rate" => Self::ErrorRate,
            "slo" => Self::Slo,
            _ => return None,
        })
    }

    fn is_latency(self) -> bool {
        matches!(self, Self::Ttft | Self::Tpot | Self::Itl | Self::E2e)
    }

    /// The unit of observed values and bounds, as recorded (`s`, `tok/s`, `req/s`, `ratio`).
    pub fn unit(self) -> &'static str {
        match self {
            Self::Ttft | Self::Tpot | Self::Itl | Self::E2e => "s",
            Self::Throughput => "tok/s",
            Self::RequestThroughput | Self::Goodput => "req/s",
            Self::ErrorRate | Self::Slo => "ratio",
        }
    }
}

/// Which statistic of a latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdStat {
    /// Arithmetic mean.
    Mean,
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// Largest value.
    Max,
}

impl ThresholdStat {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "mean" => Self::Mean,
            "p50" | "median" => Self::P50,
            "p90" => Self::P90,
            "p95" => Self::P95,
            "p99" => Self::P99,
            "max" => Self::Max,
            _ => return None,
        })
    }
}

/// The comparison a step's value must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdOp {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl ThresholdOp {
    fn holds(self, observed: f64, bound: f64) -> bool {
        match self {
            Self::Lt => observed < bound,
            Self::Le => observed <= bound,
            Self::Gt => observed > bound,
            Self::Ge => observed >= bound,
        }
    }
}

/// One `--fail-on` expression, parsed. Serialised as its expression (config.json's
/// `settings.thresholds`), parsed again when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Threshold {
    /// The expression as given (whitespace removed).
    pub expr: String,
    /// What it bounds.
    pub metric: ThresholdMetric,
    /// The statistic of a latency metric.
    pub stat: Option<ThresholdStat>,
    /// Checked only at the step of this load; `None`: at every step.
    pub at_load: Option<f64>,
    /// The comparison (`None` for `slo`).
    pub op: Option<ThresholdOp>,
    /// The bound in the metric's unit ([`ThresholdMetric::unit`]: seconds, tokens/s,
    /// requests/s, or a 0–1 ratio); `None` for `slo`.
    pub bound: Option<f64>,
}

/// Why a `--fail-on` expression was refused: each names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Nothing given.
    #[error("empty threshold")]
    Empty,
    /// No `<`, `<=`, `>` or `>=`.
    #[error("{0:?} has no comparison (<, <=, > or >=)")]
    NoOperator(String),
    /// The metric name is unknown.
    #[error(
        "unknown metric {0:?} (ttft, tpot, itl, e2e, throughput, request_throughput, goodput, error_rate, slo)"
    )]
    UnknownMetric(String),
    /// A latency without `.STAT`.
    #[error("{0} needs a statistic, e.g. {0}.p99 (mean, p50, p90, p95, p99, max)")]
    MissingStat(String),
    /// The statistic is unknown.
    #[error("unknown statistic {0:?} (mean, p50, p90, p95, p99, max)")]
    UnknownStat(String),
    /// A statistic on a metric that has none.
    #[error("{metric} takes no statistic (got .{stat})")]
    UnexpectedStat {
        /// The metric.
        metric: String,
        /// The statistic given.
        stat: String,
    },
    /// `@LOAD` is not a positive number.
    #[error("load {0:?} after '@' is not a number > 0")]
    BadLoad(String),
    /// The value is not a number.
    #[error("value {0:?} is not a number")]
    BadValue(String),
    /// The unit does not fit the metric.
    #[error("unit {unit:?} does not fit {metric} (expected {expected})")]
    BadUnit {
        /// The metric.
        metric: String,
        /// The unit given.
        unit: String,
        /// What fits.
        expected: &'static str,
    },
    /// `slo` with a comparison.
    #[error("slo takes no comparison: write slo or slo@LOAD (the step met --slo)")]
    SloWithOperator,
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expr: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if expr.is_empty() {
            return Err(ThresholdError::Empty);
        }
        let split = expr.find(['<', '>']);
        let (lhs, rest) = match split {
            Some(i) => (&expr[..i], Some(&expr[i..])),
            None => (expr.as_str(), None),
        };
        let (name, at_load) = match lhs.split_once('@') {
            Some((name, load)) => {
                let value = load
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| ThresholdError::BadLoad(load.to_owned()))?;
                (name, Some(value))
            }
            None => (lhs, None),
        };
        let (metric_text, stat_text) = match name.split_once('.') {
            Some((m, s)) => (m, Some(s)),
            None => (name, None),
        };
        let metric = ThresholdMetric::parse(metric_text)
            .ok_or_else(|| ThresholdError::UnknownMetric(metric_text.to_owned()))?;
        let stat = match (metric.is_latency(), stat_text) {
            (true, None) => return Err(ThresholdError::MissingStat(metric_text.to_owned())),
            (true, Some(s)) => {
                Some(ThresholdStat::parse(s).ok_or_else(|| ThresholdError::UnknownStat(s.into()))?)
            }
            (false, Some(s)) => {
                return Err(ThresholdError::UnexpectedStat {
                    metric: metric_text.to_owned(),
                    stat: s.to_owned(),
                });
            }
            (false, None) => None,
        };
        let (op, bound) = match (metric, rest) {
            (ThresholdMetric::Slo, None) => (None, None),
            (ThresholdMetric::Slo, Some(_)) => return Err(ThresholdError::SloWithOperator),
            (_, None) => return Err(ThresholdError::NoOperator(expr.clone())),
            (_, Some(rest)) => {
                let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
                    (ThresholdOp::Le, v)
                } else if let Some(v) = rest.strip_prefix(">=") {
                    (ThresholdOp::Ge, v)
                } else if let Some(v) = rest.strip_prefix('<') {
                    (ThresholdOp::Lt, v)
                } else if let Some(v) = rest.strip_prefix('>') {
                    (ThresholdOp::Gt, v)
                } else {
                    return Err(ThresholdError::NoOperator(expr.clone()));
                };
                (Some(op), Some(bound(metric, metric_text, value)?))
            }
        };
        Ok(Threshold {
            expr,
            metric,
            stat,
            at_load,
            op,
            bound,
        })
    }
}

/// The bound of `metric` from `VALUE[UNIT]`, in the metric's unit.
fn bound(metric: ThresholdMetric, name: &str, text: &str) -> Result<f64, ThresholdError> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '-'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let value = number
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| ThresholdError::BadValue(number.to_owned()))?;
    let bad = |expected| ThresholdError::BadUnit {
        metric: name.to_owned(),
        unit: unit.to_owned(),
        expected,
    };
    let scale = if metric.is_latency() {
        match unit {
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            _ => return Err(bad("us, ms or s")),
        }
    } else {
        match (metric, unit) {
            (ThresholdMetric::Throughput, "" | "tok/s") => 1.0,
            (ThresholdMetric::Throughput, _) => return Err(bad("tok/s")),
            (ThresholdMetric::ErrorRate, "") => 1.0,
            (ThresholdMetric::ErrorRate, "%") => 0.01,
            (ThresholdMetric::ErrorRate, _) => return Err(bad("a fraction or %")),
            (_, "" | "rps" | "req/s") => 1.0,
            _ => return Err(bad("rps or req/s")),
        }
    };
    Ok(value * scale)
}

impl TryFrom<String> for Threshold {
    type Error = ThresholdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Threshold> for String {
    fn from(value: Threshold) -> Self {
        value.expr
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// One threshold checked on one step (`step_summary.json`'s `thresholds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdVerdict {
    /// The expression.
    pub expr: String,
    /// The step's load.
    pub load: f64,
    /// The step's value in [`ThresholdVerdict::unit`]; null when the step has no data for
    /// it (then `passed` is false and `no_data` true).
    pub observed: Option<f64>,
    /// The unit of `observed` (`s`, `tok/s`, `req/s`, `ratio`).
    pub unit: String,
    /// Whether the threshold held.
    pub passed: bool,
    /// The step lacked the data (counted as failing).
    pub no_data: bool,
}

impl ThresholdVerdict {
    /// The observed value in words, with its unit (`412 ms`, `8.10 req/s`, `no data`).
    pub fn observed_text(&self) -> String {
        match self.observed {
            None => "no data".to_owned(),
            Some(v) => match self.unit.as_str() {
                "s" if v < 1.0 => format!("{} ms", sig3(v * 1e3)),
                "s" => format!("{} s", sig3(v)),
                "ratio" => format!("{} %", sig3(v * 100.0)),
                unit => format!("{} {unit}", sig3(v)),
            },
        }
    }

    /// The console line of a failed verdict: `threshold ttft.p99<500ms failed at load 16:
    /// observed 612 ms`.
    pub fn failure_line(&self) -> String {
        format!(
            "threshold {} failed at load {}: observed {}",
            self.expr,
            self.load,
            self.observed_text()
        )
    }
}

/// Three significant digits (the statistics behind a threshold are not more precise).
fn sig3(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl Threshold {
    /// Whether this threshold applies to a step of `load`.
    pub fn applies_to(&self, load: f64) -> bool {
        self.at_load
            .is_none_or(|at| (at - load).abs() <= 1e-9 * at.abs().max(1.0))
    }

    /// The verdict on `step`, or `None` when the threshold is for another load.
    pub fn evaluate(&self, step: &StepSummary) -> Option<ThresholdVerdict> {
        if !self.applies_to(step.load) {
            return None;
        }
        let observed = self.observed(step);
        let passed = match (self.metric, observed) {
            (_, None) => false,
            (ThresholdMetric::Slo, Some(_)) => step.slo.as_ref().is_some_and(|r| r.met),
            (_, Some(v)) => match (self.op, self.bound) {
                (Some(op), Some(bound)) => op.holds(v, bound),
                _ => false,
            },
        };
        Some(ThresholdVerdict {
            expr: self.expr.clone(),
            load: step.load,
            observed,
            unit: self.metric.unit().to_owned(),
            passed,
            no_data: observed.is_none(),
        })
    }

    fn observed(&self, s: &StepSummary) -> Option<f64> {
        let stats = match self.metric {
            ThresholdMetric::Ttft => s.ttft_s,
            ThresholdMetric::Tpot => s.tpot_s,
            ThresholdMetric::Itl => s.itl_s,
            ThresholdMetric::E2e => s.e2e_s,
            ThresholdMetric::Throughput => return Some(s.output_tokens_per_s),
            ThresholdMetric::RequestThroughput => return Some(s.rps),
            ThresholdMetric::Goodput => return s.slo.as_ref().map(|r| r.goodput_rps),
            ThresholdMetric::ErrorRate => return s.counts.error_rate(),
            ThresholdMetric::Slo => return s.slo.as_ref().and_then(|r| r.good_fraction),
        };
        let stats = stats?;
        let value = match self.stat? {
            ThresholdStat::Mean => stats.mean,
            ThresholdStat::P50 => stats.p50,
            ThresholdStat::P90 => stats.p90,
            ThresholdStat::P95 => stats.p95,
            ThresholdStat::P99 => stats.p99,
            ThresholdStat::Max => stats.max,
        };
        value.is_finite().then_some(value)
    }

    /// Whether this threshold needs `--slo` (`goodput`, `slo`).
    pub fn needs_slo(&self) -> bool {
        matches!(self.metric, ThresholdMetric::Goodput | ThresholdMetric::Slo)
    }
}

/// Every threshold checked on every step it applies to: the verdicts per step (in step
/// order), and the expressions whose `@LOAD` matched no step (failing: they gate nothing
/// otherwise).
pub fn evaluate_thresholds(
    thresholds: &[Threshold],
    steps: &[StepSummary],
) -> (Vec<Vec<ThresholdVerdict>>, Vec<String>) {
    let per_step = steps
        .iter()
        .map(|s| thresholds.iter().filter_map(|t| t.evaluate(s)).collect())
        .collect();
    let unmatched = thresholds
        .iter()
        .filter(|t| !steps.iter().any(|s| t.applies_to(s.load)))
        .map(|t| t.expr.clone())
        .collect();
    (per_step, unmatched)
}

#[cfg(test)]
mod tests;
