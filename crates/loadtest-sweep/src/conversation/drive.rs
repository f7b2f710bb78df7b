//! Running conversations: the closed loop's slots (one user each, conversations back to
//! back) and rate mode's arrivals (each starts one conversation).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::SemaphorePermit;

use super::{Conversation, ConversationPlan};
use crate::dispatch::{DispatchShared, FailureBackoff, send_request, slot_turn};
use crate::timeline::{Position, Timeline};
use loadtest_run::Phase;

/// Waits `think` before a conversation's next turn; false when the run stopped meanwhile or
/// its schedule ended (the conversation is cut there).
async fn think(shared: &DispatchShared, think: Duration) -> bool {
    if think.is_zero() {
        return !shared.stop_dispatch.is_cancelled();
    }
    tokio::select! {
        () = tokio::time::sleep(think) => !shared.stop_dispatch.is_cancelled(),
        () = shared.stop_dispatch.cancelled() => false,
        () = shared.timeline.sleep_until(shared.run_start, Timeline::end) => false,
    }
}

/// Closed loop: slot `slot` is one user. While the timeline's target exceeds `slot` it runs
/// conversations back to back, each turn after the previous answer and its think time; while
/// it does not (a ramp, a cooldown, a lower step) the user waits, and its conversation goes on
/// when the slot is active again.
pub(crate) async fn worker(shared: Arc<DispatchShared>, plan: Arc<ConversationPlan>, slot: usize) {
    let mut connected = false;
    let mut backoff = FailureBackoff::default();
    let mut conversation: Option<Conversation> = None;
    while let Some((permit, pos)) = slot_turn(&shared, slot, &mut connected).await {
        let current = conversation.get_or_insert_with(|| plan.start(&shared));
        let (id, inputs, place) = current.next_request(&plan, &shared.inputs);
        let sent = send_request(&shared, id, inputs, pos.step, pos.phase, None, Some(place)).await;
        drop(permit);
        let (status, took) = (sent.status, sent.took);
        let pause = match current.after(&plan, sent) {
            Some(wait) => Some(wait),
            None => {
                conversation = None;
                backoff.after(status, took)
            }
        };
        if let Some(pause) = pause
            && !think(&shared, pause).await
        {
            return;
        }
    }
}

/// Where the sweep is for a later turn, once it may be sent: `None` when the schedule has
/// ended or dispatch stopped. A cooldown is waited out (nothing is sent in one).
async fn sendable_position(shared: &DispatchShared) -> Option<Position> {
    loop {
        if shared.stop_dispatch.is_cancelled() {
            return None;
        }
        let elapsed = shared.run_start.elapsed();
        let pos = shared.timeline.at(elapsed);
        match (pos.phase, pos.phase_end) {
            (Phase::Drain, _) => return None,
            (Phase::Cooldown, Some(end)) => tokio::select! {
                () = tokio::time::sleep(end.saturating_sub(elapsed).max(Duration::from_micros(100))) => {}
                () = shared.stop_dispatch.cancelled() => return None,
            },
            _ => return Some(pos),
        }
    }
}

/// Rate mode: the conversation an arrival starts. Its first turn is sent at once (the
/// dispatcher has waited for the arrival and `permit`), attributed to `step` and `phase` and
/// scheduled at `due`; each later turn after the previous answer and its think time — that
/// instant is its schedule, so `sched_delay_s` is its wait for an in-flight slot — attributed
/// to where the sweep is when it is sent.
pub(crate) async fn arrival(
    shared: &DispatchShared,
    plan: &ConversationPlan,
    permit: SemaphorePermit<'_>,
    step: usize,
    phase: Phase,
    due: Instant,
) {
    let mut conversation = plan.start(shared);
    let (mut step, mut phase, mut due, mut permit) = (step, phase, due, permit);
    loop {
        let (id, inputs, place) = conversation.next_request(plan, &shared.inputs);
        let sent = send_request(shared, id, inputs, step, phase, Some(due), Some(place)).await;
        drop(permit);
        let end = sent.end;
        let Some(wait) = conversation.after(plan, sent) else {
            return;
        };
        if !think(shared, wait).await {
            return;
        }
        due = end + wait;
        let Some(_) = sendable_position(shared).await else {
            return;
        };
        permit = tokio::select! {
            permit = shared.inflight_cap.acquire() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            () = shared.stop_dispatch.cancelled() => return,
        };
        let Some(pos) = sendable_position(shared).await else {
            return;
        };
        (step, phase) = (pos.step, pos.phase);
    }
}
