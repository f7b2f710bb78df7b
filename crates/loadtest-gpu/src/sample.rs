//! A reading stamped with our own clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadtest_run::GpuReading;

/// One GPU's values from one output line, stamped when its bytes arrived.
///
/// The stamp is our clock, never nvidia-smi's local-time `timestamp` string: `at` is monotonic,
/// `unix_s` is derived from it and the wall clock read once when the poller started (so it never
/// jumps backwards with NTP). All lines of one read share one stamp.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSample {
    /// Arrival time (monotonic).
    pub at: Instant,
    /// Arrival time as seconds since the Unix epoch.
    pub unix_s: f64,
    /// Which nvidia-smi child produced the sample: 0 for the first, +1 per restart. A change
    /// marks a gap: samples are never fabricated across it.
    pub child_run: u32,
    /// The values.
    pub reading: GpuReading,
}

/// Maps monotonic instants to Unix seconds from one anchor taken at creation.
#[derive(Debug, Clone, Copy)]
pub struct ClockAnchor {
    instant: Instant,
    unix_s: f64,
}

impl ClockAnchor {
    /// Anchors now.
    #[must_use]
    pub fn now() -> Self {
        let unix_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            // A wall clock before 1970 is broken; 0 makes such stamps obviously wrong.
            .map_or(0.0, |d| d.as_secs_f64());
        Self {
            instant: Instant::now(),
            unix_s,
        }
    }

    /// An anchor from a known pair, e.g. the sweep's own run start.
    #[must_use]
    pub fn new(instant: Instant, unix_s: f64) -> Self {
        Self { instant, unix_s }
    }

    /// Unix seconds of `at`.
    #[must_use]
    pub fn unix_s(&self, at: Instant) -> f64 {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.unix_s + after.as_secs_f64(),
            None => self.unix_s - self.instant.duration_since(at).as_secs_f64(),
        }
    }
}

/// Seconds from `origin` to `at`, negative when `at` is earlier.
#[must_use]
pub fn signed_secs(origin: Instant, at: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(d) => d.as_secs_f64(),
        None => -origin.saturating_duration_since(at).as_secs_f64(),
    }
}

/// `Duration` as whole milliseconds for `-lms`, at least 1.
#[must_use]
pub fn interval_ms(interval: Duration) -> u128 {
    interval.as_millis().max(1)
}
