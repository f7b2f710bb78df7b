//! `compare`: two runs side by side, per load level present in both — absolute and relative
//! change of every headline number, marked better or worse (lower latency is better, higher
//! throughput is better).

use std::fmt::Write as _;
use std::path::Path;

use loadtest_run::StepSummary;

use crate::format::{cell, change, fixed, latency, load, percent, rate, relative};
use crate::summary::{gpu_power_w, has_gpu, has_server};
use crate::{ReportError, RunData};

/// Changes smaller than this share are reported as `same` (noise between two runs).
pub const SAME_WITHIN: f64 = 0.01;

/// Reads two run folders and renders the comparison of B against A.
///
/// # Errors
/// Those of [`RunData::load`], for either folder.
pub fn compare_runs(a: &Path, b: &Path) -> Result<String, ReportError> {
    let a = RunData::load(a)?;
    let b = RunData::load(b)?;
    Ok(render_compare(&a, &b))
}

/// Which direction of change is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
    /// Neither: shown for context.
    Neither,
}

/// How a metric's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Seconds, shown as µs / ms / s.
    Latency,
    /// A plain number (rates, counts).
    Number,
    /// A 0–1 share, shown in percent; changes in percentage points.
    Share,
}

struct Metric {
    name: &'static str,
    unit: Unit,
    better: Better,
    value: fn(&StepSummary) -> Option<f64>,
    /// Shown only when both runs have server (or GPU) data.
    needs: Needs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Server,
    Gpu,
}

fn failed_share(s: &StepSummary) -> Option<f64> {
    (s.counts.started > 0).then(|| s.counts.failed() as f64 / s.counts.started as f64)
}

