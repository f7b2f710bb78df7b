//! What a run collected, handed to `finalize` and the warnings.

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use loadtest_run::{AutoStopped, RunFacts};

use crate::gpu_telemetry::GpuTelemetry;
use crate::inflight::WindowEnd;
use crate::recorder::Recorded;
use crate::scrape::Scraped;
use crate::timeline::Timeline;
use crate::windows::WindowObservation;

/// Everything the run collected, handed to `finalize`.
pub(crate) struct Collected<'a> {
    pub facts: RunFacts,
    /// Preflight's warnings (a `/version` answer dropped as too long, …).
    pub preflight_warnings: Vec<String>,
    /// Preflight's `/metrics` warning (an unusable `/metrics`).
    pub metrics_preflight_warning: Option<String>,
    pub timeline: &'a Timeline,
    pub interrupted_at: Option<Duration>,
    pub recorded: Recorded,
    pub itl: &'a [std::sync::Mutex<Histogram<u64>>],
    pub dispatch_lag: &'a [std::sync::Mutex<Histogram<u64>>],
    pub auto_stopped: Option<AutoStopped>,
    /// Per step whose window ended, what it left unfinished.
    pub window_ends: Vec<WindowEnd>,
    pub scraped: Option<Scraped>,
    pub gpu: GpuTelemetry,
    pub windows: Vec<WindowObservation>,
    pub run_dir: PathBuf,
}
