//! Service-level objectives (`--slo ttft=500ms,tpot=50ms,e2e=10s,p99:ttft=1s`): per-request
//! thresholds give each step a goodput (requests/s meeting every one) and a good fraction;
//! percentile thresholds are checked on the step's statistics.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::LatencyStats;

/// Which latency an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloMetric {
    /// Time to first token (from the scheduled time in rate mode: what a user felt).
    Ttft,
    /// Time per output token.
    Tpot,
    /// End-to-end latency (from the scheduled time in rate mode).
    E2e,
}

impl SloMetric {
    fn name(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tpot => "tpot",
            SloMetric::E2e => "e2e",
        }
    }
}

/// One objective: a metric, a threshold, and whether it binds each request or a percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SloTerm {
    /// The latency bounded.
    pub metric: SloMetric,
    /// `None`: every request must meet it; `Some(99.0)`: the step's p99 must.
    pub percentile: Option<f64>,
    /// The bound, in seconds.
    pub max_s: f64,
}

/// A set of objectives, parsed from `--slo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// The objectives, in the order given.
    pub terms: Vec<SloTerm>,
    /// Share of a step's requests that must meet every per-request objective for the step
    /// to meet the SLO (`--slo-attainment`, default 0.9).
    pub attainment: f64,
}

/// Default `--slo-attainment`.
pub const DEFAULT_ATTAINMENT: f64 = 0.9;

/// Why an `--slo` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} (expected a comma list like ttft=500ms,tpot=50ms,e2e=10s,p99:ttft=1s)")]
pub struct SloError(String);

impl FromStr for Slo {
    type Err = SloError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (lhs, value) = part
                .split_once('=')
                .ok_or_else(|| SloError(format!("{part:?} has no '='")))?;
            let (percentile, name) = match lhs.split_once(':') {
                Some((p, name)) => {
                    let digits = p
                        .strip_prefix('p')
                        .ok_or_else(|| SloError(format!("{p:?} is not a percentile like p99")))?;
                    let pct: f64 = digits
                        .parse()
                        .ok()
                        .filter(|v: &f64| [50.0, 90.0, 95.0, 99.0].contains(v))
                        .ok_or_else(|| {
                            SloError(format!(
                                "{p:?} is not one of the kept percentiles p50, p90, p95, p99"
                            ))
                        })?;
                    (Some(pct), name)
                }
                None => (None, lhs),
            };
            let metric = match name.trim() {
                "ttft" => SloMetric::Ttft,
                "tpot" => SloMetric::Tpot,
                "e2e" => SloMetric::E2e,
                other => {
                    return Err(SloError(format!(
                        "unknown metric {other:?} (ttft, tpot or e2e)"
                    )));
                }
            };
            let max = parse_duration(value.trim())
                .ok_or_else(|| SloError(format!("{value:?} is not a duration like 500ms or 2s")))?;
            terms.push(SloTerm {
                metric,
                percentile,
                max_s: max.as_secs_f64(),
            });
        }
        if terms.is_empty() {
            return Err(SloError("no objective given".to_owned()));
        }
        Ok(Slo {
            terms,
            attainment: DEFAULT_ATTAINMENT,
        })
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if let Some(p) = t.percentile {
                write!(f, "p{p}:")?;
            }
            write!(f, "{}={}ms", t.metric.name(), t.max_s * 1e3)?;
        }
        Ok(())
    }
}

/// `500ms`, `2s`, `1.5s`, `250us`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value > 0.0)
        .then(|| Duration::try_from_secs_f64(value * scale).ok())
        .flatten()
}

/// One request's latencies, as the SLO sees them (seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct Latencies {
    /// Time to first token.
    pub ttft: Option<f64>,
    /// Time per output token.
    pub tpot: Option<f64>,
    /// End to end.
    pub e2e: Option<f64>,
}

impl Slo {
    /// Whether an `ok` request meets every per-request objective. A latency the request
    /// lacks (e.g. TPOT of a one-token answer) does not count against it.
    pub fn request_meets(&self, l: &Latencies) -> bool {
        self.terms
            .iter()
            .filter(|t| t.percentile.is_none())
            .all(|t| {
                let value = match t.metric {
                    SloMetric::Ttft => l.ttft,
                    SloMetric::Tpot => l.tpot,
                    SloMetric::E2e => l.e2e,
                };
                value.is_none_or(|v| v <= t.max_s)
            })
    }
}

