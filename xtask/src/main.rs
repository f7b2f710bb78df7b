//! Repository automation, run as `cargo xtask <task>`.
//!
//! Tasks:
//! - `ci`: everything CI checks — tidy, formatting, clippy with warnings denied, the whole test
//!   suite (examples included) and rustdoc with warnings denied.
//! - `bench [--quick]`: client CPU, RSS and timing error against the simulator ([`mod@bench`]).
//! - `fuzz [--seconds N]`: every cargo-fuzz target in sequence ([`fuzz`]).
//! - `e2e-slurm [--keep]`: the Slurm launch file under a throwaway one-node Slurm
//!   ([`e2e_slurm`]).
//! - `tidy`: nothing in the repository points outside it, the crate graph is the one
//!   docs/architecture.md documents (no cycle), no Rust source file is over 500 lines unless
//!   listed as split pending ([`tidy`]); also unit tests, so `cargo test --workspace
//!   --all-targets` (part of `ci`) runs them too.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

mod bench;
mod e2e_slurm;
mod fuzz;
mod tidy;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci     tidy, fmt --check, clippy -D warnings, tests, rustdoc -D warnings (what .ci/run runs)
  bench  [--quick] [--no-micro] [--no-wrk] [--dataset-only]: client CPU, RSS and timing error
         vs the simulator; start-up and RSS on a 1 GiB ShareGPT dataset (not with --quick)
  fuzz   [--seconds N] [--max-len BYTES] [--nice] [TARGET…]: seed corpora from the fixtures,
         run every cargo-fuzz target N s (nightly + cargo-fuzz), print executions per target
  e2e-slurm [--keep] [--bin PATH]: deploy/slurm/vllm-loadtest.sbatch under a throwaway one-node Slurm on
         localhost (installs slurm-wlm + munge when missing; root) against the simulator:
         4 shards, merge, merged count = the simulator's
  tidy   nothing points outside the repository (paths, include_str!, CARGO_MANIFEST_DIR);
         crate graph as in docs/architecture.md, no cycle; .rs files in src/ <= 500 lines";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("fuzz") => fuzz::fuzz(&root, &args[1..]),
        Some("e2e-slurm") => e2e_slurm::run(&root, &args[1..]),
        Some("tidy") => tidy::tidy(&root),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n\n{USAGE}"),
    }
}

fn ci(root: &Path) -> Result<()> {
    tidy::tidy(root)?;
    cargo(root, &["fmt", "--all", "--check"], &[])?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(root, &["test", "--workspace", "--all-targets"], &[])?;
    cargo(root, &["test", "--workspace", "--doc"], &[])?;
    cargo(
        root,
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    println!("xtask ci: all checks passed");
    Ok(())
}

/// A `cargo` command in the workspace root, without the variables `cargo run` set for this
/// xtask process (`CARGO_PKG_NAME=xtask`, `CARGO_MANIFEST_DIR`, …): build scripts that read
/// them (ring's does, through `rerun-if-env-changed`) would otherwise see them change
/// between a build from the shell and one from here, and rebuild everything above them.
pub(crate) fn cargo_command(root: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(root);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `cargo <args>` in the workspace root, echoing the command, failing on a non-zero exit.
fn cargo(root: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    let shown = args.join(" ");
    println!("$ cargo {shown}");
    let status = cargo_command(root)
        .args(args)
        .envs(envs.iter().copied())
        .status()
        .with_context(|| format!("could not start `cargo {shown}`"))?;
    if !status.success() {
        bail!("`cargo {shown}` failed ({status})");
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}
