//! The run folder: created once, never overwritten.

use std::path::{Path, PathBuf};

use loadtest_run::OutputError;

/// Creates `<output_dir>/<run_name>_<timestamp>/` (`timestamp` like `20261128T150212Z`),
/// adding `-2`, `-3`… if that name exists: an existing run is never touched.
pub fn create_run_dir(
    output_dir: &Path,
    run_name: &str,
    timestamp: &str,
) -> Result<PathBuf, OutputError> {
    if output_dir.exists() && !output_dir.is_dir() {
        return Err(OutputError::new(
            output_dir,
            std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "it is a file, not a folder",
            ),
        ));
    }
    std::fs::create_dir_all(output_dir).map_err(|e| OutputError::new(output_dir, e))?;
    let base = format!("{run_name}_{timestamp}");
    for attempt in 1..=1000u32 {
        let name = if attempt == 1 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let path = output_dir.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(OutputError::new(&path, e)),
        }
    }
    let path = output_dir.join(base);
    Err(OutputError::new(
        &path,
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, "1000 runs of that name"),
    ))
}

/// Creates exactly `dir` (`--run-dir`), and its parents; an existing `dir` is refused (an
/// existing run is never touched).
pub fn create_exact_run_dir(dir: &Path) -> Result<PathBuf, OutputError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| OutputError::new(parent, e))?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(dir.to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(OutputError::new(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it already exists (a run folder is never reused: pick a new path)",
            ),
        )),
        Err(e) => Err(OutputError::new(dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let a = create_run_dir(dir.path(), "run", "20260101T000000Z").unwrap();
        let b = create_run_dir(dir.path(), "run", "20260101T000000Z").unwrap();
        assert_ne!(a, b);
        assert!(b.to_string_lossy().ends_with("run_20260101T000000Z-2"));
    }

    #[test]
    fn exact_run_dirs_are_created_once_and_files_are_not_folders() {
        let dir = tempfile::tempdir().unwrap();
        let exact = dir.path().join("a/b/run");
        assert_eq!(create_exact_run_dir(&exact).unwrap(), exact);
        let again = create_exact_run_dir(&exact).unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = create_run_dir(&file, "run", "t").unwrap_err().to_string();
        assert!(err.contains("is a file, not a folder"), "{err}");
    }
}
