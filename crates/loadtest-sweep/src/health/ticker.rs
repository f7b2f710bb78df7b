//! The health ticker: a task that asks to wake up every [`TICK`] (every [`QUIET_TICK`] while
//! the client is quiet) and records how late it ran.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use loadtest_run::ClientHealth;
use tokio::sync::Mutex;

use crate::stats::new_us_histogram;
use crate::timer::TickTimer;

/// The ticker's period while the client is busy ([`BUSY_INFLIGHT`] requests or more in
/// flight): lateness sampled 100 times a second where it decides whether the client kept up.
pub const TICK: Duration = Duration::from_millis(10);
/// The ticker's period while fewer requests are in flight. Each wake-up of a parked runtime
/// costs 60–300 µs of CPU on a small VM, so a 10 ms ticker alone spent ~10 ms of CPU per
/// second at one stream. At 250 ms the samples mean the same (how late a task that asked to
/// wake up ran); there are fewer of them: 240 in a one-minute step, so the lateness rule
/// (judged from 100 ticks) still decides a quiet step of 25 s or more. Nothing else rides on
/// these wake-ups: the in-flight samples are taken as requests start and finish, without a
/// timer.
pub const QUIET_TICK: Duration = Duration::from_millis(250);
/// Requests in flight from which the ticker runs at [`TICK`] rather than [`QUIET_TICK`].
pub const BUSY_INFLIGHT: usize = 16;

/// What the ticker saw since the last [`LagRecorder::take`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LagStats {
    /// Wake-ups.
    pub ticks: u64,
    /// Wake-ups later than [`ClientHealth::LATE_TICK`].
    pub late_ticks: u64,
    /// 99th percentile lateness (`None` without ticks).
    pub p99: Option<Duration>,
    /// Largest lateness (`None` without ticks).
    pub max: Option<Duration>,
}

#[derive(Debug)]
struct LagState {
    hist: Histogram<u64>,
    late: u64,
}

/// Records ticker lateness; the sweep resets it at each window start.
#[derive(Debug)]
pub struct LagRecorder {
    state: Mutex<LagState>,
}

impl Default for LagRecorder {
    fn default() -> Self {
        LagRecorder {
            state: Mutex::new(LagState {
                hist: new_us_histogram(),
                late: 0,
            }),
        }
    }
}

impl LagRecorder {
    /// Runs the ticker until the task is aborted, every [`TICK`] while `busy()` says the
    /// client is busy, every [`QUIET_TICK`] otherwise. A stall counts once (the ticks it
    /// swallowed are not made up), so one spike is one late tick; its length shows in the max.
    ///
    /// It sleeps on a Linux timerfd where there is one (`crate::timer`): one wake-up per tick.
    pub async fn run(&self, busy: impl Fn() -> bool) {
        self.run_on(TickTimer::new(), busy).await;
    }

    /// [`run`](Self::run) on a given timer (tests on a paused clock use tokio's).
    pub(crate) async fn run_on(&self, mut timer: TickTimer, busy: impl Fn() -> bool) {
        let mut next = Instant::now() + TICK;
        loop {
            timer.sleep_until(next).await;
            let late = Instant::now().saturating_duration_since(next);
            self.record(late).await;
            let period = if busy() { TICK } else { QUIET_TICK };
            next += period;
            let now = Instant::now();
            if next < now {
                next = now + period;
            }
        }
    }

    async fn record(&self, late: Duration) {
        let mut state = self.state.lock().await;
        let _ = state.hist.record(late.as_micros().max(1) as u64);
        if late > ClientHealth::LATE_TICK {
            state.late += 1;
        }
    }

