//! Counters a front end reads while the sweep runs (progress display). The request path
//! updates them with relaxed atomics, never locked; the measure-window watcher adds one
//! [`StepLive`] per step when the step's window ends (a lock taken once per step), and the
//! run marks them finished when it returns.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use loadtest_client::RequestRecord;
use tokio::sync::Notify;

use loadtest_run::InflightStats;

use crate::inflight_grid::InflightGrid;

/// Live counts of one run, since it started.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Requests in flight now.
    pub inflight: AtomicUsize,
    /// Requests sent.
    pub started: AtomicU64,
    /// Requests finished `ok`.
    pub ok: AtomicU64,
    /// Requests finished with any other status.
    pub failed: AtomicU64,
    /// TTFT of the most recent `ok` request, in µs (0 before the first).
    pub last_ttft_us: AtomicU64,
    /// Sum of the TTFTs of the `ok` requests that had one, in µs.
    ttft_sum_us: AtomicU64,
    /// How many TTFTs `ttft_sum_us` adds up.
    ttft_count: AtomicU64,
    /// Token events of the finished requests.
    token_events: AtomicU64,
    /// Of those, the ones timed by the kernel's receive stamp of their own bytes.
    kernel_stamped_events: AtomicU64,
    /// The in-flight samples of the measure window being watched, if one is: settled under
    /// this lock at every change of `inflight` ([`crate::inflight_grid`]).
    inflight_grid: Mutex<Option<InflightGrid>>,
    /// One entry per measure window that ended, in step order.
    steps: Mutex<Vec<StepLive>>,
    /// Set once the run is over: no step is added after it.
    finished: AtomicBool,
    /// Woken when a step is added or the run is over.
    changed: Notify,
    /// `--num-prompts`: the run's count steps, once it has started (see
    /// [`LiveCounters::count_progress`]).
    counted: std::sync::OnceLock<std::sync::Arc<crate::count::CountPlan>>,
}

/// One step's live figures, taken by the engine when the step's measure window ended (not
/// when a reader happens to look, by which time the next step is running).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLive {
    /// Index in the step list.
    pub index: usize,
    /// Requests that finished `ok` during the window (whenever they started).
    pub ok: u64,
    /// Requests that finished otherwise during the window.
    pub failed: u64,
    /// Mean TTFT of the window's `ok` completions, in ms (`None` without any).
    pub ttft_mean_ms: Option<f64>,
    /// Requests in flight at the window's start and every 100 ms after it (`None` without a
    /// sample).
    pub inflight: Option<InflightStats>,
    /// The window was cut short (Ctrl-C, or `--steps auto` stopping the sweep).
    pub cut_short: bool,
}

/// The totals when a measure window started, to subtract at its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowStart {
    ok: u64,
    failed: u64,
    ttft_sum_us: u64,
    ttft_count: u64,
    token_events: u64,
    kernel_stamped_events: u64,
}

/// Marks the counters finished when dropped (on every way out of the run).
#[derive(Debug)]
pub(crate) struct FinishOnDrop<'a>(&'a LiveCounters);

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        self.0.mark_finished();
    }
}

