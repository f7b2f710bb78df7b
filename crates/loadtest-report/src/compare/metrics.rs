//! The metrics compared, one row each, and the verdict on a change: which direction is
//! better, how values and changes are written, and when a change counts as `same`.

use loadtest_run::StepSummary;

use super::SAME_WITHIN;
use crate::format::{change, fixed, latency, percent, rate, relative};
use crate::step_values::gpu_power_w;

/// Which direction of change is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Better {
    Higher,
    Lower,
    /// Neither: shown for context.
    Neither,
}

/// How a metric's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// Seconds, shown as µs / ms / s.
    Latency,
    /// A plain number (rates, counts).
    Number,
    /// A 0–1 share, shown in percent; changes in percentage points.
    Share,
}

pub(super) struct Metric {
    pub(super) name: &'static str,
    pub(super) unit: Unit,
    pub(super) better: Better,
    pub(super) value: fn(&StepSummary) -> Option<f64>,
    /// Shown only when both runs have server (or GPU) data.
    pub(super) needs: Needs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    Nothing,
    Server,
    Gpu,
}

fn failed_share(s: &StepSummary) -> Option<f64> {
    s.counts.error_rate()
}

pub(super) const METRICS: &[Metric] = &[
    Metric {
        name: "req/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| Some(s.rps),
        needs: Needs::Nothing,
    },
    Metric {
        name: "output tok/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| Some(s.output_tokens_per_s),
        needs: Needs::Nothing,
    },
    Metric {
        name: "TTFT p50",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.ttft_s.map(|x| x.p50),
        needs: Needs::Nothing,
    },
    Metric {
        name: "TTFT p99",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.ttft_s.map(|x| x.p99),
        needs: Needs::Nothing,
    },
    Metric {
        name: "TPOT p50",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.tpot_s.map(|x| x.p50),
        needs: Needs::Nothing,
    },
    Metric {
        name: "TPOT p99",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.tpot_s.map(|x| x.p99),
        needs: Needs::Nothing,
    },
    Metric {
        name: "ITL p50",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.itl_s.map(|x| x.p50),
        needs: Needs::Nothing,
    },
    Metric {
        name: "ITL p99",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.itl_s.map(|x| x.p99),
        needs: Needs::Nothing,
    },
    Metric {
        name: "e2e p50",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.e2e_s.map(|x| x.p50),
        needs: Needs::Nothing,
    },
    Metric {
        name: "e2e p99",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| s.e2e_s.map(|x| x.p99),
        needs: Needs::Nothing,
    },
    Metric {
        name: "failed share",
        unit: Unit::Share,
        better: Better::Lower,
        value: failed_share,
        needs: Needs::Nothing,
    },
    Metric {
        name: "goodput req/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| s.slo.as_ref().map(|v| v.goodput_rps),
        needs: Needs::Nothing,
    },
    Metric {
        name: "server gen tok/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| s.server.as_ref().and_then(|v| v.generation_tokens_per_s),
        needs: Needs::Server,
    },
    Metric {
        name: "server TTFT mean",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| {
            s.server
                .as_ref()
                .and_then(|v| v.ttft_s)
                .and_then(|h| h.mean)
        },
        needs: Needs::Server,
    },
    Metric {
        name: "server queue mean",
        unit: Unit::Latency,
        better: Better::Lower,
        value: |s| {
            s.server
                .as_ref()
                .and_then(|v| v.queue_s)
                .and_then(|h| h.mean)
        },
        needs: Needs::Server,
    },
    Metric {
        name: "running (mean)",
        unit: Unit::Number,
        better: Better::Neither,
        value: |s| s.server.as_ref().and_then(|v| v.running_mean),
        needs: Needs::Server,
    },
    Metric {
        name: "waiting (mean)",
        unit: Unit::Number,
        better: Better::Lower,
        value: |s| s.server.as_ref().and_then(|v| v.waiting_mean),
        needs: Needs::Server,
    },
    Metric {
        name: "KV cache (mean)",
        unit: Unit::Share,
        better: Better::Neither,
        value: |s| s.server.as_ref().and_then(|v| v.kv_cache_usage_mean),
        needs: Needs::Server,
    },
    Metric {
        name: "preemptions",
        unit: Unit::Number,
        better: Better::Lower,
        value: |s| s.server.as_ref().and_then(|v| v.preemptions),
        needs: Needs::Server,
    },
    Metric {
        name: "GPU power (W)",
        unit: Unit::Number,
        better: Better::Neither,
        value: gpu_power_w,
        needs: Needs::Gpu,
    },
    Metric {
        name: "tokens/J",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| s.tokens_per_joule,
        needs: Needs::Gpu,
    },
];

/// The headline metrics, one column each in the overview table.
pub(super) const HEADLINE: &[&str] = &[
    "output tok/s",
    "TTFT p99",
    "TPOT p50",
    "e2e p99",
    "failed share",
];

pub(super) fn show(unit: Unit, v: Option<f64>) -> String {
    match unit {
        Unit::Latency => latency(v),
        Unit::Number => rate(v),
        Unit::Share => percent(v),
    }
}

/// The change cell and the verdict for `a` → `b`.
pub(super) fn judge(metric: &Metric, a: Option<f64>, b: Option<f64>) -> (String, &'static str) {
    let (Some(a), Some(b)) = (a.filter(|v| v.is_finite()), b.filter(|v| v.is_finite())) else {
        return (String::new(), "");
    };
    let text = match metric.unit {
        Unit::Latency => change(a, b, true),
        Unit::Number => change(a, b, false),
        Unit::Share => {
            let pp = (b - a) * 100.0;
            format!(
                "{}{} pp",
                if pp > 0.0 {
                    "+"
                } else if pp < 0.0 {
                    "−"
                } else {
                    "±"
                },
                fixed(Some(pp.abs()), 1)
            )
        }
    };
    let rel = relative(a, b);
    let same = match (metric.unit, rel) {
        (Unit::Share, _) => (b - a).abs() < 0.001,
        (_, Some(r)) => r.abs() < SAME_WITHIN,
        (_, None) => a == b,
    };
    let verdict = match metric.better {
        Better::Neither => "",
        _ if same => "same",
        Better::Higher if b > a => "better",
        Better::Lower if b < a => "better",
        _ => "**worse**",
    };
    (text, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(better: Better, unit: Unit) -> Metric {
        Metric {
            name: "m",
            unit,
            better,
            value: |_| None,
            needs: Needs::Nothing,
        }
    }

    #[test]
    fn verdicts() {
        let lat = metric(Better::Lower, Unit::Latency);
        assert_eq!(judge(&lat, Some(0.020), Some(0.018)).1, "better");
        assert_eq!(judge(&lat, Some(0.020), Some(0.025)).1, "**worse**");
        assert_eq!(judge(&lat, Some(0.020), Some(0.0201)).1, "same");
        assert_eq!(judge(&lat, Some(0.020), None), (String::new(), ""));
        let thr = metric(Better::Higher, Unit::Number);
        assert_eq!(
            judge(&thr, Some(100.0), Some(120.0)),
            ("+20.0 (+20.0 %)".to_owned(), "better")
        );
        assert_eq!(judge(&thr, Some(0.0), Some(3.0)).1, "better");
        let share = metric(Better::Lower, Unit::Share);
        assert_eq!(
            judge(&share, Some(0.0), Some(0.05)),
            ("+5.0 pp".to_owned(), "**worse**")
        );
        let neutral = metric(Better::Neither, Unit::Number);
        assert_eq!(judge(&neutral, Some(1.0), Some(2.0)).1, "");
    }
}
