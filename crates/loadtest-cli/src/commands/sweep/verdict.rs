//! The exit code of a finished run, and the line that explains a failing one.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use loadtest_sweep::RunOutcome;

use crate::output;

/// Exit code when the run finished but nothing succeeded, or failures exceeded
/// `--max-error-rate`.
pub(crate) const EXIT_FAILURES: u8 = 1;

/// Exit code when records were lost: rows of requests.jsonl not written (a full disk). The
/// same code as a run folder that could not be written at all.
pub(crate) const EXIT_RECORDS_LOST: u8 = 2;

/// The exit code of a finished (not interrupted) run: copies `result.json` to `--json-out`,
/// then prints one `error:` line per reason it fails — nothing succeeded, `--max-error-rate`,
/// each failed `--fail-on` threshold — and returns [`EXIT_FAILURES`] when there is any.
pub(crate) fn exit_code(
    outcome: &RunOutcome,
    max_error_rate: Option<f64>,
    json_out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = json_out {
        copy_result_json(outcome, path)?;
    }
    let mut reasons: Vec<String> = failure(outcome, max_error_rate).into_iter().collect();
    reasons.extend(outcome.threshold_failures());
    for why in &reasons {
        output::note(&format!("error: {why}"));
    }
    let lost = outcome.rows_not_written();
    if lost > 0 {
        output::note(&format!(
            "error: {lost} row(s) of requests.jsonl were not written (a write error: see the warnings); the summaries still count them"
        ));
    }
    let csv_lost = outcome.csv_rows_not_written;
    if csv_lost > 0 {
        output::note(&format!(
            "error: {csv_lost} row(s) of vllm_metrics.csv / gpu_metrics.csv were not written (a write error: see the warnings)"
        ));
    }
    if lost > 0 || csv_lost > 0 {
        return Ok(ExitCode::from(EXIT_RECORDS_LOST));
    }
    Ok(if reasons.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURES)
    })
}

/// `--json-out`: the run's `result.json` (with `--repeat`, every trial's rows, each with a
/// `trial` field) written to `path`.
fn copy_result_json(outcome: &RunOutcome, path: &Path) -> anyhow::Result<()> {
    let single = outcome.run_dir.join(loadtest_run::RESULT_JSON);
    let bytes = if single.is_file() {
        std::fs::read(&single).with_context(|| format!("cannot read {}", single.display()))?
    } else {
        let mut rows = Vec::new();
        for k in 1.. {
            let dir = outcome
                .run_dir
                .join(loadtest_sweep::repeat::trial_dir_name(k));
            let file = dir.join(loadtest_run::RESULT_JSON);
            if !file.is_file() {
                break;
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let trial_rows: Vec<serde_json::Value> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a result.json", file.display()))?;
            for mut row in trial_rows {
                if let Some(obj) = row.as_object_mut() {
                    obj.insert("trial".to_owned(), serde_json::json!(k));
                }
                rows.push(row);
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&rows)?;
        bytes.push(b'\n');
        bytes
    };
    loadtest_run::write_atomic(path, &bytes)
        .with_context(|| format!("cannot write --json-out {}", path.display()))?;
    Ok(())
}

/// Why a finished (not interrupted) run fails: `None` when it passes.
fn failure(outcome: &RunOutcome, max_error_rate: Option<f64>) -> Option<String> {
    let ok: u64 = outcome.steps.iter().map(|s| s.counts.ok).sum();
    if ok == 0 {
        return Some(nothing_succeeded(outcome));
    }
    let max = max_error_rate?;
    (outcome.error_rate() > max).then(|| {
        format!(
            "{:.1} % of measured requests failed, above --max-error-rate {max}{}",
            outcome.error_rate() * 100.0,
            dominant_error(outcome)
                .map(|e| format!("; most often {e}"))
                .unwrap_or_default()
        )
    })
}

fn nothing_succeeded(outcome: &RunOutcome) -> String {
    if outcome.measured_requests == 0 {
        return "no measured request was started: the steps ended before any request could (check --step-duration-s and --steps)".to_owned();
    }
    let mut line = format!(
        "none of the {} measured requests succeeded",
        outcome.measured_requests
    );
    if let Some(e) = dominant_error(outcome) {
        line.push_str(&format!("; most often {e}"));
    }
    line
}

/// The most frequent failure over all steps: `http_error ×12, e.g. "HTTP 401: …"`, with a
/// hint where the cause is clear.
fn dominant_error(outcome: &RunOutcome) -> Option<String> {
    // status → (count, message → count)
    let mut by_status: BTreeMap<&str, (u64, BTreeMap<&str, u64>)> = BTreeMap::new();
    for step in &outcome.steps {
        for e in &step.errors {
            let entry = by_status.entry(e.status.as_str()).or_default();
            entry.0 += e.count;
            if let Some(m) = &e.top_message {
                *entry.1.entry(m.as_str()).or_default() += e.top_message_count;
            }
        }
    }
    let (status, (count, messages)) = by_status
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| b.0.cmp(a.0)))?;
    let message = messages
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(m, _)| m);
    let mut text = format!("{status} ×{count}");
    if let Some(m) = message {
        text.push_str(&format!(", e.g. {:?}", loadtest_client::sanitize_error(m)));
        text.push_str(hint(m));
    }
    Some(text)
}

/// Advice for the failures whose cause is known.
fn hint(message: &str) -> &'static str {
    if message.starts_with("HTTP 401") || message.starts_with("HTTP 403") {
        " — the server refused the credentials: check --api-key / OPENAI_API_KEY"
    } else if message.starts_with("HTTP 404") {
        " — check --base-url, --endpoint and --model"
    } else if message.starts_with("HTTP 400")
        && (message.contains("context length") || message.contains("maximum context"))
    {
        " — the prompt plus max_tokens exceed the model's context: lower --input-size or --max-output-tokens"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_flag_to_check() {
        assert!(hint("HTTP 401: Unauthorized").contains("--api-key / OPENAI_API_KEY"));
        assert!(hint("HTTP 403: Forbidden").contains("--api-key"));
        assert!(
            hint("HTTP 400: This model's maximum context length is 2048 tokens")
                .contains("--max-output-tokens")
        );
        assert_eq!(hint("HTTP 500: boom"), "");
    }
}
