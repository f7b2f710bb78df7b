//! `vllm-loadtest compare <RUN_A> <RUN_B> [--out FILE] [--min-change PCT] [--force]
//! [--fail-on-regression]`: B against A per common load level (same load mode), each change
//! with sample sizes and a 95 % interval, as markdown (stdout, or a file).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use loadtest_report::{CompareOptions, DEFAULT_RESAMPLES, DEFAULT_SEED};

use crate::output;

/// Exit code of `--fail-on-regression` when a metric got worse.
const EXIT_REGRESSION: u8 = 1;

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
    /// Smallest relative change, in percent, called better or worse (when its 95 % interval
    /// also excludes zero) [default: 5].
    #[arg(long, value_name = "PCT")]
    min_change: Option<f64>,
    /// Compare runs of different load modes anyway (no step is matched across modes).
    #[arg(long)]
    force: bool,
    /// Exit 1 when any metric at any common load is worse (one line per regression on
    /// stderr): for CI.
    #[arg(long)]
    fail_on_regression: bool,
    /// Bootstrap resamples per metric and load (1–10000) [default: 1000].
    #[arg(long, value_name = "N")]
    resamples: Option<usize>,
    /// Seed of the bootstrap [default: 24301].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut opts = CompareOptions::default();
    if let Some(pct) = args.min_change {
        if !(pct.is_finite() && (0.0..1000.0).contains(&pct)) {
            bail!("invalid --min-change {pct}: expected a percentage between 0 and 1000, e.g. 5");
        }
        opts.min_change = pct / 100.0;
    }
    opts.force = args.force;
    opts.resamples = args.resamples.unwrap_or(DEFAULT_RESAMPLES);
    if !(1..=loadtest_report::MAX_RESAMPLES).contains(&opts.resamples) {
        bail!(
            "invalid --resamples {}: expected 1..={}",
            opts.resamples,
            loadtest_report::MAX_RESAMPLES
        );
    }
    opts.seed = args.seed.unwrap_or(DEFAULT_SEED);
    let comparison = loadtest_report::compare_runs_with(&args.run_a, &args.run_b, &opts)
        .with_context(|| {
            format!(
                "cannot compare {} with {}",
                args.run_a.display(),
                args.run_b.display()
            )
        })?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, &comparison.markdown)
                .with_context(|| format!("cannot write {}", path.display()))?;
            output::line(&format!("wrote {}", path.display()));
        }
        None => output::line(comparison.markdown.trim_end()),
    }
    if args.fail_on_regression && !comparison.regressions.is_empty() {
        for r in &comparison.regressions {
            output::note(&format!("regression: {r}"));
        }
        return Ok(ExitCode::from(EXIT_REGRESSION));
    }
    Ok(ExitCode::SUCCESS)
}
