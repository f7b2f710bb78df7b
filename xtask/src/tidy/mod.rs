//! `cargo xtask tidy`: rules that keep the repository in shape. Each is also a unit test, so
//! `cargo test -p xtask tidy` (and `cargo test --workspace`, part of `ci`) checks them too:
//!
//! - [`outside`]: the repository stands alone — no file points outside its root;
//! - [`graph`]: the arrows between our own crates are exactly those the crate-graph block of
//!   `docs/architecture.md` documents, and they have no cycle;
//! - [`size`]: no Rust source file over [`size::LIMIT`] lines, except those listed as split
//!   pending in [`size::OVERSIZED`] (a list that only shrinks);
//! - [`deploy`]: the Slurm and Kubernetes launch files keep the sharding contract.

use std::path::Path;

use anyhow::{Result, bail};

mod deploy;
mod graph;
mod literals;
mod outside;
mod size;

/// Runs the `tidy` task: prints every problem and fails if there is one.
pub(crate) fn tidy(root: &Path) -> Result<()> {
    let outside = outside::check(root);
    let graph = graph::check(root);
    let size = size::check(root);
    let deploy = deploy::check(root);
    let problems: Vec<&String> = outside
        .problems
        .iter()
        .chain(&graph.problems)
        .chain(&size.problems)
        .chain(&deploy)
        .collect();
    for problem in &problems {
        eprintln!("{problem}");
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s): {} outside the repository, {} in the crate graph, {} in file sizes, {} in deploy/",
            problems.len(),
            outside.problems.len(),
            graph.problems.len(),
            size.problems.len(),
            deploy.len()
        );
    }
    println!(
        "xtask tidy: {} files checked, nothing points outside the repository",
        outside.files
    );
    println!(
        "xtask tidy: crate graph ({} crates, {} arrows) matches {}, no cycle",
        graph.crates,
        graph.arrows,
        graph::DOC
    );
    println!(
        "xtask tidy: {} Rust source files, none over {} lines but the {} listed as split pending",
        size.files,
        size::LIMIT,
        size::OVERSIZED.len()
    );
    println!("xtask tidy: deploy/ (Slurm, Kubernetes) keeps the sharding contract");
    Ok(())
}

/// The repository root (xtask's parent), for the tests that check the repository itself.
#[cfg(test)]
fn test_root() -> std::path::PathBuf {
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}
