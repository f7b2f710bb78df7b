//! A streamed output file (`requests.jsonl`, the CSVs) that remembers its first write error
//! instead of stopping the run: measurements go on in memory and the error is reported.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::run_dir::OutputError;

/// A buffered file that keeps the first error it met.
#[derive(Debug)]
pub(crate) struct OutputFile {
    writer: BufWriter<File>,
    path: PathBuf,
    error: Option<OutputError>,
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
            writer,
            path: path.to_owned(),
            error: None,
        })
    }

    /// Appends `bytes` (nothing once an error happened). Returns whether they were taken.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> bool {
        if self.error.is_none()
            && let Err(e) = self.writer.write_all(bytes)
        {
            self.error = Some(OutputError::new(&self.path, e));
        }
        self.error.is_none()
    }

    /// Hands buffered bytes to the OS.
    pub(crate) fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.writer.flush()
        {
            self.error = Some(OutputError::new(&self.path, e));
        }
    }

    /// Flushes, syncs to disk and returns the first error met, if any.
    pub(crate) fn finish(mut self) -> Option<OutputError> {
        self.flush();
        if self.error.is_none()
            && let Err(e) = self.writer.get_ref().sync_all()
        {
            self.error = Some(OutputError::new(&self.path, e));
        }
        self.error
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
            writer: BufWriter::with_capacity(4, full),
            path: "/dev/full".into(),
            error: None,
        };
        let _ = f.write(b"0123456789");
        f.flush();
        assert!(!f.write(b"x"));
        assert!(f.finish().is_some());
    }
}
