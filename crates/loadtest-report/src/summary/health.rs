//! The GPU table, client health, errors by kind and warnings.

use std::fmt::Write as _;

use super::{has_gpu, has_server, load_cell};
use crate::RunData;
use crate::format::{cell, fixed, load, pair, rate};

pub(super) fn write_gpu(md: &mut String, run: &RunData) {
    let steps = &run.summary.steps;
    if !has_gpu(steps) {
        return;
    }
    let _ = writeln!(md, "\n## GPUs\n");
    let _ = writeln!(
        md,
        "| load | GPU | util mean / max | memory used max | power mean / max | energy | temp max | SM clock | tok/J (all GPUs) |"
    );
    let _ = writeln!(md, "|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for step in steps {
        for g in &step.gpu {
            let name = match &g.name {
                Some(n) => format!("{} {}", g.gpu, cell(n, 60)),
                None => g.gpu.to_string(),
            };
            let memory = match (g.mem_used_max_mib, g.mem_total_mib) {
                (Some(u), Some(t)) if u.is_finite() && t.is_finite() => {
                    format!("{:.1} / {:.1} GiB", u / 1024.0, t / 1024.0)
                }
                (Some(u), _) if u.is_finite() => format!("{:.1} GiB", u / 1024.0),
                _ => String::new(),
            };
            let coverage = if g.window_s > 0.0 && g.energy_covered_s < 0.9 * g.window_s {
                format!(
                    " ({:.0} % of window)",
                    100.0 * g.energy_covered_s / g.window_s
                )
            } else {
                String::new()
            };
            let energy = match g.energy_j.filter(|j| j.is_finite()) {
                Some(j) => format!("{} kJ{coverage}", rate(Some(j / 1000.0))),
                None => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                load_cell(step),
                name,
                with_unit(
                    pair(fixed(g.util_gpu_mean_pct, 0), fixed(g.util_gpu_max_pct, 0)),
                    "%"
                ),
                memory,
                with_unit(pair(fixed(g.power_mean_w, 0), fixed(g.power_max_w, 0)), "W"),
                energy,
                with_unit(fixed(g.temp_max_c, 0), "°C"),
                with_unit(fixed(g.sm_clock_mean_mhz, 0), "MHz"),
                rate(step.tokens_per_joule),
            );
        }
    }
}

fn with_unit(value: String, unit: &str) -> String {
    if value.is_empty() {
        value
    } else {
        format!("{value} {unit}")
    }
}

pub(super) fn write_client(md: &mut String, run: &RunData) {
    let steps = &run.summary.steps;
    let _ = writeln!(md, "\n## Client health\n");
    if steps.is_empty() {
        let _ = writeln!(md, "No step was measured.");
        return;
    }
    let cores = steps.first().map_or(0, |s| s.client.cores);
    let _ = writeln!(
        md,
        "| load | in flight mean (min–max) | client CPU | scheduler lag p99 / max | verdict |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---|");
    for step in steps {
        let c = &step.client;
        let inflight = step
            .inflight
            .map(|i| format!("{:.1} ({}–{})", i.mean, i.min, i.max))
            .unwrap_or_default();
        let lag = pair(fixed(c.sched_lag_p99_ms, 1), fixed(c.sched_lag_max_ms, 1));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            load(step.load),
            inflight,
            with_unit(fixed(c.cpu_pct, 0), "%"),
            with_unit(lag, "ms"),
            if c.bound { "**client-bound**" } else { "ok" },
        );
    }
    let _ = writeln!(
        md,
        "\nClient CPU is this process's CPU time over the window, in % of one core ({cores} available). A step is **client-bound** when the scheduler lag p99 exceeds 5 ms or the CPU exceeds 90 % of all cores: the load generator, not the server, limited it, and its latencies include client delay. Use a bigger client machine or fewer concurrent requests per process."
    );
    let bound: Vec<String> = steps
        .iter()
        .filter(|s| s.client.bound)
        .map(|s| load(s.load))
        .collect();
    if bound.is_empty() {
        let _ = writeln!(md, "\nNo step was client-bound.");
    } else {
        let _ = writeln!(md, "\n**Client-bound steps: load {}.**", bound.join(", "));
    }
}

pub(super) fn write_errors(md: &mut String, run: &RunData) {
    let steps = &run.summary.steps;
    let _ = writeln!(md, "\n## Errors\n");
    let rows: Vec<_> = steps
        .iter()
        .flat_map(|s| s.errors.iter().map(move |e| (s, e)))
        .collect();
    if rows.is_empty() {
        let _ = writeln!(md, "No request failed.");
        return;
    }
    let _ = writeln!(md, "| load | status | requests | most common message |");
    let _ = writeln!(md, "|---:|---|---:|---|");
    for (step, e) in rows {
        let message = match &e.top_message {
            Some(m) => format!(
                "`{}` (×{})",
                cell(m, 200).replace('`', "'"),
                e.top_message_count
            ),
            None => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            load(step.load),
            cell(&e.status, 40),
            e.count,
            message
        );
    }
    let _ = writeln!(
        md,
        "\nErrors of requests started in each step, any phase (the step table's `failed` counts the measure phase only)."
    );
}

pub(super) fn write_warnings(md: &mut String, run: &RunData) {
    let mut warnings: Vec<String> = run.summary.warnings.iter().map(|w| cell(w, 500)).collect();
    let steps = &run.summary.steps;
    let settings = &run.facts.settings;
    if settings.gpu.enabled && !steps.is_empty() && !has_gpu(steps) {
        warnings.push(
            "GPU telemetry was on, but no step has GPU samples: no GPU table, columns or chart."
                .to_owned(),
        );
    }
    if run.facts.target.metrics_url.is_some() && has_server(steps) {
        let missing: Vec<String> = steps
            .iter()
            .filter(|s| s.server.is_none())
            .map(|s| load(s.load))
            .collect();
        if !missing.is_empty() {
            warnings.push(format!(
                "no server-side data at load {}: fewer than two good `/metrics` scrapes in the window.",
                missing.join(", ")
            ));
        }
    }
    for s in steps {
        if s.counts.started > 0 && s.counts.ok == 0 {
            warnings.push(format!(
                "no request succeeded at load {}: its latency cells are empty.",
                load(s.load)
            ));
        }
    }
    let _ = writeln!(md, "\n## Warnings\n");
    if warnings.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for w in warnings {
        let _ = writeln!(md, "- {w}");
    }
}
