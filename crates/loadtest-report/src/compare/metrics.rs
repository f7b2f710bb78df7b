//! The metrics compared, one row each, and the verdict on a change: which direction is
//! better, how the interval of B − A is computed, and when a change counts.

use loadtest_run::StepSummary;

use super::CompareOptions;
use super::samples::StepSamples;
use super::stats::{
    Blocked, ClosedRate, Interval, Stat, bootstrap_diff, derive_seed, edge_variance, little_diff,
    normal_diff, share_diff,
};
use crate::step_values::gpu_power_w;

/// A failed share must move by at least this much (0.01 = 1 percentage point) to count.
pub const MIN_SHARE_CHANGE: f64 = 0.01;

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

/// Which rate of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RateOf {
    Requests,
    OutputTokens,
    Goodput,
}

/// Where a metric's values and interval come from.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// A statistic of per-request values: seeded bootstrap.
    Sampled(fn(&StepSamples) -> &[f64], Stat),
    /// Events per second of the window: in a closed loop through Little's law from the e2e
    /// times (block bootstrap), else Poisson counts with a normal interval.
    Rate(RateOf),
    /// Failed ÷ judged: two proportions, normal interval.
    FailedShare,
    /// No per-request samples: shown, never judged.
    Context,
}

pub(super) struct Metric {
    pub(super) name: &'static str,
    pub(super) unit: Unit,
    pub(super) better: Better,
    /// The step summary's value (shown when samples are missing, and for context rows).
    pub(super) value: fn(&StepSummary) -> Option<f64>,
    pub(super) kind: Kind,
    /// Shown only when both runs have server (or GPU) data.
    pub(super) needs: Needs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    Nothing,
    Server,
    Gpu,
}

/// The verdict on one metric at one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Better,
    Worse,
    NoChange,
    /// No interval (no samples in one run, or a missing value).
    NotTested,
    /// A context row.
    Context,
}

impl Verdict {
    pub(super) fn text(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "**worse**",
            Verdict::NoChange => "no significant change",
            Verdict::NotTested => "not tested",
            Verdict::Context => "",
        }
    }
}

/// One metric judged at one load.
#[derive(Debug, Clone, Copy)]
pub(super) struct Judged {
    pub(super) a: Option<f64>,
    pub(super) b: Option<f64>,
    pub(super) n_a: Option<u64>,
    pub(super) n_b: Option<u64>,
    pub(super) ci: Option<Interval>,
    pub(super) verdict: Verdict,
}

/// The sides of one comparison at one load.
pub(super) struct Side<'a> {
    pub(super) step: &'a StepSummary,
    pub(super) samples: Option<&'a StepSamples>,
}

const fn sampled(
    name: &'static str,
    value: fn(&StepSummary) -> Option<f64>,
    values: fn(&StepSamples) -> &[f64],
    p: u8,
) -> Metric {
    Metric {
        name,
        unit: Unit::Latency,
        better: Better::Lower,
        value,
        kind: Kind::Sampled(values, Stat::Pct(p)),
        needs: Needs::Nothing,
    }
}

const fn context(
    name: &'static str,
    unit: Unit,
    value: fn(&StepSummary) -> Option<f64>,
    needs: Needs,
) -> Metric {
    Metric {
        name,
        unit,
        better: Better::Neither,
        value,
        kind: Kind::Context,
        needs,
    }
}

