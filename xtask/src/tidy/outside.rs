//! The repository stands alone. A clone has nothing beside it, so no file may point outside the
//! repository root:
//!
//! - no text names the sibling checkout the project was bootstrapped from (see [`FORBIDDEN`]);
//! - every `include_str!` / `include_bytes!` literal path (resolved against the including file's
//!   folder), and every path built from the `CARGO_MANIFEST_DIR` environment macro with
//!   `concat!` or with `Path::join` and literals (resolved against the crate's manifest folder),
//!   stays inside the root and exists (the literals are found by [`super::literals`]).
//!
//! Paths are resolved lexically: a `..` that climbs above the root is an escape even if a later
//! component comes back in (that would depend on what the clone's folder is called).
//!
//! The files checked are those git knows or would add (`git ls-files --cached --others
//! --exclude-standard`), or, without git, every file under the root except `target/`, `.git/`,
//! `fuzz/corpus/` and `fuzz/artifacts/`. Files with a NUL byte are skipped as binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::literals::{Base, path_refs, resolve_glued, resolve_in};

/// Text that names something outside the repository. Each is written in two pieces so that this
/// file does not name them itself.
const FORBIDDEN: [&str; 5] = [
    concat!("..", "/shared"),
    concat!("shared", "/fixtures"),
    concat!("shared", "/reference"),
    concat!("shared", "/tools"),
    concat!("shared", "/design"),
];

/// What [`check`] found.
pub(crate) struct Report {
    /// Text files read.
    pub(crate) files: usize,
    /// `file:line: what`, in file order.
    pub(crate) problems: Vec<String>,
}

/// Checks every file of the repository at `root`.
pub(crate) fn check(root: &Path) -> Report {
    let mut report = Report {
        files: 0,
        problems: Vec::new(),
    };
    for rel in repo_files(root) {
        let Ok(bytes) = std::fs::read(root.join(&rel)) else {
            continue; // deleted but still in the index, or not a plain file
        };
        if bytes.contains(&0) {
            continue;
        }
        report.files += 1;
        let text = String::from_utf8_lossy(&bytes);
        let shown = rel.to_string_lossy().replace('\\', "/");
        report.problems.extend(
            forbidden_text(&text)
                .into_iter()
                .map(|(line, what)| format!("{shown}:{line}: {what}")),
        );
        if rel.extension().is_some_and(|e| e == "rs") {
            report.problems.extend(
                path_problems(root, &rel, &text)
                    .into_iter()
                    .map(|(line, what)| format!("{shown}:{line}: {what}")),
            );
        }
    }
    report
}

/// The repository's files, relative to `root`, sorted.
fn repo_files(root: &Path) -> Vec<PathBuf> {
    if let Some(files) = git_files(root) {
        return files;
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out);
    out.sort();
    out
}

/// `git ls-files` in `root`; `None` when git is missing or `root` is not in a work tree.
fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    let output = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let mut files: Vec<PathBuf> = text
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    files.sort();
    files.dedup();
    Some(files)
}

