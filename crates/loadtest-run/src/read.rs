//! Reading a run folder back: every file the tool writes has a reader here, so a run can be
//! re-rendered, compared or merged later without re-running it.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::{RequestRow, RunFacts, StepDeltasFile, StepSummaryFile, files};

/// Why a run folder's file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is not there.
    #[error("{path} is missing: {hint}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// What its absence usually means.
        hint: &'static str,
    },
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// It is not what this version of the tool writes.
    #[error("{path}{}: not a valid {what}: {source}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (JSONL files).
        line: Option<usize>,
        /// What the file should hold.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// `config.json` of the run folder `dir`.
pub fn read_config(dir: &Path) -> Result<RunFacts, ReadError> {
    read_json(
        &dir.join(files::CONFIG),
        "run facts",
        "every run folder starts with it; is this a vllm-loadtest run folder?",
    )
}

/// `step_summary.json` of the run folder `dir`.
pub fn read_step_summary(dir: &Path) -> Result<StepSummaryFile, ReadError> {
    read_json(
        &dir.join(files::STEP_SUMMARY),
        "step summary",
        "it is written when a run ends; this run was killed before finishing (requests.jsonl still holds its raw records)",
    )
}

/// `vllm_step_deltas.json` of the run folder `dir`.
pub fn read_step_deltas(dir: &Path) -> Result<StepDeltasFile, ReadError> {
    read_json(
        &dir.join(files::STEP_DELTAS),
        "step deltas file",
        "it is written when a run ends; this run was killed before finishing",
    )
}

/// Every row of `requests.jsonl` in the run folder `dir`, in file order. A torn last line
/// (the run was killed mid-write) is an error naming its line.
pub fn read_requests(dir: &Path) -> Result<Vec<RequestRow>, ReadError> {
    let path = dir.join(files::REQUESTS);
    let file = open(
        &path,
        "every run folder has it (empty when no request finished)",
    )?;
    let mut rows = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(&line).map_err(|source| ReadError::Parse {
            path: path.clone(),
            line: Some(index + 1),
            what: "request row",
            source,
        })?;
        rows.push(row);
    }
    Ok(rows)
}

fn open(path: &Path, hint: &'static str) -> Result<std::fs::File, ReadError> {
    std::fs::File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ReadError::Missing {
                path: path.to_owned(),
                hint,
            }
        } else {
            ReadError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

fn read_json<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
    hint: &'static str,
) -> Result<T, ReadError> {
    let file = open(path, hint)?;
    serde_json::from_reader(std::io::BufReader::new(file)).map_err(|source| ReadError::Parse {
        path: path.to_owned(),
        line: None,
        what,
        source,
    })
}
