//! `vllm-loadtest report <RUN_DIR>`: re-renders a run folder's summary.md and charts/*.svg
//! from its config.json and step_summary.json.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::output;

/// Arguments of `vllm-loadtest report`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run folder (e.g. results/run_20261128T153342Z).
    run_dir: PathBuf,
    /// Write summary.md and charts/ into this folder instead of the run folder.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let outcome = match &args.out_dir {
        Some(out) => loadtest_report::render_run_to(&args.run_dir, out),
        None => loadtest_report::render_run(&args.run_dir),
    }
    .with_context(|| format!("cannot render the report of {}", args.run_dir.display()))?;
    output::line(&format!(
        "wrote {} ({} steps)",
        outcome.summary_md.display(),
        outcome.steps
    ));
    for chart in &outcome.charts {
        output::line(&format!("wrote {}", chart.display()));
    }
    Ok(ExitCode::SUCCESS)
}
