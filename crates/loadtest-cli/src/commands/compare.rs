//! `vllm-loadtest compare <RUN_A> <RUN_B> [--out FILE]`: B against A per common load level,
//! as markdown (stdout, or a file).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::output;

/// Arguments of `vllm-loadtest compare`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The baseline run folder (A).
    run_a: PathBuf,
    /// The run folder compared with it (B).
    run_b: PathBuf,
    /// Write the markdown to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let md = loadtest_report::compare_runs(&args.run_a, &args.run_b).with_context(|| {
        format!(
            "cannot compare {} with {}",
            args.run_a.display(),
            args.run_b.display()
        )
    })?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &md)
                .with_context(|| format!("cannot write {}", path.display()))?;
            output::line(&format!("wrote {}", path.display()));
        }
        None => output::line(md.trim_end()),
    }
    Ok(ExitCode::SUCCESS)
}