const METRICS: &[Metric] = &[
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
const HEADLINE: &[&str] = &[
    "output tok/s",
    "TTFT p99",
    "TPOT p50",
    "e2e p99",
    "failed share",
];

fn show(unit: Unit, v: Option<f64>) -> String {
    match unit {
        Unit::Latency => latency(v),
        Unit::Number => rate(v),
        Unit::Share => percent(v),
    }
}

/// The change cell and the verdict for `a` → `b`.
fn judge(metric: &Metric, a: Option<f64>, b: Option<f64>) -> (String, &'static str) {
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

fn same_load(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Renders the comparison of run B against run A as markdown.
pub fn render_compare(a: &RunData, b: &RunData) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Comparison: A = `{}`, B = `{}`\n",
        cell(&a.name(), 120),
        cell(&b.name(), 120)
    );
    write_facts(&mut md, a, b);

    let pairs: Vec<(&StepSummary, &StepSummary)> = a
        .summary
        .steps
        .iter()
        .filter_map(|sa| {
            b.summary
                .steps
                .iter()
                .find(|sb| same_load(sa.load, sb.load))
                .map(|sb| (sa, sb))
        })
        .collect();
    let only = |x: &RunData, y: &RunData| -> Vec<String> {
        x.summary
            .steps
            .iter()
            .filter(|s| !y.summary.steps.iter().any(|t| same_load(s.load, t.load)))
            .map(|s| load(s.load))
            .collect()
    };
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(md, "\n## Load levels\n");
    let _ = writeln!(
        md,
        "- Compared (in both runs): {}\n- Only in A (not compared): {}\n- Only in B (not compared): {}",
        list(pairs.iter().map(|(s, _)| load(s.load)).collect()),
        list(only(a, b)),
        list(only(b, a)),
    );
    if pairs.is_empty() {
        let _ = writeln!(md, "\nThe runs share no load level: nothing to compare.");
        return md;
    }
    let _ = writeln!(
        md,
        "\nChange is B − A (and its share of A). Lower latency, failed share, waiting and preemptions are better; higher throughput and tokens/J are better; changes under {:.0} % are `same`.",
        SAME_WITHIN * 100.0
    );

    let server = has_server(&a.summary.steps) && has_server(&b.summary.steps);
    let gpu = has_gpu(&a.summary.steps) && has_gpu(&b.summary.steps);
    let metrics: Vec<&Metric> = METRICS
        .iter()
        .filter(|m| match m.needs {
            Needs::Nothing => true,
            Needs::Server => server,
            Needs::Gpu => gpu,
        })
        .collect();

    let _ = writeln!(md, "\n## Overview\n");
    let headline: Vec<&Metric> = HEADLINE
        .iter()
        .filter_map(|name| metrics.iter().copied().find(|m| m.name == *name))
        .collect();
    let names: Vec<&str> = headline.iter().map(|m| m.name).collect();
    let _ = writeln!(md, "| load | {} |", names.join(" | "));
    let _ = writeln!(md, "|---:|{}", "---:|".repeat(headline.len()));
    for (sa, sb) in &pairs {
        let cells: Vec<String> = headline
            .iter()
            .map(|m| {
                let (va, vb) = ((m.value)(sa), (m.value)(sb));
                let (_, verdict) = judge(m, va, vb);
                let rel = match (m.unit, va, vb) {
                    (Unit::Share, _, _) => String::new(),
                    (_, Some(x), Some(y)) => relative(x, y)
                        .filter(|r| r.is_finite())
                        .map(|r| {
                            format!(
                                " ({}{:.1} %)",
                                if r >= 0.0 { "+" } else { "−" },
                                r.abs() * 100.0
                            )
                        })
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let arrow = format!(
                    "{} → {}{rel}",
                    dash(show(m.unit, va)),
                    dash(show(m.unit, vb))
                );
                if verdict.is_empty() {
                    arrow
                } else {
                    format!("{arrow} {verdict}")
                }
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", load(sa.load), cells.join(" | "));
    }

    for (sa, sb) in &pairs {
        let _ = writeln!(md, "\n## Load {}\n", load(sa.load));
        for (who, s) in [("A", sa), ("B", sb)] {
            if s.partial {
                let _ = writeln!(
                    md,
                    "- ⚠ {who}'s step was interrupted: its window is partial."
                );
            }
            if s.client.bound {
                let _ = writeln!(
                    md,
                    "- ⚠ {who} was client-bound at this load: its latencies include client delay."
                );
            }
        }
        let _ = writeln!(md, "| metric | A | B | change | verdict |");
        let _ = writeln!(md, "|---|---:|---:|---:|---|");
        for m in &metrics {
            let (va, vb) = ((m.value)(sa), (m.value)(sb));
            if va.is_none() && vb.is_none() {
                continue;
            }
            let (text, verdict) = judge(m, va, vb);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                m.name,
                show(m.unit, va),
                show(m.unit, vb),
                text,
                verdict
            );
        }
    }
    let warnings = |r: &RunData| r.summary.warnings.len();
    if warnings(a) + warnings(b) > 0 {
        let _ = writeln!(md, "\n## Warnings of the runs\n");
        for (who, r) in [("A", a), ("B", b)] {
            for w in &r.summary.warnings {
                let _ = writeln!(md, "- {who}: {}", cell(w, 500));
            }
        }
    }
    md
}

fn dash(s: String) -> String {
    if s.is_empty() { "–".to_owned() } else { s }
}

fn write_facts(md: &mut String, a: &RunData, b: &RunData) {
    let server = |r: &RunData| {
        let t = &r.facts.target;
        format!(
            "{} {}",
            t.server_kind.as_deref().unwrap_or("unknown"),
            t.server_version.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned()
    };
    let steps = |r: &RunData| {
        r.facts
            .settings
            .steps
            .iter()
            .map(|x| load(*x))
            .collect::<Vec<_>>()
            .join(", ")
    };
    type Fact = (&'static str, fn(&RunData) -> String);
    let rows: [Fact; 11] = [
        ("model", |r| r.facts.target.model.clone()),
        ("target", |r| r.facts.target.base_url.clone()),
        ("tool", |r| r.facts.tool.clone()),
        ("started", |r| r.facts.started_at.clone()),
        ("step duration", |r| {
            format!("{} s", load(r.facts.settings.step_duration_s.as_secs_f64()))
        }),
        ("warmup", |r| {
            format!("{} s", load(r.facts.settings.warmup_s.as_secs_f64()))
        }),
        ("input", |r| {
            let s = &r.facts.settings;
            match &s.input_size {
                Some(size) => format!("{} {size}", s.input_mode),
                None => s.input_mode.clone(),
            }
        }),
        ("max_tokens", |r| r.facts.settings.max_output_tokens.clone()),
        ("ignore_eos", |r| r.facts.settings.ignore_eos.to_string()),
        ("seed", |r| r.facts.settings.seed.to_string()),
        ("endpoint", |r| r.facts.target.endpoint.clone()),
    ];
    let _ = writeln!(md, "| | A | B | |\n|---|---|---|---|");
    let mut line = |name: &str, va: String, vb: String| {
        let differs = if va == vb || name == "started" {
            ""
        } else {
            "differs"
        };
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {differs} |",
            cell(&va, 120),
            cell(&vb, 120)
        );
    };
    line("server", server(a), server(b));
    line("steps", steps(a), steps(b));
    for (name, f) in rows {
        line(name, f(a), f(b));
    }
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
