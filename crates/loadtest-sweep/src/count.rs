//! Fixed-count steps (`--num-prompts N`, `--warmup-requests W`): each step sends exactly its
//! requests and ends when they have all finished — whatever their outcome (a failure or a
//! timeout finishes a request too, so a hung server still ends the step within the request
//! timeout). The [`Timeline`] learns each end as it happens ([`Timeline::counted`]).
//!
//! Request numbering stays that of the time windows: requests are numbered in the order they
//! are sent, the warmup's first (`0..W`), then step `k`'s (`W + k·N .. W + (k+1)·N`). A shard
//! `i` of `n` sends the requests `j` of each range with `j mod n = i`, so the shards together
//! send exactly a single run's requests, each in the same step.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use loadtest_run::{Arrival, Phase, Shard};

use crate::arrival::Arrivals;
use crate::config::SweepConfig;
use crate::dispatch::{DispatchShared, FailureBackoff, pause_unless_stopped, send_one};
use crate::timeline::{OPEN, Timeline};
use crate::validate::{ConfigError, ConfigField};

/// The engine's rules for count steps (called by [`SweepConfig::validate`]).
pub(crate) fn validate(c: &SweepConfig) -> Result<(), ConfigError> {
    use ConfigField as F;
    let warmup_requests = c.warmup_requests.unwrap_or(0);
    let Some(n) = c.num_prompts else {
        if warmup_requests > 0 {
            return Err(ConfigError::new(
                F::WarmupRequests,
                warmup_requests,
                "applies to count steps only: set num_prompts too (time steps take a warmup time)",
            ));
        }
        return Ok(());
    };
    if n == 0 {
        return Err(ConfigError::new(
            F::NumPrompts,
            0,
            "expected a whole number >= 1",
        ));
    }
    if c.arrival == Arrival::Trace {
        return Err(ConfigError::new(
            F::NumPrompts,
            n,
            "cannot be combined with a trace replay, whose steps are time slices of the trace",
        ));
    }
    if !c.ramp.is_zero() {
        return Err(ConfigError::new(
            F::NumPrompts,
            n,
            format!(
                "count steps have no ramp, but ramp is {} s: set it to 0",
                c.ramp.as_secs_f64()
            ),
        ));
    }
    if warmup_requests > 0 && !c.warmup.is_zero() {
        return Err(ConfigError::new(
            F::WarmupRequests,
            warmup_requests,
            format!(
                "cannot be combined with a warmup time ({} s): set warmup to 0",
                c.warmup.as_secs_f64()
            ),
        ));
    }
    let shards = u64::from(c.shard.count());
    if n < shards {
        return Err(ConfigError::new(
            F::NumPrompts,
            n,
            format!("with {shards} shards every step needs at least {shards} requests"),
        ));
    }
    Ok(())
}

/// This process's share of the requests `start .. start + len` of the run: those `j` with
/// `j mod n = i`.
pub(crate) fn shard_share(start: u64, len: u64, shard: Shard) -> u64 {
    let n = u64::from(shard.count());
    let i = u64::from(shard.index());
    let below = |x: u64| x / n + u64::from(x % n > i);
    below(start.saturating_add(len)) - below(start)
}

/// One counted stretch (the warmup, or a step): how many requests this process sends in it.
#[derive(Debug)]
pub(crate) struct Segment {
    quota: u64,
    claimed: AtomicU64,
    done: AtomicU64,
}

impl Segment {
    fn new(quota: u64) -> Self {
        Segment {
            quota,
            claimed: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    /// Takes the right to send one of the segment's requests; false once all are taken.
    fn claim(&self) -> bool {
        self.claimed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < self.quota).then_some(c + 1)
            })
            .is_ok()
    }

    /// One request finished; true for the last.
    fn finish(&self) -> bool {
        self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.quota
    }
}

/// The segments of a count run, for this process.
#[derive(Debug)]
pub(crate) struct CountPlan {
    timeline: Timeline,
    run_start: Instant,
    warmup: Option<Segment>,
    steps: Vec<Segment>,
}

