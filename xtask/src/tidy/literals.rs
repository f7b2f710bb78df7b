//! Path literals in Rust source: `include_str!` / `include_bytes!` arguments and paths built from
//! the `CARGO_MANIFEST_DIR` environment macro, and their lexical resolution against the root.

use std::path::{Path, PathBuf};

/// The macro that expands to the manifest folder of the crate being compiled.
const MANIFEST_DIR: &str = "CARGO_MANIFEST_DIR";

/// How a path literal in Rust source is resolved.
#[derive(Debug, PartialEq)]
pub(super) enum Base {
    /// `include_str!` / `include_bytes!`: against the including file's folder.
    File,
    /// `concat!` of the manifest macro and literals: glued to the manifest folder's text.
    /// `complete` is false when a non-literal argument follows: only a prefix is known.
    ManifestConcat { complete: bool },
    /// `Path::new` / `PathBuf::from` of the manifest macro, then `.join` of a literal: joined to
    /// the manifest folder.
    ManifestJoin,
}

/// A path literal found in Rust source.
#[derive(Debug, PartialEq)]
pub(super) struct PathRef {
    pub(super) line: usize,
    pub(super) base: Base,
    pub(super) literal: String,
}

/// `literal` as a path relative to the folder `base` (relative to the root), resolved
/// lexically; `None` when it is absolute or a `..` climbs above the root.
pub(super) fn resolve_in(base: &Path, literal: &str) -> Option<PathBuf> {
    if literal.starts_with('/') || literal.starts_with('\\') || literal.contains(':') {
        return None;
    }
    let stack = components(base)?;
    walk_components(stack, literal)
}

/// `base`'s text with `literal` appended, as `concat!` builds it, resolved lexically: a literal
/// that does not start with `/` extends the manifest folder's own name.
pub(super) fn resolve_glued(base: &Path, literal: &str) -> Option<PathBuf> {
    let mut stack = components(base)?;
    if literal.starts_with('/') {
        return walk_components(stack, literal);
    }
    // The literal continues the last component's name (none: it would extend the root's name).
    let last = stack.pop()?;
    walk_components(stack, &format!("{last}{literal}"))
}

/// The normal components of `base`; `None` if it has any other kind.
fn components(base: &Path) -> Option<Vec<String>> {
    base.components()
        .map(|c| match c {
            std::path::Component::Normal(s) => s.to_str().map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// Applies the `/`-separated components of `rest` to `stack`; `None` when `..` leaves the root.
fn walk_components(mut stack: Vec<String>, rest: &str) -> Option<PathBuf> {
    for part in rest.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                stack.pop()?;
            }
            name => stack.push(name.to_owned()),
        }
    }
    Some(stack.iter().collect())
}

/// Every path literal of an include macro or a `CARGO_MANIFEST_DIR` expression in `text`.
pub(super) fn path_refs(text: &str) -> Vec<PathRef> {
    let mut out = Vec::new();
    for mac in [concat!("include", "_str!"), concat!("include", "_bytes!")] {
        for (at, _) in text.match_indices(mac) {
            let mut p = skip_ws(text, at + mac.len());
            if !text[p..].starts_with('(') {
                continue;
            }
            p = skip_ws(text, p + 1);
            if let Some((literal, _)) = string_literal(text, p) {
                out.push(PathRef {
                    line: line_of(text, at),
                    base: Base::File,
                    literal,
                });
            }
        }
    }
    let env = concat!("env", "!");
    for (at, _) in text.match_indices(env) {
        let Some(after) = manifest_env_end(text, at + env.len()) else {
            continue;
        };
        let line = line_of(text, at);
        let before = text[..at].trim_end();
        let in_concat = before
            .strip_suffix('(')
            .is_some_and(|b| b.trim_end().ends_with(concat!("concat", "!")));
        if in_concat {
            let (literal, complete) = concat_tail(text, after);
            out.push(PathRef {
                line,
                base: Base::ManifestConcat { complete },
                literal,
            });
        } else if let Some(literal) = join_tail(text, after) {
            out.push(PathRef {
                line,
                base: Base::ManifestJoin,
                literal,
            });
        }
    }
    out.sort_by_key(|r| r.line);
    out
}

/// After `env!` at `p`: the end of `("CARGO_MANIFEST_DIR")`, if that is what follows.
fn manifest_env_end(text: &str, p: usize) -> Option<usize> {
    let p = skip_ws(text, p);
    let p = skip_ws(text, p + text[p..].starts_with('(').then_some(1)?);
    let (name, p) = string_literal(text, p)?;
    if name != MANIFEST_DIR {
        return None;
    }
    let p = skip_ws(text, p);
    text[p..].starts_with(')').then_some(p + 1)
}

/// The literals after `env!(…)` in a `concat!`: their text, and whether they were all of the
/// arguments.
fn concat_tail(text: &str, mut p: usize) -> (String, bool) {
    let mut literal = String::new();
    loop {
        p = skip_ws(text, p);
        if text[p..].starts_with(')') {
            return (literal, true);
        }
        if !text[p..].starts_with(',') {
            return (literal, false);
        }
        p = skip_ws(text, p + 1);
        if text[p..].starts_with(')') {
            return (literal, true); // trailing comma
        }
        match string_literal(text, p) {
            Some((piece, end)) => {
                literal.push_str(&piece);
                p = end;
            }
            None => return (literal, false),
        }
    }
}

