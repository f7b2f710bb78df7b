//! After the run: per-step summaries, server deltas and the whole-file outputs
//! (`step_summary.json`, `vllm_step_deltas.json`, the final `config.json`), then the report
//! (`summary.md`, `charts/`) rendered from them by `loadtest-report`.

use std::path::Path;

use hdrhistogram::Histogram;
use loadtest_prom::{GaugeWindow, StepDeltas};
use loadtest_run::{
    LatencyStats, LoadMode, RunFacts, ServerBlock, Settings, StepDeltasEntry, StepDeltasFile,
    StepSummary, StepSummaryFile, TargetFacts, TelemetryFacts, files, find_knee, find_saturation,
    tokens_per_joule, total_energy_j, write_json_atomic,
};

pub(crate) use crate::collected::Collected;
use crate::config::SweepConfig;
use crate::preflight::ServerInfo;
use crate::recorder::StepAccumulator;
use crate::scrape::Scraped;
use crate::stats::latency_from_histogram_us;
use crate::timeline::StepWindow;
use crate::warnings::collect_warnings;
use crate::windows::WindowObservation;
use crate::{RunOutcome, SweepError};

/// The facts of a run as config.json records them at its start.
pub(crate) fn run_facts(
    config: &SweepConfig,
    server: &ServerInfo,
    run_dir: &Path,
    started_at: time::OffsetDateTime,
) -> RunFacts {
    use crate::inputs::InputSource;
    let (input_mode, input_size, prompt_file_rows) = match &config.input {
        InputSource::FixedPrompt(_) => ("fixed-prompt", None, None),
        InputSource::PromptFile(rows) => ("prompt-file", None, Some(rows.len())),
        InputSource::Synthetic(spec) => ("synthetic", Some(spec.to_string()), None),
        InputSource::Custom(_) => ("custom", None, None),
        InputSource::Dataset(_) => ("dataset", None, None),
    };
    let token_counting = match (&config.input, &config.tokenizer) {
        (InputSource::Custom(_), _) => None,
        (_, Some(counter)) => Some(counter.facts()),
        (_, None) => Some(loadtest_run::TokenCounting::words()),
    };
    let dataset = match &config.input {
        InputSource::Dataset(pool) => Some(pool.facts().clone()),
        _ => None,
    };
    let input_source = match &config.input {
        InputSource::Custom(source) => Some(source.describe()),
        _ => None,
    };
    let client = &config.target.client;
    let prompt_text = match &config.input {
        InputSource::FixedPrompt(prompt) => prompt.as_text(),
        _ => None,
    };
    let secrets: Vec<&str> = client
        .api_key
        .iter()
        .map(String::as_str)
        .chain(
            client
                .headers
                .iter()
                .filter(|(name, _)| loadtest_client::is_sensitive(name))
                .map(|(_, value)| value.as_str()),
        )
        .filter(|s| !s.is_empty())
        .collect();
    let command_line = config
        .command_line
        .iter()
        .map(|arg| redact(arg, &secrets))
        .collect();
    RunFacts {
        command_line,
        telemetry: None,
        tool: format!("vllm-loadtest {}", env!("CARGO_PKG_VERSION")),
        started_at: rfc3339(started_at),
        finished_at: None,
        interrupted: false,
        run_dir: run_dir.to_owned(),
        target: TargetFacts {
            base_url: client.base_url.clone(),
            model: server.model.clone(),
            server_version: server.server_version.clone(),
            server_kind: server
                .server_kind
                .and_then(|k| serde_json::to_value(k).ok())
                .and_then(|v| v.as_str().map(str::to_owned)),
            endpoint: config.target.endpoint.to_string(),
            metrics_url: config.target.metrics_url.clone(),
            api_key: client.api_key.as_ref().map(|_| "<redacted>".to_owned()),
            headers: client.redacted_headers(),
        },
        settings: Settings {
            load_mode: config.load_mode,
            steps: config.steps.clone(),
            step_duration_s: config.step_duration,
            warmup_s: config.warmup,
            ramp_s: config.ramp,
            cooldown_s: config.cooldown,
            input_mode: input_mode.to_owned(),
            input_source,
            input_size,
            prompt_file_rows,
            prompt_text,
            prompt_file: config.prompt_file.clone(),
            extra_body: config.extra_body.clone(),
            max_output_tokens: config.max_output_tokens.to_string(),
            ignore_eos: config.ignore_eos,
            seed: config.seed,
            timeout_s: client.request_timeout,
            max_inflight: config.max_inflight,
            connect_rate_per_s: Some(config.connect_rate_per_s),
            shard: (config.shard.count() > 1).then_some(config.shard),
            start_at: config.start_at.map(crate::start_at::format_start_at),
            poll_interval_s: config.poll_interval,
            gpu: config.gpu.clone(),
            output_dir: config.output_dir.clone(),
            run_name: config.run_name.clone(),
            max_error_rate: config.max_error_rate,
            arrival: config.arrival,
            slo: config.slo.clone(),
            knee: config.knee,
            auto_stop: config.auto_stop,
            thresholds: config.thresholds.clone(),
            tags: config.tags.clone(),
            token_counting,
            dataset,
            shared_prefix: match (&config.input, config.shared_prefix) {
                (InputSource::Synthetic(_), Some(p)) => Some(loadtest_run::SharedPrefixFacts {
                    tokens: p.tokens,
                    groups: p.groups,
                }),
                _ => None,
            },
        },
    }
}

