//! The one place a step's summary, the sweep's verdicts and the whole-file outputs are made:
//! `finalize` calls it with what a run collected, `merge` with what the shards of a run
//! collected, so a merged run's numbers follow the same rules as a single run's.

use std::path::Path;

use hdrhistogram::Histogram;
use loadtest_run::{
    AutoStopped, ClientHealth, GpuStepStats, InflightStats, LatencyStats, LoadMode, RunFacts,
    ServerBlock, Settings, StepDeltasFile, StepHistograms, StepHistogramsFile, StepSummary,
    StepSummaryFile, files, sweep_verdicts, tokens_per_joule, total_energy_j, write_json_atomic,
};

use crate::SweepError;
use crate::recorder::StepAccumulator;
use crate::stats::{latency_from_histogram_us, store_histogram_us};

/// What one step's summary is built from: the accumulator of its requests' rows, its
/// histograms, and what was observed of its window, server and GPUs.
pub(crate) struct StepParts<'a> {
    pub index: usize,
    pub load: f64,
    pub window_start_s: f64,
    pub window_end_s: f64,
    /// The window's length: the divisor of every rate.
    pub window_s: f64,
    pub partial: bool,
    pub acc: &'a StepAccumulator,
    /// Pooled inter-token gaps, µs.
    pub itl: Option<&'a Histogram<u64>>,
    /// Rate mode: the dispatcher's lateness per measure-phase arrival, µs.
    pub dispatch_lag: Option<&'a Histogram<u64>>,
    pub inflight: Option<InflightStats>,
    pub client: ClientHealth,
    pub server: Option<ServerBlock>,
    pub gpu: Vec<GpuStepStats>,
    pub unfinished_at_window_end: Option<u64>,
    pub unsent_arrivals: u64,
}

/// One step's summary (its verdicts against the thresholds come later, in [`summary_file`]).
pub(crate) fn build_step_summary(settings: &Settings, parts: StepParts<'_>) -> StepSummary {
    let StepParts {
        index,
        load,
        window_start_s,
        window_end_s,
        window_s,
        partial,
        acc,
        itl,
        dispatch_lag,
        inflight,
        client,
        server,
        gpu,
        unfinished_at_window_end,
        unsent_arrivals,
    } = parts;
    let exact = |values: &Vec<f64>| LatencyStats::from_values(&mut values.clone());
    let from_hist = |h: Option<&Histogram<u64>>| h.and_then(latency_from_histogram_us);
    let generation_tokens = server
        .as_ref()
        .and_then(|s| s.generation_tokens)
        .map_or(acc.output_tokens_in_window, |t| t as u64);
    let tokens_per_joule =
        total_energy_j(&gpu).and_then(|j| tokens_per_joule(generation_tokens, j));
    let rate_mode = settings.load_mode == LoadMode::Rate;
    let (turns, conversations_aborted) = acc.turns.summary(settings.turns);
    let mut summary = StepSummary {
        step: index,
        load,
        load_mode: settings.load_mode.as_str().to_owned(),
        window_start_s,
        window_end_s,
        window_s,
        partial,
        ended_by: match settings.num_prompts {
            Some(_) => loadtest_run::StepEnd::Count,
            None => loadtest_run::StepEnd::Window,
        },
        counts: acc.counts,
        rps: acc.completed_in_window as f64 / window_s,
        output_tokens_per_s: acc.output_tokens_in_window as f64 / window_s,
        input_tokens_per_s: acc.input_tokens_in_window as f64 / window_s,
        completed_in_window: acc.completed_in_window,
        usage_missing: acc.usage_missing,
        ttft_s: exact(&acc.ttft_s),
        e2e_s: exact(&acc.e2e_s),
        tpot_s: exact(&acc.tpot_s),
        itl_s: from_hist(itl),
        inflight,
        offered_rps: rate_mode.then_some(load),
        achieved_rps: acc.sent_in_window as f64 / window_s,
        // Every measure-phase arrival the dispatcher reached has a lateness sample.
        scheduled_rps: rate_mode
            .then(|| from_hist(dispatch_lag).map_or(0, |l| l.count) as f64 / window_s),
        sched_delay_s: exact(&acc.sched_delay_s),
        ttft_from_sched_s: exact(&acc.ttft_from_sched_s),
        e2e_from_sched_s: exact(&acc.e2e_from_sched_s),
        dispatch_lag_s: if rate_mode {
            from_hist(dispatch_lag)
        } else {
            None
        },
        slo: None,
        errors: acc.error_summary(),
        server,
        gpu,
        tokens_per_joule,
        client,
        ttft_server_aligned_s: exact(&acc.ttft_server_aligned_s),
        e2e_server_aligned_s: exact(&acc.e2e_server_aligned_s),
        unfinished_at_window_end,
        buffered_share: (acc.burst_eligible > 0)
            .then(|| acc.burst_delivered as f64 / acc.burst_eligible as f64),
        thresholds: Vec::new(),
        rows_not_written: acc.rows_not_written,
        unsent_arrivals,
        prompt_overhead_tokens: (acc.prompt_overhead_n > 0)
            .then(|| acc.prompt_overhead_sum as f64 / acc.prompt_overhead_n as f64),
        turns,
        conversations_aborted,
    };
    // Requests that failed on the client itself (out of file descriptors) taint the step.
    if acc.counts.client_error > 0 {
        summary.client.client_errors = acc.counts.client_error;
        summary.client.verdict = summary.client.judge();
        summary.client.bound = summary.client.verdict.is_client_bound();
    }
    summary.slo = settings
        .slo
        .as_ref()
        .map(|slo| slo.evaluate(acc.slo_good, window_s, &summary));
    summary
}

