//! Reading a run folder back: every file the tool writes has a reader here, so a run can be
//! re-rendered, compared or merged later without re-running it.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::{RequestRow, RunFacts, StepDeltasFile, StepHistogramsFile, StepSummaryFile, files};

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

/// `step_histograms.json` of the run folder `dir` (what `vllm-loadtest merge` needs besides
/// the rows to merge shards exactly).
pub fn read_step_histograms(dir: &Path) -> Result<StepHistogramsFile, ReadError> {
    read_json(
        &dir.join(files::STEP_HISTOGRAMS),
        "step histograms file",
        "it is written when a run ends (by versions from 2026-11-30 on); this run was killed before finishing, or is older",
    )
}

/// Every row of `requests.jsonl` in the run folder `dir`, in file order, in memory (a long
/// run's file is large: [`request_rows`] reads it one row at a time). A torn last line (the
/// run was killed mid-write) is an error naming its line.
pub fn read_requests(dir: &Path) -> Result<Vec<RequestRow>, ReadError> {
    request_rows(dir)?.collect()
}

/// The rows of `requests.jsonl` in the run folder `dir`, in file order, read one line at a
/// time: memory holds one line, whatever the file's length. Blank lines are skipped; a line
/// that is not a row (a torn last line: the run was killed mid-write) is an error naming the
/// file and its 1-based line, after which the iterator ends.
///
/// ```no_run
/// let mut ok = 0;
/// for row in loadtest_run::request_rows(std::path::Path::new("runs/my-run"))? {
///     ok += u64::from(row?.status == loadtest_run::Status::Ok);
/// }
/// # Ok::<(), loadtest_run::ReadError>(())
/// ```
pub fn request_rows(dir: &Path) -> Result<RequestRows, ReadError> {
    let path = dir.join(files::REQUESTS);
    let file = open(
        &path,
        "every run folder has it (empty when no request finished)",
    )?;
    Ok(RequestRows {
        reader: Some(std::io::BufReader::with_capacity(256 * 1024, file)),
        path,
        line: 0,
        buf: String::new(),
    })
}

/// The rows of one `requests.jsonl`, one line at a time ([`request_rows`]).
#[derive(Debug)]
pub struct RequestRows {
    /// `None` once the file ended or failed.
    reader: Option<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
    /// Lines read so far (the 1-based number of the last one).
    line: usize,
    buf: String,
}

impl RequestRows {
    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based number of the last line read (0 before the first).
    pub fn line(&self) -> usize {
        self.line
    }
}

impl Iterator for RequestRows {
    type Item = Result<RequestRow, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let reader = self.reader.as_mut()?;
            self.buf.clear();
            match reader.read_line(&mut self.buf) {
                Ok(0) => {
                    self.reader = None;
                    return None;
                }
                Ok(_) => self.line += 1,
                Err(source) => {
                    self.reader = None;
                    return Some(Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            let row = serde_json::from_str(&self.buf).map_err(|source| ReadError::Parse {
                path: self.path.clone(),
                line: Some(self.line),
                what: "request row",
                source,
            });
            if row.is_err() {
                self.reader = None;
            }
            return Some(row);
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const ROW: &str = r#"{"id":ID,"step":0,"phase":"measure","load":4.0,"start_unix_s":1700000000.0,"start_s":2.5,"ttft_s":0.05,"e2e_s":0.9,"total_s":0.91,"tpot_s":0.007,"chunks":128,"gap_mean_s":0.007,"gap_p50_s":0.007,"gap_p99_s":0.01,"gap_max_s":0.02,"prompt_tokens":256,"completion_tokens":128,"cached_tokens":null,"input_tokens_target":256,"max_tokens":128,"finish_reason":"length","status":"ok","http_status":200,"error":null,"sched_delay_s":null,"reads":128}"#;

    fn folder(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(files::REQUESTS), text).unwrap();
        dir
    }

    #[test]
    fn rows_stream_in_file_order_and_a_torn_line_is_named() {
        let row = |id: u64| ROW.replace("ID", &id.to_string());
        let dir = folder(&format!("{}\n\n{}\r\n{}", row(3), row(1), row(2)));
        let ids: Vec<u64> = request_rows(dir.path())
            .unwrap()
            .map(|r| r.unwrap().id)
            .collect();
        assert_eq!(ids, [3, 1, 2]);
        assert_eq!(read_requests(dir.path()).unwrap().len(), 3);

        let torn = &row(2)[..40];
        let dir = folder(&format!("{}\n{}\n{torn}", row(0), row(1)));
        let mut rows = request_rows(dir.path()).unwrap();
        assert_eq!(rows.next().unwrap().unwrap().id, 0);
        assert_eq!(rows.next().unwrap().unwrap().id, 1);
        let err = rows.next().unwrap().unwrap_err();
        assert!(
            matches!(err, ReadError::Parse { line: Some(3), .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("requests.jsonl, line 3"), "{text}");
        assert!(rows.next().is_none(), "the iterator ends at an error");
        assert_eq!(rows.line(), 3);
        assert!(read_requests(dir.path()).is_err());

        let empty = tempfile::tempdir().unwrap();
        let err = request_rows(empty.path()).unwrap_err();
        assert!(matches!(err, ReadError::Missing { .. }), "{err}");
    }
}
