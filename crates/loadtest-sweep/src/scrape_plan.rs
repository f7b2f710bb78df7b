//! When `/metrics` is scraped: the window edges and every poll interval ([`schedule`]).

use std::time::Duration;

use crate::timeline::Timeline;

/// Why a scrape was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    Periodic,
    WindowStart(usize),
    WindowEnd(usize),
}

/// A periodic poll is not taken within this of a window edge: the edge's scrape stands for it.
pub(crate) const EDGE_GAP: Duration = Duration::from_millis(50);

/// The planned scrapes, in time order, up to the schedule's end, and the first poll time
/// after it (where the drain's polls go on).
pub(crate) fn schedule(
    timeline: &Timeline,
    interval: Duration,
) -> (Vec<(Duration, Trigger)>, Duration) {
    let mut times = Vec::new();
    let end = timeline.end();
    let mut t = Duration::ZERO;
    while t <= end {
        times.push((t, Trigger::Periodic));
        t += interval;
    }
    // Step by step, start before end: the stable sort keeps the end of step k before the
    // start of step k + 1 when they coincide.
    for s in timeline.steps() {
        times.push((s.measure_start, Trigger::WindowStart(s.index)));
        times.push((s.measure_end, Trigger::WindowEnd(s.index)));
    }
    times.sort_by_key(|(at, _)| *at);
    // A periodic scrape within `EDGE_GAP` of an edge adds nothing.
    let mut kept: Vec<(Duration, Trigger)> = Vec::with_capacity(times.len());
    for (at, trigger) in times {
        let near_edge = |other: &(Duration, Trigger)| {
            other.1 != Trigger::Periodic && other.0.abs_diff(at) < EDGE_GAP
        };
        if trigger == Trigger::Periodic && kept.iter().rev().take(2).any(near_edge) {
            continue;
        }
        if trigger != Trigger::Periodic
            && let Some(last) = kept.last()
            && last.1 == Trigger::Periodic
            && last.0.abs_diff(at) < EDGE_GAP
        {
            kept.pop();
        }
        kept.push((at, trigger));
    }
    (kept, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_has_edges_and_periodic_scrapes() {
        let t = Timeline::new(
            &[1.0, 2.0],
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_secs(3),
            Duration::ZERO,
        );
        let (s, after) = schedule(&t, Duration::from_secs(1));
        let edges: Vec<_> = s.iter().filter(|(_, k)| *k != Trigger::Periodic).collect();
        assert_eq!(edges.len(), 4);
        // Periodic scrapes at 1 s and 4 s coincide with edges and are dropped.
        let periodic: Vec<u64> = s
            .iter()
            .filter(|(_, k)| *k == Trigger::Periodic)
            .map(|(t, _)| t.as_secs())
            .collect();
        assert_eq!(periodic, vec![0, 2, 3, 5, 6]);
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0));
        // At 4 s step 0 ends and step 1 starts: the end edge first.
        let edges: Vec<Trigger> = edges.iter().map(|(_, k)| *k).collect();
        assert_eq!(
            edges,
            [
                Trigger::WindowStart(0),
                Trigger::WindowEnd(0),
                Trigger::WindowStart(1),
                Trigger::WindowEnd(1)
            ]
        );
        // The drain's polls go on on the same grid.
        assert_eq!(after, Duration::from_secs(8));
    }
}
