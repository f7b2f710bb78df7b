//! `compare`: two runs side by side, per load level present in both — absolute and relative
//! change of every headline number, marked better or worse (lower latency is better, higher
//! throughput is better).

mod facts;
mod metrics;

use std::fmt::Write as _;
use std::path::Path;

use loadtest_run::StepSummary;

use crate::format::{cell, load, relative};
use crate::step_values::{has_gpu, has_server};
use crate::{ReportError, RunData};
use facts::write_facts;
use metrics::{HEADLINE, METRICS, Metric, Needs, Unit, judge, show};

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
