//! The server's view (`/metrics` deltas over each window) and the TTFT breakdown: server
//! TTFT = queue + prefill (histogram means), next to the client's TTFT.

use std::fmt::Write as _;

use super::{has_server, load_cell};
use crate::RunData;
use crate::format::{finite, fixed, latency, latency_pair, pair, percent, rate};

pub(super) fn write(md: &mut String, run: &RunData) {
    let steps = &run.summary.steps;
    let _ = writeln!(md, "\n## Server view\n");
    if !has_server(steps) {
        let why = if run.facts.target.metrics_url.is_none() {
            "`/metrics` was not scraped (`--no-metrics`)"
        } else {
            "no step has two good `/metrics` scrapes (see [Warnings](#warnings))"
        };
        let _ = writeln!(md, "No server-side data: {why}.");
        return;
    }
    let _ = writeln!(
        md,
        "| load | gen tok/s | prompt tok/s | req/s | running mean / max | waiting mean / max | KV cache mean / max | preemptions | prefix-cache hits |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for step in steps {
        let Some(sv) = &step.server else {
            let _ = writeln!(md, "| {} | | | | | | | | |", load_cell(step));
            continue;
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            load_cell(step),
            rate(sv.generation_tokens_per_s),
            rate(sv.prompt_tokens_per_s),
            rate(sv.requests_per_s),
            pair(fixed(sv.running_mean, 1), fixed(sv.running_max, 0)),
            pair(fixed(sv.waiting_mean, 1), fixed(sv.waiting_max, 0)),
            pair(
                percent(sv.kv_cache_usage_mean),
                percent(sv.kv_cache_usage_max)
            ),
            fixed(sv.preemptions, 0),
            percent(sv.prefix_cache_hit_rate),
        );
    }

    let _ = writeln!(md, "\n### Time to first token: client vs server\n");
    let _ = writeln!(
        md,
        "| load | client TTFT p50 / p99 | server TTFT p50 / p99 | client mean | server mean | = queue | + prefill | queue share | client − server |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for step in steps {
        let sv = step.server.as_ref();
        let server_ttft = sv.and_then(|v| v.ttft_s);
        let server_mean = finite(server_ttft.and_then(|h| h.mean));
        let queue = finite(sv.and_then(|v| v.queue_s).and_then(|h| h.mean));
        let prefill = finite(sv.and_then(|v| v.prefill_s).and_then(|h| h.mean));
        let client_mean = finite(step.ttft_s.map(|x| x.mean));
        let share = match (queue, prefill) {
            (Some(q), Some(p)) if q + p > 0.0 => Some(q / (q + p)),
            _ => None,
        };
        let overhead = match (client_mean, server_mean) {
            (Some(c), Some(s)) => Some(c - s),
            _ => None,
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            load_cell(step),
            latency_pair(step.ttft_s.map(|x| x.p50), step.ttft_s.map(|x| x.p99)),
            latency_pair(
                server_ttft.and_then(|h| h.p50),
                server_ttft.and_then(|h| h.p99)
            ),
            latency(client_mean),
            latency(server_mean),
            latency(queue),
            latency(prefill),
            percent(share),
            signed_latency(overhead),
        );
    }
    let _ = writeln!(
        md,
        "\nServer TTFT is the server's own histogram over the window (percentiles interpolated inside buckets, so coarse); its mean splits into time queued plus prefill (exact means from the histograms' sums). \"client − server\" is what the network, HTTP and the client add to the mean."
    );
    let resets: Vec<String> = steps
        .iter()
        .filter(|s| s.server.as_ref().is_some_and(|v| v.reset))
        .map(|s| crate::format::load(s.load))
        .collect();
    if !resets.is_empty() {
        let _ = writeln!(
            md,
            "\n**A server counter reset (or the server restarted) inside the window at load {}**: those server numbers are unreliable.",
            resets.join(", ")
        );
    }
}

fn signed_latency(x: Option<f64>) -> String {
    match finite(x) {
        Some(v) if v < 0.0 => format!("−{}", latency(Some(-v))),
        Some(v) => format!("+{}", latency(Some(v))),
        None => String::new(),
    }
}
