//! `vllm-loadtest metrics <FILE|URL> [--json]` and `metrics --diff <BEFORE> <AFTER> [--json]`:
//! read a Prometheus `/metrics` scrape (or two) and show the canonical metrics.

mod fetch;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use loadtest_prom::{Exposition, ScrapeSummary};

use crate::output;

/// How long a URL fetch may take, connect to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `vllm-loadtest metrics`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Scrape to read: a file, or an `http://` URL such as `http://localhost:8000/metrics`.
    #[arg(
        value_name = "FILE|URL",
        required_unless_present = "diff",
        conflicts_with = "diff"
    )]
    source: Option<Source>,
    /// Compare two scrapes (files or URLs): counters and histograms as AFTER − BEFORE (a
    /// counter that went down counts from 0), gauges as in AFTER.
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    diff: Option<Vec<Source>>,
    /// Print `{"server", "families", "samples", "errors", "canonical"}` as JSON.
    #[arg(long)]
    json: bool,
}

/// Where a scrape comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A file holding a scrape body.
    File(PathBuf),
    /// A plain-HTTP URL to GET.
    Url(String),
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("https://") {
            Err("https:// URLs are not supported; use http:// or save the body to a file".into())
        } else if lower.starts_with("http://") {
            Ok(Self::Url(s.to_owned()))
        } else if s.is_empty() {
            Err("empty path".into())
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }
}

impl Source {
    fn load(&self) -> anyhow::Result<Vec<u8>> {
        match self {
            Self::File(path) => std::fs::read(path)
                .with_context(|| format!("cannot read scrape file {}", path.display())),
            Self::Url(url) => fetch::http_get(url, FETCH_TIMEOUT),
        }
    }
}

/// Runs the subcommand.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (summary, is_diff) = match (args.source, args.diff) {
        (Some(source), None) => {
            let body = source.load()?;
            (ScrapeSummary::of(&Exposition::parse(&body)), false)
        }
        (None, Some(pair)) => {
            let [before, after]: [Source; 2] = pair
                .try_into()
                .map_err(|_| anyhow::anyhow!("--diff takes exactly two scrapes"))?;
            let before = before.load()?;
            let after = after.load()?;
            let summary =
                ScrapeSummary::diff(&Exposition::parse(&before), &Exposition::parse(&after));
            (summary, true)
        }
        _ => anyhow::bail!("give one scrape, or --diff BEFORE AFTER"),
    };
    if args.json {
        output::line(&summary.to_json_pretty());
    } else {
        for line in table::render(&summary, is_diff) {
            output::line(&line);
        }
    }
    Ok(ExitCode::SUCCESS)
}
