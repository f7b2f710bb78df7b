//! The run's warnings: everything a reader must know before trusting the numbers, written to
//! `step_summary.json` (summary.md and the console show them).

use loadtest_run::StepSummary;

use crate::collected::Collected;

/// The share of a step's requests still running at its window's end above which the step
/// is reported as such.
pub const UNFINISHED_WARN_SHARE: f64 = 0.5;

pub(crate) fn collect_warnings(c: &Collected<'_>, steps: &[StepSummary], out: &mut Vec<String>) {
    out.extend(c.preflight_warnings.iter().cloned());
    ramps_lengthened(c, out);
    // When every scrape failed, the warning below says so with the URL; preflight's would
    // repeat it.
    if c.scraped.as_ref().is_none_or(|s| s.ok > 0) {
        out.extend(c.metrics_preflight_warning.iter().cloned());
    }
    if let Some(e) = &c.recorded.write_error {
        out.push(format!(
            "requests.jsonl is incomplete: {e}; {} row(s) not written (this summary still counts them; rows_not_written per step)",
            c.recorded.rows_not_written
        ));
    }
    match &c.scraped {
        None => out.push("/metrics was not scraped (--no-metrics): no server-side data".to_owned()),
        Some(s) => {
            let url = c.facts.target.metrics_url.as_deref().unwrap_or("/metrics");
            if s.ok == 0 {
                out.push(format!(
                    "{url} failed every time ({} scrapes; first error: {}): no server-side data in this run (is it the server's /metrics? set --metrics-url, or --no-metrics)",
                    s.failed,
                    s.first_failure.as_deref().unwrap_or("unknown")
                ));
            } else if s.failed > 0 {
                out.push(format!(
                    "/metrics failed {} of {} scrapes (first error: {})",
                    s.failed,
                    s.failed + s.ok,
                    s.first_failure.as_deref().unwrap_or("unknown")
                ));
            }
            if s.slow > 0 {
                out.push(format!(
                    "/metrics was slow: {} of {} good scrapes took longer than the {:.3} s poll interval (slowest {:.3} s); window-edge values may be late by up to that much",
                    s.slow,
                    s.ok,
                    s.interval.as_secs_f64(),
                    s.slowest.as_secs_f64()
                ));
            }
            if s.skipped > 0 {
                out.push(format!(
                    "/metrics was slower than the {:.3} s poll interval: {} poll(s) skipped while the previous scrape still ran (never more than one scrape in flight)",
                    s.interval.as_secs_f64(),
                    s.skipped
                ));
            }
            if s.line_errors > 0 {
                out.push(format!(
                    "/metrics had {} unparseable lines (skipped)",
                    s.line_errors
                ));
            }
            if s.non_finite > 0 {
                let names: Vec<&str> = s.non_finite_metrics.iter().copied().collect();
                out.push(format!(
                    "/metrics reported {} non-finite values (NaN/Inf) for {}: left out of the server numbers (empty cells in vllm_metrics.csv)",
                    s.non_finite,
                    names.join(", ")
                ));
            }
            if let Some(e) = &s.write_error {
                out.push(format!(
                    "vllm_metrics.csv is incomplete: {e}; {} row(s) not written",
                    s.rows_not_written
                ));
            }
        }
    }
    out.extend(c.gpu.warnings.iter().cloned());
    if let Some(e) = &c.gpu.write_error {
        out.push(format!(
            "gpu_metrics.csv is incomplete: {e}; {} row(s) not written",
            c.gpu.rows_not_written
        ));
    }
    step_warnings(steps, out);
}

