//! A streamed output file (`requests.jsonl`, the CSVs) that remembers its first write error
//! instead of stopping the run: measurements go on in memory and the error is reported.

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
        })
    }

    /// Appends `bytes` (nothing once an error happened). Returns whether they were taken.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> bool {
        let Some(writer) = self.writer.as_mut() else {
            return false;
        };
        match writer.write_all(bytes) {
            Ok(()) => {
                self.taken += bytes.len() as u64;
                true
            }
            Err(e) => {
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
            Ok(()) => self.flushed = self.taken,
            Err(e) => self.fail(e),
        }
    }

    /// Flushes, syncs to disk and returns the first error met, if any.
    pub(crate) fn finish(mut self) -> Option<OutputError> {
        self.flush();
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.get_ref().sync_all()
        {
            self.error = Some(OutputError::new(&self.path, e));
        }
        self.error
    }

    /// Remembers `e`, drops the buffered bytes without writing them, and cuts the file back
    /// to the last successful flush (a write that failed half-way left a torn line).
    fn fail(&mut self, e: std::io::Error) {
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
        assert!(f.finish().is_none());
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
        };
        let _ = f.write(b"0123456789");
        f.flush();
        assert!(!f.write(b"x"));
        assert!(f.finish().is_some());
    }
}