pub(super) const METRICS: &[Metric] = &[
    Metric {
        name: "req/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| Some(s.rps),
        kind: Kind::Rate(RateOf::Requests),
        needs: Needs::Nothing,
    },
    Metric {
        name: "output tok/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| Some(s.output_tokens_per_s),
        kind: Kind::Rate(RateOf::OutputTokens),
        needs: Needs::Nothing,
    },
    sampled("TTFT p50", |s| s.ttft_s.map(|x| x.p50), |s| &s.ttft, 50),
    sampled("TTFT p99", |s| s.ttft_s.map(|x| x.p99), |s| &s.ttft, 99),
    sampled("TPOT p50", |s| s.tpot_s.map(|x| x.p50), |s| &s.tpot, 50),
    sampled("TPOT p99", |s| s.tpot_s.map(|x| x.p99), |s| &s.tpot, 99),
    // Per request: its median gap; the median and the p99 over requests.
    sampled("ITL p50", |_| None, |s| &s.gap_p50, 50),
    sampled("ITL p99", |_| None, |s| &s.gap_p50, 99),
    sampled("e2e p50", |s| s.e2e_s.map(|x| x.p50), |s| &s.e2e, 50),
    sampled("e2e p99", |s| s.e2e_s.map(|x| x.p99), |s| &s.e2e, 99),
    Metric {
        name: "failed share",
        unit: Unit::Share,
        better: Better::Lower,
        value: |s| s.counts.error_rate(),
        kind: Kind::FailedShare,
        needs: Needs::Nothing,
    },
    Metric {
        name: "goodput req/s",
        unit: Unit::Number,
        better: Better::Higher,
        value: |s| s.slo.as_ref().map(|v| v.goodput_rps),
        kind: Kind::Rate(RateOf::Goodput),
        needs: Needs::Nothing,
    },
    context(
        "server gen tok/s",
        Unit::Number,
        |s| s.server.as_ref().and_then(|v| v.generation_tokens_per_s),
        Needs::Server,
    ),
    context(
        "server TTFT mean",
        Unit::Latency,
        |s| {
            s.server
                .as_ref()
                .and_then(|v| v.ttft_s)
                .and_then(|h| h.mean)
        },
        Needs::Server,
    ),
    context(
        "server queue mean",
        Unit::Latency,
        |s| {
            s.server
                .as_ref()
                .and_then(|v| v.queue_s)
                .and_then(|h| h.mean)
        },
        Needs::Server,
    ),
    context(
        "running (mean)",
        Unit::Number,
        |s| s.server.as_ref().and_then(|v| v.running_mean),
        Needs::Server,
    ),
    context(
        "waiting (mean)",
        Unit::Number,
        |s| s.server.as_ref().and_then(|v| v.waiting_mean),
        Needs::Server,
    ),
    context(
        "KV cache (mean)",
        Unit::Share,
        |s| s.server.as_ref().and_then(|v| v.kv_cache_usage_mean),
        Needs::Server,
    ),
    context(
        "preemptions",
        Unit::Number,
        |s| s.server.as_ref().and_then(|v| v.preemptions),
        Needs::Server,
    ),
    context("GPU power (W)", Unit::Number, gpu_power_w, Needs::Gpu),
    context("tokens/J", Unit::Number, |s| s.tokens_per_joule, Needs::Gpu),
];

/// The headline metrics, one column each in the overview table.
pub(super) const HEADLINE: &[&str] = &[
    "output tok/s",
    "TTFT p99",
    "TPOT p50",
    "e2e p99",
    "failed share",
];

/// The value, sample size and interval of `metric` at one load, and its verdict.
pub(super) fn judge(metric: &Metric, a: &Side<'_>, b: &Side<'_>, opts: &CompareOptions) -> Judged {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let mut j = Judged {
        a: finite((metric.value)(a.step)),
        b: finite((metric.value)(b.step)),
        n_a: None,
        n_b: None,
        ci: None,
        verdict: Verdict::NotTested,
    };
    match metric.kind {
        Kind::Context => {
            j.verdict = Verdict::Context;
            return j;
        }
        Kind::Sampled(values, stat) => {
            let (Some(sa), Some(sb)) = (a.samples, b.samples) else {
                return j;
            };
            let (va, vb) = (values(sa), values(sb));
            j.n_a = Some(va.len() as u64);
            j.n_b = Some(vb.len() as u64);
            j.a = finite(Some(stat.of(&mut va.to_vec())));
            j.b = finite(Some(stat.of(&mut vb.to_vec())));
            let seed = derive_seed(opts.seed, a.step.step, metric.name);
            j.ci = bootstrap_diff(
                Blocked {
                    values: va,
                    block: block_len(a.step, va.len()),
                },
                Blocked {
                    values: vb,
                    block: block_len(b.step, vb.len()),
                },
                stat,
                opts.resamples,
                seed,
            );
        }
        Kind::Rate(of) => {
            let (Some(x), Some(y)) = (j.a, j.b) else {
                return j;
            };
            let closed = |side: &Side<'_>| side.step.load_mode == "concurrency";
            if of != RateOf::Goodput
                && closed(a)
                && closed(b)
                && let (Some(sa), Some(sb)) = (a.samples, b.samples)
                && let Some(ci) = little_diff(
                    closed_rate(a.step, &sa.e2e, x),
                    closed_rate(b.step, &sb.e2e, y),
                    opts.resamples,
                    derive_seed(opts.seed, a.step.step, metric.name),
                )
            {
                j.n_a = Some(a.step.completed_in_window);
                j.n_b = Some(b.step.completed_in_window);
                j.ci = Some(ci);
                j.verdict = verdict(metric, &j, opts.min_change);
                return j;
            }
            let var = |side: &Side<'_>, rate: f64| {
                let t = side.step.window_s.max(1e-9);
                match of {
                    RateOf::Requests | RateOf::Goodput => rate / t,
                    RateOf::OutputTokens => {
                        let rps = side.step.rps;
                        let sq = side
                            .samples
                            .and_then(|s| s.completion_sq_mean)
                            .unwrap_or_else(|| if rps > 0.0 { (rate / rps).powi(2) } else { 0.0 });
                        rps * sq / t
                    }
                }
            };
            let count = |side: &Side<'_>, rate: f64| match of {
                RateOf::Goodput => (rate * side.step.window_s).round() as u64,
                _ => side.step.completed_in_window,
            };
            j.n_a = Some(count(a, x));
            j.n_b = Some(count(b, y));
            j.ci = normal_diff(x, y, var(a, x), var(b, y));
        }
        Kind::FailedShare => {
            let (ca, cb) = (a.step.counts, b.step.counts);
            j.n_a = Some(ca.judged());
            j.n_b = Some(cb.judged());
            j.ci = share_diff(ca.failed(), ca.judged(), cb.failed(), cb.judged());
        }
    }
    j.verdict = verdict(metric, &j, opts.min_change);
    j
}

