use std::collections::BTreeSet;

use super::*;

/// A document whose crate-graph block holds `lines`.
fn document(lines: &[&str]) -> String {
    format!(
        "# Title\n\n```\nascii art -> not checked\n```\n\n{MARKER}\n```text\n{}\n```\n\nMore.\n",
        lines.join("\n")
    )
}

/// A graph as `cargo metadata` would give it: `crates` with their arrows.
fn actual(crates: &[&str], arrows: &[(&str, &str, Kind)]) -> Graph {
    let mut graph = Graph::default();
    for name in crates {
        graph
            .crates
            .insert((*name).to_owned(), format!("crates/{name}/Cargo.toml"));
    }
    for (from, to, kind) in arrows {
        graph.arrows.insert(
            Arrow::new(from, to, *kind),
            format!("crates/{from}/Cargo.toml"),
        );
    }
    graph
}

/// The arrows of `graph`, shown.
fn shown(graph: &Graph) -> BTreeSet<String> {
    graph.arrows.keys().map(Arrow::to_string).collect()
}

#[test]
fn crate_graph_matches_the_docs() {
    let report = check(&crate::tidy::test_root());
    assert!(report.crates >= 2, "only {} crates found", report.crates);
    assert!(
        report.problems.is_empty(),
        "the crate graph and {DOC} disagree:\n{}",
        report.problems.join("\n")
    );
}

#[test]
fn reads_arrows_between_members_from_cargo_metadata() {
    let dep = |name: &str, kind: Option<&str>, path: bool| {
        serde_json::json!({
            "name": name,
            "kind": kind,
            "path": path.then(|| format!("/ws/crates/{name}")),
        })
    };
    let package = |name: &str, deps: Vec<serde_json::Value>| {
        serde_json::json!({
            "name": name,
            "id": format!("path+file:///ws/crates/{name}#0.1.0"),
            "manifest_path": format!("/ws/crates/{name}/Cargo.toml"),
            "dependencies": deps,
        })
    };
    let json = serde_json::json!({
        "workspace_root": "/ws",
        "workspace_members": [
            "path+file:///ws/crates/app#0.1.0",
            "path+file:///ws/crates/core#0.1.0",
            "path+file:///ws/crates/gen#0.1.0",
            "path+file:///ws/crates/sim#0.1.0",
        ],
        "packages": [
            package("app", vec![
                dep("core", None, true),
                dep("core", Some("dev"), true), // also normal: no dev arrow
                dep("gen", Some("build"), true),
                dep("sim", Some("dev"), true),
                dep("serde", None, false),
                dep("outside", None, true), // a path dependency that is not a member
            ]),
            package("core", vec![dep("sim", None, false)]), // a registry crate named like a member
            package("gen", vec![]),
            package("sim", vec![dep("core", None, true)]),
        ],
    });
    let graph = metadata::graph(&json.to_string()).unwrap();
    assert_eq!(
        graph.crates.keys().collect::<Vec<_>>(),
        ["app", "core", "gen", "sim"]
    );
    assert_eq!(graph.crates["app"], "crates/app/Cargo.toml");
    assert_eq!(
        shown(&graph),
        BTreeSet::from(
            ["app -> core", "app -> gen", "app -dev-> sim", "sim -> core"].map(String::from)
        )
    );
    assert!(metadata::graph("not json").is_err());
    assert!(metadata::graph("{}").is_err());
}

#[test]
fn parses_the_documented_block() {
    let text = document(&[
        "# a comment",
        "app -> core, gen",
        "",
        "app -dev-> sim",
        "  core  ",
        "gen",
        "sim -> core",
    ]);
    let graph = doc::graph(&text).unwrap();
    assert_eq!(
        graph.crates.keys().collect::<Vec<_>>(),
        ["app", "core", "gen", "sim"]
    );
    assert_eq!(graph.crates["app"], format!("{DOC}:10"));
    assert_eq!(
        shown(&graph),
        BTreeSet::from(
            ["app -> core", "app -> gen", "app -dev-> sim", "sim -> core"].map(String::from)
        )
    );
    assert_eq!(
        graph.arrows[&Arrow::new("app", "sim", Kind::Dev)],
        format!("{DOC}:12")
    );
}

#[test]
fn rejects_a_malformed_block() {
    let problems = |text: &str| doc::graph(text).err().unwrap_or_default().join("\n");
    assert!(problems("no marker here").contains("no line `<!-- crate-graph"));
    assert!(problems(&format!("{MARKER}\n\nsome text\n")).contains("must open a ```text block"));
    assert!(problems(&format!("{MARKER}\n```text\na\n")).contains("never closed"));
    assert!(problems(&format!("{}\n{MARKER}\n", document(&["a"]))).contains("a second `<!--"));
    for (line, expected) in [
        ("a -> b -> c", "`b -> c` is not a crate name"),
        ("a ->", "`` is not a crate name"),
        ("a -> b,, c", "`` is not a crate name"),
        ("the app", "`the app` is not a crate name"),
    ] {
        let found = problems(&document(&[line]));
        assert!(found.contains(expected), "{line:?}: {found}");
    }
    let found = problems(&document(&[
        "a -> b",
        "a",
        "b -dev-> a",
        "b",
        "b -dev-> c",
        "c -> b, b",
    ]));
    assert!(found.contains(":10: a second line for `a` (the first is docs/architecture.md:9)"));
    assert!(found.contains(":13: a second `-dev->` line for `b`"));
    assert!(found.contains(":14: `c -> b` is documented twice"));
    let found = problems(&document(&["a -dev-> b", "b"]));
    assert!(found.contains(":9: `a` has a `-dev->` line but no line of its own"));
}

