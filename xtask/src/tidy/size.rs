//! No Rust source file grows past [`LIMIT`] lines. The files checked are every `.rs` file under
//! `crates/*/src` and `xtask/src` (a crate's `tests/`, `benches/` and `examples/` are exempt);
//! lines are counted as `str::lines` counts them.
//!
//! The files already over the limit when the rule came in are listed in [`OVERSIZED`]. The list
//! only shrinks: a listed file that is back within the limit, or gone, must leave it.

use std::path::{Path, PathBuf};

/// The most lines a Rust source file may have.
pub(crate) const LIMIT: usize = 500;

/// Files over [`LIMIT`] when the rule came in: path, its line count then, and why it may stay.
/// Remove a line as soon as its file is split (the check says when); do not add one for a file
/// that could be split instead.
#[rustfmt::skip] // one line per file, so that the check can name the line to remove
pub(crate) const OVERSIZED: &[(&str, usize, &str)] = &[
];

/// What [`check`] found.
pub(crate) struct Report {
    /// Rust source files counted.
    pub(crate) files: usize,
    /// One line per problem, saying which line of [`OVERSIZED`] to add or remove.
    pub(crate) problems: Vec<String>,
}

/// Checks the Rust source files of the repository at `root` against [`LIMIT`] and [`OVERSIZED`].
pub(crate) fn check(root: &Path) -> Report {
    let files = rust_files(root);
    Report {
        files: files.len(),
        problems: problems(&files, OVERSIZED),
    }
}

/// Every `.rs` file under `crates/*/src` and `xtask/src`, relative to `root` with `/`
/// separators, with its line count; sorted.
fn rust_files(root: &Path) -> Vec<(String, usize)> {
    let mut dirs = vec![PathBuf::from("xtask/src")];
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(Path::new("crates").join(entry.file_name()).join("src"));
            }
        }
    }
    let mut files = Vec::new();
    for dir in dirs {
        walk(root, &dir, &mut files);
    }
    files.sort();
    files
}

/// Adds every `.rs` file under `root.join(rel)`, with its line count, to `out`.
fn walk(root: &Path, rel: &Path, out: &mut Vec<(String, usize)>) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = rel.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(root, &path, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "rs") {
            let Ok(bytes) = std::fs::read(root.join(&path)) else {
                continue;
            };
            let lines = String::from_utf8_lossy(&bytes).lines().count();
            out.push((path.to_string_lossy().replace('\\', "/"), lines));
        }
    }
}

/// One line per problem with `files` (path, lines) against `listed` (path, lines then, why).
fn problems(files: &[(String, usize)], listed: &[(&str, usize, &str)]) -> Vec<String> {
    let list = format!("OVERSIZED in {}", file!().replace('\\', "/"));
    let entry = |path: &str, lines: usize, why: &str| format!("`({path:?}, {lines}, {why:?}),`");
    let mut out = Vec::new();
    for (path, lines) in files {
        if *lines > LIMIT && !listed.iter().any(|(p, _, _)| p == path) {
            out.push(format!(
                "{path}: {lines} lines, over the limit of {LIMIT}: split it, or, only if that \
                 must wait, add the line {} to {list}",
                entry(path, *lines, "split pending")
            ));
        }
    }
    for (i, &(path, then, why)) in listed.iter().enumerate() {
        let line = entry(path, then, why);
        if listed[..i].iter().any(|(p, _, _)| *p == path) {
            out.push(format!(
                "{path}: listed twice: remove the second line {line} from {list}"
            ));
            continue;
        }
        match files.iter().find(|(p, _)| p == path) {
            None => out.push(format!(
                "{path}: no longer exists: remove the line {line} from {list}"
            )),
            Some((_, now)) if *now <= LIMIT => out.push(format!(
                "{path}: {now} lines now, within the limit of {LIMIT}: remove the line {line} \
                 from {list}, so the list only shrinks"
            )),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(path, lines)` pairs as [`rust_files`] gives them.
    fn files(list: &[(&str, usize)]) -> Vec<(String, usize)> {
        list.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
    }

    #[test]
    fn rust_files_stay_within_the_limit() {
        let report = check(&crate::tidy::test_root());
        assert!(report.files > 20, "only {} Rust files found", report.files);
        assert!(
            report.problems.is_empty(),
            "Rust files over {LIMIT} lines, or a stale list:\n{}",
            report.problems.join("\n")
        );
    }

    #[test]
    fn oversized_entries_say_why() {
        for (path, lines, why) in OVERSIZED {
            assert!(*lines > LIMIT, "{path}: listed with {lines} lines");
            assert_eq!(*why, "split pending", "{path}");
        }
    }

    #[test]
    fn flags_an_unlisted_file_over_the_limit() {
        let found = files(&[
            ("crates/a/src/big.rs", 501),
            ("crates/a/src/edge.rs", 500),
            ("crates/a/src/listed.rs", 700),
        ]);
        let problems = problems(&found, &[("crates/a/src/listed.rs", 650, "split pending")]);
        assert_eq!(
            problems,
            [
                "crates/a/src/big.rs: 501 lines, over the limit of 500: split it, or, only if \
                 that must wait, add the line `(\"crates/a/src/big.rs\", 501, \"split pending\"),` \
                 to OVERSIZED in xtask/src/tidy/size.rs"
            ]
        );
    }

    #[test]
    fn flags_a_listed_file_now_small_or_gone() {
        let found = files(&[("crates/a/src/split.rs", 500), ("crates/a/src/big.rs", 900)]);
        let listed = [
            ("crates/a/src/split.rs", 620, "split pending"),
            ("crates/a/src/gone.rs", 530, "split pending"),
            ("crates/a/src/big.rs", 880, "split pending"),
            ("crates/a/src/big.rs", 880, "split pending"),
        ];
        assert_eq!(
            problems(&found, &listed),
            [
                "crates/a/src/split.rs: 500 lines now, within the limit of 500: remove the line \
                 `(\"crates/a/src/split.rs\", 620, \"split pending\"),` from OVERSIZED in \
                 xtask/src/tidy/size.rs, so the list only shrinks",
                "crates/a/src/gone.rs: no longer exists: remove the line \
                 `(\"crates/a/src/gone.rs\", 530, \"split pending\"),` from OVERSIZED in \
                 xtask/src/tidy/size.rs",
                "crates/a/src/big.rs: listed twice: remove the second line \
                 `(\"crates/a/src/big.rs\", 880, \"split pending\"),` from OVERSIZED in \
                 xtask/src/tidy/size.rs",
            ]
        );
    }

    #[test]
    fn counts_rust_files_under_src_only() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-size-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in [
            ("crates/a/src/lib.rs", "one\ntwo\nthree"),
            ("crates/a/src/deep/mod.rs", "one\n\nthree\n"),
            ("crates/a/src/notes.txt", "not rust\n"),
            ("crates/a/tests/big.rs", "exempt\n"),
            ("crates/a/benches/b.rs", "exempt\n"),
            ("crates/a/examples/e.rs", "exempt\n"),
            ("crates/b/src/main.rs", ""),
            ("xtask/src/main.rs", "a\r\nb\r\n"),
            ("fuzz/fuzz_targets/t.rs", "not checked\n"),
        ] {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        assert_eq!(
            rust_files(&dir),
            files(&[
                ("crates/a/src/deep/mod.rs", 3),
                ("crates/a/src/lib.rs", 3),
                ("crates/b/src/main.rs", 0),
                ("xtask/src/main.rs", 2),
            ])
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
