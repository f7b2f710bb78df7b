//! State shared between the poller handle and its background task.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use super::status::{PollerStats, PollerStatus, Unavailable};
use crate::fields::QueryField;
use crate::lines::Line;
use crate::parse::parse_line;
use crate::sample::{ClockAnchor, GpuSample};

/// Most fixed warnings kept; later ones are counted only.
const MAX_WARNINGS: usize = 32;
/// Longest excerpt of a bad line quoted in a warning.
const EXCERPT_CHARS: usize = 120;

#[derive(Debug)]
struct Inner {
    buffer: VecDeque<GpuSample>,
    capacity: usize,
    stats: PollerStats,
    warnings: Vec<String>,
    suppressed_warnings: u64,
    first_malformed: Option<String>,
    last_exit: Option<String>,
}

/// Samples, counters and warnings behind one short-held lock, plus the status channel.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    status: watch::Sender<PollerStatus>,
    clock: ClockAnchor,
}

pub(crate) fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        s.push('…');
    }
    s
}

impl Shared {
    pub(crate) fn new(capacity: usize, clock: ClockAnchor) -> Self {
        Self {
            inner: Mutex::new(Inner {
                buffer: VecDeque::new(),
                capacity: capacity.max(1),
                stats: PollerStats::default(),
                warnings: Vec::new(),
                suppressed_warnings: 0,
                first_malformed: None,
                last_exit: None,
            }),
            status: watch::channel(PollerStatus::Starting).0,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the data inconsistent in a way that
        // matters here (counters and a queue), so a poisoned lock is used as is.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> PollerStatus {
        self.status.borrow().clone()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<PollerStatus> {
        self.status.subscribe()
    }

    pub(crate) fn set_status(&self, status: PollerStatus) {
        self.status.send_replace(status);
    }

    /// Records why telemetry is unavailable: one warning, and the status.
    pub(crate) fn set_unavailable(&self, why: Unavailable) {
        self.warn(why.to_string());
        self.set_status(PollerStatus::Unavailable(why));
    }

    /// Adds a warning for the caller, who reports it (so it is logged at `info` only: a front
    /// end printing the caller's warnings would otherwise show it twice).
    pub(crate) fn warn(&self, warning: String) {
        tracing::info!(target: "loadtest_gpu", "{warning}");
        let mut inner = self.lock();
        if inner.warnings.len() < MAX_WARNINGS {
            inner.warnings.push(warning);
        } else {
            inner.suppressed_warnings += 1;
        }
    }

    pub(crate) fn warnings(&self) -> Vec<String> {
        let inner = self.lock();
        let mut out = inner.warnings.clone();
        let s = &inner.stats;
        if s.malformed_lines > 0 {
            out.push(format!(
                "nvidia-smi: skipped {} malformed line(s); first: {}",
                s.malformed_lines,
                inner.first_malformed.as_deref().unwrap_or("(none kept)")
            ));
        }
        if s.restarts > 0 {
            out.push(format!(
                "nvidia-smi: the child exited and was restarted {} time(s); samples have a gap at each restart (last exit: {})",
                s.restarts,
                inner.last_exit.as_deref().unwrap_or("unknown")
            ));
        }
        if s.dropped_samples > 0 {
            out.push(format!(
                "nvidia-smi: dropped {} sample(s) because they were not drained in time",
                s.dropped_samples
            ));
        }
        if inner.suppressed_warnings > 0 {
            out.push(format!(
                "{} further GPU telemetry warning(s) suppressed",
                inner.suppressed_warnings
            ));
        }
        out
    }

    pub(crate) fn stats(&self) -> PollerStats {
        self.lock().stats
    }

    pub(crate) fn drain_into(&self, out: &mut Vec<GpuSample>) {
        out.extend(self.lock().buffer.drain(..));
    }

    pub(crate) fn note_restart(&self, last_exit: String) {
        let mut inner = self.lock();
        inner.stats.restarts += 1;
        inner.last_exit = Some(last_exit);
    }

    /// Parses lines that arrived at `at` and queues their samples. Returns the samples added.
    pub(crate) fn ingest(
        &self,
        lines: &[Line],
        at: Instant,
        child_run: u32,
        fields: &[QueryField],
    ) -> u64 {
        let unix_s = self.clock.unix_s(at);
        let mut added = 0;
        let mut first_bad: Option<String> = None;
        let mut first_drop = false;
        {
            let mut inner = self.lock();
            for line in lines {
                let parsed = match line {
                    Line::Text(t) if t.trim().is_empty() => continue,
                    Line::Text(t) => {
                        parse_line(t, fields).map_err(|e| format!("{e} in {:?}", excerpt(t)))
                    }
                    Line::Overlong => Err("line longer than 4096 bytes".to_owned()),
                };
                inner.stats.lines += 1;
                match parsed {
                    Ok(reading) => {
                        if inner.buffer.len() >= inner.capacity {
                            inner.buffer.pop_front();
                            first_drop |= inner.stats.dropped_samples == 0;
                            inner.stats.dropped_samples += 1;
                        }
                        inner.buffer.push_back(GpuSample {
                            at,
                            unix_s,
                            child_run,
                            reading,
                        });
                        inner.stats.samples += 1;
                        added += 1;
                    }
                    Err(why) => {
                        inner.stats.malformed_lines += 1;
                        if inner.first_malformed.is_none() {
                            inner.first_malformed = Some(why.clone());
                            first_bad = Some(why);
                        }
                    }
                }
            }
        }
        if let Some(why) = first_bad {
            tracing::warn!(target: "loadtest_gpu", "skipping malformed nvidia-smi line ({why}); further ones are only counted");
        }
        if first_drop {
            tracing::warn!(target: "loadtest_gpu", "GPU sample buffer full: dropping the oldest samples; drain more often");
        }
        added
    }
}
