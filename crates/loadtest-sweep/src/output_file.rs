//! A streamed output file (`requests.jsonl`, the CSVs) that remembers its first write error
//! instead of stopping the run: measurements go on in memory and the error is reported — on
//! the console (a `tracing` warning) when it happens, once per file, and in the run's
//! warnings — with a count of the rows that were not written.

use std::sync::Mutex;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use loadtest_run::OutputError;

/// A buffered file that keeps the first error it met. Callers write whole lines; after an
/// error (a full disk, say) the file is cut back to the last successful flush, so it stays
/// valid up to its last line instead of ending in half of one.
#[derive(Debug)]
pub(crate) struct OutputFile {
    /// `None` once an error happened: nothing more is written.
    writer: Option<BufWriter<File>>,
    path: PathBuf,
    error: Option<OutputError>,
    /// Bytes taken so far (header included).
    taken: u64,
    /// Bytes known to be in the file: `taken` at the last successful flush.
    flushed: u64,
    /// Rows taken since the last successful flush (lost with the buffer if writing fails).
    unflushed_rows: u64,
    /// Rows that did not reach the file: dropped from the buffer at the error, or offered
    /// after it.
    rows_lost: u64,
    /// Test hook: fail (as a full disk would) once this many rows were taken.
    fail_after_rows: Option<u64>,
    rows_taken: u64,
}

/// Test hook ([`inject_write_failure`]): a file name and the rows after which its writes fail.
static INJECTED_FAILURE: Mutex<Option<(String, u64)>> = Mutex::new(None);

/// Makes the next streamed output file named `file_name` (e.g. `requests.jsonl`) of this
/// process fail like a full disk once `after_rows` rows were written: for tests of what a
/// run does when its disk fills, without filling one. Not for production use.
#[doc(hidden)]
pub fn inject_write_failure(file_name: &str, after_rows: u64) {
    if let Ok(mut hook) = INJECTED_FAILURE.lock() {
        *hook = Some((file_name.to_owned(), after_rows));
    }
}

fn injected_failure(path: &Path) -> Option<u64> {
    let mut hook = INJECTED_FAILURE.lock().ok()?;
    let name = path.file_name()?.to_str()?;
    match hook.as_ref() {
        Some((file, after)) if file == name => {
            let after = *after;
            *hook = None;
            Some(after)
        }
        _ => None,
    }
}

impl OutputFile {
    /// Creates (truncates) `path` and writes `header`, flushed, so a permission or disk
    /// problem shows before the run starts.
    pub(crate) fn create(path: &Path, capacity: usize, header: &[u8]) -> Result<Self, OutputError> {
        let file = File::create(path).map_err(|e| OutputError::new(path, e))?;
        let mut writer = BufWriter::with_capacity(capacity, file);
        writer
            .write_all(header)
            .and_then(|()| writer.flush())
            .map_err(|e| OutputError::new(path, e))?;
        Ok(OutputFile {
            writer: Some(writer),
            path: path.to_owned(),
            error: None,
            taken: header.len() as u64,
            flushed: header.len() as u64,
            unflushed_rows: 0,
            rows_lost: 0,
            fail_after_rows: injected_failure(path),
            rows_taken: 0,
        })
    }

    /// Appends one row, `bytes` (nothing once an error happened). Returns whether it was
    /// taken; a row not taken is counted as lost.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> bool {
        let Some(writer) = self.writer.as_mut() else {
            self.rows_lost += 1;
            return false;
        };
        let result = if self.fail_after_rows.is_some_and(|n| self.rows_taken >= n) {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device (injected by a test)",
            ))
        } else {
            writer.write_all(bytes)
        };
        match result {
            Ok(()) => {
                self.taken += bytes.len() as u64;
                self.unflushed_rows += 1;
                self.rows_taken += 1;
                true
            }
            Err(e) => {
                self.rows_lost += 1;
                self.fail(e);
                false
            }
        }
    }

    /// Hands buffered bytes to the OS.
    pub(crate) fn flush(&mut self) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.flush() {
            Ok(()) => {
                self.flushed = self.taken;
                self.unflushed_rows = 0;
            }
            Err(e) => self.fail(e),
        }
    }

    /// Rows that did not reach the file so far (0 while no error happened).
    #[cfg(test)]
    pub(crate) fn rows_lost(&self) -> u64 {
        self.rows_lost
    }

    /// Whether a write error happened: nothing more is written.
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Flushes, syncs to disk and returns the first error met, if any, with the rows that
    /// did not reach the file.
    pub(crate) fn finish(mut self) -> (Option<OutputError>, u64) {
        self.flush();
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.get_ref().sync_all()
        {
            self.error = Some(OutputError::new(&self.path, e));
        }
        (self.error, self.rows_lost)
    }

    /// Remembers `e`, drops the buffered bytes without writing them, and cuts the file back
    /// to the last successful flush (a write that failed half-way left a torn line). The
    /// rows in the dropped buffer count as lost; the error is logged at once (the console
    /// shows warnings), once per file.
    fn fail(&mut self, e: std::io::Error) {
        self.rows_lost += std::mem::take(&mut self.unflushed_rows);
        tracing::warn!(
            "cannot write {}: {e}; no more rows go to it ({} row(s) not written so far; the run goes on)",
            self.path.display(),
            self.rows_lost
        );
        self.error = Some(OutputError::new(&self.path, e));
        if let Some(writer) = self.writer.take() {
            let (file, _unwritten) = writer.into_parts();
            if let Err(err) = file.set_len(self.flushed) {
                tracing::debug!(path = %self.path.display(), %err, "cannot cut the file back");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_header_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        let mut f = OutputFile::create(&path, 64, b"h\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "h\n");
        assert!(f.write(b"1\n"));
        assert!(f.finish().0.is_none());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "h\n1\n");
    }

    #[test]
    fn a_full_disk_is_remembered_not_fatal() {
        let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return; // not Linux
        };
        let mut f = OutputFile {
            writer: Some(BufWriter::with_capacity(4, full)),
            path: "/dev/full".into(),
            error: None,
            taken: 0,
            flushed: 0,
            unflushed_rows: 0,
            rows_lost: 0,
            fail_after_rows: None,
            rows_taken: 0,
        };
        let _ = f.write(b"0123456789");
        f.flush();
        assert!(f.failed());
        assert!(!f.write(b"x"));
        // The row dropped with the buffer (or refused at once), and the one after.
        assert_eq!(f.rows_lost(), 2);
        let (error, lost) = f.finish();
        assert!(error.is_some());
        assert_eq!(lost, 2);
    }

    #[test]
    fn an_injected_failure_counts_the_buffered_rows_and_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("injected.csv");
        inject_write_failure("injected.csv", 3);
        let mut f = OutputFile::create(&path, 1 << 16, b"h\n").unwrap();
        assert!(f.write(b"1\n") && f.write(b"2\n"));
        f.flush();
        assert!(f.write(b"3\n"));
        // The fourth row fails: the third, still buffered, is lost with it.
        assert!(!f.write(b"4\n"));
        assert!(!f.write(b"5\n"));
        assert_eq!(f.finish().1, 3);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "h\n1\n2\n");
    }
}
