//! [`GpuPoller`]: one long-lived nvidia-smi child in a background task.

mod config;
mod probe;
mod shared;
mod status;
mod stop;
mod supervise;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{GpuPollerConfig, RestartPolicy};
pub use status::{PollerStats, PollerStatus, Unavailable, exit_code_meaning};

use crate::sample::{ClockAnchor, GpuSample};
use shared::Shared;

/// How long [`GpuPoller::stop`] waits for the task to kill and reap its child before aborting
/// it (the child is then killed on drop).
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// GPU telemetry poller: probes nvidia-smi, then runs one
/// `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms <ms>` child in a background
/// task and queues its samples until the caller drains them.
///
/// Nothing here fails the caller: a missing binary, a driver error or a hung nvidia-smi become
/// a [`PollerStatus::Unavailable`] and one entry in [`GpuPoller::warnings`], with no samples.
///
/// The child is killed and reaped by [`GpuPoller::stop`]; dropping the poller stops it too
/// (and the child is spawned with `kill_on_drop`, so it dies even if the runtime goes first).
#[derive(Debug)]
pub struct GpuPoller {
    shared: Arc<Shared>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl GpuPoller {
    /// Starts polling in a background task and returns at once (the probe runs in the task).
    ///
    /// Must be called inside a tokio runtime; outside one the poller reports
    /// [`Unavailable::NoRuntime`] instead of panicking.
    #[must_use]
    pub fn start(config: GpuPollerConfig) -> Self {
        let clock = config.clock.unwrap_or_else(ClockAnchor::now);
        let shared = Arc::new(Shared::new(config.buffer_capacity, clock));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                Some(handle.spawn(supervise::supervise(config, Arc::clone(&shared), stop_rx)))
            }
            Err(_) => {
                shared.set_unavailable(Unavailable::NoRuntime);
                None
            }
        };
        Self {
            shared,
            stop: Some(stop_tx),
            task,
        }
    }

    /// The current status.
    #[must_use]
    pub fn status(&self) -> PollerStatus {
        self.shared.status()
    }

    /// Waits until the probe has finished (status no longer [`PollerStatus::Starting`]) and
    /// returns the status. Takes at most about the configured probe timeout. Optional: samples
    /// are queued whether or not anyone waits.
    pub async fn wait_started(&self) -> PollerStatus {
        let mut rx = self.shared.subscribe();
        match rx.wait_for(|s| !matches!(s, PollerStatus::Starting)).await {
            Ok(status) => status.clone(),
            Err(_) => self.shared.status(),
        }
    }

    /// Moves every queued sample, oldest first, into `out`.
    pub fn drain_into(&self, out: &mut Vec<GpuSample>) {
        self.shared.drain_into(out);
    }

    /// Takes every queued sample, oldest first.
    #[must_use]
    pub fn drain(&self) -> Vec<GpuSample> {
        let mut out = Vec::new();
        self.drain_into(&mut out);
        out
    }

    /// Counters since start.
    #[must_use]
    pub fn stats(&self) -> PollerStats {
        self.shared.stats()
    }

    /// Warnings for the run report, one line each: why telemetry is unavailable, fields that
    /// fell back, malformed lines (one line with the count and the first), restarts, dropped
    /// samples. Empty when all went well.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.shared.warnings()
    }

    /// Stops polling: kills and reaps the child, then returns. Samples not yet drained stay
    /// available. Returns within a few seconds whatever the child does; calling it again does
    /// nothing.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send_replace(true);
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err()
        {
            tracing::warn!(target: "loadtest_gpu", "GPU poller did not stop within {STOP_TIMEOUT:?}; aborting it");
            task.abort();
        }
        if !matches!(self.shared.status(), PollerStatus::Unavailable(_)) {
            self.shared.set_status(PollerStatus::Stopped);
        }
    }
}

impl Drop for GpuPoller {
    fn drop(&mut self) {
        // Dropping the sender wakes the task, which kills and reaps the child.
        if let Some(stop) = self.stop.take() {
            stop.send_replace(true);
        }
    }
}
