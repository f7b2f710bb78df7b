//! `vllm-loadtest`: load tester for vLLM and other OpenAI-compatible servers.
//!
//! This binary only parses flags, validates them into the library crates' configs, runs them
//! and prints results; all the work lives in the `loadtest-*` crates.

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for usage and preflight errors (§4).
pub(crate) const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "vllm-loadtest",
    version,
    about = "Load tester for vLLM and other OpenAI-compatible LLM servers",
    long_about = "Load tester for vLLM and other OpenAI-compatible LLM servers.\n\n\
        Without a subcommand it runs a step sweep (e.g. `vllm-loadtest --base-url \
        http://localhost:8000 --input-size 512 --steps 1,4,16`, or `vllm-loadtest --simulate` \
        for a one-minute demo against the built-in simulator) and writes a run folder.",
    args_conflicts_with_subcommands = true,
    allow_negative_numbers = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    sweep: commands::sweep::SweepArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse a Prometheus /metrics scrape (file or URL), or diff two.
    Metrics(commands::metrics::Args),
    /// Send a few streaming requests one after another and print each timing record.
    Probe(commands::probe::Args),
    /// Run the built-in vLLM simulator.
    Sim(commands::sim::Args),
    /// Re-render a run folder's summary.md and charts/*.svg from its JSON files.
    Report(commands::report::Args),
    /// Compare two run folders per common load level (markdown: change, better / worse).
    Compare(commands::compare::Args),
    /// Merge the run folders of a sharded run (--shard i/n) into one run folder, exactly.
    Merge(commands::merge::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            output::init_tracing(false);
            return output::clap_error(&err);
        }
    };
    // `--quiet` keeps warnings off the console too (RUST_LOG still overrides).
    output::init_tracing(cli.command.is_none() && cli.sweep.is_quiet());
    let result = match cli.command {
        None => commands::sweep::run(cli.sweep),
        Some(Command::Metrics(args)) => commands::metrics::run(args),
        Some(Command::Probe(args)) => commands::probe::run(args),
        Some(Command::Sim(args)) => commands::sim::run(args),
        Some(Command::Report(args)) => commands::report::run(args),
        Some(Command::Compare(args)) => commands::compare::run(args),
        Some(Command::Merge(args)) => commands::merge::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => output::fatal(&err),
    }
}
