//! What can go wrong reading a run folder or writing its report.

use std::path::PathBuf;

use loadtest_run::ReadError;

/// Why a report could not be rendered. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run folder does not exist or is not a folder.
    #[error("{path}: not a run folder (no such directory)")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// `config.json` or `step_summary.json` is missing, unreadable or malformed (the message
    /// names the file and, when missing, what that usually means).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// plotters refused to draw a chart.
    #[error("cannot draw chart {chart}: {message}")]
    Chart {
        /// The chart's file name.
        chart: String,
        /// plotters' error text.
        message: String,
    },
}
