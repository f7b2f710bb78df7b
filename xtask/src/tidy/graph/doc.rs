//! The documented crate graph: the ```text block right after [`MARKER`] in [`DOC`].

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::{Arrow, DOC, Graph, Kind, MARKER, is_crate_name};

/// The graph documented in `text` (the whole document), or one line per problem with the block.
pub(super) fn graph(text: &str) -> Result<Graph, Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let (open, close) = block(&lines).map_err(|problem| vec![problem])?;
    let mut graph = Graph::default();
    let mut dev_lines: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for (n, line) in lines.iter().enumerate().take(close).skip(open + 1) {
        let at = format!("{DOC}:{}", n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (from, kind, targets) = match parse_line(line) {
            Ok(parsed) => parsed,
            Err(what) => {
                problems.push(format!("{at}: {what}"));
                continue;
            }
        };
        let lines_of_kind = match kind {
            Kind::Normal => &mut graph.crates,
            Kind::Dev => &mut dev_lines,
        };
        match lines_of_kind.entry(from.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(at.clone());
            }
            Entry::Occupied(first) => {
                let which = match kind {
                    Kind::Normal => "line",
                    Kind::Dev => "`-dev->` line",
                };
                problems.push(format!(
                    "{at}: a second {which} for `{from}` (the first is {}): merge them into one",
                    first.get()
                ));
            }
        }
        for to in targets {
            let arrow = Arrow::new(&from, &to, kind);
            match graph.arrows.entry(arrow) {
                Entry::Vacant(slot) => {
                    slot.insert(at.clone());
                }
                Entry::Occupied(seen) => problems.push(format!(
                    "{at}: `{}` is documented twice: remove one",
                    seen.key()
                )),
            }
        }
    }
    for (name, at) in &dev_lines {
        if !graph.crates.contains_key(name) {
            problems.push(format!(
                "{at}: `{name}` has a `-dev->` line but no line of its own: add a line `{name}` \
                 (with ` -> ` and its dependencies on our crates, if any)"
            ));
        }
    }
    if problems.is_empty() {
        Ok(graph)
    } else {
        Err(problems)
    }
}

/// The indexes of the block's opening and closing fence lines.
fn block(lines: &[&str]) -> Result<(usize, usize), String> {
    let mut markers = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.trim() == MARKER)
        .map(|(i, _)| i);
    let Some(marker) = markers.next() else {
        return Err(format!(
            "{DOC}: no line `{MARKER}` followed by a ```text block of the crate graph"
        ));
    };
    if let Some(second) = markers.next() {
        return Err(format!(
            "{DOC}:{}: a second `{MARKER}` line (the first is line {}): keep one",
            second + 1,
            marker + 1
        ));
    }
    let open = (marker + 1..lines.len())
        .find(|&i| !lines[i].trim().is_empty())
        .filter(|&i| lines[i].trim() == "```text")
        .ok_or_else(|| {
            format!(
                "{DOC}:{}: the line after `{MARKER}` must open a ```text block",
                marker + 1
            )
        })?;
    let close = (open + 1..lines.len())
        .find(|&i| lines[i].trim() == "```")
        .ok_or_else(|| {
            format!(
                "{DOC}:{}: the crate-graph block is never closed with ```",
                open + 1
            )
        })?;
    Ok((open, close))
}

/// `a`, `a -> b, c` or `a -dev-> b, c`: the crate, the kind of its arrows and their targets.
fn parse_line(line: &str) -> Result<(String, Kind, Vec<String>), String> {
    let (from, kind, rest) = if let Some((from, rest)) = line.split_once("-dev->") {
        (from, Kind::Dev, Some(rest))
    } else if let Some((from, rest)) = line.split_once("->") {
        (from, Kind::Normal, Some(rest))
    } else {
        (line, Kind::Normal, None)
    };
    let from = from.trim();
    if !is_crate_name(from) {
        return Err(format!(
            "`{from}` is not a crate name; a line reads `crate`, `crate -> a, b` or \
             `crate -dev-> a, b`"
        ));
    }
    let mut targets = Vec::new();
    for to in rest.into_iter().flat_map(|rest| rest.split(',')) {
        let to = to.trim();
        if !is_crate_name(to) {
            return Err(format!(
                "`{to}` is not a crate name in `{line}`; a line reads `crate`, `crate -> a, b` \
                 or `crate -dev-> a, b`"
            ));
        }
        targets.push(to.to_owned());
    }
    Ok((from.to_owned(), kind, targets))
}
