//! Whole-file writes (the run folder's one atomic write, with the report's error type) and
//! folder creation.

use std::path::Path;

use crate::ReportError;

/// Writes `bytes` to `path` atomically ([`loadtest_run::write_atomic`]: a temporary file in
/// the same folder, then a rename).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    loadtest_run::write_atomic(path, bytes).map_err(|e| ReportError::Write {
        path: e.path,
        source: e.source,
    })
}

/// Creates `dir` (and its parents) when missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/dir/a.md");
        assert!(matches!(
            write_atomic(&missing, b"x"),
            Err(ReportError::Write { .. })
        ));
    }
}