    /// Takes what was recorded since the last call, and starts afresh.
    pub async fn take(&self) -> LagStats {
        let mut state = self.state.lock().await;
        let ticks = state.hist.len();
        let stats = if ticks == 0 {
            LagStats::default()
        } else {
            LagStats {
                ticks,
                late_ticks: state.late,
                p99: Some(Duration::from_micros(state.hist.value_at_quantile(0.99))),
                max: Some(Duration::from_micros(state.hist.max())),
            }
        };
        state.hist.reset();
        state.late = 0;
        stats
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::health::{Readings, assess};

    #[tokio::test]
    async fn ticker_records_lag() {
        let rec = std::sync::Arc::new(LagRecorder::default());
        let r = rec.clone();
        let task = tokio::spawn(async move { r.run(|| true).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        task.abort();
        let stats = rec.take().await;
        assert!(stats.ticks > 0 && stats.late_ticks <= stats.ticks);
        assert!(stats.p99.is_some() && stats.max.is_some());
        assert_eq!(rec.take().await, LagStats::default());
    }

    /// The instrument behind `stamps_late`: on a runtime whose only thread is held 3 ms of
    /// every 10 (as a long poll would hold it), the timerfd ticker's lateness p99 shows the
    /// hold — what a socket read ready meanwhile would wait too — and the block is judged
    /// over the 0.5 ms goal.
    #[tokio::test(flavor = "current_thread")]
    async fn a_held_event_loop_shows_in_the_lag_and_flags_the_stamps() {
        let rec = Arc::new(LagRecorder::default());
        let r = rec.clone();
        let ticker = tokio::spawn(async move { r.run(|| true).await });
        let holder = tokio::spawn(async {
            loop {
                tokio::time::sleep(Duration::from_millis(7)).await;
                std::thread::sleep(Duration::from_millis(3));
            }
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        holder.abort();
        ticker.abort();
        let stats = rec.take().await;
        assert!(stats.ticks >= 100, "{stats:?}");
        let p99 = stats.p99.unwrap();
        assert!(p99 >= Duration::from_millis(1), "{stats:?}");
        let health = assess(&Readings {
            cpu_used: None,
            window: Duration::from_millis(1500),
            cores: 1,
            workers: Some(1),
            lag: stats,
            run_queue_wait_pct: None,
            host_cpu_busy_pct: None,
            kernel_stamped_pct: None,
        });
        assert_eq!(health.stamps_late, Some(true), "{health:?}");
    }

    /// The period follows `busy()`: 10 ms while busy, 250 ms while quiet. Counted on a paused
    /// clock, so the counts are exact whatever the machine is doing.
    #[tokio::test(start_paused = true)]
    async fn the_ticker_slows_down_while_the_client_is_quiet() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let busy = std::sync::Arc::new(AtomicBool::new(true));
        let rec = std::sync::Arc::new(LagRecorder::default());
        let (r, b) = (rec.clone(), busy.clone());
        let task = tokio::spawn(async move {
            r.run_on(TickTimer::Tokio, move || b.load(Ordering::Relaxed))
                .await
        });
        tokio::time::sleep(Duration::from_millis(1005)).await;
        assert_eq!(rec.take().await.ticks, 100);
        busy.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(2000)).await;
        // The tick due at 1.01 s was already set 10 ms ahead; then one every 250 ms.
        assert_eq!(rec.take().await.ticks, 8);
        task.abort();
    }

    /// With 100 ticks or more, "more than 1 %, and at least 2, late" is the lag p99 above 5 ms.
    #[tokio::test]
    async fn late_tick_rule_is_the_p99_from_100_ticks() {
        for (ticks, late) in [(100, 1), (100, 2), (150, 2), (1000, 10), (1000, 11)] {
            let rec = LagRecorder::default();
            for i in 0..ticks {
                let ms = if i < late { 16 } else { 1 };
                rec.record(Duration::from_millis(ms)).await;
            }
            let stats = rec.take().await;
            let health = assess(&Readings {
                cpu_used: None,
                window: Duration::from_secs(1),
                cores: 16,
                workers: Some(16),
                lag: stats,
                run_queue_wait_pct: None,
                host_cpu_busy_pct: None,
                kernel_stamped_pct: None,
            });
            let p99_late = stats.p99.is_some_and(|p| p > ClientHealth::LATE_TICK);
            assert_eq!(health.behind(), p99_late, "{late} of {ticks}");
        }
    }

    #[tokio::test]
    async fn late_ticks_count_past_five_ms() {
        let rec = LagRecorder::default();
        rec.record(Duration::from_millis(1)).await;
        rec.record(Duration::from_millis(5)).await;
        rec.record(Duration::from_millis(16)).await;
        let stats = rec.take().await;
        assert_eq!((stats.ticks, stats.late_ticks), (3, 1));
        // The histogram keeps 3 significant digits.
        assert_eq!(stats.max.map(|d| d.as_millis()), Some(16));
    }
}
