//! What can go wrong reading a run folder or writing its report.

use std::path::PathBuf;

/// Why a report could not be rendered. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run folder does not exist or is not a folder.
    #[error("{path}: not a run folder (no such directory)")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A file every report needs is absent.
    #[error("{path} is missing: {hint}")]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// What its absence usually means.
        hint: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON file of the run folder does not have the documented shape.
    #[error("{path} is not a valid run file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The decoding error (with line and column).
        source: serde_json::Error,
    },
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