#[test]
fn flags_an_undocumented_arrow() {
    let cargo = actual(
        &["app", "core", "sim"],
        &[("app", "core", Kind::Normal), ("app", "sim", Kind::Dev)],
    );
    let documented = doc::graph(&document(&["app", "core", "sim"])).unwrap();
    let problems = compare(&cargo, &documented);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(
        problems[0],
        "crates/app/Cargo.toml: dependency `app -> core` is not in the crate graph of \
         docs/architecture.md: make the line `app` at docs/architecture.md:9 read `app -> core`"
    );
    assert!(problems[1].starts_with(
        "crates/app/Cargo.toml: dev-dependency `app -dev-> sim` is not in the crate graph"
    ));
    assert!(problems[1].contains("allowed only if documented"));
    assert!(problems[1].ends_with("add the line `app -dev-> sim`"));
    // With lines for both kinds already there: add to them.
    let cargo = actual(
        &["app", "core", "gen", "mock", "sim"],
        &[
            ("app", "core", Kind::Normal),
            ("app", "gen", Kind::Normal),
            ("app", "mock", Kind::Dev),
            ("app", "sim", Kind::Dev),
        ],
    );
    let lines = [
        "app -> gen",
        "app -dev-> mock",
        "core",
        "gen",
        "mock",
        "sim",
    ];
    let problems = compare(&cargo, &doc::graph(&document(&lines)).unwrap());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].ends_with("add `core` to the `app -> …` line at docs/architecture.md:9"));
    assert!(
        problems[1].ends_with("add `sim` to the `app -dev-> …` line at docs/architecture.md:10")
    );
    let lines = [
        "app -> gen, core",
        "app -dev-> sim, mock",
        "core",
        "gen",
        "mock",
        "sim",
    ];
    let documented = doc::graph(&document(&lines)).unwrap();
    assert_eq!(compare(&cargo, &documented), Vec::<String>::new());
}

#[test]
fn flags_a_stale_documented_arrow() {
    let cargo = actual(&["app", "core"], &[("app", "core", Kind::Normal)]);
    let documented = doc::graph(&document(&[
        "app -> core",
        "core -> app",
        "app -dev-> core",
    ]));
    let problems = compare(&cargo, &documented.unwrap());
    assert_eq!(
        problems,
        [
            "docs/architecture.md:11: documented arrow `app -dev-> core` does not exist \
             (crates/app/Cargo.toml declares no such dependency): remove `core` from that line, \
             so the document stays true",
            "docs/architecture.md:10: documented arrow `core -> app` does not exist \
             (crates/core/Cargo.toml declares no such dependency): remove `app` from that line, \
             so the document stays true",
        ]
    );
}

#[test]
fn flags_a_crate_missing_from_the_docs_and_a_documented_crate_that_is_gone() {
    let cargo = actual(&["app", "new"], &[]);
    let documented = doc::graph(&document(&["app", "old"])).unwrap();
    let problems = compare(&cargo, &documented);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with(
        "crates/new/Cargo.toml: crate `new` has no line in the crate graph of \
         docs/architecture.md: add a line `new`"
    ));
    assert_eq!(
        problems[1],
        "docs/architecture.md:10: `old` is documented but is not a workspace member: remove its line"
    );
}

#[test]
fn finds_cycles() {
    let show = |graph: &Graph| -> Vec<String> {
        cycles(graph)
            .iter()
            .map(|c| {
                c.iter()
                    .map(Arrow::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect()
    };
    let dag = actual(
        &["a", "b", "c", "d"],
        &[
            ("a", "b", Kind::Normal),
            ("a", "c", Kind::Normal),
            ("b", "d", Kind::Normal),
            ("c", "d", Kind::Dev),
        ],
    );
    assert!(cycles(&dag).is_empty());
    let cyclic = actual(
        &["a", "b", "c", "d"],
        &[
            ("a", "b", Kind::Normal),
            ("b", "c", Kind::Normal),
            ("c", "a", Kind::Dev), // through a dev-dependency: still a cycle
            ("c", "d", Kind::Normal),
            ("d", "d", Kind::Normal),
        ],
    );
    assert_eq!(show(&cyclic), ["a -> b, b -> c, c -dev-> a", "d -> d"]);
}