impl LiveCounters {
    pub(crate) fn request_started(&self) {
        self.change_inflight(|n| n.fetch_add(1, Ordering::Relaxed));
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request_finished(&self, record: &RequestRecord) {
        self.change_inflight(|n| n.fetch_sub(1, Ordering::Relaxed));
        if record.stamps.events > 0 {
            self.token_events
                .fetch_add(record.stamps.events, Ordering::Relaxed);
            self.kernel_stamped_events
                .fetch_add(record.stamps.kernel, Ordering::Relaxed);
        }
        if record.is_ok() {
            self.ok.fetch_add(1, Ordering::Relaxed);
            if let Some(ttft) = record.ttft {
                let us = ttft.as_micros() as u64;
                self.last_ttft_us.store(us, Ordering::Relaxed);
                self.ttft_sum_us.fetch_add(us, Ordering::Relaxed);
                self.ttft_count.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_counted(&self, plan: std::sync::Arc<crate::count::CountPlan>) {
        let _ = self.counted.set(plan);
    }

    /// `--num-prompts`: the run's own timeline (whose step ends are learned as they come),
    /// once the run has started; `None` for time windows.
    pub fn timeline(&self) -> Option<crate::timeline::Timeline> {
        self.counted.get().map(|plan| plan.timeline().clone())
    }

    /// `--num-prompts`: the count phase under way (the warmup's requests or a step's), as
    /// (requests finished, requests it sends); `None` outside one, or for time windows.
    pub fn count_progress(&self) -> Option<(u64, u64)> {
        self.counted.get().and_then(|plan| plan.progress())
    }

    /// Requests in flight now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Changes the in-flight count, first settling the window's samples due until now at the
    /// count before the change. Under the grid's lock: every change is ordered with the
    /// samples (once per request start and end, never per token event).
    fn change_inflight(&self, change: impl FnOnce(&AtomicUsize) -> usize) {
        let mut grid = self.lock_grid();
        if let Some(grid) = grid.as_mut() {
            grid.settle(Instant::now(), self.inflight() as u64);
        }
        change(&self.inflight);
    }

    /// Starts the in-flight samples of a measure window that started at `at` (now or just
    /// before: the instants since are settled at the count now): one then, then one every
    /// [`SAMPLE_EVERY`](crate::inflight_grid::SAMPLE_EVERY) until
    /// [`finish_inflight`](Self::finish_inflight), and none after `until` (the window's end,
    /// when known at its start).
    pub(crate) fn start_inflight(&self, at: Instant, until: Option<Instant>) {
        let mut grid = self.lock_grid();
        let now = Instant::now();
        *grid = Some(InflightGrid::start(at, now, self.inflight() as u64, until));
    }

    /// Ends the window's in-flight samples at `end` (the samples due until then are taken):
    /// their count, mean, min and max; `None` when none were started.
    pub(crate) fn finish_inflight(&self, end: Instant) -> Option<InflightStats> {
        let mut grid = self.lock_grid();
        let samples = grid.take()?;
        Some(samples.finish(end, self.inflight() as u64))
    }

    fn lock_grid(&self) -> MutexGuard<'_, Option<InflightGrid>> {
        // Settling cannot panic half-way, so a poisoned grid is still whole.
        self.inflight_grid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The totals at the start of a measure window.
    pub(crate) fn window_started(&self) -> WindowStart {
        WindowStart {
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            ttft_sum_us: self.ttft_sum_us.load(Ordering::Relaxed),
            ttft_count: self.ttft_count.load(Ordering::Relaxed),
            token_events: self.token_events.load(Ordering::Relaxed),
            kernel_stamped_events: self.kernel_stamped_events.load(Ordering::Relaxed),
        }
    }

    /// Of the token events of the requests that finished since `start`, the share timed by
    /// the kernel's receive stamp of their own bytes, percent; `None` without any.
    pub(crate) fn kernel_stamped_pct_since(&self, start: WindowStart) -> Option<f64> {
        let end = self.window_started();
        let events = end.token_events.saturating_sub(start.token_events);
        let kernel = end
            .kernel_stamped_events
            .saturating_sub(start.kernel_stamped_events);
        (events > 0).then(|| 100.0 * kernel.min(events) as f64 / events as f64)
    }

    /// Records step `index`'s figures at the end of its measure window.
    pub(crate) fn window_ended(
        &self,
        index: usize,
        start: WindowStart,
        inflight: Option<InflightStats>,
        cut_short: bool,
    ) {
        let end = self.window_started();
        let ttft_count = end.ttft_count.saturating_sub(start.ttft_count);
        let ttft_sum_us = end.ttft_sum_us.saturating_sub(start.ttft_sum_us);
        let step = StepLive {
            index,
            ok: end.ok.saturating_sub(start.ok),
            failed: end.failed.saturating_sub(start.failed),
            ttft_mean_ms: (ttft_count > 0).then(|| ttft_sum_us as f64 / ttft_count as f64 / 1e3),
            inflight,
            cut_short,
        };
        self.lock_steps().push(step);
        self.changed.notify_one();
    }

    /// Marks the run over (the engine does when `run_sweep` returns; a front end driving
    /// the counters itself may too). Readers see every step added before it.
    pub fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    /// A guard that calls [`mark_finished`](Self::mark_finished) when dropped.
    pub(crate) fn finish_on_drop(&self) -> FinishOnDrop<'_> {
        FinishOnDrop(self)
    }

    /// True once the run is over. Read it before [`steps_since`](Self::steps_since): when it
    /// was true, the steps read after it are all there will be.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// How many measure windows ended so far.
    pub fn steps_ended(&self) -> usize {
        self.lock_steps().len()
    }

    /// The steps whose measure window ended, from the `seen`-th on (in step order).
    pub fn steps_since(&self, seen: usize) -> Vec<StepLive> {
        self.lock_steps().get(seen..).unwrap_or_default().to_vec()
    }

    /// Waits until a step is added or the run is over (possibly already, if that happened
    /// since the last wait). Meant for one reader.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn lock_steps(&self) -> MutexGuard<'_, Vec<StepLive>> {
        // Pushing cannot panic half-way, so a poisoned list is still whole.
        self.steps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use loadtest_run::Status;

    use super::*;

    fn finished(ok: bool, ttft_ms: Option<u64>) -> RequestRecord {
        let now = Instant::now();
        let mut record = RequestRecord::cancelled(now, now);
        if ok {
            record.status = Status::Ok;
            record.error = None;
            record.ttft = ttft_ms.map(Duration::from_millis);
        }
        record
    }

    /// The window's share of kernel-timed token events counts the requests that finished in
    /// it, by event (not by request), and is absent without token events.
    #[test]
    fn the_kernel_stamped_share_is_the_windows_own() {
        let live = LiveCounters::default();
        let with = |events, kernel| {
            let mut r = finished(true, Some(10));
            r.stamps = loadtest_client::EventStamps { events, kernel };
            r
        };
        // Before the window: not counted.
        live.request_finished(&with(100, 0));
        let start = live.window_started();
        assert_eq!(live.kernel_stamped_pct_since(start), None);
        live.request_finished(&finished(false, None));
        assert_eq!(live.kernel_stamped_pct_since(start), None);
        live.request_finished(&with(60, 60));
        live.request_finished(&with(40, 30));
        assert_eq!(live.kernel_stamped_pct_since(start), Some(90.0));
    }

    /// The in-flight samples are taken by the changes themselves: each start or end settles
    /// the grid instants before it at the count before it, and the window's end the rest.
    #[test]
    fn inflight_samples_are_settled_by_the_changes() {
        let live = LiveCounters::default();
        assert_eq!(live.finish_inflight(Instant::now()), None);
        // A window that started 1,050 ms ago with nothing in flight: the start's sample and
        // the instants at 100 … 1,000 ms are settled at 0 by the first start.
        let t0 = Instant::now() - Duration::from_millis(1050);
        live.start_inflight(t0, None);
        live.request_started();
        // Then 1 in flight at 1,100 … 1,500 ms.
        let stats = live
            .finish_inflight(t0 + Duration::from_millis(1550))
            .unwrap();
        assert_eq!((stats.samples, stats.min, stats.max), (16, 0, 1));
        assert!((stats.mean - 5.0 / 16.0).abs() < 1e-12, "{stats:?}");
        // Outside a window nothing is sampled.
        live.request_finished(&finished(true, Some(10)));
        assert_eq!(live.finish_inflight(Instant::now()), None);
        assert_eq!(live.inflight(), 0);
    }

    #[test]
    fn a_window_records_its_own_completions_and_inflight() {
        let live = LiveCounters::default();
        // Before the window: these do not count.
        live.request_started();
        live.request_finished(&finished(true, Some(1000)));
        let start = live.window_started();
        for _ in 0..3 {
            live.request_started();
        }
        live.request_finished(&finished(true, Some(10)));
        live.request_finished(&finished(true, Some(30)));
        live.request_finished(&finished(false, None));
        let inflight = InflightStats {
            samples: 10,
            mean: 2.5,
            min: 1,
            max: 3,
        };
        live.window_ended(0, start, Some(inflight), false);
        // After the window: not in step 0's figures.
        live.request_started();
        live.request_finished(&finished(true, Some(500)));
        assert_eq!(
            live.steps_since(0),
            vec![StepLive {
                index: 0,
                ok: 2,
                failed: 1,
                ttft_mean_ms: Some(20.0),
                inflight: Some(inflight),
                cut_short: false,
            }]
        );
        let start = live.window_started();
        live.window_ended(1, start, None, true);
        let second = live.steps_since(1);
        assert_eq!(second.len(), 1);
        assert_eq!(
            (second[0].index, second[0].ok, second[0].ttft_mean_ms),
            (1, 0, None)
        );
        assert!(second[0].cut_short);
        assert_eq!(live.steps_ended(), 2);
        assert!(live.steps_since(2).is_empty());
        assert!(live.steps_since(7).is_empty());
    }

    #[test]
    fn the_guard_marks_the_run_finished() {
        let live = LiveCounters::default();
        {
            let _guard = live.finish_on_drop();
            assert!(!live.is_finished());
        }
        assert!(live.is_finished());
    }

    #[tokio::test]
    async fn readers_are_woken_by_steps_and_the_end() {
        let live = std::sync::Arc::new(LiveCounters::default());
        let reader = {
            let live = std::sync::Arc::clone(&live);
            tokio::spawn(async move {
                let mut seen = 0;
                while !live.is_finished() {
                    live.changed().await;
                    seen = live.steps_ended();
                }
                seen
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        live.window_ended(0, live.window_started(), None, false);
        tokio::time::sleep(Duration::from_millis(20)).await;
        live.mark_finished();
        let seen = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the reader was not woken")
            .expect("the reader panicked");
        assert_eq!(seen, 1);
    }
}
