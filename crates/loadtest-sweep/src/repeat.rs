//! `--repeat N`: the whole sweep N times into one parent run folder — each trial a complete
//! run folder `trial-1/` … `trial-N/` (preflight and warmup afresh, the same config and seed,
//! so the trials differ only by the server's and the machine's noise) — then `trials.json`
//! and `trials.md` with each step's mean and spread across trials.

use std::path::PathBuf;
use std::sync::Arc;

use loadtest_run::{TRIALS_JSON, TrialEntry, TrialsFile, aggregate_trials, write_atomic};

use crate::config::SweepConfig;
use crate::engine::{RunOptions, run_sweep};
use crate::run_dir::{create_exact_run_dir, create_run_dir};
use crate::{LiveCounters, RunOutcome, SweepError};

/// The markdown twin of `trials.json`.
pub const TRIALS_MD: &str = "trials.md";

/// The folder of trial `k` (1-based) inside the parent run folder.
pub fn trial_dir_name(k: u32) -> String {
    format!("trial-{k}")
}

/// Runs `config` `trials` times (see the module). The first trial uses `options` as given
/// (its live counters, its sink); later trials get fresh counters and no sink. A Ctrl-C
/// ([`RunOptions::cancel`]) ends the trial running and skips the rest. `trials == 1` is a
/// plain [`run_sweep`] (no subfolder).
///
/// The outcome merges the trials: `run_dir` is the parent folder, `steps` every trial's
/// steps in order, the counts summed, warnings prefixed with their trial.
///
/// # Errors
/// As [`run_sweep`], for the first trial that fails; the parent folder cannot be created;
/// `trials.json` / `trials.md` cannot be written.
pub async fn run_trials(
    config: SweepConfig,
    trials: u32,
    options: RunOptions,
) -> Result<RunOutcome, SweepError> {
    if trials <= 1 {
        return run_sweep(config, options).await;
    }
    config.validate()?;
    let parent = match &config.run_dir {
        Some(dir) => create_exact_run_dir(dir)?,
        None => {
            let stamp = time::OffsetDateTime::now_utc()
                .format(time::macros::format_description!(
                    "[year][month][day]T[hour][minute][second]Z"
                ))
                .unwrap_or_else(|_| "run".to_owned());
            create_run_dir(&config.output_dir, &config.run_name, &stamp)?
        }
    };
    let cancel = options.cancel.clone();
    let mut first = Some(options);
    let mut outcomes: Vec<RunOutcome> = Vec::new();
    let mut entries = Vec::new();
    for k in 1..=trials {
        if cancel.is_cancelled() {
            break;
        }
        let mut trial = config.clone();
        trial.run_dir = Some(parent.join(trial_dir_name(k)));
        let opts = first.take().unwrap_or_else(|| RunOptions {
            cancel: cancel.clone(),
            live: Arc::new(LiveCounters::default()),
            sink: None,
        });
        tracing::info!(trial = k, of = trials, "trial starting");
        let outcome = match run_sweep(trial, opts).await {
            Ok(o) => o,
            Err(SweepError::Interrupted) if !outcomes.is_empty() => break,
            Err(e) => return Err(e),
        };
        entries.push(TrialEntry {
            trial: k,
            run_dir: trial_dir_name(k),
            interrupted: outcome.interrupted,
            steps: outcome.steps.len(),
        });
        let stop = outcome.interrupted;
        outcomes.push(outcome);
        if stop {
            break;
        }
    }
    let per_trial: Vec<Vec<loadtest_run::StepSummary>> =
        outcomes.iter().map(|o| o.steps.clone()).collect();
    let file = TrialsFile {
        repeat: trials,
        trials: entries,
        steps: aggregate_trials(&per_trial),
    };
    loadtest_run::write_json_atomic(&parent.join(TRIALS_JSON), &file)?;
    write_atomic(
        &parent.join(TRIALS_MD),
        loadtest_report::render_trials(&file).as_bytes(),
    )?;
    Ok(merge(parent, outcomes))
}

fn merge(parent: PathBuf, outcomes: Vec<RunOutcome>) -> RunOutcome {
    let mut merged = RunOutcome {
        run_dir: parent,
        steps: Vec::new(),
        interrupted: false,
        measured_requests: 0,
        failed_requests: 0,
        cancelled_requests: 0,
        rows_written: 0,
        csv_rows_not_written: 0,
        warnings: Vec::new(),
        thresholds_unmatched: Vec::new(),
    };
    for (i, o) in outcomes.into_iter().enumerate() {
        let k = i + 1;
        // The console names the trial of a failed threshold.
        merged.steps.extend(o.steps.into_iter().map(|mut s| {
            for v in &mut s.thresholds {
                v.expr = format!("{} (trial {k})", v.expr);
            }
            s
        }));
        merged.interrupted |= o.interrupted;
        merged.measured_requests += o.measured_requests;
        merged.failed_requests += o.failed_requests;
        merged.cancelled_requests += o.cancelled_requests;
        merged.rows_written += o.rows_written;
        merged.csv_rows_not_written += o.csv_rows_not_written;
        merged
            .warnings
            .extend(o.warnings.into_iter().map(|w| format!("trial {k}: {w}")));
        merged.thresholds_unmatched.extend(
            o.thresholds_unmatched
                .into_iter()
                .map(|e| format!("{e} (trial {k})")),
        );
    }
    merged
}
