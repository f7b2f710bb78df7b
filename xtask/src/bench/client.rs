//! One client run: the real sweep (`vllm-loadtest --base-url … --steps C`) as a separate
//! process, measured from outside, and what its run folder says.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::proc::{Usage, run_measured_with};

/// How long after the warmup's nominal end the window is taken to have started.
const WINDOW_START_SLACK: Duration = Duration::from_millis(100);

/// The prompt every bench request sends (8 words, so 8 prompt tokens for the simulator).
pub const PROMPT: &str = "Tell me a long story about a lighthouse keeper.";
/// Output tokens per request (`--max-output-tokens`, with `--ignore-eos`).
pub const OUTPUT_TOKENS: u32 = 64;

/// How one client run is shaped.
#[derive(Debug, Clone)]
pub struct ClientRun {
    pub concurrency: u32,
    pub warmup: Duration,
    pub step: Duration,
    /// `--run-name`, unique in `out_dir`.
    pub name: String,
    pub out_dir: PathBuf,
}

/// What the client run measured.
#[derive(Debug, Clone)]
pub struct ClientResult {
    pub usage: Usage,
    /// Token events over every request of the run (`chunks` summed over requests.jsonl).
    pub events: u64,
    pub requests: u64,
    /// Requests that did not end `ok`, with the first error seen.
    pub failed: u64,
    pub first_error: Option<String>,
    /// The step's figures (step_summary.json), ms.
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub itl_p50_ms: Option<f64>,
    pub itl_p99_ms: Option<f64>,
    /// Token events received inside the measure window ÷ its length (each request's events
    /// spread evenly between its first and last, as the fixed profile sends them).
    pub events_per_s: Option<f64>,
    pub inflight_max: Option<f64>,
    pub bound: Option<bool>,
    /// The health block's `stamps_late` (false under kernel receive stamps, else ticker lag
    /// p99 over 0.5 ms).
    pub stamps_late: Option<bool>,
    pub cpu_pct: Option<f64>,
    pub sched_lag_p99_ms: Option<f64>,
    pub run_dir: PathBuf,
}

/// Runs the sweep against `base_url` and reads its run folder. `at_window` is called about
/// when the measure window starts (after the warmup).
pub fn run(
    bin: &Path,
    base_url: &str,
    run: &ClientRun,
    at_window: impl FnOnce() -> Result<()>,
) -> Result<ClientResult> {
    std::fs::create_dir_all(&run.out_dir)?;
    let mut cmd = Command::new(bin);
    cmd.args(["--base-url", base_url])
        .args(["--steps", &run.concurrency.to_string()])
        .args(["--step-duration-s", &format!("{}", run.step.as_secs_f64())])
        .args(["--warmup-s", &format!("{}", run.warmup.as_secs_f64())])
        .args(["--max-output-tokens", &OUTPUT_TOKENS.to_string()])
        .arg("--ignore-eos")
        .args(["--prompt-text", PROMPT])
        .args(["--max-inflight", &run.concurrency.max(4096).to_string()])
        .args(["--no-gpu", "--quiet", "--seed", "0"])
        .args(crate::bench::client_args())
        .args(["--run-name", &run.name])
        .arg("--output-dir")
        .arg(&run.out_dir);
    let log = run.out_dir.join(format!("{}.log", run.name));
    let warmup = run.warmup;
    let usage = run_measured_with(cmd, &log, || {
        // The run starts a few ms after the process (flags, preflight requests).
        std::thread::sleep(warmup + WINDOW_START_SLACK);
        at_window()
    })?;
    if !usage.status.success() {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        bail!(
            "the client exited with {} at concurrency {}:\n{}",
            usage.status,
            run.concurrency,
            tail.lines().rev().take(10).collect::<Vec<_>>().join("\n")
        );
    }
    let run_dir = find_run_dir(&run.out_dir, &run.name)?;
    read_run(usage, run_dir)
}

