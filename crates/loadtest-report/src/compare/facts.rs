//! The run-facts table at the top of a comparison: model, target, tool, load plan and
//! settings of A and B side by side, with the rows that differ marked; and the list of
//! differences that make the runs less comparable, shown before everything else.

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
    for (name, f) in FACTS {
        line(name, f(a), f(b));
    }
}

/// `name: A → B` for every setting that differs between the runs and changes what a step
/// measures (not the start time, nor the tool's version).
pub(super) fn config_differences(a: &RunData, b: &RunData) -> Vec<String> {
    FACTS
        .iter()
        .filter(|(name, _)| !matches!(*name, "started" | "tool" | "step duration" | "warmup"))
        .filter_map(|(name, f)| {
            let (va, vb) = (f(a), f(b));
            (va != vb).then(|| format!("{name}: {} → {}", cell(&va, 120), cell(&vb, 120)))
        })
        .collect()
}

type Fact = (&'static str, fn(&RunData) -> String);

/// The settings shown side by side.
const FACTS: [Fact; 13] = [
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
    ("load mode", |r| {
        r.facts.settings.load_mode.as_str().to_owned()
    }),
    ("extra body", |r| {
        serde_json::Value::Object(r.facts.settings.extra_body.clone()).to_string()
    }),
];