/// `facts` as config.json records them; `finished` marks the end of the run.
pub(crate) fn config_json(
    facts: &RunFacts,
    finished: Option<(time::OffsetDateTime, bool)>,
) -> RunFacts {
    let mut facts = facts.clone();
    if let Some((at, interrupted)) = finished {
        facts.finished_at = Some(rfc3339(at));
        facts.interrupted = interrupted;
    }
    facts
}

/// `text` with every occurrence of a secret replaced by `<redacted>`.
fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .fold(text.to_owned(), |t, secret| t.replace(secret, "<redacted>"))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Builds the summaries and writes every whole-file output.
pub(crate) fn finalize(c: Collected<'_>) -> Result<RunOutcome, SweepError> {
    let mut warnings = Vec::new();
    let mut summaries = Vec::new();
    let mut deltas_entries = Vec::new();
    let mut step_deltas: Vec<Option<(f64, f64, StepDeltas)>> = Vec::new();
    for (index, step) in c.timeline.steps().iter().enumerate() {
        let (Some(observed), Some(acc)) = (c.windows.get(index), c.recorded.steps.get(index))
        else {
            break; // the window never began
        };
        if c.auto_stopped.as_ref().is_some_and(|a| index > a.step) {
            break; // `--steps auto` stopped before this step counted
        }
        let deltas = c
            .scraped
            .as_ref()
            .and_then(|s| step_server_deltas(s, index));
        summaries.push(summarize_step(&c, step, observed, acc, deltas.as_ref()));
        step_deltas.push(deltas);
    }
    for (summary, deltas) in summaries.iter().zip(step_deltas) {
        if let Some((start_scrape_s, end_scrape_s, deltas)) = deltas {
            deltas_entries.push(StepDeltasEntry {
                step: summary.step,
                load: summary.load,
                start_scrape_s,
                end_scrape_s,
                deltas,
            });
        }
    }
    collect_warnings(&c, &summaries, &mut warnings);
    let finished = time::OffsetDateTime::now_utc();
    let interrupted = c.interrupted_at.is_some();
    let mut facts = config_json(&c.facts, Some((finished, interrupted)));
    facts.telemetry = Some(TelemetryFacts {
        metrics_scrapes_ok: c.scraped.as_ref().map_or(0, |s| s.ok),
        metrics_scrapes_failed: c.scraped.as_ref().map_or(0, |s| s.failed),
        metrics_first_error: c.scraped.as_ref().and_then(|s| s.first_failure.clone()),
        gpu_samples: c.gpu.samples,
        gpu_unavailable: (facts.settings.gpu.enabled && c.gpu.samples == 0).then(|| {
            c.gpu
                .warnings
                .first()
                .cloned()
                .unwrap_or_else(|| "nvidia-smi delivered no sample".to_owned())
        }),
    });
    let settings = &facts.settings;
    let knee = find_knee(&summaries, &settings.knee);
    let saturation = find_saturation(&summaries);
    let slo_max_load = summaries
        .iter()
        .filter(|s| s.slo.as_ref().is_some_and(|r| r.met))
        .map(|s| s.load)
        .reduce(f64::max);
    let (verdicts, thresholds_unmatched) =
        loadtest_run::evaluate_thresholds(&facts.settings.thresholds, &summaries);
    for (summary, verdicts) in summaries.iter_mut().zip(verdicts) {
        summary.thresholds = verdicts;
    }
    let file = StepSummaryFile {
        steps: summaries,
        warnings: warnings.clone(),
        knee,
        slo_max_load,
        auto_stopped: c.auto_stopped.clone(),
        saturation,
        thresholds_unmatched,
    };
    let dir = &c.run_dir;
    write_json_atomic(&dir.join(files::STEP_SUMMARY), &file)?;
    write_json_atomic(
        &dir.join(files::STEP_DELTAS),
        &StepDeltasFile {
            steps: deltas_entries,
        },
    )?;
    write_json_atomic(&dir.join(files::CONFIG), &facts)?;
    write_json_atomic(
        &dir.join(loadtest_run::RESULT_JSON),
        &loadtest_run::result_rows(&facts, &file.steps),
    )?;
    // summary.md and the charts, from the files just written: the one renderer, so an
    // embedding program gets the same report as the command line. A file that cannot be
    // written is an output error like any other; a report that cannot be drawn (a chart, a
    // read-back) leaves the data files complete, so it is a warning (`vllm-loadtest report`
    // retries it).
    match loadtest_report::render_run(dir) {
        Ok(_) => {}
        Err(err @ loadtest_report::ReportError::Write { .. }) => return Err(err.into()),
        Err(err) => {
            tracing::warn!(%err, "summary.md could not be rendered");
            warnings.push(format!(
                "summary.md and the charts could not be rendered ({err}); the JSON files are complete: `vllm-loadtest report {}` retries",
                dir.display()
            ));
        }
    }
    let measured: u64 = file.steps.iter().map(|s| s.counts.started).sum();
    let failed: u64 = file.steps.iter().map(|s| s.counts.failed()).sum();
    let cancelled: u64 = file.steps.iter().map(|s| s.counts.cancelled).sum();
    Ok(RunOutcome {
        run_dir: c.run_dir.clone(),
        steps: file.steps,
        interrupted,
        measured_requests: measured,
        failed_requests: failed,
        cancelled_requests: cancelled,
        rows_written: c.recorded.rows_written,
        csv_rows_not_written: c.scraped.as_ref().map_or(0, |s| s.rows_not_written)
            + c.gpu.rows_not_written,
        warnings,
        thresholds_unmatched: file.thresholds_unmatched,
    })
}

