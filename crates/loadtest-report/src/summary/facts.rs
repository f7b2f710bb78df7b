//! The run-facts table at the top of summary.md.

use std::fmt::Write as _;

use loadtest_run::LoadMode;

use crate::RunData;
use crate::format::{cell, duration_s, load};

pub(super) fn write(md: &mut String, run: &RunData) {
    let f = &run.facts;
    let t = &f.target;
    let s = &f.settings;
    let server = match (&t.server_kind, &t.server_version) {
        (Some(kind), Some(version)) => format!("{kind} {version}"),
        (Some(kind), None) => kind.clone(),
        (None, Some(version)) => format!("version {version}"),
        (None, None) => "unknown".to_owned(),
    };
    let _ = writeln!(
        md,
        "# Load test: {} on {}\n",
        cell(&t.model, 120),
        cell(&server, 80)
    );
    let _ = writeln!(md, "| | |\n|---|---|");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(md, "| {k} | {v} |");
    };
    row(
        "target",
        format!("`{}` ({} endpoint)", cell(&t.base_url, 200), t.endpoint),
    );
    row("model", cell(&t.model, 200));
    row("server", cell(&server, 120));
    row("tool", cell(&f.tool, 80));
    row("started", timestamp(&f.started_at));
    let status = if f.interrupted {
        "**interrupted** (Ctrl-C / SIGTERM): the last step's window is partial".to_owned()
    } else if f.finished_at.is_none() {
        "did not finish".to_owned()
    } else {
        "completed".to_owned()
    };
    row(
        "finished",
        match &f.finished_at {
            Some(at) => format!("{} — {status}", timestamp(at)),
            None => status,
        },
    );
    let (mode, unit) = match s.load_mode {
        LoadMode::Concurrency => ("concurrency", "concurrent requests"),
        LoadMode::Rate => ("rate", "requests/s offered, open loop"),
    };
    let steps: Vec<String> = s.steps.iter().map(|x| load(*x)).collect();
    // `--num-prompts`: each step ends when its requests have all finished.
    let per_step = match s.num_prompts {
        Some(n) => format!("{n} requests per step, each step ending when all have finished"),
        None => format!("{} per step", duration_s(s.step_duration_s.as_secs_f64())),
    };
    let warmup = match s.warmup_requests {
        Some(n) => format!("{n} requests"),
        None => duration_s(s.warmup_s.as_secs_f64()),
    };
    row(
        "load",
        format!(
            "{mode} {} ({unit}); {per_step}, warmup {warmup}, ramp {}, cooldown {}",
            steps.join(", "),
            duration_s(s.ramp_s.as_secs_f64()),
            duration_s(s.cooldown_s.as_secs_f64()),
        ),
    );
    if s.load_mode == LoadMode::Rate {
        row("arrivals", format!("`{}`", s.arrival));
    }
    if let Some(slo) = &s.slo {
        row(
            "SLO",
            format!("`{slo}`, attainment {:.0} %", slo.attainment * 100.0),
        );
    }
    row(
        "knee rule",
        format!(
            "next step gains under {:.0} % throughput while e2e p50 grows over {:.0} %",
            s.knee.min_throughput_gain * 100.0,
            s.knee.max_latency_growth * 100.0
        ),
    );
    let input = match (&s.input_size, s.prompt_file_rows, &s.input_source) {
        (Some(size), _, _) => format!("{}, `{}` tokens", s.input_mode, cell(size, 80)),
        (None, Some(rows), _) => match &s.prompt_file {
            Some(file) => format!(
                "{}, {rows} prompts from `{}` (SHA-256 `{}`)",
                s.input_mode,
                cell(&file.path.display().to_string(), 120),
                cell(&file.sha256, 64)
            ),
            None => format!("{}, {rows} prompts", s.input_mode),
        },
        (None, None, Some(source)) => format!("{}: {}", s.input_mode, cell(source, 120)),
        (None, None, None) => s.input_mode.clone(),
    };
    row("input", input);
    row(
        "output",
        format!(
            "max_tokens `{}`{}",
            cell(&s.max_output_tokens, 80),
            if s.ignore_eos { ", ignore_eos" } else { "" }
        ),
    );
    row(
        "limits",
        format!(
            "timeout {} per request, at most {} in flight{}",
            duration_s(s.timeout_s.as_secs_f64()),
            s.max_inflight,
            s.max_error_rate
                .map(|r| format!(", max error rate {:.1} %", r * 100.0))
                .unwrap_or_default()
        ),
    );
    row("seed", s.seed.to_string());
    // `vllm-loadtest merge`: the shard folders this run was made from, and what it chose.
    if !f.merged_from.is_empty() {
        let shards: Vec<String> = f
            .merged_from
            .iter()
            .map(|m| {
                format!(
                    "{} (`{}`)",
                    m.shard,
                    cell(&m.dir.display().to_string(), 120)
                )
            })
            .collect();
        row("merged from", format!("shards {}", shards.join(", ")));
        for note in &f.merge_notes {
            row("merge", cell(note, 300));
        }
    }
    if !s.extra_body.is_empty() {
        let body = serde_json::Value::Object(s.extra_body.clone()).to_string();
        row("extra body", format!("`{}`", cell(&body, 200)));
    }
    let delivered = f.telemetry.as_ref();
    row(
        "server metrics",
        match &t.metrics_url {
            Some(url) => match delivered {
                Some(d) if d.metrics_scrapes_ok == 0 && d.metrics_scrapes_failed > 0 => format!(
                    "`{}`: **every scrape failed** ({} scrapes; {}): no server data",
                    cell(url, 200),
                    d.metrics_scrapes_failed,
                    cell(
                        d.metrics_first_error.as_deref().unwrap_or("unknown error"),
                        160
                    )
                ),
                _ => format!(
                    "`{}` every {}",
                    cell(url, 200),
                    duration_s(s.poll_interval_s.as_secs_f64())
                ),
            },
            None => "off (`--no-metrics`)".to_owned(),
        },
    );
    row(
        "GPU telemetry",
        match (
            s.gpu.enabled,
            delivered.and_then(|d| d.gpu_unavailable.as_deref()),
        ) {
            (false, _) => "off (`--no-gpu`)".to_owned(),
            (true, Some(why)) => format!("**unavailable** ({})", cell(why, 160)),
            (true, None) => format!(
                "`{}` every {}",
                cell(&s.gpu.nvidia_smi.display().to_string(), 120),
                duration_s(s.gpu.interval.as_secs_f64())
            ),
        },
    );
    if !t.headers.is_empty() {
        let names: Vec<String> = t.headers.iter().map(|(k, _)| cell(k, 60)).collect();
        row("extra headers", names.join(", "));
    }
    row("run folder", format!("`{}`", cell(&run.name(), 200)));
}

/// `2026-11-28T15:50:42.000484112Z` → `2026-11-28 15:50:42 UTC`.
fn timestamp(rfc3339: &str) -> String {
    let trimmed = match (rfc3339.find('.'), rfc3339.rfind(['Z', '+'])) {
        (Some(dot), Some(zone)) if dot < zone => format!("{}{}", &rfc3339[..dot], &rfc3339[zone..]),
        _ => rfc3339.to_owned(),
    };
    match trimmed.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => cell(&trimmed, 60),
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp("2026-11-28T15:50:42.000484112Z"),
            "2026-11-28 15:50:42 UTC"
        );
        assert_eq!(timestamp("2026-11-28T15:50:42Z"), "2026-11-28 15:50:42 UTC");
        assert_eq!(timestamp("garbage"), "garbage");
    }
}
