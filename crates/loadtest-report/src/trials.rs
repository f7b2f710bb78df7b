//! `trials.md` (`--repeat N`): per step, the mean and spread of the headline numbers across
//! the trials.

use std::fmt::Write as _;

use loadtest_run::{Spread, TrialsFile};

use crate::format::{cell, load, sig3};

/// The markdown of `trials.json`.
pub fn render_trials(file: &TrialsFile) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Repeated trials\n\n{} of {} trials ran (each a complete run folder):\n",
        file.trials.len(),
        file.repeat
    );
    for t in &file.trials {
        let _ = writeln!(
            md,
            "- trial {}: [`{}`]({}/summary.md), {} steps{}",
            t.trial,
            cell(&t.run_dir, 120),
            t.run_dir,
            t.steps,
            if t.interrupted { " (interrupted)" } else { "" }
        );
    }
    let _ = writeln!(
        md,
        "\nPer step: mean ± sample standard deviation, [min – max], over n trials. Latencies in ms, \
         throughputs per second, the error rate in percent."
    );
    for step in &file.steps {
        let mode = if step.load_mode == "rate" {
            format!("{} req/s", load(step.load))
        } else {
            format!("concurrency {}", load(step.load))
        };
        let _ = writeln!(md, "\n## Step {} ({mode})\n", step.step);
        let _ = writeln!(
            md,
            "| number | n | mean ± sd | min – max |\n|---|---:|---:|---:|"
        );
        for (name, s) in &step.metrics {
            let scale = if name == "error_rate" { 100.0 } else { 1.0 };
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} |",
                s.n,
                mean_sd(s, scale),
                format_args!("{} – {}", sig3(s.min * scale), sig3(s.max * scale))
            );
        }
    }
    md
}

fn mean_sd(s: &Spread, scale: f64) -> String {
    match s.stddev {
        Some(sd) => format!("{} ± {}", sig3(s.mean * scale), sig3(sd * scale)),
        None => sig3(s.mean * scale),
    }
}
