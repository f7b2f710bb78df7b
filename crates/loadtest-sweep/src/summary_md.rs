//! A plain `summary.md`: run facts, one table row per step, server and GPU tables, client
//! health and warnings. Cells without data are empty, never `NaN`.

use std::fmt::Write as _;

use crate::finalize::RunFacts;
use crate::summary::StepSummaryFile;

/// Renders the report from the run's facts and step summaries.
pub fn render_summary_md(facts: &RunFacts, file: &StepSummaryFile) -> String {
    let mut md = String::new();
    let t = &facts.target;
    let s = &facts.settings;
    let _ = writeln!(md, "# vllm-loadtest run\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| target | {} |", t.base_url);
    let _ = writeln!(md, "| model | {} |", t.model);
    let _ = writeln!(
        md,
        "| server | {} {} |",
        t.server_kind.as_deref().unwrap_or("unknown"),
        t.server_version.as_deref().unwrap_or("")
    );
    let _ = writeln!(md, "| tool | {} |", facts.tool);
    let _ = writeln!(md, "| started | {} |", facts.started_at);
    let _ = writeln!(
        md,
        "| load | {} steps {} × {} s (warmup {} s, ramp {} s, cooldown {} s){} |",
        s.load_mode.as_str(),
        join(&s.steps),
        s.step_duration_s.as_secs_f64(),
        s.warmup_s.as_secs_f64(),
        s.ramp_s.as_secs_f64(),
        s.cooldown_s.as_secs_f64(),
        if s.load_mode == crate::config::LoadMode::Rate {
            format!(", {} arrivals", s.arrival)
        } else {
            String::new()
        }
    );
    let input = match (&s.input_size, s.prompt_file_rows) {
        (Some(size), _) => format!("{} ({size} tokens)", s.input_mode),
        (None, Some(rows)) => format!("{} ({rows} prompts)", s.input_mode),
        _ => s.input_mode.to_owned(),
    };
    let _ = writeln!(
        md,
        "| input | {input}, max_tokens {}{}, endpoint {}, seed {} |",
        s.max_output_tokens,
        if s.ignore_eos { ", ignore_eos" } else { "" },
        t.endpoint,
        s.seed
    );
    if facts.interrupted {
        let _ = writeln!(md, "| interrupted | yes: the last step is partial |");
    }

    let _ = writeln!(md, "\n## Steps (client view)\n");
    let _ = writeln!(
        md,
        "| load | ok | failed | req/s | out tok/s | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | ITL p50 | ITL p99 | e2e p50 | e2e p99 | in-flight |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for step in &file.steps {
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {:.2} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            num(step.load),
            if step.partial { " (partial)" } else { "" },
            step.counts.ok,
            step.counts.failed(),
            step.rps,
            step.output_tokens_per_s,
            ms(step.ttft_s.map(|x| x.p50)),
            ms(step.ttft_s.map(|x| x.p99)),
            ms(step.tpot_s.map(|x| x.p50)),
            ms(step.tpot_s.map(|x| x.p99)),
            ms(step.itl_s.map(|x| x.p50)),
            ms(step.itl_s.map(|x| x.p99)),
            secs(step.e2e_s.map(|x| x.p50)),
            secs(step.e2e_s.map(|x| x.p99)),
            step.inflight
                .map(|i| format!("{:.1}", i.mean))
                .unwrap_or_default(),
        );
    }

    if file.steps.iter().any(|s| s.offered_rps.is_some()) {
        let _ = writeln!(md, "\n## Open loop (rate mode)\n");
        let _ = writeln!(
            md,
            "Latency from the *scheduled* arrival is what a user would have felt; from the send it is what the server did. A growing gap between them is coordinated omission made visible.\n"
        );
        let _ = writeln!(
            md,
            "| offered req/s | sent req/s | sched delay p50 | sched delay p99 | dispatch lag p99 | TTFT p50 (sched) | TTFT p99 (sched) | e2e p50 (sched) | e2e p99 (sched) |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for step in &file.steps {
            let _ = writeln!(
                md,
                "| {} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
                opt(step.offered_rps, 2),
                step.achieved_rps,
                ms(step.sched_delay_s.map(|x| x.p50)),
                ms(step.sched_delay_s.map(|x| x.p99)),
                ms(step.dispatch_lag_s.map(|x| x.p99)),
                ms(step.ttft_from_sched_s.map(|x| x.p50)),
                ms(step.ttft_from_sched_s.map(|x| x.p99)),
                secs(step.e2e_from_sched_s.map(|x| x.p50)),
                secs(step.e2e_from_sched_s.map(|x| x.p99)),
            );
        }
    }

    if let Some(slo) = &facts.settings.slo {
        let _ = writeln!(
            md,
            "\n## SLO `{slo}` (attainment {:.0} %)\n",
            slo.attainment * 100.0
        );
        match file.slo_max_load {
            Some(load) => {
                let _ = writeln!(md, "Highest load meeting the SLO: **{}**.\n", num(load));
            }
            None => {
                let _ = writeln!(md, "No step met the SLO.\n");
            }
        }
        let _ = writeln!(
            md,
            "| load | good | good fraction | goodput req/s | percentile checks | met |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---|---|");
        for step in &file.steps {
            let Some(r) = &step.slo else { continue };
            let checks: Vec<String> = r
                .percentiles
                .iter()
                .map(|p| format!("{} {} ≤ {}", p.objective, ms(p.value_s), ms(Some(p.max_s))))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} | {} | {} |",
                num(step.load),
                r.good,
                opt(r.good_fraction.map(|f| f * 100.0), 1)
                    + if r.good_fraction.is_some() { " %" } else { "" },
                r.goodput_rps,
                checks.join("; "),
                if r.met { "yes" } else { "**no**" }
            );
        }
    }

    if let Some(stop) = &file.auto_stopped {
        let _ = writeln!(
            md,
            "\n**`--steps auto` stopped after load {}**: {}.",
            num(stop.load),
            cell(&stop.reason)
        );
    }

    if let Some(knee) = &file.knee {
        let _ = writeln!(
            md,
            "\n**Knee at load {}**: the next step gained {:+.1} % output throughput for {:+.0} % e2e p50 (rule: gain < {:.0} % while latency grows > {:.0} %).",
            num(knee.load),
            knee.next_throughput_gain * 100.0,
            knee.next_latency_growth * 100.0,
            facts.settings.knee.min_throughput_gain * 100.0,
            facts.settings.knee.max_latency_growth * 100.0
        );
    }

    if file.steps.iter().any(|s| s.server.is_some()) {
        let _ = writeln!(
            md,
            "\n## Server view (`/metrics` deltas over each window)\n"
        );
        let _ = writeln!(
            md,
            "| load | gen tok/s | prompt tok/s | running mean/max | waiting mean/max | KV % mean/max | server TTFT p50 | queue mean | prefill mean | client TTFT p50 |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for step in &file.steps {
            let Some(sv) = &step.server else {
                let _ = writeln!(md, "| {} | | | | | | | | | |", num(step.load));
                continue;
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} / {} | {} / {} | {} / {} | {} | {} | {} | {} |",
                num(step.load),
                opt(sv.generation_tokens_per_s, 1),
                opt(sv.prompt_tokens_per_s, 1),
                opt(sv.running_mean, 1),
                opt(sv.running_max, 0),
                opt(sv.waiting_mean, 1),
                opt(sv.waiting_max, 0),
                opt(sv.kv_cache_usage_mean.map(|v| v * 100.0), 1),
                opt(sv.kv_cache_usage_max.map(|v| v * 100.0), 1),
                ms(sv.ttft_s.and_then(|h| h.p50)),
                ms(sv.queue_s.and_then(|h| h.mean)),
                ms(sv.prefill_s.and_then(|h| h.mean)),
                ms(step.ttft_s.map(|x| x.p50)),
            );
        }
    }

    if file.steps.iter().any(|s| !s.gpu.is_empty()) {
        let _ = writeln!(md, "\n## GPUs\n");
        let _ = writeln!(
            md,
            "| load | GPU | util mean/max % | mem max MiB | power mean/max W | energy J | temp max °C | tokens/J |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
        for step in &file.steps {
            for g in &step.gpu {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} / {} | {} | {} / {} | {} | {} | {} |",
                    num(step.load),
                    g.gpu,
                    opt(g.util_gpu_mean_pct, 0),
                    opt(g.util_gpu_max_pct, 0),
                    opt(g.mem_used_max_mib, 0),
                    opt(g.power_mean_w, 0),
                    opt(g.power_max_w, 0),
                    opt(g.energy_j, 0),
                    opt(g.temp_max_c, 0),
                    opt(step.tokens_per_joule, 2),
                );
            }
        }
    }

    let _ = writeln!(md, "\n## Client health\n");
    let _ = writeln!(md, "| load | CPU % | scheduler lag p99 ms | bound |");
    let _ = writeln!(md, "|---:|---:|---:|---|");
    for step in &file.steps {
        let c = &step.client;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            num(step.load),
            opt(c.cpu_pct, 0),
            opt(c.sched_lag_p99_ms, 2),
            if c.bound { "**client-bound**" } else { "no" }
        );
    }

    let errors: Vec<_> = file
        .steps
        .iter()
        .flat_map(|s| s.errors.iter().map(move |e| (s.load, e)))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(md, "\n## Errors\n");
        let _ = writeln!(md, "| load | status | count | most common message |");
        let _ = writeln!(md, "|---:|---|---:|---|");
        for (load, e) in errors {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                num(load),
                e.status,
                e.count,
                e.top_message
                    .as_deref()
                    .map(|m| format!("{} (×{})", cell(m), e.top_message_count))
                    .unwrap_or_default()
            );
        }
    }
    if !file.warnings.is_empty() {
        let _ = writeln!(md, "\n## Warnings\n");
        for w in &file.warnings {
            let _ = writeln!(md, "- {}", cell(w));
        }
    }
    md
}

fn join(v: &[f64]) -> String {
    v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(",")
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => String::new(),
    }
}

fn ms(x: Option<f64>) -> String {
    opt(x.map(|s| s * 1e3), 1).to_string()
        + if x.is_some_and(f64::is_finite) {
            " ms"
        } else {
            ""
        }
}

fn secs(x: Option<f64>) -> String {
    opt(x, 2).to_string()
        + if x.is_some_and(f64::is_finite) {
            " s"
        } else {
            ""
        }
}

/// Makes text safe inside a table cell: no pipes, no line breaks, no control characters.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}
