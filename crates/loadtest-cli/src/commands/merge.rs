//! `vllm-loadtest merge <DIR>... --out <DIR> [--allow-partial]`: the run folders of a sharded
//! run (`--shard i/n`) merged into one run folder, exactly (`loadtest_sweep::merge`).

use std::path::PathBuf;
use std::process::ExitCode;

use loadtest_sweep::merge::{MergeOptions, merge_runs};

use crate::output;

/// Arguments of `vllm-loadtest merge`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shards' run folders, one per shard, any order.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// The merged run folder to write (refused if it exists).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Merge although some shards' folders are missing (the merged run holds the others'
    /// requests only, and says so).
    #[arg(long)]
    allow_partial: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = MergeOptions {
        allow_partial: args.allow_partial,
        command_line: std::env::args().collect(),
    };
    let outcome = merge_runs(&args.dirs, &args.out, &options)?;
    for note in &outcome.notes {
        output::note(&format!("note: {note}"));
    }
    for warning in &outcome.warnings {
        output::note(&format!("warning: {warning}"));
    }
    output::note(&format!(
        "merged shards {} ({} requests, {} steps)",
        outcome
            .shards
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        outcome.requests,
        outcome.steps.len()
    ));
    output::line(&outcome.run_dir.display().to_string());
    Ok(ExitCode::SUCCESS)
}
