//! Watches each step's measure window from the side: the client's own health (CPU, ticker
//! lag, run-queue wait, machine busy share) and how many requests were in flight, sampled
//! every 100 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::health::{LagRecorder, WindowProbe};
use crate::live::LiveCounters;
use crate::timeline::Timeline;
use loadtest_run::ClientHealth;
use loadtest_run::InflightStats;

/// In-flight sampling period.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

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
    for step in watch.timeline.steps() {
        let start = watch.run_start + step.measure_start;
        tokio::select! {
            () = tokio::time::sleep_until(start.into()) => {}
            () = watch.cancel.cancelled() => return out,
        }
        let _ = watch.lag.take().await;
        let probe = WindowProbe::start();
        let window_start = Instant::now();
        let at_start = watch.live.window_started();
        let end = watch.run_start + step.measure_end;
        let mut inflight = InflightAcc::default();
        let mut next = window_start;
        loop {
            inflight.add(watch.live.inflight() as u64);
            next += SAMPLE_EVERY;
            if next >= end {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(next.into()) => {}
                () = watch.cancel.cancelled() => break,
            }
        }
        if !watch.cancel.is_cancelled() {
            tokio::select! {
                () = tokio::time::sleep_until(end.into()) => {}
                () = watch.cancel.cancelled() => {}
            }
        }
        let inflight = inflight.finish();
        let cut_short = Instant::now() < end;
        watch
            .live
            .window_ended(step.index, at_start, inflight, cut_short);
        let lag = watch.lag.take().await;
        out.push(WindowObservation {
            client: probe.finish(lag),
            inflight,
            cut_short,
        });
        if watch.cancel.is_cancelled() {
            break;
        }
    }
    out
}

#[derive(Debug, Default)]
struct InflightAcc {
    samples: u64,
    sum: u64,
    min: Option<u64>,
    max: u64,
}

impl InflightAcc {
    fn add(&mut self, n: u64) {
        self.samples += 1;
        self.sum += n;
        self.min = Some(self.min.map_or(n, |m| m.min(n)));
        self.max = self.max.max(n);
    }

    fn finish(&self) -> Option<InflightStats> {
        (self.samples > 0).then(|| InflightStats {
            samples: self.samples,
            mean: self.sum as f64 / self.samples as f64,
            min: self.min.unwrap_or(0),
            max: self.max,
        })
    }
}
