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

use crate::dispatch::{DispatchShared, send_inputs, send_one};
use crate::inputs::InputSource;
use crate::trace::{TraceArrivals, TraceRow};
use loadtest_run::Arrival;
use loadtest_run::Phase;

/// The last stretch before an arrival is spun, not slept.
pub const SPIN_WINDOW: Duration = Duration::from_micros(300);

/// The longest single sleep, so a cancel is seen promptly.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// Runs the dispatcher until the schedule ends or dispatch stops, and returns the requests
/// still running. Call on its own thread; `runtime` runs the requests. `lag` gets each
/// measure-phase dispatch's lateness (µs) per step. With a trace input
/// ([`InputSource::Trace`]) the schedule is the trace's rows (this shard's), each sent as
/// the run's request of its row number; otherwise `arrival` draws it from `seed`.
pub(crate) fn dispatch(
    shared: Arc<DispatchShared>,
    arrival: Arrival,
    seed: u64,
    runtime: tokio::runtime::Handle,
    lag: Arc<[std::sync::Mutex<Histogram<u64>>]>,
) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut dispatcher = Dispatcher {
        shared: &shared,
        runtime: &runtime,
        lag: &lag,
        tasks: &mut tasks,
    };
    if let InputSource::Trace(trace) = shared.inputs.source() {
        match TraceArrivals::open(trace, shared.shard) {
            Ok(rows) => {
                for (offset, index, row) in rows {
                    if !dispatcher.arrive(offset, Some((index, row))) {
                        break;
                    }
                }
            }
            Err(err) => tracing::error!(%err, "the trace cannot be replayed"),
        }
    } else {
        for offset in Arrivals::new(shared.timeline.clone(), arrival, seed) {
            if !dispatcher.arrive(offset, None) {
                break;
            }
        }
    }
    tasks
}

/// What one arrival needs.
struct Dispatcher<'a> {
    shared: &'a Arc<DispatchShared>,
    runtime: &'a tokio::runtime::Handle,
    lag: &'a Arc<[std::sync::Mutex<Histogram<u64>>]>,
    tasks: &'a mut tokio::task::JoinSet<()>,
}

impl Dispatcher<'_> {
    /// Waits for the arrival at `offset` and starts its request (a trace row's, with its
    /// request number); false when dispatch was stopped.
    fn arrive(&mut self, offset: Duration, row: Option<(u64, TraceRow)>) -> bool {
        let shared = self.shared;
        let due = shared.run_start + offset;
        if !wait_until(due, shared) {
            return false;
        }
        let pos = shared.timeline.at(offset);
        if pos.phase == Phase::Drain {
            // Past the last step (a trace's rows beyond it are not replayed).
            return false;
        }
        if pos.phase == Phase::Measure
            && let Some(Ok(mut hist)) = self.lag.get(pos.step).map(|m| m.lock())
        {
            let late = Instant::now().saturating_duration_since(due);
            hist.saturating_record((late.as_micros() as u64).max(1));
        }
        let phase_end = pos.phase_end.map(|end| shared.run_start + end);
        if phase_end.is_some_and(|end| Instant::now() >= end) {
            // The dispatcher itself fell behind past the arrival's phase.
            shared.inflight.note_unsent(pos.step);
            return true;
        }
        let shared = Arc::clone(shared);
        self.tasks.spawn_on(
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
                let Ok(permit) = permit else {
                    return;
                };
                if shared.stop_dispatch.is_cancelled() {
                    return;
                }
                // Open loop: the schedule, not the outcome, decides the next send.
                match row {
                    Some((index, row)) => {
                        let inputs = shared.inputs.trace_inputs(index, &row);
                        let _ = send_inputs(&shared, index, inputs, pos.step, pos.phase, Some(due))
                            .await;
                        drop(permit);
                    }
                    // `--turns`: the arrival starts a conversation.
                    None => match shared.conversations.clone() {
                        Some(plan) => {
                            crate::conversation::drive::arrival(
                                &shared, &plan, permit, pos.step, pos.phase, due,
                            )
                            .await;
                        }
                        None => {
                            let _ = send_one(&shared, pos.step, pos.phase, Some(due)).await;
                            drop(permit);
                        }
                    },
                }
            },
            self.runtime,
        );
        // Reap finished tasks so the set stays as small as what is in flight.
        while self.tasks.try_join_next().is_some() {}
        true
    }
}

/// Sleeps, then spins, until `due`; false when dispatch was stopped meanwhile. (The open
/// loop's arrivals and the count steps' schedule share it.)
pub(crate) fn wait_until(due: Instant, shared: &DispatchShared) -> bool {
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
