//! The open-loop dispatcher (`--load-mode rate`): requests are sent when the arrival schedule
//! says, whether or not the server keeps up. A dedicated thread sleeps to within
//! [`SPIN_WINDOW`] of each arrival and spins the rest, so pacing is sub-millisecond (tokio's
//! timer is millisecond-grained); each request then runs as a task. `--max-inflight` makes a
//! late request wait for a slot, keeping its scheduled time, so the wait shows in its
//! latency-from-schedule (coordinated omission made visible) — but never past the end of the
//! phase it was scheduled in: an arrival still waiting when its window (or warmup, or ramp)
//! ends is not sent, and is counted in its step's `unsent_arrivals`. So dispatching stops at
//! the window's end and a backlog never runs on into the next step or the drain.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::arrival::Arrivals;

use crate::dispatch::{DispatchShared, send_one};
use loadtest_run::Arrival;
use loadtest_run::Phase;

/// The last stretch before an arrival is spun, not slept.
pub const SPIN_WINDOW: Duration = Duration::from_micros(300);

/// The longest single sleep, so a cancel is seen promptly.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// Runs the dispatcher until the schedule ends or dispatch stops, and returns the requests
/// still running. Call on its own thread; `runtime` runs the requests. `lag` gets each
/// measure-phase dispatch's lateness (µs) per step.
pub(crate) fn dispatch(
    shared: Arc<DispatchShared>,
    arrival: Arrival,
    seed: u64,
    runtime: tokio::runtime::Handle,
    lag: Arc<[std::sync::Mutex<Histogram<u64>>]>,
) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for offset in Arrivals::new(shared.timeline.clone(), arrival, seed) {
        let due = shared.run_start + offset;
        if !wait_until(due, &shared) {
            break;
        }
        let pos = shared.timeline.at(offset);
        if pos.phase == Phase::Measure
            && let Some(Ok(mut hist)) = lag.get(pos.step).map(|m| m.lock())
        {
            let late = Instant::now().saturating_duration_since(due);
            hist.saturating_record((late.as_micros() as u64).max(1));
        }
        let phase_end = pos.phase_end.map(|end| shared.run_start + end);
        if phase_end.is_some_and(|end| Instant::now() >= end) {
            // The dispatcher itself fell behind past the arrival's phase.
            shared.inflight.note_unsent(pos.step);
            continue;
        }
        let shared = Arc::clone(&shared);
        tasks.spawn_on(
            async move {
                let permit = match phase_end {
                    Some(end) => tokio::select! {
                        biased;
                        permit = shared.inflight_cap.acquire() => permit,
                        () = tokio::time::sleep_until(end.into()) => {
                            if !shared.stop_dispatch.is_cancelled() {
                                shared.inflight.note_unsent(pos.step);
                            }
                            return;
                        }
                    },
                    None => shared.inflight_cap.acquire().await,
                };
                let Ok(_permit) = permit else {
                    return;
                };
                if shared.stop_dispatch.is_cancelled() {
                    return;
                }
                // Open loop: the schedule, not the outcome, decides the next send.
                let _ = send_one(&shared, pos.step, pos.phase, Some(due)).await;
            },
            &runtime,
        );
        // Reap finished tasks so the set stays as small as what is in flight.
        while tasks.try_join_next().is_some() {}
    }
    tasks
}

/// Sleeps, then spins, until `due`; false when dispatch was stopped meanwhile.
fn wait_until(due: Instant, shared: &DispatchShared) -> bool {
    loop {
        if shared.stop_dispatch.is_cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        let left = due - now;
        if left > SPIN_WINDOW {
            std::thread::sleep((left - SPIN_WINDOW).min(MAX_SLEEP));
        } else {
            std::hint::spin_loop();
        }
    }
}
