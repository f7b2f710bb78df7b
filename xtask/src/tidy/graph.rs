//! The crate graph stays as documented. The dependency arrows between our own crates (workspace
//! members) are read from `cargo metadata --format-version 1 --no-deps` and compared with the
//! block that follows [`MARKER`] in [`DOC`]:
//!
//! ```text
//! loadtest-sweep -> loadtest-client, loadtest-prom
//! loadtest-sweep -dev-> loadtest-sim
//! loadtest-client
//! ```
//!
//! One line per crate: `a -> b, c` are its normal and build dependencies on other members, a
//! bare name has none; an optional `a -dev-> b` line lists its dev-only ones (a dev-dependency on
//! another member is allowed only when documented). Lines starting with `#` are comments.
//!
//! It fails, naming the arrow, on an arrow in a `Cargo.toml` that the block lacks, on a
//! documented arrow that no `Cargo.toml` has (so the document stays true), on a member without a
//! line or a line for no member, and on any cycle (dev arrows included).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::process::Command;

mod doc;
mod metadata;

#[cfg(test)]
mod tests;

/// The document holding the crate graph, relative to the root.
pub(crate) const DOC: &str = "docs/architecture.md";

/// The line right before the machine-readable crate-graph block.
pub(crate) const MARKER: &str = "<!-- crate-graph: checked by cargo xtask tidy -->";

/// What an arrow stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A normal or build dependency: `a -> b`.
    Normal,
    /// A dev-dependency only: `a -dev-> b`.
    Dev,
}

/// `from` depends on `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Arrow {
    from: String,
    to: String,
    kind: Kind,
}

impl Arrow {
    fn new(from: &str, to: &str, kind: Kind) -> Self {
        Arrow {
            from: from.to_owned(),
            to: to.to_owned(),
            kind,
        }
    }
}

impl fmt::Display for Arrow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arrow = match self.kind {
            Kind::Normal => "->",
            Kind::Dev => "-dev->",
        };
        write!(f, "{} {arrow} {}", self.from, self.to)
    }
}

/// Crates and the arrows between them, each with where it was found: a `Cargo.toml` path, or
/// `docs/architecture.md:LINE`.
#[derive(Debug, Default)]
struct Graph {
    crates: BTreeMap<String, String>,
    arrows: BTreeMap<Arrow, String>,
}

/// What [`check`] found.
pub(crate) struct Report {
    /// Workspace members.
    pub(crate) crates: usize,
    /// Arrows between them (dev arrows included).
    pub(crate) arrows: usize,
    /// One line per problem.
    pub(crate) problems: Vec<String>,
}

/// Checks the crate graph of the workspace at `root` against [`DOC`].
pub(crate) fn check(root: &Path) -> Report {
    let mut report = Report {
        crates: 0,
        arrows: 0,
        problems: Vec::new(),
    };
    let actual = match cargo_metadata(root).and_then(|json| metadata::graph(&json)) {
        Ok(graph) => graph,
        Err(problem) => {
            report.problems.push(problem);
            return report;
        }
    };
    report.crates = actual.crates.len();
    report.arrows = actual.arrows.len();
    report.problems.extend(cycles(&actual).iter().map(|cycle| {
        let shown: Vec<String> = cycle.iter().map(Arrow::to_string).collect();
        format!(
            "the crate graph has a cycle: {} (arrows must point one way): remove one of these \
             dependencies",
            shown.join(", ")
        )
    }));
    let text = match std::fs::read_to_string(root.join(DOC)) {
        Ok(text) => text,
        Err(err) => {
            report.problems.push(format!(
                "{DOC}: cannot read it ({err}), so the crate graph is unchecked"
            ));
            return report;
        }
    };
    match doc::graph(&text) {
        Ok(documented) => report.problems.extend(compare(&actual, &documented)),
        Err(problems) => report.problems.extend(problems),
    }
    report
}

