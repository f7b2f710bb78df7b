//! Live progress while a sweep runs. On a terminal: an indicatif bar over the whole run with
//! the current step and phase, time left, in-flight, completed, errors and a rolling TTFT
//! p50. Elsewhere (CI logs, pipes): one line per finished step, and a heartbeat line when
//! nothing was printed for 10 s.
//!
//! It only reads the sweep's relaxed atomics ([`LiveCounters`]) a few times a second, so it
//! never slows the request path. The run clock starts when the first request is sent (the
//! sweep's warmup starts dispatching at once), so preflight time does not skew "time left".

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use loadtest_sweep::LiveCounters;
use loadtest_sweep::timeline::{Phase, Timeline};

use crate::output;

/// How often the bar is refreshed.
const TICK: Duration = Duration::from_millis(250);
/// Without a terminal: the longest silence before a heartbeat line.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// TTFT samples kept for the rolling median (at most one per tick with new completions).
const RECENT: usize = 40;

/// The counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Snapshot {
    inflight: usize,
    started: u64,
    ok: u64,
    failed: u64,
    last_ttft_us: u64,
}

impl Snapshot {
    fn read(live: &LiveCounters) -> Self {
        Snapshot {
            inflight: live.inflight(),
            started: live.started.load(Ordering::Relaxed),
            ok: live.ok.load(Ordering::Relaxed),
            failed: live.failed.load(Ordering::Relaxed),
            last_ttft_us: live.last_ttft_us.load(Ordering::Relaxed),
        }
    }
}

/// A ring of recent TTFT samples: the "last TTFT" counter, read once per tick in which new
/// requests completed. Its median follows the TTFT of the last ~10 s of completions.
#[derive(Debug, Default)]
struct RecentTtft {
    samples: Vec<u64>,
    next: usize,
}

impl RecentTtft {
    fn push(&mut self, us: u64) {
        if us == 0 {
            return;
        }
        if self.samples.len() < RECENT {
            self.samples.push(us);
        } else {
            self.samples[self.next] = us;
        }
        self.next = (self.next + 1) % RECENT;
    }

    fn median_ms(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        Some(sorted[sorted.len() / 2] as f64 / 1e3)
    }
}

/// The status text for `elapsed` into the run.
fn status(timeline: &Timeline, elapsed: Duration, snap: Snapshot, ttft_ms: Option<f64>) -> String {
    let pos = timeline.at(elapsed);
    let steps = timeline.steps().len();
    let load = timeline.steps().get(pos.step).map_or(0.0, |s| s.load);
    let left = timeline.end().saturating_sub(elapsed).as_secs();
    let left = if pos.phase == Phase::Drain {
        "draining".to_owned()
    } else {
        format!("{}:{:02} left", left / 60, left % 60)
    };
    format!(
        "step {}/{steps} load {load} {:<8} {left} | in flight {} | ok {} | errors {} | TTFT p50 {}",
        pos.step + 1,
        pos.phase.as_str(),
        snap.inflight,
        snap.ok,
        snap.failed,
        ttft_ms.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1} ms")),
    )
}

/// Shows progress until the task is aborted (the bar is cleared when it is dropped).
pub(crate) async fn show(timeline: Timeline, live: Arc<LiveCounters>) {
    let terminal = output::stderr_is_terminal();
    // Wait for the first request: the sweep's clock starts just before it.
    let waiting = terminal.then(output::spinner);
    if let Some(bar) = &waiting {
        bar.set_message("preflight: waiting for the first request…");
    }
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        if live.started.load(Ordering::Relaxed) > 0 || live.inflight() > 0 {
            break;
        }
        if let Some(bar) = &waiting {
            bar.tick();
        }
    }
    drop(waiting);
    let start = Instant::now();
    if terminal {
        show_bar(&timeline, &live, start, tick).await;
    } else {
        show_lines(&timeline, &live, start, tick).await;
    }
}

