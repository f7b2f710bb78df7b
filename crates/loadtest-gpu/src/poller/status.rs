//! What the poller is doing, why telemetry is unavailable, and its counters.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::fields::QueryField;

/// The poller's state. Read it with [`crate::GpuPoller::status`].
#[derive(Debug, Clone, PartialEq)]
pub enum PollerStatus {
    /// Probing nvidia-smi; no samples yet.
    Starting,
    /// A `-lms` child is running with these fields.
    Running {
        /// The fields queried (the full list, or what survived fallback).
        fields: Vec<QueryField>,
        /// Which child: 0 for the first, +1 per restart.
        child_run: u32,
    },
    /// The child died; the next starts after `after`.
    Restarting {
        /// The delay before the restart.
        after: Duration,
    },
    /// No telemetry: the reason is also in [`crate::GpuPoller::warnings`].
    Unavailable(Unavailable),
    /// [`crate::GpuPoller::stop`] was called (or the poller dropped).
    Stopped,
}

/// Why GPU telemetry is unavailable. Never an error for the caller: the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The binary does not exist (or is not on `PATH`).
    #[error("GPU telemetry unavailable: `{}` not found", binary.display())]
    BinaryNotFound {
        /// The binary as configured.
        binary: PathBuf,
    },
    /// The binary exists but could not be started.
    #[error("GPU telemetry unavailable: could not start `{}`: {error}", binary.display())]
    SpawnFailed {
        /// The binary as configured.
        binary: PathBuf,
        /// The OS error.
        error: String,
    },
    /// The probe query did not finish in time.
    #[error("GPU telemetry unavailable: `{}` did not answer within {timeout:?}", binary.display())]
    ProbeTimedOut {
        /// The binary as configured.
        binary: PathBuf,
        /// The probe timeout.
        timeout: Duration,
    },
    /// The probe query exited non-zero (no driver, no NVML, no permission, …).
    #[error(
        "GPU telemetry unavailable: `{}` failed ({}, {meaning}): {message}",
        binary.display(),
        exit_text(*code)
    )]
    QueryFailed {
        /// The binary as configured.
        binary: PathBuf,
        /// Exit code, `None` when killed by a signal.
        code: Option<i32>,
        /// The man page's meaning of the code.
        meaning: &'static str,
        /// First line of its output.
        message: String,
    },
    /// The probe succeeded but listed no GPU.
    #[error("GPU telemetry unavailable: `{}` listed no GPU (output: {output:?})", binary.display())]
    NoGpus {
        /// The binary as configured.
        binary: PathBuf,
        /// First line of its output.
        output: String,
    },
    /// The long-lived child kept dying without producing a sample.
    #[error(
        "GPU telemetry stopped: nvidia-smi failed {failures} times in a row without a sample (last: {last})"
    )]
    GaveUp {
        /// Consecutive failures.
        failures: u32,
        /// How the last one ended.
        last: String,
    },
    /// [`crate::GpuPoller::start`] was called outside a tokio runtime.
    #[error("GPU telemetry unavailable: GpuPoller::start was called outside a tokio runtime")]
    NoRuntime,
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_owned(),
        |c| format!("exit code {c}"),
    )
}

/// The meaning of an nvidia-smi exit code, from its man page.
#[must_use]
pub fn exit_code_meaning(code: Option<i32>) -> &'static str {
    match code {
        None => "killed by a signal",
        Some(0) => "success",
        Some(2) => "invalid argument or flag",
        Some(3) => "operation not available on the device",
        Some(4) => "no permission",
        Some(6) => "query unsuccessful",
        Some(8) => "external power cables not attached",
        Some(9) => "NVIDIA driver not loaded",
        Some(10) => "kernel interrupt issue with a GPU",
        Some(12) => "NVML shared library not found",
        Some(13) => "NVML function not implemented",
        Some(14) => "infoROM corrupted",
        Some(15) => "GPU fell off the bus",
        Some(_) => "other error",
    }
}

/// Counters since the poller started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PollerStats {
    /// Lines read from the long-lived children (blank lines excluded).
    pub lines: u64,
    /// Samples produced.
    pub samples: u64,
    /// Lines skipped as malformed (wrong field count, bad index or number, overlong).
    pub malformed_lines: u64,
    /// Times the child was restarted.
    pub restarts: u32,
    /// Samples dropped because the buffer was full (the caller did not drain in time).
    pub dropped_samples: u64,
}
