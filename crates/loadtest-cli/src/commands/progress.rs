//! What the sweep prints when it ends (stdout); `live.rs` shows progress while it runs.

use loadtest_sweep::RunOutcome;

use crate::output;

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
