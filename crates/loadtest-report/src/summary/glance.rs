//! "At a glance": peak throughput, where it stops growing, energy efficiency, failures and
//! the steps whose numbers need care.

use std::fmt::Write as _;

use loadtest_run::StepSummary;

use crate::RunData;
use crate::format::{finite, latency, load, rate};

pub(super) fn write(md: &mut String, run: &RunData) {
    let steps = &run.summary.steps;
    let _ = writeln!(md, "\n## At a glance\n");
    if steps.is_empty() {
        let _ = writeln!(
            md,
            "- No step reached its measure window: there is nothing to report."
        );
        return;
    }
    if let Some(peak) = steps
        .iter()
        .filter(|s| s.output_tokens_per_s.is_finite())
        .max_by(|a, b| a.output_tokens_per_s.total_cmp(&b.output_tokens_per_s))
    {
        let _ = writeln!(
            md,
            "- **Peak output throughput: {} tok/s** at load {} ({} req/s; TTFT p99 {}, TPOT p50 {}).",
            rate(Some(peak.output_tokens_per_s)),
            load(peak.load),
            rate(Some(peak.rps)),
            or_dash(latency(peak.ttft_s.map(|x| x.p99))),
            or_dash(latency(peak.tpot_s.map(|x| x.p50))),
        );
    }
    write_knee(md, run);
    write_saturation(md, run);
    if let Some(stop) = &run.summary.auto_stopped {
        let _ = writeln!(
            md,
            "- **`--steps auto` stopped after load {}**: {}.",
            load(stop.load),
            stop.reason
        );
    }
    write_slo(md, run);
    if let Some(best) = steps
        .iter()
        .filter(|s| finite(s.tokens_per_joule).is_some())
        .max_by(|a, b| {
            a.tokens_per_joule
                .unwrap_or(0.0)
                .total_cmp(&b.tokens_per_joule.unwrap_or(0.0))
        })
    {
        let _ = writeln!(
            md,
            "- Best energy efficiency: {} tokens/J at load {}.",
            rate(best.tokens_per_joule),
            load(best.load)
        );
    }
    let started: u64 = steps.iter().map(|s| s.counts.started).sum();
    let failed: u64 = steps.iter().map(|s| s.counts.failed()).sum();
    let cancelled: u64 = steps.iter().map(|s| s.counts.cancelled).sum();
    let judged = started.saturating_sub(cancelled);
    if failed == 0 {
        let _ = writeln!(md, "- All {judged} measured requests succeeded.");
    } else {
        let share = failed as f64 / judged.max(1) as f64;
        let _ = writeln!(
            md,
            "- **{failed} of {judged} measured requests failed ({:.1} %)**: see [Errors](#errors).",
            share * 100.0
        );
    }
    if cancelled > 0 {
        let _ = writeln!(
            md,
            "- {cancelled} measured requests were cancelled by the tool (Ctrl-C / SIGTERM, or still running when the drain ended): not failures, and left out of error rates."
        );
    }
    let flagged = |pred: fn(&StepSummary) -> bool| -> Vec<String> {
        steps
            .iter()
            .filter(|s| pred(s))
            .map(|s| load(s.load))
            .collect()
    };
    let bound = flagged(|s| s.client.verdict.is_client_bound());
    if !bound.is_empty() {
        let _ = writeln!(
            md,
            "- **Client-bound** at load {}: the load generator was the bottleneck there; those latencies include client delay (see [Client health](#client-health)).",
            bound.join(", ")
        );
    }
    let contended = flagged(|s| s.client.verdict.is_host_contended());
    if !contended.is_empty() {
        let _ = writeln!(
            md,
            "- **Host-contended** at load {}: other processes held the client's cores there; those latencies include the host's scheduling delay (see [Client health](#client-health)).",
            contended.join(", ")
        );
    }
    let partial = flagged(|s| s.partial);
    if !partial.is_empty() {
        let _ = writeln!(
            md,
            "- The step at load {} was interrupted: its window is shorter than planned.",
            partial.join(", ")
        );
    }
}

/// The saturated step, with its evidence (`loadtest_run::find_saturation`).
fn write_saturation(md: &mut String, run: &RunData) {
    let Some(sat) = &run.summary.saturation else {
        return;
    };
    let mut evidence = Vec::new();
    if let (Some(before), Some(after)) = sat.ttft_p50_s {
        evidence.push(format!(
            "TTFT p50 went {} → {}",
            latency(Some(before)),
            latency(Some(after))
        ));
    }
    if let Some((waiting, running)) = sat.server_waiting_running {
        evidence.push(format!(
            "the server held {waiting:.1} requests waiting for {running:.1} running"
        ));
    }
    let _ = writeln!(
        md,
        "- **Saturated at load {}**: {}× the load of {} gave {:+.0} % output throughput while {}. Capacity lies between load {} and {}.",
        load(sat.load),
        load(sat.load / sat.below_load),
        load(sat.below_load),
        sat.throughput_gain * 100.0,
        evidence.join(" and "),
        load(sat.below_load),
        load(sat.load),
    );
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "–".to_owned() } else { s }
}

fn write_knee(md: &mut String, run: &RunData) {
    let rule = &run.facts.settings.knee;
    if run.facts.settings.arrival == loadtest_run::Arrival::Trace {
        let _ = writeln!(
            md,
            "- No knee or saturation verdict: each step's load is the trace's own rate in that slice (it rises and falls with the trace), so comparing one step with the next does not probe capacity. Sweep the rate (`--request-rate`) for those."
        );
        return;
    }
    match &run.summary.knee {
        Some(k) => {
            let _ = writeln!(
                md,
                "- **Knee at load {}**: the next step adds {:+.0} % output throughput while e2e p50 grows {:+.0} % (rule: gain under {:.0} % with growth over {:.0} %). Loads above it buy latency, not throughput.",
                load(k.load),
                k.next_throughput_gain * 100.0,
                k.next_latency_growth * 100.0,
                rule.min_throughput_gain * 100.0,
                rule.max_latency_growth * 100.0,
            );
        }
        None if run.summary.steps.len() > 1 => {
            let _ = writeln!(
                md,
                "- No knee: no step was followed by one gaining under {:.0} % throughput with e2e p50 growing over {:.0} %.",
                rule.min_throughput_gain * 100.0,
                rule.max_latency_growth * 100.0,
            );
        }
        None => {}
    }
}

fn write_slo(md: &mut String, run: &RunData) {
    let Some(slo) = &run.facts.settings.slo else {
        return;
    };
    let verdict = match run.summary.slo_max_load {
        Some(max) => format!("met up to load **{}**", load(max)),
        None => "**met at no load**".to_owned(),
    };
    let _ = writeln!(
        md,
        "- SLO `{slo}` ({:.0} % of requests): {verdict}.",
        slo.attainment * 100.0
    );
}
