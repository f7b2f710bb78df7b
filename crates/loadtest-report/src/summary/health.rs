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
    let workers = steps
        .first()
        .and_then(|s| s.client.workers)
        .map(|w| format!(", {w} runtime worker threads"))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "| load | in flight mean (min–max) | client CPU | late ticks | scheduler lag p99 / max | run-queue wait | host CPU busy | verdict |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---|");
    for step in steps {
        let c = &step.client;
        let inflight = step
            .inflight
            .map(|i| format!("{:.1} ({}–{})", i.mean, i.min, i.max))
            .unwrap_or_default();
        let late = match (c.late_ticks, c.ticks) {
            (Some(late), Some(ticks)) => format!("{late} of {ticks}"),
            _ => String::new(),
        };
        let lag = pair(fixed(c.sched_lag_p99_ms, 1), fixed(c.sched_lag_max_ms, 1));
        let verdict = if c.verdict.is_ok() {
            "ok".to_owned()
        } else {
            format!("**{}**", c.verdict.label())
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            load(step.load),
            inflight,
            with_unit(fixed(c.cpu_pct, 0), "%"),
            late,
            with_unit(lag, "ms"),
            with_unit(fixed(c.run_queue_wait_pct, 0), "%"),
            with_unit(fixed(c.host_cpu_busy_pct, 0), "%"),
            verdict,
        );
    }
    let _ = writeln!(
        md,
        "\nClient CPU is this process's CPU time over the window, in % of one core ({cores} cores available{workers}). Late ticks: wake-ups of a ticker task (every 10 ms; every 250 ms while fewer than 16 requests are in flight) later than 5 ms, of all its wake-ups. Run-queue wait: of the time this process's threads were runnable, the share they spent waiting for a CPU. Host CPU busy: the whole machine, every process."
    );
    let _ = writeln!(
        md,
        "\n- **client-bound**: the client's CPU reached 90 % of its ceiling (one core per runtime worker thread, at most the cores available), or its event loop was behind (more than 1 % of the ticks, and at least 2, late) while its threads were not waiting for a CPU. The load generator, not the server, limited the step, and its latencies include client delay. Use a bigger client machine, fewer concurrent streams per process, or scale out over several client processes or machines.\n- **host-contended**: the event loop was behind while other processes kept the machine busy (25 % of its CPUs or more besides the client) and the client's threads waited for a CPU (run-queue wait of 10 % or more); where one of the two could not be read, the other decides: other processes, such as the server on a shared machine, held the cores. The timings include the host's scheduling delay. Run the client on another machine, or pin the server and the client to separate cores."
    );
    let with = |pred: fn(&loadtest_run::ClientHealth) -> bool| -> Vec<String> {
        steps
            .iter()
            .filter(|s| pred(&s.client))
            .map(|s| load(s.load))
            .collect()
    };
    let bound = with(|c| c.verdict.is_client_bound());
    let contended = with(|c| c.verdict.is_host_contended());
    if bound.is_empty() && contended.is_empty() {
        let _ = writeln!(md, "\nNo step was client-bound or host-contended.");
    }
    if !bound.is_empty() {
        let _ = writeln!(md, "\n**Client-bound steps: load {}.**", bound.join(", "));
    }
    if !contended.is_empty() {
        let _ = writeln!(
            md,
            "\n**Host-contended steps: load {}.**",
            contended.join(", ")
        );
    }
    write_stamp_source(md, steps);
    write_stamp_delay(md, steps);
}

/// How the steps' token events were timed: which share carried the kernel's receive stamp of
/// their own bytes (said only where the run folder records it).
fn write_stamp_source(md: &mut String, steps: &[loadtest_run::StepSummary]) {
    let shares: Vec<f64> = steps
        .iter()
        .filter_map(|s| s.client.kernel_stamped_pct)
        .collect();
    let (Some(min), Some(max)) = (
        shares.iter().copied().reduce(f64::min),
        shares.iter().copied().reduce(f64::max),
    ) else {
        return;
    };
    let share = if fixed(Some(min), 1) == fixed(Some(max), 1) {
        fixed(Some(min), 1)
    } else {
        format!("{}–{}", fixed(Some(min), 1), fixed(Some(max), 1))
    };
    let _ = writeln!(
        md,
        "\n{share} % of the token events were timed by the kernel's receive stamp of their own bytes: the client's own delay in getting to a socket is not in those times. The others were timed when their read returned, or shared a read with a later event and so its stamp."
    );
}