/// The histograms of one step as `step_histograms.json` stores them.
pub(crate) fn step_histograms(
    step: usize,
    itl: Option<&Histogram<u64>>,
    dispatch_lag: Option<&Histogram<u64>>,
) -> StepHistograms {
    StepHistograms {
        step,
        itl_us: itl.map(store_histogram_us),
        dispatch_lag_us: dispatch_lag.map(store_histogram_us),
    }
}

/// `step_summary.json`: the steps with the sweep's verdicts — knee, saturation, the highest
/// load meeting `--slo`, the `--fail-on` thresholds — judged by the one rule of each.
pub(crate) fn summary_file(
    mut summaries: Vec<StepSummary>,
    settings: &Settings,
    warnings: Vec<String>,
    auto_stopped: Option<AutoStopped>,
) -> StepSummaryFile {
    let (knee, saturation) = sweep_verdicts(&summaries, &settings.arrival, &settings.knee);
    let slo_max_load = summaries
        .iter()
        .filter(|s| s.slo.as_ref().is_some_and(|r| r.met))
        .map(|s| s.load)
        .reduce(f64::max);
    let (verdicts, thresholds_unmatched) =
        loadtest_run::evaluate_thresholds(&settings.thresholds, &summaries);
    for (summary, verdicts) in summaries.iter_mut().zip(verdicts) {
        summary.thresholds = verdicts;
    }
    StepSummaryFile {
        steps: summaries,
        warnings,
        knee,
        slo_max_load,
        auto_stopped,
        saturation,
        thresholds_unmatched,
    }
}

/// Writes the whole-file outputs into the run folder `dir` — step_summary.json,
/// vllm_step_deltas.json, step_histograms.json, config.json, result.json — then renders
/// summary.md and the charts from them with the one renderer (`loadtest-report`). A report
/// that cannot be drawn leaves the data files complete: a warning is added to `warnings`.
pub(crate) fn write_outputs(
    dir: &Path,
    facts: &RunFacts,
    file: &StepSummaryFile,
    deltas: &StepDeltasFile,
    histograms: &StepHistogramsFile,
    warnings: &mut Vec<String>,
) -> Result<(), SweepError> {
    write_json_atomic(&dir.join(files::STEP_SUMMARY), file)?;
    write_json_atomic(&dir.join(files::STEP_DELTAS), deltas)?;
    write_json_atomic(&dir.join(files::STEP_HISTOGRAMS), histograms)?;
    write_json_atomic(&dir.join(files::CONFIG), facts)?;
    write_json_atomic(
        &dir.join(loadtest_run::RESULT_JSON),
        &loadtest_run::result_rows(facts, &file.steps),
    )?;
    // summary.md and the charts, from the files just written: the one renderer, so an
    // embedding program gets the same report as the command line. A file that cannot be
    // written is an output error like any other; a report that cannot be drawn (a chart, a
    // read-back) leaves the data files complete, so it is a warning (`vllm-loadtest report`
    // retries it).
    match loadtest_report::render_run(dir) {
        Ok(_) => Ok(()),
        Err(err @ loadtest_report::ReportError::Write { .. }) => Err(err.into()),
        Err(err) => {
            tracing::warn!(%err, "summary.md could not be rendered");
            warnings.push(format!(
                "summary.md and the charts could not be rendered ({err}); the JSON files are complete: `vllm-loadtest report {}` retries",
                dir.display()
            ));
            Ok(())
        }
    }
}
