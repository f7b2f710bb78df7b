//! What the simulator actually did: arrival and real write time of every token event, kept as
//! HDR histograms (µs resolution, bounded memory) and served at `GET /sim/truth`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::faults::{FAULT_KINDS, FaultKind};

/// Highest value tracked: one hour in µs (larger values are clamped).
const MAX_US: u64 = 3_600_000_000;

/// Percentiles of one HDR histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    /// Observations.
    pub count: u64,
    /// Mean (µs).
    pub mean: f64,
    /// Median (µs).
    pub p50: u64,
    /// 90th percentile (µs).
    pub p90: u64,
    /// 99th percentile (µs).
    pub p99: u64,
    /// Largest (µs).
    pub max: u64,
}

/// Faults injected since the last reset, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FaultCounts {
    /// Requests answered 500.
    pub http_500: u64,
    /// Requests answered 429.
    pub http_429: u64,
    /// Streams cut mid-way.
    pub disconnect: u64,
    /// Streams paused.
    pub stall: u64,
    /// Broken JSON events sent.
    pub malformed: u64,
    /// `/metrics` answers replaced by garbage.
    pub metrics_garbage: u64,
}

/// The body of `GET /sim/truth`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TruthSnapshot {
    /// Seconds since the last reset (or start).
    pub window_s: f64,
    /// Generation requests received (chat and completions, any outcome).
    pub requests: u64,
    /// Token events written to sockets (streams only).
    pub token_events: u64,
    /// Arrival (the kernel's receive stamp of the request's bytes where there is one, else
    /// when the request was handed over) to the first token event written, per stream.
    pub ttft_us: Percentiles,
    /// Gap between consecutive token events of one stream, as written.
    pub gap_us: Percentiles,
    /// Written minus scheduled, per token event: the simulator's own lateness.
    pub lateness_us: Percentiles,
    /// Faults injected.
    pub faults: FaultCounts,
}

struct State {
    since: Instant,
    requests: u64,
    token_events: u64,
    ttft: Histogram<u64>,
    gap: Histogram<u64>,
    lateness: Histogram<u64>,
    faults: [u64; FAULT_KINDS],
}

/// The recorder shared by every connection.
pub(crate) struct Truth {
    state: Mutex<State>,
}

impl std::fmt::Debug for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Truth").finish_non_exhaustive()
    }
}

fn histogram() -> Result<Histogram<u64>, SimError> {
    Histogram::new_with_bounds(1, MAX_US, 3)
        .map_err(|err| SimError::Internal(format!("HDR histogram: {err}")))
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).min(MAX_US)
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    }
}

/// One token event handed to a connection, to be stamped when the write completes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    /// When the request arrived.
    pub(crate) arrival: Instant,
    /// When this event was due.
    pub(crate) scheduled: Instant,
    /// When the previous token event of the stream was written (`None`: first).
    pub(crate) previous: Option<Instant>,
}

impl Truth {
    pub(crate) fn new() -> Result<Self, SimError> {
        Ok(Truth {
            state: Mutex::new(State {
                since: Instant::now(),
                requests: 0,
                token_events: 0,
                ttft: histogram()?,
                gap: histogram()?,
                lateness: histogram()?,
                faults: [0; FAULT_KINDS],
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one generation request.
    pub(crate) fn request(&self) {
        self.lock().requests += 1;
    }

    /// Counts one injected fault.
    pub(crate) fn fault(&self, kind: FaultKind) {
        self.lock().faults[kind as usize] += 1;
    }

    /// Records token events written at `at`; returns the lateness of each, in order.
    pub(crate) fn written(&self, events: &[Written], at: Instant, lateness: &mut Vec<Duration>) {
        let mut s = self.lock();
        for e in events {
            s.token_events += 1;
            match e.previous {
                None => {
                    let _ = s.ttft.record(us(at.saturating_duration_since(e.arrival)));
                }
                Some(prev) => {
                    let _ = s.gap.record(us(at.saturating_duration_since(prev)));
                }
            }
            let late = at.saturating_duration_since(e.scheduled);
            let _ = s.lateness.record(us(late));
            lateness.push(late);
        }
    }

    /// The current numbers.
    pub(crate) fn snapshot(&self) -> TruthSnapshot {
        let s = self.lock();
        let f = s.faults;
        TruthSnapshot {
            window_s: s.since.elapsed().as_secs_f64(),
            requests: s.requests,
            token_events: s.token_events,
            ttft_us: percentiles(&s.ttft),
            gap_us: percentiles(&s.gap),
            lateness_us: percentiles(&s.lateness),
            faults: FaultCounts {
                http_500: f[FaultKind::Http500 as usize],
                http_429: f[FaultKind::Http429 as usize],
                disconnect: f[FaultKind::Disconnect as usize],
                stall: f[FaultKind::Stall as usize],
                malformed: f[FaultKind::Malformed as usize],
                metrics_garbage: f[FaultKind::MetricsGarbage as usize],
            },
        }
    }

    /// Clears everything.
    pub(crate) fn reset(&self) {
        let mut s = self.lock();
        s.since = Instant::now();
        s.requests = 0;
        s.token_events = 0;
        s.ttft.reset();
        s.gap.reset();
        s.lateness.reset();
        s.faults = [0; FAULT_KINDS];
    }
}
