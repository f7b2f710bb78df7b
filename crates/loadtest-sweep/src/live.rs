//! Counters a front end reads while the sweep runs (progress display); updated with relaxed
//! atomics on the request path, never locked.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use loadtest_client::RequestRecord;

/// Live counts since the run started.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Requests in flight now.
    pub inflight: AtomicUsize,
    /// Requests sent.
    pub started: AtomicU64,
    /// Requests finished `ok`.
    pub ok: AtomicU64,
    /// Requests finished with any other status.
    pub failed: AtomicU64,
    /// TTFT of the most recent `ok` request, in µs (0 before the first).
    pub last_ttft_us: AtomicU64,
}

impl LiveCounters {
    pub(crate) fn request_started(&self) {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request_finished(&self, record: &RequestRecord) {
        self.inflight.fetch_sub(1, Ordering::Relaxed);
        if record.is_ok() {
            self.ok.fetch_add(1, Ordering::Relaxed);
            if let Some(ttft) = record.ttft {
                self.last_ttft_us
                    .store(ttft.as_micros() as u64, Ordering::Relaxed);
            }
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests in flight now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }
}