/// One step's summary from what the run collected for it.
fn summarize_step(
    c: &Collected<'_>,
    step: &StepWindow,
    observed: &WindowObservation,
    acc: &StepAccumulator,
    deltas: Option<&(f64, f64, StepDeltas)>,
) -> StepSummary {
    let settings = &c.facts.settings;
    let planned_end = step.measure_end;
    let window_end = match c.interrupted_at {
        Some(at) if at < planned_end => at.max(step.measure_start),
        _ => planned_end,
    };
    let window_s = window_end
        .saturating_sub(step.measure_start)
        .as_secs_f64()
        .max(1e-9);
    let server = deltas.map(|(_, _, d)| ServerBlock::from_deltas(d));
    let exact = |values: &Vec<f64>| LatencyStats::from_values(&mut values.clone());
    let from_hist = |hists: &[std::sync::Mutex<Histogram<u64>>]| {
        hists
            .get(step.index)
            .and_then(|m| m.lock().ok())
            .and_then(|h| latency_from_histogram_us(&h))
    };
    let gpu = c.gpu.steps.get(step.index).cloned().unwrap_or_default();
    let generation_tokens = server
        .as_ref()
        .and_then(|s| s.generation_tokens)
        .map_or(acc.output_tokens_in_window, |t| t as u64);
    let tokens_per_joule =
        total_energy_j(&gpu).and_then(|j| tokens_per_joule(generation_tokens, j));
    let rate_mode = settings.load_mode == LoadMode::Rate;
    let mut summary = StepSummary {
        step: step.index,
        load: step.load,
        load_mode: settings.load_mode.as_str().to_owned(),
        window_start_s: step.measure_start.as_secs_f64(),
        window_end_s: window_end.as_secs_f64(),
        window_s,
        // One fact for both the console's step line and this file: the window watcher saw it
        // end early (or the interrupt came before its planned end).
        partial: observed.cut_short || window_end < planned_end,
        counts: acc.counts,
        rps: acc.completed_in_window as f64 / window_s,
        output_tokens_per_s: acc.output_tokens_in_window as f64 / window_s,
        input_tokens_per_s: acc.input_tokens_in_window as f64 / window_s,
        completed_in_window: acc.completed_in_window,
        usage_missing: acc.usage_missing,
        ttft_s: exact(&acc.ttft_s),
        e2e_s: exact(&acc.e2e_s),
        tpot_s: exact(&acc.tpot_s),
        itl_s: from_hist(c.itl),
        inflight: observed.inflight,
        offered_rps: rate_mode.then_some(step.load),
        achieved_rps: acc.sent_in_window as f64 / window_s,
        // Every measure-phase arrival the dispatcher reached has a lateness sample.
        scheduled_rps: rate_mode
            .then(|| from_hist(c.dispatch_lag).map_or(0, |l| l.count) as f64 / window_s),
        sched_delay_s: exact(&acc.sched_delay_s),
        ttft_from_sched_s: exact(&acc.ttft_from_sched_s),
        e2e_from_sched_s: exact(&acc.e2e_from_sched_s),
        dispatch_lag_s: if rate_mode {
            from_hist(c.dispatch_lag)
        } else {
            None
        },
        slo: None,
        errors: acc.error_summary(),
        server,
        gpu,
        tokens_per_joule,
        client: observed.client,
        ttft_server_aligned_s: exact(&acc.ttft_server_aligned_s),
        e2e_server_aligned_s: exact(&acc.e2e_server_aligned_s),
        unfinished_at_window_end: c.window_ends.get(step.index).map(|e| e.unfinished),
        buffered_share: (acc.burst_eligible > 0)
            .then(|| acc.burst_delivered as f64 / acc.burst_eligible as f64),
        thresholds: Vec::new(),
        rows_not_written: acc.rows_not_written,
        unsent_arrivals: c
            .window_ends
            .get(step.index)
            .map_or(0, |e| e.unsent_arrivals),
        prompt_overhead_tokens: (acc.prompt_overhead_n > 0)
            .then(|| acc.prompt_overhead_sum as f64 / acc.prompt_overhead_n as f64),
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

fn step_server_deltas(scraped: &Scraped, index: usize) -> Option<(f64, f64, StepDeltas)> {
    let scrapes = scraped.steps.get(index)?;
    let (start_at, start) = scrapes.first.as_ref()?;
    let (end_at, end) = scrapes.last.as_ref()?;
    if end_at <= start_at {
        return None;
    }
    let window = end_at.saturating_sub(*start_at);
    let gauges: &GaugeWindow = &scrapes.gauges;
    let deltas = StepDeltas::compute_with_restart(start, end, gauges, window, scrapes.restarted);
    Some((start_at.as_secs_f64(), end_at.as_secs_f64(), deltas))
}
