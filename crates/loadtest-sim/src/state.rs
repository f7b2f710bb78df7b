//! State shared by every connection of one simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::SimConfig;
use crate::counts::Counters;
use crate::engine::EngineHandle;
use crate::metrics::Metrics;
use crate::truth::Truth;

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    /// Shared with the batching engine.
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) truth: Truth,
    pub(crate) counts: Counters,
    /// Generation requests numbered in arrival order: the index of their seeded draws.
    next_request: AtomicU64,
    /// `/metrics` scrapes numbered, for seeded garbage.
    next_scrape: AtomicU64,
    /// The batching engine (`None` for the fixed profile).
    pub(crate) engine: Option<EngineHandle>,
    /// `system_fingerprint`.
    pub(crate) fingerprint: String,
    /// Unix seconds at start, for `created` fields.
    pub(crate) started_unix_s: f64,
}

impl Shared {
    pub(crate) fn new(config: SimConfig, truth: Truth, engine: Option<EngineHandle>) -> Self {
        let started_unix_s = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Shared {
            metrics: Arc::new(Metrics::new(
                started_unix_s,
                config.kv_cache_tokens,
                config.max_model_len,
            )),
            fingerprint: format!("vllm-{}-sim", config.server_version),
            config,
            truth,
            counts: Counters::default(),
            next_request: AtomicU64::new(0),
            next_scrape: AtomicU64::new(0),
            engine,
            started_unix_s,
        }
    }

    pub(crate) fn next_request(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_scrape(&self) -> u64 {
        self.next_scrape.fetch_add(1, Ordering::Relaxed)
    }

    /// Unix seconds now.
    pub(crate) fn now_unix_s(&self) -> u64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
