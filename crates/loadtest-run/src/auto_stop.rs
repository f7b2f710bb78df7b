//! `--steps auto`: its stop rule (config.json) and where it stopped (step_summary.json).

use serde::{Deserialize, Serialize};

/// When `--steps auto` stops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoStop {
    /// Stop once a step's failed share exceeds this (default 0.05).
    pub max_error_rate: f64,
}

impl Default for AutoStop {
    fn default() -> Self {
        AutoStop {
            max_error_rate: 0.05,
        }
    }
}

/// Why and where `--steps auto` stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoStopped {
    /// The last step run.
    pub step: usize,
    /// Its load.
    pub load: f64,
    /// What was seen at the end of its window.
    pub reason: String,
}