/// The run folder `NAME_<timestamp>` the sweep created.
fn find_run_dir(out_dir: &Path, name: &str) -> Result<PathBuf> {
    let prefix = format!("{name}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(out_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    found.sort();
    found
        .pop()
        .with_context(|| format!("no run folder {prefix}* in {}", out_dir.display()))
}

fn read_run(usage: Usage, run_dir: PathBuf) -> Result<ClientResult> {
    let summary = std::fs::read_to_string(run_dir.join("step_summary.json"))
        .context("reading step_summary.json")?;
    let summary: Value = serde_json::from_str(&summary).context("step_summary.json")?;
    let step = &summary["steps"][0];
    let window = (
        step["window_start_s"]
            .as_f64()
            .context("no window_start_s")?,
        step["window_end_s"].as_f64().context("no window_end_s")?,
    );
    let rows = std::fs::read_to_string(run_dir.join("requests.jsonl"))
        .context("reading requests.jsonl")?;
    let (mut events, mut requests, mut failed, mut first_error) = (0, 0, 0, None);
    let mut in_window = 0.0;
    for line in rows.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).context("a requests.jsonl row is not JSON")?;
        requests += 1;
        let chunks = row["chunks"].as_u64().context("row without chunks")?;
        events += chunks;
        in_window += events_in_window(&row, chunks, window);
        if row["status"] != "ok" {
            failed += 1;
            first_error.get_or_insert_with(|| {
                format!(
                    "{}: {}",
                    row["status"].as_str().unwrap_or("?"),
                    row["error"].as_str().unwrap_or("")
                )
            });
        }
    }
    let ms = |stats: &str, q: &str| step[stats][q].as_f64().map(|s| s * 1e3);
    Ok(ClientResult {
        usage,
        events,
        requests,
        failed,
        first_error,
        ttft_p50_ms: ms("ttft_s", "p50"),
        ttft_p99_ms: ms("ttft_s", "p99"),
        itl_p50_ms: ms("itl_s", "p50"),
        itl_p99_ms: ms("itl_s", "p99"),
        events_per_s: (window.1 > window.0).then(|| in_window / (window.1 - window.0)),
        inflight_max: step["inflight"]["max"].as_f64(),
        bound: step["client"]["bound"].as_bool(),
        stamps_late: step["client"]["stamps_late"].as_bool(),
        cpu_pct: step["client"]["cpu_pct"].as_f64(),
        sched_lag_p99_ms: step["client"]["sched_lag_p99_ms"].as_f64(),
        run_dir,
    })
}

/// How many of a request's `chunks` token events fell inside `window` (seconds since the run
/// start), taking them as evenly spread from its first to its last token event.
fn events_in_window(row: &Value, chunks: u64, (from, to): (f64, f64)) -> f64 {
    let (Some(start), Some(ttft), Some(e2e)) = (
        row["start_s"].as_f64(),
        row["ttft_s"].as_f64(),
        row["e2e_s"].as_f64(),
    ) else {
        return 0.0;
    };
    let (first, last) = (start + ttft, start + e2e);
    if chunks <= 1 || last <= first {
        return if (from..to).contains(&first) {
            chunks as f64
        } else {
            0.0
        };
    }
    let overlap = (last.min(to) - first.max(from)).max(0.0);
    chunks as f64 * overlap / (last - first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_share_of_a_stream() {
        let row = serde_json::json!({"start_s": 1.0, "ttft_s": 1.0, "e2e_s": 3.0});
        assert_eq!(events_in_window(&row, 10, (0.0, 10.0)), 10.0);
        assert_eq!(events_in_window(&row, 10, (3.0, 10.0)), 5.0);
        assert_eq!(events_in_window(&row, 10, (5.0, 10.0)), 0.0);
        assert_eq!(
            events_in_window(&serde_json::json!({}), 10, (0.0, 10.0)),
            0.0
        );
    }
}
