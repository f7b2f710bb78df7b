//! Whole-file outputs are written atomically: a reader (or a crash) sees the old file or the
//! new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the run folder or a file in it could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct OutputError {
    /// The path.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl OutputError {
    /// An error for `path`.
    pub fn new(path: &Path, source: std::io::Error) -> Self {
        OutputError {
            path: path.to_owned(),
            source,
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader (or a crash) sees the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        OutputError::new(path, e)
    })
}

/// Serialises `value` as pretty JSON (with a final newline) and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), OutputError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| OutputError::new(path, std::io::Error::other(e)))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.json");
        write_json_atomic(&f, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "{\n  \"a\": 1\n}\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
