//! Requests received and answered, by endpoint and status: readable in-process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The endpoints the simulator tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/completions`.
    Completions,
    /// `GET /v1/models`.
    Models,
    /// `GET /version`.
    Version,
    /// `GET /health`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// `GET /sim/truth`.
    SimTruth,
    /// `POST /sim/truth/reset`.
    SimTruthReset,
    /// Any other path, or a known path with the wrong method.
    Other,
}

impl Endpoint {
    /// Every endpoint, in order.
    pub const ALL: [Endpoint; 9] = [
        Endpoint::ChatCompletions,
        Endpoint::Completions,
        Endpoint::Models,
        Endpoint::Version,
        Endpoint::Health,
        Endpoint::Metrics,
        Endpoint::SimTruth,
        Endpoint::SimTruthReset,
        Endpoint::Other,
    ];

    /// The path it is served at (`"*"` for [`Endpoint::Other`]).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Models => "/v1/models",
            Endpoint::Version => "/version",
            Endpoint::Health => "/health",
            Endpoint::Metrics => "/metrics",
            Endpoint::SimTruth => "/sim/truth",
            Endpoint::SimTruthReset => "/sim/truth/reset",
            Endpoint::Other => "*",
        }
    }
}

/// A copy of the request counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    received: BTreeMap<Endpoint, u64>,
    answered: BTreeMap<(Endpoint, u16), u64>,
}

impl RequestCounts {
    /// Requests that reached `endpoint` (counted when the request head arrives).
    pub fn received(&self, endpoint: Endpoint) -> u64 {
        self.received.get(&endpoint).copied().unwrap_or(0)
    }

    /// Responses from `endpoint` with HTTP `status`.
    pub fn answered(&self, endpoint: Endpoint, status: u16) -> u64 {
        self.answered.get(&(endpoint, status)).copied().unwrap_or(0)
    }

    /// All requests received.
    pub fn total_received(&self) -> u64 {
        self.received.values().sum()
    }

    /// Every `(endpoint, status, count)` with a non-zero count.
    pub fn answered_all(&self) -> impl Iterator<Item = (Endpoint, u16, u64)> + '_ {
        self.answered.iter().map(|(&(e, s), &n)| (e, s, n))
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    received: [AtomicU64; 9],
    answered: Mutex<BTreeMap<(Endpoint, u16), u64>>,
}

impl Counters {
    pub(crate) fn received(&self, endpoint: Endpoint) {
        self.received[endpoint as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn answered(&self, endpoint: Endpoint, status: u16) {
        let mut map = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry((endpoint, status)).or_insert(0) += 1;
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        let received = Endpoint::ALL
            .iter()
            .map(|&e| (e, self.received[e as usize].load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect();
        let answered = self
            .answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        RequestCounts { received, answered }
    }
}