impl CountPlan {
    /// `None` for a timeline of time windows.
    pub(crate) fn new(timeline: &Timeline, shard: Shard, run_start: Instant) -> Option<Self> {
        let n = timeline.num_prompts()?;
        let w = timeline.warmup_requests();
        let steps = (0..timeline.len() as u64)
            .map(|k| Segment::new(shard_share(w + k * n, n, shard)))
            .collect();
        Some(CountPlan {
            timeline: timeline.clone(),
            run_start,
            warmup: (w > 0).then(|| Segment::new(shard_share(0, w, shard))),
            steps,
        })
    }

    /// The timeline the plan follows.
    pub(crate) fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The count phase under way now: (finished, this process's requests in it).
    pub(crate) fn progress(&self) -> Option<(u64, u64)> {
        let pos = self.timeline.at(self.run_start.elapsed());
        let seg = self.segment(pos.phase, pos.step)?;
        Some((seg.done.load(Ordering::Relaxed).min(seg.quota), seg.quota))
    }

    fn segment(&self, phase: Phase, step: usize) -> Option<&Segment> {
        match phase {
            Phase::Warmup => self.warmup.as_ref(),
            Phase::Measure => self.steps.get(step),
            _ => None,
        }
    }

    /// The segment's requests have all finished: its end is now.
    fn close(&self, phase: Phase, step: usize) {
        let at = self.run_start.elapsed();
        match phase {
            Phase::Warmup => self.timeline.close_warmup(at),
            _ => self.timeline.close_step(step, at),
        }
    }

    /// A request of `phase`/`step` finished: closes its segment after the last.
    fn finished(&self, phase: Phase, step: usize) {
        if self.segment(phase, step).is_some_and(Segment::finish) {
            self.close(phase, step);
        }
    }
}

/// The closed loop's slot `slot` on a count timeline: while the step's requests are not all
/// taken, an active slot sends one after another; then it waits for the next step.
pub(crate) async fn worker(shared: Arc<DispatchShared>, plan: Arc<CountPlan>, slot: usize) {
    let mut connected = false;
    let mut backoff = FailureBackoff::default();
    loop {
        if shared.stop_dispatch.is_cancelled() {
            return;
        }
        let elapsed = shared.run_start.elapsed();
        let pos = shared.timeline.at(elapsed);
        if pos.phase == Phase::Drain {
            return;
        }
        let segment = plan.segment(pos.phase, pos.step);
        if let Some(seg) = segment
            && seg.quota == 0
        {
            plan.close(pos.phase, pos.step); // nothing of it is this process's to send
        }
        let active = (slot + 1) as f64 <= pos.target + 1e-9;
        let send = active
            && match segment {
                Some(seg) => seg.claim(),
                None => pos.phase == Phase::Warmup, // a time warmup
            };
        if !send {
            // Until the phase ends (a count phase's end is learned when it comes).
            let timeline = &shared.timeline;
            tokio::select! {
                () = timeline.sleep_until(shared.run_start, |t| {
                    t.at(elapsed).phase_end.unwrap_or(OPEN)
                }) => {}
                () = shared.stop_dispatch.cancelled() => return,
            }
            continue;
        }
        if !connected {
            shared.pacer.wait_turn().await;
            connected = true;
        }
        let Ok(permit) = shared.inflight_cap.acquire().await else {
            return;
        };
        if shared.stop_dispatch.is_cancelled() {
            return;
        }
        let (status, took) = send_one(&shared, pos.step, pos.phase, None).await;
        drop(permit);
        plan.finished(pos.phase, pos.step);
        if let Some(pause) = backoff.after(status, took)
            && !pause_unless_stopped(&shared, pause).await
        {
            return;
        }
    }
}

/// The open loop on a count timeline (on its own thread, like `open_loop::dispatch`): each
/// count segment gets exactly its requests, on a schedule drawn from the seed at the step's
/// rate from the moment the step starts; a time warmup gets its arrivals until it ends.
/// Latency is measured from each scheduled time. Returns the requests still running.
pub(crate) fn dispatch_open(
    shared: Arc<DispatchShared>,
    plan: Arc<CountPlan>,
    arrival: Arrival,
    seed: u64,
    runtime: tokio::runtime::Handle,
    lag: Arc<[std::sync::Mutex<Histogram<u64>>]>,
) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let timeline = shared.timeline.clone();
    let first_load = timeline.step(0).map_or(0.0, |s| s.load);
    let mut stretches: Vec<(Phase, usize)> = Vec::new();
    if plan.warmup.is_some() || !timeline.warmup().is_zero() {
        stretches.push((Phase::Warmup, 0));
    }
    stretches.extend((0..timeline.len()).map(|k| (Phase::Measure, k)));
    for (number, (phase, step)) in stretches.into_iter().enumerate() {
        // Wait for the stretch to begin (a step begins when the one before it has ended).
        let start = loop {
            if shared.stop_dispatch.is_cancelled() {
                return tasks;
            }
            let start = match phase {
                Phase::Warmup => Duration::ZERO,
                _ => timeline.step(step).map_or(OPEN, |s| s.measure_start),
            };
            if start < OPEN && shared.run_start.elapsed() >= start {
                break start;
            }
            std::thread::sleep(Duration::from_millis(1));
            while tasks.try_join_next().is_some() {}
        };
        let segment = plan.segment(phase, step);
        let (rate, quota) = match segment {
            Some(seg) => (
                timeline.step(step).map_or(first_load, |s| s.load),
                seg.quota,
            ),
            None => (first_load, u64::MAX), // a time warmup: until it ends
        };
        if quota == 0 {
            plan.close(phase, step);
            continue;
        }
        let span = match segment {
            Some(_) => OPEN,
            None => timeline.warmup(),
        };
        let schedule = Timeline::new(
            &[rate],
            Duration::ZERO,
            Duration::ZERO,
            span,
            Duration::ZERO,
        );
        let seed = loadtest_dist::derive_seed(seed, &format!("count stretch {number}"));
        for offset in
            Arrivals::new(schedule, arrival, seed).take(quota.min(usize::MAX as u64) as usize)
        {
            let due = shared.run_start + start + offset;
            if !crate::open_loop::wait_until(due, &shared) {
                return tasks;
            }
            if phase == Phase::Measure
                && let Some(Ok(mut hist)) = lag.get(step).map(|m| m.lock())
            {
                let late = Instant::now().saturating_duration_since(due);
                hist.saturating_record((late.as_micros() as u64).max(1));
            }
            let (shared, plan) = (Arc::clone(&shared), Arc::clone(&plan));
            tasks.spawn_on(
                async move {
                    let Ok(_permit) = shared.inflight_cap.acquire().await else {
                        return;
                    };
                    if shared.stop_dispatch.is_cancelled() {
                        return;
                    }
                    let _ = send_one(&shared, step, phase, Some(due)).await;
                    plan.finished(phase, step);
                },
                &runtime,
            );
            while tasks.try_join_next().is_some() {}
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_shares_add_up_to_the_range() {
        for n in 1..6 {
            for start in 0..12 {
                for len in 0..15 {
                    let total: u64 = (0..n)
                        .map(|i| shard_share(start, len, Shard::new(i, n).unwrap()))
                        .sum();
                    assert_eq!(total, len, "n {n} start {start} len {len}");
                    for i in 0..n {
                        let own = (start..start + len).filter(|j| j % u64::from(n) == u64::from(i));
                        assert_eq!(
                            shard_share(start, len, Shard::new(i, n).unwrap()),
                            own.count() as u64
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_segment_hands_out_exactly_its_quota() {
        let seg = Segment::new(3);
        assert!(seg.claim() && seg.claim() && seg.claim());
        assert!(!seg.claim());
        assert!(!seg.finish() && !seg.finish());
        assert!(seg.finish());
    }
}
