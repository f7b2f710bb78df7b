//! The crate graph the manifests declare, from `cargo metadata --format-version 1 --no-deps`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Arrow, Graph, Kind};

/// The workspace members of `json` (the output of `cargo metadata`) and the arrows between
/// them: normal and build dependencies as [`Kind::Normal`], dev-dependencies on a crate that is
/// not also a normal or build dependency as [`Kind::Dev`]. Each is found at its `Cargo.toml`,
/// relative to the workspace root.
pub(super) fn graph(json: &str) -> Result<Graph, String> {
    let meta: Value = serde_json::from_str(json)
        .map_err(|err| format!("cannot parse the output of `cargo metadata`: {err}"))?;
    let root = meta["workspace_root"].as_str().unwrap_or_default();
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .ok_or("`cargo metadata` printed no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages: Vec<(&str, &Value)> = meta["packages"]
        .as_array()
        .ok_or("`cargo metadata` printed no packages")?
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .map(|p| p["name"].as_str().map(|name| (name, p)))
        .collect::<Option<_>>()
        .ok_or("`cargo metadata` printed a package without a name")?;

    let mut graph = Graph::default();
    for (name, package) in &packages {
        let manifest = package["manifest_path"].as_str().unwrap_or_default();
        graph
            .crates
            .insert((*name).to_owned(), relative(root, manifest));
    }
    for (name, package) in &packages {
        let manifest = graph.crates.get(*name).cloned().unwrap_or_default();
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let Some(to) = dep["name"].as_str() else {
                continue;
            };
            // Only path dependencies on members are ours (a registry crate may share a name).
            if dep["path"].is_null() || !graph.crates.contains_key(to) {
                continue;
            }
            let kind = match dep["kind"].as_str() {
                Some("dev") => Kind::Dev,
                _ => Kind::Normal, // null (normal) or "build"
            };
            graph
                .arrows
                .insert(Arrow::new(name, to, kind), manifest.clone());
        }
    }
    // A dev-dependency on a crate already depended on normally adds no arrow.
    let normal: BTreeSet<(String, String)> = graph
        .arrows
        .keys()
        .filter(|a| a.kind == Kind::Normal)
        .map(|a| (a.from.clone(), a.to.clone()))
        .collect();
    graph
        .arrows
        .retain(|a, _| a.kind == Kind::Normal || !normal.contains(&(a.from.clone(), a.to.clone())));
    Ok(graph)
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &str, path: &str) -> String {
    path.strip_prefix(root)
        .map_or(path, |rel| rel.trim_start_matches(['/', '\\']))
        .replace('\\', "/")
}
