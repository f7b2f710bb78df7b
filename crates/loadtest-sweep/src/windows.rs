//! Watches each step's measure window from the side: the client's own health (CPU, ticker
//! lag, run-queue wait, machine busy share) and how many requests were in flight, sampled
//! every 100 ms.

use std::sync::Arc;
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::health::{LagRecorder, WindowProbe};
use crate::live::LiveCounters;
use crate::timeline::{OPEN, Timeline};
use loadtest_run::ClientHealth;
use loadtest_run::InflightStats;

/// What was seen of one window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WindowObservation {
    pub client: ClientHealth,
    pub inflight: Option<InflightStats>,
    /// The window ended before its planned end (what the console's step line says).
    pub cut_short: bool,
}

/// Inputs of [`watch_windows`].
pub(crate) struct WindowWatch {
    pub timeline: Timeline,
    pub run_start: Instant,
    pub live: Arc<LiveCounters>,
    pub lag: Arc<LagRecorder>,
    pub cancel: CancelToken,
}

/// One observation per step whose window began (a window cut short by `cancel` included).
pub(crate) async fn watch_windows(watch: WindowWatch) -> Vec<WindowObservation> {
    let mut out = Vec::new();
    let timeline = &watch.timeline;
    let measure_start =
        |index: usize| move |t: &Timeline| t.step(index).map_or(OPEN, |s| s.measure_start);
    let measure_end =
        |index: usize| move |t: &Timeline| t.step(index).map_or(OPEN, |s| s.measure_end);
    for index in 0..timeline.len() {
        // A count step's edges are learned as they come: they are read again as needed.
        tokio::select! {
            () = timeline.sleep_until(watch.run_start, measure_start(index)) => {}
            () = watch.cancel.cancelled() => return out,
        }
        let _ = watch.lag.take().await;
        let probe = WindowProbe::start();
        let at_start = watch.live.window_started();
        let end_of = |t: &Timeline| watch.run_start + measure_end(index)(t);
        // The in-flight samples: one at the window's start, one every 100 ms until it ends (a
        // count step's when its last request finishes: not a sample later), taken as the
        // count changes rather than on wake-ups. A time window's end is known now.
        let start = (watch.run_start + measure_start(index)(timeline)).min(Instant::now());
        let known_end = (measure_end(index)(timeline) < OPEN).then(|| end_of(timeline));
        watch.live.start_inflight(start, known_end);
        if !watch.cancel.is_cancelled() {
            tokio::select! {
                () = timeline.sleep_until(watch.run_start, measure_end(index)) => {}
                () = watch.cancel.cancelled() => {}
            }
        }
        let (now, end) = (Instant::now(), end_of(timeline));
        let inflight = watch.live.finish_inflight(now.min(end));
        let cut_short = now < end;
        watch
            .live
            .window_ended(index, at_start, inflight, cut_short);
        let lag = watch.lag.take().await;
        let kernel_stamped_pct = watch.live.kernel_stamped_pct_since(at_start);
        out.push(WindowObservation {
            client: probe.finish(lag, kernel_stamped_pct),
            inflight,
            cut_short,
        });
        if watch.cancel.is_cancelled() {
            break;
        }
    }
    out
}
