//! The run-facts table at the top of a comparison: model, target, tool, load plan and
//! settings of A and B side by side, with the rows that differ marked.

use std::fmt::Write as _;

use crate::RunData;
use crate::format::{cell, load};

/// Writes the run-facts table of A and B.
pub(super) fn write_facts(md: &mut String, a: &RunData, b: &RunData) {
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
