//! The background task: probe, then run the `-lms` child and restart it with backoff.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio::sync::watch;

use super::config::GpuPollerConfig;
use super::probe::{ProbeEnd, base_command, probe_fields, spawn_unavailable};
use super::shared::{Shared, excerpt};
use super::status::{PollerStatus, Unavailable};
use super::stop::stopped;
use crate::fields::QueryField;
use crate::lines::{Line, LineSplitter};
use crate::sample::interval_ms;

/// How long a child that closed its stdout may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for the rest of stderr once stdout has closed.
const STDERR_GRACE: Duration = Duration::from_millis(500);
/// Bytes of the child's stderr kept for the exit message.
const STDERR_TAIL: usize = 512;

enum ChildEnd {
    Stopped,
    Ended { samples: u64, how: String },
}

/// The task body. Always leaves a final status: `Unavailable(_)` or `Stopped`.
pub(crate) async fn supervise(
    config: GpuPollerConfig,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let fields = match probe_fields(&config.binary, config.probe_timeout, &shared, &mut stop).await
    {
        Ok(fields) => fields,
        Err(ProbeEnd::Stopped) => return shared.set_status(PollerStatus::Stopped),
        Err(ProbeEnd::Unavailable(why)) => return shared.set_unavailable(why),
    };
    tracing::info!(target: "loadtest_gpu", fields = %crate::fields::query_arg(&fields), "GPU telemetry started");
    let policy = config.restart;
    let mut backoff = policy.initial_backoff;
    let mut failures = 0u32;
    let mut child_run = 0u32;
    loop {
        shared.set_status(PollerStatus::Running {
            fields: fields.clone(),
            child_run,
        });
        let (samples, how) = match run_child(&config, &fields, child_run, &shared, &mut stop).await
        {
            ChildEnd::Stopped => break,
            ChildEnd::Ended { samples, how } => (samples, how),
        };
        if samples > 0 {
            failures = 0;
            backoff = policy.initial_backoff;
        } else {
            failures += 1;
            if failures >= policy.max_consecutive_failures {
                return shared.set_unavailable(Unavailable::GaveUp {
                    failures,
                    last: how,
                });
            }
        }
        tracing::warn!(target: "loadtest_gpu", "nvidia-smi child ended ({how}); restarting in {backoff:?}");
        shared.note_restart(how);
        shared.set_status(PollerStatus::Restarting { after: backoff });
        tokio::select! {
            () = stopped(&mut stop) => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = backoff.saturating_mul(2).min(policy.max_backoff);
        child_run += 1;
    }
    shared.set_status(PollerStatus::Stopped);
}

fn keep_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    tail.extend_from_slice(bytes);
    let excess = tail.len().saturating_sub(STDERR_TAIL);
    tail.drain(..excess);
}

async fn kill_and_reap(child: &mut Child) {
    // `kill` sends SIGKILL and waits for the exit, so the child is reaped here.
    if let Err(e) = child.kill().await {
        tracing::debug!(target: "loadtest_gpu", "killing nvidia-smi: {e}");
    }
}

/// Runs one `-lms` child until it ends or stop is requested.
async fn run_child(
    config: &GpuPollerConfig,
    fields: &[QueryField],
    child_run: u32,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> ChildEnd {
    let mut cmd = base_command(&config.binary, fields);
    cmd.arg("-lms")
        .arg(interval_ms(config.interval).to_string());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return ChildEnd::Ended {
                samples: 0,
                how: spawn_unavailable(&config.binary, &e).to_string(),
            };
        }
    };
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill_and_reap(&mut child).await;
        return ChildEnd::Ended {
            samples: 0,
            how: "no stdout/stderr pipe".to_owned(),
        };
    };
    let mut splitter = LineSplitter::new();
    let mut lines = Vec::new();
    let mut out_buf = vec![0u8; 8192];
    let mut err_buf = vec![0u8; 1024];
    let mut err_tail: Vec<u8> = Vec::new();
    let mut stderr_open = true;
    let mut samples = 0u64;
    loop {
        tokio::select! {
            biased;
            () = stopped(stop) => {
                kill_and_reap(&mut child).await;
                return ChildEnd::Stopped;
            }
            r = stdout.read(&mut out_buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let at = Instant::now();
                    splitter.push(&out_buf[..n], |l| lines.push(l));
                    samples += shared.ingest(&lines, at, child_run, fields);
                    lines.clear();
                }
            },
            r = stderr.read(&mut err_buf), if stderr_open => match r {
                Ok(0) | Err(_) => stderr_open = false,
                Ok(n) => keep_tail(&mut err_tail, &err_buf[..n]),
            },
        }
    }
    let rest: Vec<Line> = splitter.finish().into_iter().collect();
    samples += shared.ingest(&rest, Instant::now(), child_run, fields);
    // Collect what is left of stderr (the reason it died), briefly.
    let drain_stderr = async {
        while stderr_open {
            match stderr.read(&mut err_buf).await {
                Ok(0) | Err(_) => stderr_open = false,
                Ok(n) => keep_tail(&mut err_tail, &err_buf[..n]),
            }
        }
    };
    tokio::select! {
        biased;
        () = stopped(stop) => {
            kill_and_reap(&mut child).await;
            return ChildEnd::Stopped;
        }
        _ = tokio::time::timeout(STDERR_GRACE, drain_stderr) => {}
    }
    let status = tokio::select! {
        biased;
        () = stopped(stop) => {
            kill_and_reap(&mut child).await;
            return ChildEnd::Stopped;
        }
        r = tokio::time::timeout(EXIT_GRACE, child.wait()) => r,
    };
    let exit = match status {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("wait failed: {e}"),
        Err(_) => {
            kill_and_reap(&mut child).await;
            format!("closed its output but did not exit within {EXIT_GRACE:?}; killed")
        }
    };
    let stderr_text = String::from_utf8_lossy(&err_tail);
    let mut how = format!("{exit} after {samples} sample(s)");
    if let Some(line) = stderr_text.lines().map(str::trim).rfind(|l| !l.is_empty()) {
        how.push_str(&format!("; stderr: {}", excerpt(line)));
    }
    ChildEnd::Ended { samples, how }
}
