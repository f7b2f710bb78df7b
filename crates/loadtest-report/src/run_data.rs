//! Reading a run folder: `config.json` (the run's facts) and `step_summary.json` (the
//! per-step statistics). Nothing else is needed to render the report.

use std::path::{Path, PathBuf};

use loadtest_run::{RunFacts, StepSummaryFile};
use serde::de::DeserializeOwned;

use crate::ReportError;

/// `config.json`, as the sweep names it.
pub const CONFIG_JSON: &str = "config.json";
/// `step_summary.json`, as the sweep names it.
pub const STEP_SUMMARY_JSON: &str = "step_summary.json";
/// The report file written into the run folder.
pub const SUMMARY_MD: &str = "summary.md";
/// The folder of the chart files, relative to the run folder.
pub const CHARTS_DIR: &str = "charts";

/// The files of one run folder that the report reads.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The run folder as given.
    pub dir: PathBuf,
    /// `config.json`: target, tool, times, settings.
    pub facts: RunFacts,
    /// `step_summary.json`: one object per step, and the run's warnings.
    pub summary: StepSummaryFile,
}

impl RunData {
    /// Reads `config.json` and `step_summary.json` from `dir`.
    ///
    /// # Errors
    /// [`ReportError::NotADirectory`] when `dir` is not a folder, [`ReportError::Missing`]
    /// when one of the two files is absent (a run killed before its end has no
    /// `step_summary.json`), [`ReportError::Read`] / [`ReportError::Parse`] otherwise.
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        if !dir.is_dir() {
            return Err(ReportError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        let facts = read_json(
            &dir.join(CONFIG_JSON),
            "every run folder starts with it; is this a vllm-loadtest run folder?",
        )?;
        let summary = read_json(
            &dir.join(STEP_SUMMARY_JSON),
            "it is written when a run ends; this run was killed before finishing (requests.jsonl still holds its raw records)",
        )?;
        Ok(RunData {
            dir: dir.to_owned(),
            facts,
            summary,
        })
    }

    /// The run folder's own name (`run_20261128T153342Z`), falling back to the full path.
    pub fn name(&self) -> String {
        self.dir.file_name().map_or_else(
            || self.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

fn read_json<T: DeserializeOwned>(path: &Path, hint: &'static str) -> Result<T, ReportError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReportError::Missing {
                path: path.to_owned(),
                hint,
            });
        }
        Err(source) => {
            return Err(ReportError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_str(&text).map_err(|source| ReportError::Parse {
        path: path.to_owned(),
        source,
    })
}