/// The steps whose timestamps carried more than the goal of the client's own delay at p99.
fn write_stamp_delay(md: &mut String, steps: &[loadtest_run::StepSummary]) {
    let late: Vec<String> = steps
        .iter()
        .filter(|s| s.client.stamps_late == Some(true))
        .map(|s| {
            let lag = fixed(s.client.sched_lag_p99_ms, 1);
            format!("{} ({lag} ms)", load(s.load))
        })
        .collect();
    if late.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n**Timestamps with client delay: load {}.** The client's event loop ran a task whose \
         timer was due that late at p99 (more than {} ms); a token's timestamp waits the same way \
         between its bytes arriving and the client running, so TTFT and ITL carry about that \
         much of the client's own delay at p99. Fewer streams per client process (`--shard` \
         over more processes or machines) bring it down.",
        late.join(", "),
        loadtest_run::ClientHealth::STAMP_DELAY_GOAL_MS,
    );
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::RunData;

    /// `run_a` (old files: every step client-bound) with its steps' client blocks replaced.
    fn run_with(blocks: &[&str]) -> RunData {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run_a");
        let mut run = RunData::load(&dir).unwrap();
        for (step, block) in run.summary.steps.iter_mut().zip(blocks) {
            step.client = serde_json::from_str(block).unwrap();
        }
        run
    }

    const CONTENDED: &str = r#"{"cpu_pct": 2.0, "cores": 16, "workers": 16, "ticks": 95,
        "late_ticks": 12, "sched_lag_p99_ms": 16.2, "sched_lag_max_ms": 31.0,
        "run_queue_wait_pct": 41.3, "host_cpu_busy_pct": 98.4,
        "verdict": "host_contended", "bound": false}"#;
    const BOUND: &str = r#"{"cpu_pct": 1520.0, "cores": 16, "workers": 16, "ticks": 100,
        "late_ticks": 0, "sched_lag_p99_ms": 1.0, "sched_lag_max_ms": 2.0,
        "run_queue_wait_pct": 1.0, "host_cpu_busy_pct": 99.0,
        "verdict": "client_bound", "bound": true}"#;
    const OK: &str = r#"{"cpu_pct": 2.0, "cores": 16, "workers": 16, "ticks": 98,
        "late_ticks": 1, "sched_lag_p99_ms": 16.0, "sched_lag_max_ms": 16.0,
        "run_queue_wait_pct": 0.5, "host_cpu_busy_pct": 20.0,
        "verdict": "ok", "bound": false}"#;

    #[test]
    fn section_names_each_verdict_with_its_numbers_and_advice() {
        let run = run_with(&[CONTENDED, BOUND, OK]);
        let mut md = String::new();
        super::write_client(&mut md, &run);
        assert!(
            md.contains("| 1 | 1.0 (1–1) | 2 % | 12 of 95 | 16.2 / 31.0 ms | 41 % | 98 % | **host-contended** |"),
            "{md}"
        );
        assert!(md.contains("| 1520 % | 0 of 100 |"), "{md}");
        assert!(md.contains("| **client-bound** |"), "{md}");
        assert!(
            md.contains("| 1 of 98 | 16.0 / 16.0 ms | 0 % | 20 % | ok |"),
            "{md}"
        );
        assert!(
            md.contains("16 cores available, 16 runtime worker threads"),
            "{md}"
        );
        assert!(md.contains("**Client-bound steps: load 4.**"), "{md}");
        assert!(md.contains("**Host-contended steps: load 1.**"), "{md}");
        assert!(md.contains("Run the client on another machine"), "{md}");
        assert!(md.contains("Use a bigger client machine"), "{md}");
        assert!(!md.contains("No step was client-bound"), "{md}");
    }

    #[test]
    fn all_ok_says_so_and_old_files_keep_their_verdict() {
        let run = run_with(&[OK, OK, OK]);
        let mut md = String::new();
        super::write_client(&mut md, &run);
        assert!(
            md.contains("No step was client-bound or host-contended."),
            "{md}"
        );
        // Old files: `bound` true reads as client-bound, the new cells empty.
        let old = run_with(&[]);
        let mut md = String::new();
        super::write_client(&mut md, &old);
        assert!(
            md.contains("| 14 % |  | 6.8 / 8.5 ms |  |  | **client-bound** |"),
            "{md}"
        );
    }

    /// Only steps flagged `stamps_late: true` are named, with their lag p99; `false` and
    /// absent (not judged, older files) say nothing.
    #[test]
    fn steps_whose_stamps_carry_client_delay_are_named() {
        let late = OK
            .replace(r#""sched_lag_p99_ms": 16.0"#, r#""sched_lag_p99_ms": 0.73"#)
            .replace(
                r#""bound": false}"#,
                r#""bound": false, "stamps_late": true}"#,
            );
        let within = OK.replace(
            r#""bound": false}"#,
            r#""bound": false, "stamps_late": false}"#,
        );
        let run = run_with(&[&late, &within, OK]);
        let mut md = String::new();
        super::write_client(&mut md, &run);
        assert!(
            md.contains("**Timestamps with client delay: load 1 (0.7 ms).**"),
            "{md}"
        );
        assert!(md.contains("more than 0.5 ms"), "{md}");
        let run = run_with(&[&within, OK, OK]);
        let mut md = String::new();
        super::write_client(&mut md, &run);
        assert!(!md.contains("Timestamps with client delay"), "{md}");
    }

    /// The share of kernel-stamped token events is said where recorded, as one value or a
    /// range.
    #[test]
    fn the_kernel_stamped_share_is_said_where_recorded() {
        let with = |pct: &str| {
            OK.replace(
                r#""bound": false}"#,
                &format!(r#""bound": false, "kernel_stamped_pct": {pct}}}"#),
            )
        };
        let (all, most) = (with("100.0"), with("99.04"));
        let mut md = String::new();
        super::write_client(&mut md, &run_with(&[&all, &most, OK]));
        assert!(
            md.contains(
                "\n99.0–100.0 % of the token events were timed by the kernel's receive stamp"
            ),
            "{md}"
        );
        let mut md = String::new();
        super::write_client(&mut md, &run_with(&[&all, &all]));
        assert!(
            md.contains("\n100.0 % of the token events were timed"),
            "{md}"
        );
        let mut md = String::new();
        super::write_client(&mut md, &run_with(&[OK, OK]));
        assert!(!md.contains("receive stamp"), "{md}");
    }

    #[test]
    fn glance_calls_out_each_verdict() {
        let run = run_with(&[CONTENDED, BOUND, OK]);
        let md = crate::render_summary(&run, &[]);
        assert!(md.contains("- **Client-bound** at load 4:"), "{md}");
        assert!(md.contains("- **Host-contended** at load 1:"), "{md}");
    }
}
