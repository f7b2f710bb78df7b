//! Reading a run folder: `config.json` (the run's facts) and `step_summary.json` (the
//! per-step statistics), with `loadtest_run`'s readers. Nothing else is needed to render the
//! report.

use std::path::{Path, PathBuf};

use loadtest_run::{RunFacts, StepSummaryFile};

use crate::ReportError;

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
    /// Reads `config.json` and `step_summary.json` from `dir`
    /// ([`loadtest_run::read_config`], [`loadtest_run::read_step_summary`]).
    ///
    /// # Errors
    /// [`ReportError::NotADirectory`] when `dir` is not a folder; otherwise
    /// [`ReportError::Read`] with the [`ReadError`](loadtest_run::ReadError): `Missing` when
    /// one of the two files is absent (a run killed before its end has no
    /// `step_summary.json`), `Io` or `Parse` when it cannot be read or decoded.
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        if !dir.is_dir() {
            return Err(ReportError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        Ok(RunData {
            dir: dir.to_owned(),
            facts: loadtest_run::read_config(dir)?,
            summary: loadtest_run::read_step_summary(dir)?,
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