/// A step's result against the SLO (§6 goodput).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// Measure-phase requests that ended `ok` and met every per-request objective.
    pub good: u64,
    /// `good` ÷ measure-phase requests started (errors count as bad).
    pub good_fraction: Option<f64>,
    /// `good` ÷ window, requests/s.
    pub goodput_rps: f64,
    /// Each percentile objective: the step's value and whether it held.
    pub percentiles: Vec<PercentileCheck>,
    /// Good fraction ≥ the attainment and every percentile objective held.
    pub met: bool,
}

/// One percentile objective checked on a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentileCheck {
    /// The objective, e.g. `p99:ttft`.
    pub objective: String,
    /// The step's value, seconds (null without data).
    pub value_s: Option<f64>,
    /// The bound, seconds.
    pub max_s: f64,
    /// Whether it held (false without data).
    pub met: bool,
}

impl Slo {
    /// The one SLO rule, on any statistics: `good` of `started` requests met every
    /// per-request objective; `stats_of` gives the latency statistics each percentile
    /// objective is read from. Used for a finished step ([`Slo::evaluate`]) and mid-run (the
    /// `--steps auto` controller), so both judge alike.
    pub fn evaluate_with(
        &self,
        good: u64,
        started: u64,
        window_s: f64,
        stats_of: impl Fn(SloMetric) -> Option<LatencyStats>,
    ) -> SloResult {
        let good_fraction = (started > 0).then(|| good as f64 / started as f64);
        let percentiles: Vec<PercentileCheck> = self
            .terms
            .iter()
            .filter_map(|t| {
                let pct = t.percentile?;
                let value_s = stats_of(t.metric).and_then(|s| s.percentile(pct));
                Some(PercentileCheck {
                    objective: t.label(),
                    value_s,
                    max_s: t.max_s,
                    met: value_s.is_some_and(|v| v <= t.max_s),
                })
            })
            .collect();
        let has_per_request = self.terms.iter().any(|t| t.percentile.is_none());
        let attained = !has_per_request || good_fraction.is_some_and(|f| f >= self.attainment);
        SloResult {
            good,
            good_fraction,
            goodput_rps: good as f64 / window_s.max(1e-9),
            met: attained && started > 0 && percentiles.iter().all(|p| p.met),
            percentiles,
        }
    }
}

impl SloTerm {
    /// `p99:ttft` style name.
    pub fn label(&self) -> String {
        match self.percentile {
            Some(p) => format!("p{p}:{}", self.metric.name()),
            None => self.metric.name().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_subset_and_percentiles() {
        let slo: Slo = "ttft=500ms,tpot=50ms,e2e=10s,p99:ttft=1s".parse().unwrap();
        assert_eq!(slo.terms.len(), 4);
        assert_eq!(slo.terms[0].metric, SloMetric::Ttft);
        assert!((slo.terms[0].max_s - 0.5).abs() < 1e-12);
        assert_eq!(slo.terms[3].percentile, Some(99.0));
        assert_eq!(slo.terms[3].label(), "p99:ttft");
        let one: Slo = "e2e=2.5s".parse().unwrap();
        assert_eq!(one.terms.len(), 1);
        assert_eq!(one.to_string().parse::<Slo>().unwrap(), one);
    }

    #[test]
    fn bad_specs_say_why() {
        for (bad, why) in [
            ("ttft", "has no '='"),
            ("ttfb=1s", "unknown metric"),
            ("ttft=fast", "is not a duration"),
            ("x99:ttft=1s", "is not a percentile like p99"),
            ("p97:ttft=1s", "is not one of the kept percentiles"),
            ("", "no objective"),
            ("ttft=-1s", "is not a duration"),
        ] {
            let err = bad.parse::<Slo>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn per_request_check() {
        let slo: Slo = "ttft=100ms,tpot=10ms,p99:e2e=1s".parse().unwrap();
        let ok = Latencies {
            ttft: Some(0.05),
            tpot: None,
            e2e: Some(5.0),
        };
        assert!(
            slo.request_meets(&ok),
            "missing tpot and percentile terms don't count"
        );
        let slow = Latencies {
            ttft: Some(0.2),
            ..ok
        };
        assert!(!slo.request_meets(&slow));
    }
}