/// Every file under `root.join(rel)`, skipping build output, VCS data and fuzz state.
fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = rel.join(&name);
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            let skip = name == "target"
                || name == ".git"
                || path == Path::new("fuzz/corpus")
                || path == Path::new("fuzz/artifacts");
            if !skip {
                walk(root, &path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

/// `(line, what)` for every line naming a [`FORBIDDEN`] text.
fn forbidden_text(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for needle in FORBIDDEN {
            if line.contains(needle) {
                out.push((
                    i + 1,
                    format!("names `{needle}`, which is outside the repository"),
                ));
            }
        }
    }
    out
}

/// `(line, what)` for every path literal in `text` (the file `rel`) that escapes the root or
/// names nothing.
fn path_problems(root: &Path, rel: &Path, text: &str) -> Vec<(usize, String)> {
    let dir = rel.parent().unwrap_or(Path::new(""));
    let manifest = manifest_dir(root, dir);
    let mut out = Vec::new();
    for r in path_refs(text) {
        let (what, resolved, must_exist) = match r.base {
            Base::File => ("include path", resolve_in(dir, &r.literal), true),
            Base::ManifestConcat { complete } => (
                "CARGO_MANIFEST_DIR path",
                resolve_glued(&manifest, &r.literal),
                complete,
            ),
            Base::ManifestJoin => (
                "CARGO_MANIFEST_DIR path",
                resolve_in(&manifest, &r.literal),
                true,
            ),
        };
        match resolved {
            None => out.push((
                r.line,
                format!("{what} {:?} resolves outside the repository", r.literal),
            )),
            Some(p) if must_exist && !root.join(&p).exists() => out.push((
                r.line,
                format!(
                    "{what} {:?} names {}, which does not exist",
                    r.literal,
                    p.display()
                ),
            )),
            Some(_) => {}
        }
    }
    out
}

/// The nearest folder at or above `dir` (relative to `root`) holding a `Cargo.toml`; the root
/// when there is none.
fn manifest_dir(root: &Path, dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|a| root.join(a).join("Cargo.toml").is_file())
        .unwrap_or(Path::new(""))
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_is_self_contained() {
        let report = check(&crate::tidy::test_root());
        assert!(report.files > 50, "only {} files found", report.files);
        assert!(
            report.problems.is_empty(),
            "the repository points outside itself:\n{}",
            report.problems.join("\n")
        );
    }

    #[test]
    fn flags_forbidden_text() {
        let text = format!("fine\nsee {}/x.md\nalso fine", FORBIDDEN[1]);
        let found = forbidden_text(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 2);
        assert!(forbidden_text("shared state, a shared/ folder, shared_fixtures").is_empty());
    }

    #[test]
    fn checks_a_whole_tree() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let src = dir.join("crates/a/src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("data/ok.txt"), "ok").unwrap();
        std::fs::write(dir.join("crates/a/Cargo.toml"), "[package]").unwrap();
        let inc = concat!("include", "_str!");
        let env = concat!("env", "!(\"CARGO_MANIFEST_DIR\")");
        let lib = [
            format!("const A: &str = {inc}(\"../../../data/ok.txt\");"),
            format!("const B: &str = {inc}(\"../../../../outside.txt\");"),
            format!("const C: &str = {inc}(\"../../../data/missing.txt\");"),
            format!("const D: &str = concat!({env}, \"/../../data/ok.txt\");"),
            format!("const E: &str = concat!({env}, \"/../../../outside/\");"),
        ]
        .join("\n");
        std::fs::write(src.join("lib.rs"), lib).unwrap();
        std::fs::write(dir.join("README.md"), format!("x\n{}\n", FORBIDDEN[0])).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("target/skipped.md"), FORBIDDEN[0]).unwrap();

        let mut found = Vec::new();
        walk(&dir, Path::new(""), &mut found);
        found.sort();
        assert_eq!(
            found,
            [
                PathBuf::from("README.md"),
                PathBuf::from("crates/a/Cargo.toml"),
                PathBuf::from("crates/a/src/lib.rs"),
                PathBuf::from("data/ok.txt"),
            ]
        );
        let mut problems = Vec::new();
        for rel in &found {
            let text = std::fs::read_to_string(dir.join(rel)).unwrap();
            for (line, _) in forbidden_text(&text) {
                problems.push(format!("{}:{line}", rel.display()));
            }
            if rel.extension().is_some_and(|e| e == "rs") {
                for (line, _) in path_problems(&dir, rel, &text) {
                    problems.push(format!("{}:{line}", rel.display()));
                }
            }
        }
        assert_eq!(
            problems,
            [
                "README.md:2",
                "crates/a/src/lib.rs:2",
                "crates/a/src/lib.rs:3",
                "crates/a/src/lib.rs:5",
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