/// `cargo metadata --format-version 1 --no-deps` run in `root`, with the cargo running us.
fn cargo_metadata(root: &Path) -> Result<String, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|err| format!("could not run `cargo metadata`: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout)
        .map_err(|err| format!("`cargo metadata` printed non-UTF-8: {err}"))
}

/// One line per difference between the graph the manifests declare and the documented one.
fn compare(actual: &Graph, documented: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (name, manifest) in &actual.crates {
        if !documented.crates.contains_key(name) {
            out.push(format!(
                "{manifest}: crate `{name}` has no line in the crate graph of {DOC}: add a line \
                 `{name}` (with ` -> ` and its dependencies on our crates, if any)"
            ));
        }
    }
    for (name, at) in &documented.crates {
        if !actual.crates.contains_key(name) {
            out.push(format!(
                "{at}: `{name}` is documented but is not a workspace member: remove its line"
            ));
        }
    }
    for (arrow, manifest) in &actual.arrows {
        if documented.arrows.contains_key(arrow) {
            continue;
        }
        let (what, sign, why) = match arrow.kind {
            Kind::Normal => ("dependency", "->", ""),
            Kind::Dev => (
                "dev-dependency",
                "-dev->",
                " (a dev-dependency on another of our crates is allowed only if documented)",
            ),
        };
        let (from, to) = (&arrow.from, &arrow.to);
        let same_line = documented
            .arrows
            .iter()
            .find(|(a, _)| a.from == *from && a.kind == arrow.kind);
        let fix = match (same_line, documented.crates.get(from)) {
            (Some((_, at)), _) => format!("add `{to}` to the `{from} {sign} …` line at {at}"),
            (None, Some(at)) if arrow.kind == Kind::Normal => {
                format!("make the line `{from}` at {at} read `{from} -> {to}`")
            }
            _ => format!("add the line `{from} {sign} {to}`"),
        };
        out.push(format!(
            "{manifest}: {what} `{arrow}` is not in the crate graph of {DOC}{why}: {fix}"
        ));
    }
    for (arrow, at) in &documented.arrows {
        if !actual.arrows.contains_key(arrow) {
            let manifest = actual
                .crates
                .get(&arrow.from)
                .map_or("no Cargo.toml", String::as_str);
            out.push(format!(
                "{at}: documented arrow `{arrow}` does not exist ({manifest} declares no such \
                 dependency): remove `{}` from that line, so the document stays true",
                arrow.to
            ));
        }
    }
    out
}

/// Every cycle found by a depth-first walk (dev arrows included), as its arrows in order.
fn cycles(graph: &Graph) -> Vec<Vec<Arrow>> {
    let mut out = Vec::new();
    // Present: visited; `true`: still on the walk's path.
    let mut state: BTreeMap<&str, bool> = BTreeMap::new();
    let mut path = Vec::new();
    for name in graph.crates.keys() {
        if !state.contains_key(name.as_str()) {
            visit(graph, name, &mut state, &mut path, &mut out);
        }
    }
    out
}

/// The depth-first step of [`cycles`] from `node`, reached along `path`.
fn visit<'a>(
    graph: &'a Graph,
    node: &'a str,
    state: &mut BTreeMap<&'a str, bool>,
    path: &mut Vec<&'a Arrow>,
    out: &mut Vec<Vec<Arrow>>,
) {
    state.insert(node, true);
    for arrow in graph.arrows.keys().filter(|a| a.from == node) {
        match state.get(arrow.to.as_str()) {
            Some(true) => {
                // Back to a crate on the path: the cycle runs from the arrow leaving it.
                let start = path
                    .iter()
                    .position(|a| a.from == arrow.to)
                    .unwrap_or(path.len());
                let mut cycle: Vec<Arrow> = path[start..].iter().map(|a| (*a).clone()).collect();
                cycle.push(arrow.clone());
                out.push(cycle);
            }
            Some(false) => {}
            None => {
                path.push(arrow);
                visit(graph, &arrow.to, state, path, out);
                path.pop();
            }
        }
    }
    state.insert(node, false);
}

/// Crate names: letters, digits, `-` and `_`.
fn is_crate_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