async fn show_bar(
    timeline: &Timeline,
    live: &LiveCounters,
    start: Instant,
    mut tick: tokio::time::Interval,
) {
    let total_ms = timeline.end().as_millis().max(1) as u64;
    let bar = output::progress_bar(total_ms);
    let mut recent = RecentTtft::default();
    let mut last_ok = 0;
    loop {
        tick.tick().await;
        let snap = Snapshot::read(live);
        if snap.ok != last_ok {
            recent.push(snap.last_ttft_us);
            last_ok = snap.ok;
        }
        let elapsed = start.elapsed();
        bar.set_position((elapsed.as_millis() as u64).min(total_ms));
        bar.set_message(status(timeline, elapsed, snap, recent.median_ms()));
    }
}

async fn show_lines(
    timeline: &Timeline,
    live: &LiveCounters,
    start: Instant,
    mut tick: tokio::time::Interval,
) {
    let mut recent = RecentTtft::default();
    let mut last_ok = 0;
    let mut reported_steps = 0;
    let mut last_line = Instant::now();
    let mut at_step_start = Snapshot::default();
    loop {
        tick.tick().await;
        let snap = Snapshot::read(live);
        if snap.ok != last_ok {
            recent.push(snap.last_ttft_us);
            last_ok = snap.ok;
        }
        let elapsed = start.elapsed();
        let finished = timeline
            .steps()
            .iter()
            .take_while(|s| s.measure_end <= elapsed)
            .count();
        if finished > reported_steps {
            for step in &timeline.steps()[reported_steps..finished] {
                output::note(&format!(
                    "[{:>6.1}s] step {}/{} (load {}) measured: +{} ok, +{} errors since the last step line; in flight {}; TTFT p50 {}",
                    elapsed.as_secs_f64(),
                    step.index + 1,
                    timeline.steps().len(),
                    step.load,
                    snap.ok.saturating_sub(at_step_start.ok),
                    snap.failed.saturating_sub(at_step_start.failed),
                    snap.inflight,
                    recent
                        .median_ms()
                        .map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1} ms")),
                ));
            }
            reported_steps = finished;
            at_step_start = snap;
            last_line = Instant::now();
        } else if last_line.elapsed() >= HEARTBEAT {
            output::note(&format!(
                "[{:>6.1}s] {}",
                elapsed.as_secs_f64(),
                status(timeline, elapsed, snap, recent.median_ms())
            ));
            last_line = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_step_phase_and_counts() {
        let t = Timeline::new(
            &[1.0, 4.0],
            Duration::from_secs(2),
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::ZERO,
        );
        let snap = Snapshot {
            inflight: 4,
            started: 20,
            ok: 15,
            failed: 1,
            last_ttft_us: 0,
        };
        let s = status(&t, Duration::from_secs(13), snap, Some(29.25));
        assert!(s.starts_with("step 2/2 load 4 measure"), "{s}");
        assert!(s.contains("0:09 left"), "{s}");
        assert!(
            s.contains("in flight 4 | ok 15 | errors 1 | TTFT p50 29.2 ms"),
            "{s}"
        );
        let drain = status(&t, Duration::from_secs(30), snap, None);
        assert!(
            drain.contains("draining") && drain.ends_with("TTFT p50 –"),
            "{drain}"
        );
    }

    #[test]
    fn rolling_median_keeps_recent_samples() {
        let mut r = RecentTtft::default();
        assert_eq!(r.median_ms(), None);
        r.push(0);
        assert_eq!(r.median_ms(), None);
        for us in 1..=RECENT as u64 {
            r.push(us * 1000);
        }
        assert_eq!(r.median_ms(), Some((RECENT / 2 + 1) as f64));
        for _ in 0..RECENT {
            r.push(500_000);
        }
        assert_eq!(r.median_ms(), Some(500.0));
        assert_eq!(r.samples.len(), RECENT);
    }

    #[tokio::test]
    async fn runs_on_the_counters_until_aborted() {
        let t = Timeline::new(
            &[1.0, 2.0],
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::ZERO,
        );
        let live = Arc::new(LiveCounters::default());
        let task = tokio::spawn(show(t, Arc::clone(&live)));
        tokio::time::sleep(Duration::from_millis(300)).await;
        live.started.store(3, Ordering::Relaxed);
        live.ok.store(2, Ordering::Relaxed);
        live.last_ttft_us.store(25_000, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(!task.is_finished(), "show returned on its own");
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }
}