/// Better or worse only when the whole interval lies beyond the practical threshold: it
/// excludes zero, and even its bound nearest zero is a change of at least `min_change` of A
/// (failed share: [`MIN_SHARE_CHANGE`]). A point estimate far from zero with an interval
/// reaching near it (one outlier in a p99) is not enough.
/// One closed-loop side of a rate: `rate` events per second over the step's window, whose
/// edge noise scales with the events per request (`rate ÷ rps`: 1 for req/s, the mean
/// completion tokens for output tok/s) and the streams in flight.
fn closed_rate<'a>(step: &StepSummary, e2e: &'a [f64], rate: f64) -> ClosedRate<'a> {
    let inflight = step.inflight.map_or(step.load, |i| i.mean);
    let per_request = if step.rps > 0.0 { rate / step.rps } else { 1.0 };
    ClosedRate {
        e2e: Blocked {
            values: e2e,
            block: block_len(step, e2e.len()),
        },
        rate,
        edge_var: edge_variance(inflight, step.window_s, per_request),
    }
}

/// The bootstrap's block: as many consecutive requests as were in flight on average (the
/// load in a closed loop), at most a quarter of the sample (at least four blocks).
fn block_len(step: &StepSummary, n: usize) -> usize {
    let inflight = step.inflight.map_or(
        if step.load_mode == "concurrency" {
            step.load
        } else {
            1.0
        },
        |i| i.mean,
    );
    let block = if inflight.is_finite() {
        inflight.round().max(1.0) as usize
    } else {
        1
    };
    block.min((n / 4).max(1))
}

fn verdict(metric: &Metric, j: &Judged, min_change: f64) -> Verdict {
    let (Some(a), Some(b), Some(ci)) = (j.a, j.b, j.ci) else {
        return Verdict::NotTested;
    };
    if !ci.excludes_zero() {
        return Verdict::NoChange;
    }
    let nearest = if ci.lo > 0.0 { ci.lo } else { -ci.hi };
    let practical = match metric.unit {
        Unit::Share => nearest >= MIN_SHARE_CHANGE,
        _ if a != 0.0 => nearest / a.abs() >= min_change,
        _ => true,
    };
    if !practical {
        return Verdict::NoChange;
    }
    match (metric.better, b > a) {
        (Better::Neither, _) => Verdict::Context,
        (Better::Higher, true) | (Better::Lower, false) => Verdict::Better,
        _ => Verdict::Worse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(a: f64, b: f64, lo: f64, hi: f64) -> Judged {
        Judged {
            a: Some(a),
            b: Some(b),
            n_a: Some(10),
            n_b: Some(10),
            ci: Some(Interval { lo, hi }),
            verdict: Verdict::NotTested,
        }
    }

    #[test]
    fn a_change_needs_both_the_interval_and_the_size() {
        let lat = &METRICS[3]; // TTFT p99
        assert_eq!(lat.name, "TTFT p99");
        assert_eq!(
            verdict(lat, &judged(0.1, 0.12, 0.01, 0.03), 0.05),
            Verdict::Worse
        );
        assert_eq!(
            verdict(lat, &judged(0.1, 0.08, -0.03, -0.01), 0.05),
            Verdict::Better
        );
        // Significant but small.
        assert_eq!(
            verdict(lat, &judged(0.1, 0.102, 0.001, 0.003), 0.05),
            Verdict::NoChange
        );
        // Large but noisy, or reaching close to zero.
        assert_eq!(
            verdict(lat, &judged(0.1, 0.14, 0.001, 0.05), 0.05),
            Verdict::NoChange
        );
        assert_eq!(
            verdict(lat, &judged(0.1, 0.13, -0.01, 0.07), 0.05),
            Verdict::NoChange
        );
        let thr = &METRICS[0];
        assert_eq!(
            verdict(thr, &judged(100.0, 80.0, -25.0, -15.0), 0.05),
            Verdict::Worse
        );
        let share = METRICS.iter().find(|m| m.name == "failed share").unwrap();
        assert_eq!(
            verdict(share, &judged(0.0, 0.05, 0.02, 0.08), 0.05),
            Verdict::Worse
        );
        assert_eq!(
            verdict(share, &judged(0.0, 0.005, 0.001, 0.009), 0.05),
            Verdict::NoChange
        );
    }
}