/// `).join("…")` after `env!(…)` (closing `Path::new(` or `PathBuf::from(`): the literal.
fn join_tail(text: &str, p: usize) -> Option<String> {
    let p = skip_ws(text, p);
    let p = skip_ws(text, p + text[p..].starts_with(')').then_some(1)?);
    let p = skip_ws(text, p + text[p..].starts_with(".join").then_some(5)?);
    let p = skip_ws(text, p + text[p..].starts_with('(').then_some(1)?);
    string_literal(text, p).map(|(s, _)| s)
}

/// The first index at or after `p` that is not whitespace.
fn skip_ws(text: &str, p: usize) -> usize {
    p + text[p..].len() - text[p..].trim_start().len()
}

/// The 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// A Rust string literal (`"…"` with the common escapes, or `r"…"`, `r#"…"#`) starting at `p`:
/// its value and the index just past it.
fn string_literal(text: &str, p: usize) -> Option<(String, usize)> {
    let rest = &text[p..];
    if let Some(raw) = rest.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let body = raw[hashes..].strip_prefix('"')?;
        let close = format!("\"{}", "#".repeat(hashes));
        let end = body.find(&close)?;
        let consumed = 1 + hashes + 1 + end + close.len();
        return Some((body[..end].to_owned(), p + consumed));
    }
    let body = rest.strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, p + 1 + i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '0' => value.push('\0'),
                '\n' => {
                    // Line continuation: the newline and the next line's indentation vanish.
                    let mut peek = chars.clone();
                    while let Some((_, w)) = peek.next() {
                        if !w.is_whitespace() {
                            break;
                        }
                        chars = peek.clone();
                    }
                }
                other => value.push(other), // `\\`, `\"`, `\'`; `\u{…}`/`\x..` are not paths
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_paths_resolve_against_the_including_file() {
        let dir = Path::new("crates/loadtest-sim/src");
        assert_eq!(
            resolve_in(dir, "../../../testdata/vllm-0.32.0/models.json"),
            Some(PathBuf::from("testdata/vllm-0.32.0/models.json"))
        );
        assert_eq!(
            resolve_in(dir, "./data/../x.txt"),
            Some(PathBuf::from("crates/loadtest-sim/src/x.txt"))
        );
        // One `..` too many escapes, even when the path comes back in by the root's name.
        assert_eq!(resolve_in(dir, "../../../../elsewhere/x.json"), None);
        assert_eq!(resolve_in(dir, "../../../../main/testdata/x.json"), None);
        assert_eq!(resolve_in(dir, "/etc/hosts"), None);
        assert_eq!(resolve_in(Path::new(""), ".."), None);
        assert_eq!(resolve_in(Path::new(""), "."), Some(PathBuf::new()));
    }

    #[test]
    fn manifest_paths_resolve_against_the_crate() {
        let krate = Path::new("crates/loadtest-prom");
        assert_eq!(
            resolve_glued(krate, "/../../testdata/vllm-0.32.0/"),
            Some(PathBuf::from("testdata/vllm-0.32.0"))
        );
        assert_eq!(
            resolve_glued(krate, "/tests/data/tgi.txt"),
            Some(PathBuf::from("crates/loadtest-prom/tests/data/tgi.txt"))
        );
        assert_eq!(resolve_glued(krate, "/../../../elsewhere/fixtures/"), None);
        // `concat!` glues text: without a leading `/` the crate folder's name goes on.
        assert_eq!(
            resolve_glued(krate, "_other/x"),
            Some(PathBuf::from("crates/loadtest-prom_other/x"))
        );
        assert_eq!(resolve_glued(Path::new(""), "_other/x"), None);
        assert_eq!(
            resolve_in(
                Path::new("crates/loadtest-cli"),
                "../loadtest-report/tests/data"
            ),
            Some(PathBuf::from("crates/loadtest-report/tests/data"))
        );
    }

    #[test]
    fn finds_path_literals_in_source() {
        let inc = concat!("include", "_str!");
        let bytes = concat!("include", "_bytes!");
        let env = concat!("env", "!(\"CARGO_MANIFEST_DIR\")");
        let source = [
            format!("let a = {inc}(\"../x.txt\");"),
            format!(
                "let b = {bytes}(concat!(\n    {env},\n    \"/../../y/\",\n    \"z.json\"\n));"
            ),
            format!("const C: &str = concat!({env}, \"/d/\", NAME);"),
            format!("let e = Path::new({env}).join(\"tests/data\");"),
            format!("let f = {inc}(r#\"raw \"q\".txt\"#);"),
            format!("let g = {inc}(concat!(\"no\", \"literal\"));"),
            format!("let h = {env}.to_owned();"),
        ]
        .join("\n");
        let refs = path_refs(&source);
        let found: Vec<(usize, &Base, &str)> = refs
            .iter()
            .map(|r| (r.line, &r.base, r.literal.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (1, &Base::File, "../x.txt"),
                (
                    3,
                    &Base::ManifestConcat { complete: true },
                    "/../../y/z.json"
                ),
                (7, &Base::ManifestConcat { complete: false }, "/d/"),
                (8, &Base::ManifestJoin, "tests/data"),
                (9, &Base::File, "raw \"q\".txt"),
            ]
        );
    }

    #[test]
    fn string_literals_unescape() {
        assert_eq!(
            string_literal(r#""a\\b\"c" rest"#, 0),
            Some(("a\\b\"c".to_owned(), 9))
        );
        assert_eq!(
            string_literal("\"one\\\n     two\"", 0),
            Some(("onetwo".to_owned(), 15))
        );
        assert_eq!(string_literal("\"open", 0), None);
        assert_eq!(string_literal("x", 0), None);
    }
}
