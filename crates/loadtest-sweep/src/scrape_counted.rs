//! The `/metrics` schedule of a count timeline (`--num-prompts`): a window's edges are not
//! known in advance (a step ends when its requests have finished), so each edge is scraped as
//! soon as the timeline learns it, with the periodic polls in between.

use std::time::Duration;

use crate::cancel::CancelToken;
use crate::scrape::Taker;
use crate::scrape_plan::{EDGE_GAP, Trigger};
use crate::timeline::{OPEN, Timeline};

/// Takes every window edge and the polls until the last window's end (or `stop`). Returns the
/// window left open, whether `stop` came, and the next poll time (where the drain's polls go
/// on).
pub(crate) async fn take_scrapes(
    taker: &mut Taker,
    interval: Duration,
    stop: &CancelToken,
) -> (Option<usize>, bool, Duration) {
    let timeline = taker.setup.timeline.clone();
    let run_start = taker.setup.run_start;
    let edges = 2 * timeline.len();
    let mut next_poll = Duration::ZERO;
    let mut open = None;
    // Edge `2k` is step k's window start, `2k + 1` its end.
    let edge_at = |t: &Timeline, edge: usize| -> Duration {
        t.step(edge / 2).map_or(OPEN, |s| {
            if edge.is_multiple_of(2) {
                s.measure_start
            } else {
                s.measure_end
            }
        })
    };
    let mut edge = 0;
    while edge < edges {
        let poll = next_poll;
        tokio::select! {
            biased;
            () = stop.cancelled() => return (open, true, next_poll),
            () = timeline.sleep_until(run_start, |t| edge_at(t, edge).min(poll)) => {}
        }
        let now = run_start.elapsed();
        let at = edge_at(&timeline, edge);
        if at <= now {
            let trigger = if edge.is_multiple_of(2) {
                open = Some(edge / 2);
                Trigger::WindowStart(edge / 2)
            } else {
                open = None;
                Trigger::WindowEnd(edge / 2)
            };
            edge += 1;
            taker.take(trigger).await;
        } else if next_poll <= now {
            // Not within EDGE_GAP of a known edge: the edge's scrape stands for it.
            if now + EDGE_GAP <= at {
                taker.take(Trigger::Periodic).await;
            }
            while next_poll <= now {
                next_poll += interval;
            }
        }
    }
    (open, false, next_poll)
}
