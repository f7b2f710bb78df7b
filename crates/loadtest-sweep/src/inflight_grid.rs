//! Requests in flight over a measure window, sampled on a fixed grid — one sample at the
//! window's start, then one every [`SAMPLE_EVERY`] — without waking up to take them.
//!
//! The count changes only when a request starts or finishes, so each change first settles the
//! grid instants that passed since the previous one at the count they saw
//! ([`InflightGrid::settle`]), and the window's end settles the rest. The samples are the ones
//! a timer firing exactly on the grid would take, with no timer: a quiet client does not wake
//! up for them, and a busy one's samples carry no timer jitter or loss (a ticker held by a
//! busy machine skips the samples it was late for: against a real vLLM sharing 2 cores, whose
//! busy CPU workers held the client's ticker up to 1.5 s at p99, the ticker-borne samples of a
//! 15 s window numbered 83 to 150 of 151; these, 151 every time).
//!
//! The grid is anchored on the window's own start, however late the watcher wakes for it (the
//! instants it missed are settled at the count it finds). A window whose end is known when
//! it starts (a time window) takes no sample past it, however late its end is seen; a count
//! step's end is learned when it comes, so a change between it and the watcher seeing it can
//! settle the one instant after it.

use std::time::{Duration, Instant};

use loadtest_run::InflightStats;

/// The grid's spacing.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The samples of one window so far.
#[derive(Debug)]
pub(crate) struct InflightGrid {
    /// The next grid instant not yet sampled.
    next: Instant,
    /// The window's end, when known at its start: no instant after it is sampled.
    until: Option<Instant>,
    samples: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl InflightGrid {
    /// A window that started at `at` (now or earlier), ending at `until` when that is known,
    /// with `inflight` requests in flight now: its first sample, and those of the instants
    /// since `at`.
    pub(crate) fn start(at: Instant, now: Instant, inflight: u64, until: Option<Instant>) -> Self {
        let mut grid = InflightGrid {
            next: at,
            until,
            samples: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        };
        grid.settle(now.max(at), inflight);
        grid
    }

    /// Takes the samples of the grid instants up to `now` (included): `inflight` requests were
    /// in flight at each, the count since the previous change. Called before each change.
    pub(crate) fn settle(&mut self, now: Instant, inflight: u64) {
        let now = self.until.map_or(now, |until| now.min(until));
        if now < self.next {
            return;
        }
        let behind = now.duration_since(self.next).as_nanos() / SAMPLE_EVERY.as_nanos();
        let n = u64::try_from(behind).unwrap_or(u64::MAX).saturating_add(1);
        self.samples = self.samples.saturating_add(n);
        self.sum = self.sum.saturating_add(inflight.saturating_mul(n));
        self.min = self.min.min(inflight);
        self.max = self.max.max(inflight);
        // `n` instants were taken: the next is `n` spacings on.
        let ahead = SAMPLE_EVERY.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        self.next += ahead;
    }

    /// The window ended at `end` with `inflight` in flight: its samples' count, mean, min and
    /// max.
    pub(crate) fn finish(mut self, end: Instant, inflight: u64) -> InflightStats {
        self.settle(end, inflight);
        InflightStats {
            samples: self.samples,
            mean: self.sum as f64 / self.samples as f64,
            min: self.min,
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// The samples a timer on the grid would take: at 0, 100, 200 … ms, each the count in
    /// flight at that instant, however far apart the changes are.
    #[test]
    fn samples_are_the_counts_at_the_grid_instants() {
        let t0 = Instant::now();
        let mut grid = InflightGrid::start(t0, t0, 2, None);
        // 2 in flight until 250 ms (samples at 0, 100, 200), then 5 until 1,000 ms (samples at
        // 300 … 1,000: 8), then 1 until the end at 1,050 ms (no instant).
        grid.settle(t0 + 250 * MS, 2);
        grid.settle(t0 + 1000 * MS, 5);
        let stats = grid.finish(t0 + 1050 * MS, 1);
        assert_eq!(stats.samples, 11);
        assert_eq!((stats.min, stats.max), (2, 5));
        assert!((stats.mean - (3.0 * 2.0 + 8.0 * 5.0) / 11.0).abs() < 1e-12);
    }

    /// Changes between two instants leave no sample; a change exactly on an instant settles
    /// it at the count before the change.
    #[test]
    fn changes_between_instants_are_not_sampled() {
        let t0 = Instant::now();
        let mut grid = InflightGrid::start(t0, t0, 0, None);
        for (ms, before) in [(10, 0), (20, 7), (30, 9), (99, 3)] {
            grid.settle(t0 + ms * MS, before);
        }
        grid.settle(t0 + 100 * MS, 4);
        let stats = grid.finish(t0 + 199 * MS, 8);
        assert_eq!(stats.samples, 2);
        assert_eq!((stats.min, stats.max), (0, 4));
    }

    /// A window with no change at all: one sample per instant, the count it started with,
    /// and a long quiet stretch costs one step, not one per instant.
    #[test]
    fn a_quiet_window_is_settled_at_its_end() {
        let t0 = Instant::now();
        let grid = InflightGrid::start(t0, t0, 1, None);
        let stats = grid.finish(t0 + Duration::from_secs(3600), 1);
        assert_eq!(stats.samples, 36_001);
        assert_eq!((stats.min, stats.max, stats.mean), (1, 1, 1.0));
        // An end before the first spacing: the start's sample alone.
        let stats = InflightGrid::start(t0, t0, 3, None).finish(t0 + 50 * MS, 9);
        assert_eq!((stats.samples, stats.min, stats.max), (1, 3, 3));
    }

    /// A time window's end is known at its start: a change seen after it (the watcher is
    /// late to see the end) settles nothing past it.
    #[test]
    fn no_sample_past_a_known_end() {
        let t0 = Instant::now();
        let mut grid = InflightGrid::start(t0, t0, 1, Some(t0 + 1000 * MS));
        grid.settle(t0 + 1003 * MS, 1);
        grid.settle(t0 + 1150 * MS, 6);
        let stats = grid.finish(t0 + 1200 * MS, 2);
        assert_eq!((stats.samples, stats.min, stats.max), (11, 1, 1));
    }

    /// The watcher woke 230 ms after the window's start: the grid is still anchored on the
    /// start, and the instants it missed (0, 100, 200 ms) are settled at the count it found.
    #[test]
    fn a_late_start_keeps_the_windows_grid() {
        let t0 = Instant::now();
        let mut grid = InflightGrid::start(t0, t0 + 230 * MS, 4, None);
        grid.settle(t0 + 320 * MS, 4);
        let stats = grid.finish(t0 + 1000 * MS, 2);
        // 0, 100, 200, 300 at 4; 400 … 1,000 at 2.
        assert_eq!((stats.samples, stats.min, stats.max), (11, 2, 4));
        assert!((stats.mean - (4.0 * 4.0 + 7.0 * 2.0) / 11.0).abs() < 1e-12);
    }
}
