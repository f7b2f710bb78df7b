//! Poller configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::sample::ClockAnchor;

/// How a poller runs nvidia-smi. Start from [`GpuPollerConfig::default`] (or
/// [`GpuPollerConfig::new`]) and change what you need.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GpuPollerConfig {
    /// The nvidia-smi binary: a path, or a bare name looked up on `PATH`. Default `nvidia-smi`.
    pub binary: PathBuf,
    /// Sample interval, passed as `-lms <ms>` (whole milliseconds, at least 1). Default 1 s.
    pub interval: Duration,
    /// How long the one-shot probe query may take before nvidia-smi is declared hung and
    /// telemetry unavailable. Default 10 s (a cold driver without persistence mode can take
    /// a few seconds to answer).
    pub probe_timeout: Duration,
    /// What to do when the long-lived child dies.
    pub restart: RestartPolicy,
    /// Most samples held between two drains; when full the oldest is dropped and counted.
    /// Default 65 536 (8 GPUs at 1 s for over two hours).
    pub buffer_capacity: usize,
    /// Maps sample instants to Unix time. Default: anchored when the poller starts. Pass the
    /// sweep's own anchor so both files share one time base.
    pub clock: Option<ClockAnchor>,
}

impl Default for GpuPollerConfig {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("nvidia-smi"),
            interval: Duration::from_secs(1),
            probe_timeout: Duration::from_secs(10),
            restart: RestartPolicy::default(),
            buffer_capacity: 65_536,
            clock: None,
        }
    }
}

impl GpuPollerConfig {
    /// The default configuration with the given sample interval.
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            ..Self::default()
        }
    }

    /// Uses `binary` instead of `nvidia-smi` on `PATH`.
    #[must_use]
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = binary.into();
        self
    }
}

/// Restart policy for a child that exits or cannot be spawned.
///
/// The delay before restart `n` of an unbroken series of failures is
/// `initial_backoff × 2ⁿ`, capped at `max_backoff`. A child that produced at least one sample
/// resets the series. After `max_consecutive_failures` children in a row produced no sample,
/// the poller gives up and reports [`crate::Unavailable::GaveUp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// First delay. Default 1 s.
    pub initial_backoff: Duration,
    /// Longest delay. Default 30 s.
    pub max_backoff: Duration,
    /// Failures in a row before giving up. Default 5.
    pub max_consecutive_failures: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_consecutive_failures: 5,
        }
    }
}

impl RestartPolicy {
    /// A policy with the given delays and failure bound.
    #[must_use]
    pub fn new(initial_backoff: Duration, max_backoff: Duration, max_failures: u32) -> Self {
        Self {
            initial_backoff,
            max_backoff,
            max_consecutive_failures: max_failures,
        }
    }
}
