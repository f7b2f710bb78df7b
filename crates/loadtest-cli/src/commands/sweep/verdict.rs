//! The exit code of a finished run, and the line that explains a failing one.

use std::collections::BTreeMap;

use loadtest_sweep::RunOutcome;

/// Exit code when the run finished but nothing succeeded, or failures exceeded
/// `--max-error-rate`.
pub(crate) const EXIT_FAILURES: u8 = 1;

/// Why a finished (not interrupted) run fails: `None` when it passes.
pub(crate) fn failure(outcome: &RunOutcome, max_error_rate: Option<f64>) -> Option<String> {
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
