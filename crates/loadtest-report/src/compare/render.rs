//! The markdown of a comparison: config differences and run facts first, then the load
//! levels matched, an overview, and one table per load.

use std::fmt::Write as _;

use loadtest_run::StepSummary;

use super::facts::{config_differences, write_facts};
use super::metrics::{HEADLINE, Judged, METRICS, Metric, Needs, Side, Unit, Verdict, judge};
use super::samples::RunSamples;
use super::{CompareOptions, Comparison, MIN_SHARE_CHANGE};
use crate::RunData;
use crate::format::{cell, change, latency, load, percent, rate, relative, sig3};
use crate::step_values::{has_gpu, has_server};

fn same_load(a: &StepSummary, b: &StepSummary) -> bool {
    a.load_mode == b.load_mode
        && (a.load - b.load).abs() <= 1e-9 * a.load.abs().max(b.load.abs()).max(1.0)
}

fn step_name(s: &StepSummary) -> String {
    match s.load_mode.as_str() {
        "rate" => format!("{} req/s", load(s.load)),
        _ => format!("concurrency {}", load(s.load)),
    }
}

pub(super) fn render(
    a: &RunData,
    b: &RunData,
    sa: &RunSamples,
    sb: &RunSamples,
    opts: &CompareOptions,
) -> Comparison {
    let mut md = String::new();
    let mut regressions = Vec::new();
    let _ = writeln!(
        md,
        "# Comparison: A = `{}`, B = `{}`\n",
        cell(&a.name(), 120),
        cell(&b.name(), 120)
    );
    let _ = writeln!(md, "## Config differences\n");
    let diffs = config_differences(a, b);
    if diffs.is_empty() {
        let _ = writeln!(md, "None: the runs used the same settings.\n");
    } else {
        for d in &diffs {
            let _ = writeln!(md, "- ⚠ {d}");
        }
        let _ = writeln!(md);
    }
    write_facts(&mut md, a, b);

    let pairs: Vec<(&StepSummary, &StepSummary)> = a
        .summary
        .steps
        .iter()
        .filter_map(|x| {
            b.summary
                .steps
                .iter()
                .find(|y| same_load(x, y))
                .map(|y| (x, y))
        })
        .collect();
    let only = |x: &RunData, y: &RunData| -> String {
        let v: Vec<String> = x
            .summary
            .steps
            .iter()
            .filter(|s| !y.summary.steps.iter().any(|t| same_load(s, t)))
            .map(step_name)
            .collect();
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let compared: Vec<String> = pairs.iter().map(|(s, _)| step_name(s)).collect();
    let _ = writeln!(md, "\n## Load levels\n");
    let _ = writeln!(
        md,
        "- Compared (same load mode and level in both runs): {}\n- Only in A (not compared): {}\n- Only in B (not compared): {}",
        if compared.is_empty() {
            "none".to_owned()
        } else {
            compared.join(", ")
        },
        only(a, b),
        only(b, a),
    );
    if pairs.is_empty() {
        let _ = writeln!(md, "\nThe runs share no load level: nothing to compare.");
        return Comparison {
            markdown: md,
            regressions,
        };
    }
    let _ = writeln!(
        md,
        "\nChange is B − A (and its share of A), with both sample sizes (n) and a 95 % interval of B − A. \
         Latencies: seeded moving-block bootstrap over each step's measure-phase `ok` requests in start order, blocks of the mean in-flight count ({} resamples, seed {}); \
         rates: Poisson counts; failed share: two proportions. A change is better or worse only when its \
         whole interval lies beyond {} % of A (failed share: {} percentage points): it excludes zero and \
         the change is that large even at its smallest; otherwise `no significant change`. ITL p50 / p99: \
         the median / p99 over requests of each request's median gap. Server and GPU rows are context, \
         not judged.",
        opts.resamples,
        opts.seed,
        load(opts.min_change * 100.0),
        load(MIN_SHARE_CHANGE * 100.0),
    );
    if sa.missing || sb.missing {
        let _ = writeln!(
            md,
            "\n⚠ requests.jsonl is missing in {}: its latencies are `not tested`.",
            if sa.missing && sb.missing {
                "both runs"
            } else if sa.missing {
                "A"
            } else {
                "B"
            }
        );
    }

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
    let judged: Vec<Vec<Judged>> = pairs
        .iter()
        .map(|(x, y)| {
            let left = Side {
                step: x,
                samples: sa.steps.get(&x.step),
            };
            let right = Side {
                step: y,
                samples: sb.steps.get(&y.step),
            };
            metrics
                .iter()
                .map(|m| judge(m, &left, &right, opts))
                .collect()
        })
        .collect();

    let _ = writeln!(md, "\n## Overview\n");
    let headline: Vec<usize> = HEADLINE
        .iter()
        .filter_map(|name| metrics.iter().position(|m| m.name == *name))
        .collect();
    let names: Vec<&str> = headline.iter().map(|&i| metrics[i].name).collect();
    let _ = writeln!(md, "| load | {} |", names.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(headline.len()));
    for ((sa_step, _), row) in pairs.iter().zip(&judged) {
        let cells: Vec<String> = headline
            .iter()
            .map(|&i| {
                let (m, j) = (metrics[i], &row[i]);
                let rel = match (m.unit, j.a, j.b) {
                    (Unit::Share, _, _) => String::new(),
                    (_, Some(x), Some(y)) => relative(x, y)
                        .filter(|r| r.is_finite())
                        .map(|r| format!(" ({})", signed_pct(r)))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                format!(
                    "{} → {}{rel} {}",
                    dash(show(m.unit, j.a)),
                    dash(show(m.unit, j.b)),
                    j.verdict.text()
                )
                .trim_end()
                .to_owned()
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", step_name(sa_step), cells.join(" | "));
    }

    for ((x, y), row) in pairs.iter().zip(&judged) {
        let _ = writeln!(md, "\n## Load {}\n", step_name(x));
        for (who, s) in [("A", x), ("B", y)] {
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
        let _ = writeln!(
            md,
            "\n| metric | A | n A | B | n B | change | 95 % interval of B − A | verdict |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|---|");
        for (m, j) in metrics.iter().zip(row) {
            if j.a.is_none() && j.b.is_none() {
                continue;
            }
            let n = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                m.name,
                show(m.unit, j.a),
                n(j.n_a),
                show(m.unit, j.b),
                n(j.n_b),
                change_text(m.unit, j.a, j.b),
                j.ci.map(|ci| format!("[{}, {}]", signed(m.unit, ci.lo), signed(m.unit, ci.hi)))
                    .unwrap_or_default(),
                j.verdict.text()
            );
            if j.verdict == Verdict::Worse {
                regressions.push(format!(
                    "{} at {}: {} → {} ({}; n = {} / {}; 95 % interval of B − A [{}, {}])",
                    m.name,
                    step_name(x),
                    show(m.unit, j.a),
                    show(m.unit, j.b),
                    change_text(m.unit, j.a, j.b),
                    n(j.n_a),
                    n(j.n_b),
                    j.ci.map(|c| signed(m.unit, c.lo)).unwrap_or_default(),
                    j.ci.map(|c| signed(m.unit, c.hi)).unwrap_or_default(),
                ));
            }
        }
    }
    let _ = writeln!(md, "\n## Regressions\n");
    if regressions.is_empty() {
        let _ = writeln!(md, "None.");
    } else {
        for r in &regressions {
            let _ = writeln!(md, "- {r}");
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
    Comparison {
        markdown: md,
        regressions,
    }
}

fn show(unit: Unit, v: Option<f64>) -> String {
    match unit {
        Unit::Latency => latency(v),
        Unit::Number => rate(v),
        Unit::Share => percent(v),
    }
}

fn sign(v: f64) -> &'static str {
    if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "−"
    } else {
        "±"
    }
}

fn signed_pct(r: f64) -> String {
    format!("{}{:.1} %", sign(r), r.abs() * 100.0)
}

/// A signed difference in the metric's unit.
fn signed(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Latency => format!("{}{}", sign(v), latency(Some(v.abs()))),
        Unit::Number => format!("{}{}", sign(v), sig3(v.abs())),
        Unit::Share => format!("{}{:.1} pp", sign(v), v.abs() * 100.0),
    }
}

fn change_text(unit: Unit, a: Option<f64>, b: Option<f64>) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return String::new();
    };
    match unit {
        Unit::Share => signed(unit, b - a),
        Unit::Latency => change(a, b, true),
        Unit::Number => change(a, b, false),
    }
}

fn dash(s: String) -> String {
    if s.is_empty() { "–".to_owned() } else { s }
}