/// The warnings read from the step summaries alone (a merged run's too): usage missing,
/// client health, unfinished requests, unsent arrivals, partial steps, the schedule, bursts.
pub(crate) fn step_warnings(steps: &[StepSummary], out: &mut Vec<String>) {
    let missing: u64 = steps.iter().map(|s| s.usage_missing).sum();
    if missing > 0 {
        out.push(format!(
            "{missing} ok requests carried no usage: token counts and TPOT are missing for them (does the server honour stream_options.include_usage?)"
        ));
    }
    for s in steps {
        let client = &s.client;
        let late = format!(
            "{} of {} ticker wake-ups were later than 5 ms",
            client.late_ticks.unwrap_or(0),
            client.ticks.unwrap_or(0)
        );
        if client.client_errors > 0 {
            out.push(format!(
                "step {} (load {}): client-bound: {} requests failed on the client itself (client_error: out of file descriptors, EMFILE/ENFILE), not on the server: raise the open-files limit (ulimit -n) or lower the load",
                s.step, s.load, client.client_errors
            ));
        } else if client.verdict.is_client_bound() {
            let why = if client.cpu_saturated() {
                format!(
                    "this process used {} CPU, at least 90 % of its ceiling of {:.0} % (one core per runtime worker thread)",
                    pct(client.cpu_pct),
                    client.cpu_ceiling_pct()
                )
            } else {
                format!(
                    "{late} while other processes kept {} of the machine busy and its threads waited for a CPU {} of their runnable time: its own work held the event loop",
                    pct(client.others_busy_pct()),
                    pct(client.run_queue_wait_pct)
                )
            };
            out.push(format!(
                "step {} (load {}): client-bound: {why}; the load generator was the bottleneck and its timings include client delay: use a bigger client machine, fewer streams per process, or scale out",
                s.step, s.load
            ));
        } else if client.verdict.is_host_contended() {
            out.push(format!(
                "step {} (load {}): host-contended: {late} while this process used {} CPU, its threads waited for a CPU {} of their runnable time and other processes kept {} of the machine busy: other processes held the cores, and the timings include the host's scheduling delay: run the client on another machine or pin the server and the client to separate cores",
                s.step,
                s.load,
                pct(client.cpu_pct),
                pct(client.run_queue_wait_pct),
                pct(client.others_busy_pct())
            ));
        }
        if let Some(unfinished) = s.unfinished_at_window_end
            && unfinished > 0
            && unfinished as f64 > UNFINISHED_WARN_SHARE * s.counts.started as f64
        {
            out.push(format!(
                "step {} (load {}): {unfinished} of its {} requests were still running when its window ended; they finished later (or were cancelled), so its latency statistics cover requests that outlived the window and its throughput counts only what completed inside it",
                s.step, s.load, s.counts.started
            ));
        }
        if s.unsent_arrivals > 0 {
            out.push(format!(
                "step {} (load {}): {} scheduled arrivals were not sent: they still waited for a --max-inflight slot when their phase ended (the server did not keep up with the offered rate; dispatching stops at the window's end)",
                s.step, s.load, s.unsent_arrivals
            ));
        }
        if s.partial {
            out.push(format!(
                "step {} was interrupted: its window is partial",
                s.step
            ));
        }
        if let Some(warning) = schedule_warning(s) {
            out.push(warning);
        }
    }
    let threshold = loadtest_run::RequestRow::BUFFERED_WARN_SHARE;
    let buffered: Vec<String> = steps
        .iter()
        .filter_map(|s| {
            let share = s.buffered_share.filter(|&v| v > threshold)?;
            Some(format!("step {} ({:.0} %)", s.step, share * 100.0))
        })
        .collect();
    if !buffered.is_empty() {
        out.push(format!(
            "responses arrived in one burst instead of a stream in {} (share of ok requests with ≥ 4 token events that came in ≤ 2 reads with TTFT ≥ 90 % of e2e; over {:.0} %: see buffered_share): likely a buffering proxy (nginx proxy_buffering on, some ingress controllers), a server that flushes its response at the end, or a CPU-starved server. For those requests TTFT is the whole generation time and ITL/TPOT are about 0: they do not measure prefill or decode speed",
            buffered.join(", "),
            threshold * 100.0
        ));
    }
}

/// Rate mode: sent against what the seeded schedule put in the window (not the nominal rate,
/// which a Poisson or gamma draw misses by chance), blaming the client or `--max-inflight`
/// only with the evidence of late starts.
fn schedule_warning(s: &StepSummary) -> Option<String> {
    let (offered, scheduled) = (s.offered_rps?, s.scheduled_rps?);
    if s.partial || scheduled <= 0.0 {
        return None;
    }
    let delay_p99_ms = s.sched_delay_s.map(|d| d.p99 * 1e3);
    let late = delay_p99_ms.is_some_and(|d| d > SCHED_DELAY_EVIDENCE_MS);
    let delay = delay_p99_ms.map_or_else(|| "unknown".to_owned(), |d| format!("{d:.0} ms"));
    if s.achieved_rps < 0.95 * scheduled && late {
        Some(format!(
            "step {} (rate {offered} req/s): {:.2} req/s were sent against {scheduled:.2} req/s scheduled in the window, with requests starting late (sched delay p99 {delay}): the server or --max-inflight could not keep the schedule",
            s.step, s.achieved_rps
        ))
    } else if s.achieved_rps > 1.05 * scheduled && late {
        Some(format!(
            "step {} (rate {offered} req/s): {:.2} req/s were sent against {scheduled:.2} req/s scheduled in the window: a backlog of late requests from before it (sched delay p99 {delay}) was sent in it",
            s.step, s.achieved_rps
        ))
    } else {
        None
    }
}

/// The sched-delay p99 above which requests count as having started late, ms.
const SCHED_DELAY_EVIDENCE_MS: f64 = 10.0;

/// Closed-loop steps whose ramp was lengthened so that their new connections could open at
/// `--connect-rate` before their measure window (see `SweepConfig::timeline`): the run took
/// longer than the flags alone say.
fn ramps_lengthened(c: &Collected<'_>, out: &mut Vec<String>) {
    let settings = &c.facts.settings;
    let Some(rate) = settings.connect_rate_per_s else {
        return;
    };
    for step in c.timeline.steps() {
        let ramp = step.ramp_len();
        if ramp > settings.ramp_s + std::time::Duration::from_millis(1) {
            out.push(format!(
                "step {} (load {}): its ramp took {:.2} s instead of {:.2} s so that its new connections could open at {rate} per second (--connect-rate) before its measure window began",
                step.index,
                step.load,
                ramp.as_secs_f64(),
                settings.ramp_s.as_secs_f64()
            ));
        }
    }
}

/// A percentage for a warning: `"unknown"` when it could not be read (absent, NaN or
/// infinite), never `NaN %`.
fn pct(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "unknown".to_owned(), |v| format!("{v:.0} %"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_percentage_is_unknown() {
        assert_eq!(pct(Some(42.4)), "42 %");
        assert_eq!(pct(None), "unknown");
        assert_eq!(pct(Some(f64::NAN)), "unknown");
        assert_eq!(pct(Some(f64::INFINITY)), "unknown");
    }
}
