//! After the run: per-step summaries, server deltas and the whole-file outputs
//! (`step_summary.json`, `vllm_step_deltas.json`, the final `config.json`), then the report
//! (`summary.md`, `charts/`) rendered from them by `loadtest-report`.

use std::path::Path;

use hdrhistogram::Histogram;
use loadtest_prom::{GaugeWindow, StepDeltas};
use loadtest_run::{
    LoadMode, RunFacts, ServerBlock, Settings, StepDeltasEntry, StepDeltasFile, StepHistograms,
    StepHistogramsFile, StepSummary, TargetFacts, TelemetryFacts,
};

pub(crate) use crate::collected::Collected;
use crate::config::SweepConfig;
use crate::preflight::ServerInfo;
use crate::recorder::StepAccumulator;
use crate::scrape::Scraped;
use crate::summarize::{
    StepParts, build_step_summary, step_histograms, summary_file, write_outputs,
};
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
        InputSource::Trace(_) => ("trace", None, None),
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
        merged_from: Vec::new(),
        merge_notes: Vec::new(),
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
            num_prompts: config.num_prompts,
            warmup_requests: config.warmup_requests.filter(|&w| w > 0),
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
            http_client: Some(client.effective_transport().as_str().to_owned()),
            client_threads: crate::health::runtime_workers(),
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
            trace: match &config.input {
                InputSource::Trace(trace) => Some(trace.facts().clone()),
                _ => None,
            },
            turns: config.conversations.as_ref().map(|c| c.turns),
            think_time_s: config
                .conversations
                .as_ref()
                .map(|c| c.think_time.to_string()),
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
    let mut histograms = Vec::new();
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
        let (summary, hists) = summarize_step(&c, step, observed, acc, deltas.as_ref());
        summaries.push(summary);
        histograms.push(hists);
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
    let file = summary_file(
        summaries,
        &facts.settings,
        warnings.clone(),
        c.auto_stopped.clone(),
    );
    write_outputs(
        &c.run_dir,
        &facts,
        &file,
        &StepDeltasFile {
            steps: deltas_entries,
        },
        &StepHistogramsFile { steps: histograms },
        &mut warnings,
    )?;
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

/// One step's summary, and its histograms as stored, from what the run collected for it.
fn summarize_step(
    c: &Collected<'_>,
    step: &StepWindow,
    observed: &WindowObservation,
    acc: &StepAccumulator,
    deltas: Option<&(f64, f64, StepDeltas)>,
) -> (StepSummary, StepHistograms) {
    let planned_end = step.measure_end;
    let window_end = match c.interrupted_at {
        Some(at) if at < planned_end => at.max(step.measure_start),
        _ => planned_end,
    };
    let window_s = window_end
        .saturating_sub(step.measure_start)
        .as_secs_f64()
        .max(1e-9);
    fn lock(
        hists: &[std::sync::Mutex<Histogram<u64>>],
        index: usize,
    ) -> Option<std::sync::MutexGuard<'_, Histogram<u64>>> {
        hists.get(index).and_then(|m| m.lock().ok())
    }
    let itl = lock(c.itl, step.index);
    let rate_mode = c.facts.settings.load_mode == LoadMode::Rate;
    let dispatch_lag = if rate_mode {
        lock(c.dispatch_lag, step.index)
    } else {
        None
    };
    let summary = build_step_summary(
        &c.facts.settings,
        StepParts {
            index: step.index,
            load: step.load,
            window_start_s: step.measure_start.as_secs_f64(),
            window_end_s: window_end.as_secs_f64(),
            window_s,
            // One fact for both the console's step line and this file: the window watcher
            // saw it end early (or the interrupt came before its planned end).
            partial: observed.cut_short || window_end < planned_end,
            acc,
            itl: itl.as_deref(),
            dispatch_lag: dispatch_lag.as_deref(),
            inflight: observed.inflight,
            client: observed.client,
            server: deltas.map(|(_, _, d)| ServerBlock::from_deltas(d)),
            gpu: c.gpu.steps.get(step.index).cloned().unwrap_or_default(),
            unfinished_at_window_end: c.window_ends.get(step.index).map(|e| e.unfinished),
            unsent_arrivals: c
                .window_ends
                .get(step.index)
                .map_or(0, |e| e.unsent_arrivals),
        },
    );
    let hists = step_histograms(step.index, itl.as_deref(), dispatch_lag.as_deref());
    (summary, hists)
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
