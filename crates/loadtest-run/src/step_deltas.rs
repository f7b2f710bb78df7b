//! `vllm_step_deltas.json`: per step, what the server's `/metrics` said over the window.

use loadtest_prom::StepDeltas;
use serde::{Deserialize, Serialize};

/// The whole file: `{"steps": [...]}`, one entry per step whose window had a good scrape at
/// both edges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepDeltasFile {
    /// One entry per step with server data, in step order.
    pub steps: Vec<StepDeltasEntry>,
}

/// One step's server deltas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDeltasEntry {
    /// Step index.
    pub step: usize,
    /// Load level.
    pub load: f64,
    /// Time of the window's first good scrape, seconds since the run start.
    pub start_scrape_s: f64,
    /// Time of its last good scrape.
    pub end_scrape_s: f64,
    /// Counter and histogram deltas, gauge statistics, derived rates (canonical names, each
    /// with the wire name it was read from).
    pub deltas: StepDeltas,
}
