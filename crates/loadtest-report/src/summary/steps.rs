//! The step table: one row per step, the client's numbers with the server's and GPUs' next
//! to them. Columns without data in any step are left out (and said so).

use std::fmt::Write as _;

use loadtest_run::StepSummary;

use super::{gpu_power_w, gpu_util_pct, has_gpu, has_server, load_cell};
use crate::RunData;
use crate::format::{fixed, latency_pair, pair, percent, rate};

struct Column {
    header: &'static str,
    right: bool,
    value: fn(&StepSummary) -> String,
}

const CLIENT: &[Column] = &[
    Column {
        header: "load",
        right: true,
        value: load_cell,
    },
    Column {
        header: "ok",
        right: true,
        value: |s| s.counts.ok.to_string(),
    },
    Column {
        header: "failed",
        right: true,
        value: |s| s.counts.failed().to_string(),
    },
    Column {
        header: "req/s",
        right: true,
        value: |s| rate(Some(s.rps)),
    },
    Column {
        header: "out tok/s",
        right: true,
        value: |s| rate(Some(s.output_tokens_per_s)),
    },
];

const RATE_MODE: &[Column] = &[
    Column {
        header: "sent req/s",
        right: true,
        value: |s| rate(Some(s.achieved_rps)),
    },
    Column {
        header: "sched delay p50 / p99",
        right: true,
        value: |s| {
            latency_pair(
                s.sched_delay_s.map(|x| x.p50),
                s.sched_delay_s.map(|x| x.p99),
            )
        },
    },
    Column {
        header: "TTFT from schedule p50 / p99",
        right: true,
        value: |s| {
            latency_pair(
                s.ttft_from_sched_s.map(|x| x.p50),
                s.ttft_from_sched_s.map(|x| x.p99),
            )
        },
    },
];

const SLO: &[Column] = &[Column {
    header: "goodput",
    right: true,
    value: |s| match &s.slo {
        Some(slo) => format!(
            "{} req/s{} {}",
            rate(Some(slo.goodput_rps)),
            slo.good_fraction
                .filter(|f| f.is_finite())
                .map(|f| format!(" ({:.0} %)", f * 100.0))
                .unwrap_or_default(),
            if slo.met { "met" } else { "**missed**" }
        ),
        None => String::new(),
    },
}];

const SERVER_RATE: &[Column] = &[Column {
    header: "server out tok/s",
    right: true,
    value: |s| rate(s.server.as_ref().and_then(|v| v.generation_tokens_per_s)),
}];

const LATENCY: &[Column] = &[
    Column {
        header: "TTFT p50 / p99",
        right: true,
        value: |s| latency_pair(s.ttft_s.map(|x| x.p50), s.ttft_s.map(|x| x.p99)),
    },
    Column {
        header: "TPOT p50 / p99",
        right: true,
        value: |s| latency_pair(s.tpot_s.map(|x| x.p50), s.tpot_s.map(|x| x.p99)),
    },
    Column {
        header: "ITL p50 / p99",
        right: true,
        value: |s| latency_pair(s.itl_s.map(|x| x.p50), s.itl_s.map(|x| x.p99)),
    },
    Column {
        header: "e2e p50 / p99",
        right: true,
        value: |s| latency_pair(s.e2e_s.map(|x| x.p50), s.e2e_s.map(|x| x.p99)),
    },
];

const SERVER_STATE: &[Column] = &[
    Column {
        header: "running / waiting",
        right: true,
        value: |s| {
            let sv = s.server.as_ref();
            pair(
                fixed(sv.and_then(|v| v.running_mean), 1),
                fixed(sv.and_then(|v| v.waiting_mean), 1),
            )
        },
    },
    Column {
        header: "KV cache",
        right: true,
        value: |s| percent(s.server.as_ref().and_then(|v| v.kv_cache_usage_mean)),
    },
];

const GPU: &[Column] = &[
    Column {
        header: "GPU util",
        right: true,
        value: |s| fixed(gpu_util_pct(s), 0) + if gpu_util_pct(s).is_some() { " %" } else { "" },
    },
    Column {
        header: "GPU power",
        right: true,
        value: |s| fixed(gpu_power_w(s), 0) + if gpu_power_w(s).is_some() { " W" } else { "" },
    },
    Column {
        header: "tok/J",
        right: true,
        value: |s| rate(s.tokens_per_joule),
    },
];

pub(super) fn write(md: &mut String, run: &RunData) {
    let steps = &run.summary.steps;
    let _ = writeln!(md, "\n## Steps\n");
    if steps.is_empty() {
        let _ = writeln!(md, "No step reached its measure window.");
        return;
    }
    let server = has_server(steps);
    let gpu = has_gpu(steps);
    let rate_mode = steps.iter().any(|s| s.offered_rps.is_some());
    let slo = steps.iter().any(|s| s.slo.is_some());
    let mut columns: Vec<&Column> = CLIENT.iter().collect();
    if slo {
        columns.extend(SLO);
    }
    if server {
        columns.extend(SERVER_RATE);
    }
    columns.extend(LATENCY);
    if rate_mode {
        columns.extend(RATE_MODE);
    }
    if server {
        columns.extend(SERVER_STATE);
    }
    if gpu {
        columns.extend(GPU);
    }
    table(md, &columns, steps);
    let _ = writeln!(
        md,
        "\nOver each step's measure window. Latencies are client-side, of `ok` measure-phase requests (p50 / p99); ITL pools the gaps between token events. req/s and out tok/s count requests completed inside the window (tokens from `usage`)."
    );
    if rate_mode {
        let _ = writeln!(
            md,
            "Rate mode: load is the offered arrival rate; sent req/s is what the dispatcher actually sent, sched delay how late requests started after their scheduled arrival, and TTFT from schedule what a user arriving then would have waited."
        );
    }
    if slo {
        let _ = writeln!(
            md,
            "Goodput: `ok` requests meeting every per-request objective of the SLO, per second (and their share of the requests started)."
        );
    }
    if server {
        let _ = writeln!(
            md,
            "Server columns are `/metrics` deltas over the same window: generation tokens/s, mean running / waiting requests, mean KV-cache usage."
        );
    } else {
        let _ = writeln!(
            md,
            "No server columns: no `/metrics` data (see [Warnings](#warnings))."
        );
    }
    if gpu {
        let _ = writeln!(
            md,
            "GPU util is the mean over GPUs, GPU power the sum of their mean draw, tok/J generation tokens per joule of all GPUs."
        );
    } else {
        let _ = writeln!(md, "No GPU columns: no GPU telemetry in this run.");
    }
}

fn table(md: &mut String, columns: &[&Column], steps: &[StepSummary]) {
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let _ = writeln!(md, "| {} |", headers.join(" | "));
    let aligns: Vec<&str> = columns
        .iter()
        .map(|c| if c.right { "---:" } else { "---" })
        .collect();
    let _ = writeln!(md, "|{}|", aligns.join("|"));
    for step in steps {
        let cells: Vec<String> = columns.iter().map(|c| (c.value)(step)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
}
