//! What the sweep prints while it runs (stderr) and when it ends (stdout).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use loadtest_sweep::config::SweepConfig;
use loadtest_sweep::timeline::Timeline;
use loadtest_sweep::{LiveCounters, RunOutcome};

use crate::output;

/// Prints one status line every few seconds until aborted.
pub(crate) async fn report(config: SweepConfig, live: Arc<LiveCounters>) {
    let timeline = Timeline::new(
        &config.steps,
        config.warmup,
        config.ramp,
        config.step_duration,
        config.cooldown,
    );
    let start = Instant::now();
    let every = Duration::from_secs(5);
    let mut next = start + every;
    loop {
        tokio::time::sleep_until(next.into()).await;
        next += every;
        let elapsed = start.elapsed();
        let pos = timeline.at(elapsed);
        let load = timeline.steps().get(pos.step).map_or(0.0, |s| s.load);
        output::note(&format!(
            "[{:>6.1}s / {:.0}s] step {}/{} load {} {:<8} in-flight {:>5}  ok {:>7}  failed {:>5}  last TTFT {:.1} ms",
            elapsed.as_secs_f64(),
            timeline.end().as_secs_f64(),
            pos.step + 1,
            timeline.steps().len(),
            load,
            pos.phase.as_str(),
            live.inflight(),
            live.ok.load(Ordering::Relaxed),
            live.failed.load(Ordering::Relaxed),
            live.last_ttft_us.load(Ordering::Relaxed) as f64 / 1e3,
        ));
    }
}

/// Prints the per-step results and where the files are.
pub(crate) fn print_outcome(outcome: &RunOutcome) {
    output::line(&format!(
        "{:>8} {:>7} {:>7} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "load", "ok", "failed", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50"
    ));
    for s in &outcome.steps {
        let ms = |v: Option<f64>| v.map_or_else(String::new, |x| format!("{:.1}ms", x * 1e3));
        output::line(&format!(
            "{:>8} {:>7} {:>7} {:>8.2} {:>10.1} {:>10} {:>10} {:>10}{}",
            s.load,
            s.counts.ok,
            s.counts.failed(),
            s.rps,
            s.output_tokens_per_s,
            ms(s.ttft_s.map(|x| x.p50)),
            ms(s.ttft_s.map(|x| x.p99)),
            ms(s.tpot_s.map(|x| x.p50)),
            if s.partial { "  (partial)" } else { "" },
        ));
    }
    for w in &outcome.warnings {
        output::note(&format!("warning: {w}"));
    }
    output::line(&format!("results: {}", outcome.run_dir.display()));
}
