//! The server's view (`/metrics` deltas over each window) and the TTFT breakdown: server
//! TTFT = queue + prefill (histogram means), next to the client's TTFT.

use std::fmt::Write as _;

use loadtest_prom::HistogramStats;

use super::{has_server, load_cell};
use crate::RunData;
use crate::format::{finite, fixed, latency, latency_bucket, latency_pair, pair, percent, rate};

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
        // Like for like: the client's requests whose first token fell in the window (older
        // run folders without that field fall back to the requests started in it).
        let client_ttft = step.ttft_server_aligned_s.or(step.ttft_s);
        let client_mean = finite(client_ttft.map(|x| x.mean));
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
            latency_pair(client_ttft.map(|x| x.p50), client_ttft.map(|x| x.p99)),
            server_quantiles(server_ttft),
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
        "\nServer TTFT is the server's own histogram over the window (a percentile is the histogram bucket holding it, e.g. `≤ 300 ms`, or `≈49 ms (40–60 ms)` when the bucket is narrow enough for an estimate; the exact mean is the server's headline number); its mean splits into time queued plus prefill (exact means from the histograms' sums). \"client − server\" is what the network, HTTP and the client add to the mean. Both sides cover the same requests: the client columns here take the requests whose first token arrived inside the window (the server observes TTFT at that moment), not those that started in it as the Steps table does."
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

/// A server histogram's p50 / p99 as their buckets (an estimate only for a narrow bucket):
/// `≤ 300 ms / 300–500 ms`; `–` for a missing half, empty when both are.
fn server_quantiles(h: Option<HistogramStats>) -> String {
    let (p50, p99) = h.map_or((None, None), |h| (h.p50, h.p99));
    pair(
        p50.map(|q| latency_bucket(q.lo, q.hi, q.est))
            .unwrap_or_default(),
        p99.map(|q| latency_bucket(q.lo, q.hi, q.est))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use loadtest_run::{ServerBlock, read_step_deltas};

    use super::*;

    /// run_b's step_summary.json predates quantile buckets (its old interpolated numbers read
    /// as unknown); rebuild its server blocks from the bucket deltas in vllm_step_deltas.json,
    /// as the engine now writes them.
    #[test]
    fn server_ttft_percentiles_are_buckets() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run_b");
        let mut run = RunData::load(&dir).unwrap();
        for entry in read_step_deltas(&dir).unwrap().steps {
            let step = run
                .summary
                .steps
                .iter_mut()
                .find(|s| s.step == entry.step)
                .unwrap();
            step.server = Some(ServerBlock::from_deltas(&entry.deltas));
        }
        let mut md = String::new();
        write(&mut md, &run);
        let row = |load: &str| {
            md.lines()
                .filter(|l| l.starts_with(&format!("| {load} ")))
                .nth(1) // the TTFT table, after the server-view table
                .unwrap()
                .to_owned()
        };
        // Load 1: 3 TTFTs in (10, 20] ms: the bucket, not PromQL's 15.0 / 19.9 ms.
        assert!(row("1").contains("| 10–20 ms / 10–20 ms |"), "{md}");
        // Load 32: all 22 in (1, 2.5] s; PromQL's p99 2.48 s was invented.
        assert!(row("32").contains("| 1–2.5 s / 1–2.5 s |"), "{md}");
        assert!(!md.contains("2.48 s"), "{md}");
    }
}
