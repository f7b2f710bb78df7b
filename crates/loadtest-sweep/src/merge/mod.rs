//! `vllm-loadtest merge`: the run folders of a sharded run (`--shard i/n`) made into one run
//! folder, exactly. Every per-request statistic is recomputed from the shards' rows by the
//! engine's own accumulation and summary code; the pooled inter-token gaps come from the
//! shards' HDR histograms (`step_histograms.json`) added bucket by bucket; counts and
//! throughputs are sums (merged tokens ÷ window); percentiles are never averaged. Server
//! `/metrics` and GPU telemetry are the scraping shard's; a step's client verdict is its
//! worst shard's; the verdicts (knee, saturation, SLO, thresholds) are judged again by the
//! rules of a single run.
//!
//! The rows are streamed: each shard's requests.jsonl is read one row at a time, in one pass
//! that folds the row into its steps and writes it, with its `shard`, to the merged
//! requests.jsonl — the shards' files concatenated in shard order. Memory holds the engine's
//! per-step accumulators (counts, and the values its exact percentiles are taken from: 8
//! bytes per value) and the histograms, never the rows.
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use loadtest_sweep::merge::{MergeOptions, merge_runs};
//!
//! let shards = [PathBuf::from("runs/shard-0"), PathBuf::from("runs/shard-1")];
//! let outcome = merge_runs(&shards, Path::new("runs/merged"), &MergeOptions::default())?;
//! println!("{} requests in {}", outcome.requests, outcome.run_dir.display());
//! # Ok::<(), loadtest_sweep::merge::MergeError>(())
//! ```

mod inputs;
mod output;
mod steps;

use std::path::{Path, PathBuf};

use loadtest_run::StepSummary;

pub use steps::EDGE_TOLERANCE_S;

/// How to merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Merge although some shard indexes are missing (`--allow-partial`): the merged run
    /// holds the present shards' requests only, and says so in its warnings.
    pub allow_partial: bool,
    /// The command that asked for the merge, recorded as the merged config.json's
    /// `command_line` (secrets are the caller's to leave out).
    pub command_line: Vec<String>,
}

/// What a merge wrote.
#[derive(Debug)]
pub struct MergeOutcome {
    /// The merged run folder.
    pub run_dir: PathBuf,
    /// The shard indexes merged, in order.
    pub shards: Vec<u32>,
    /// The shard indexes that were missing (only with `allow_partial`).
    pub missing_shards: Vec<u32>,
    /// The merged steps, as in its step_summary.json.
    pub steps: Vec<StepSummary>,
    /// Rows written to its requests.jsonl.
    pub requests: u64,
    /// The merged run's warnings (also in step_summary.json and summary.md).
    pub warnings: Vec<String>,
    /// What the merge chose (whose telemetry it took), as in config.json's `merge_notes`.
    pub notes: Vec<String>,
}

/// Why folders could not be merged. The variants up to [`MergeError::Read`] are refused
/// input ([`MergeError::is_refusal`]).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No folder was given.
    #[error("no run folder to merge")]
    NoInputs,
    /// The output folder exists: a merge never overwrites.
    #[error("{} already exists: give a new folder to --out", path.display())]
    OutExists {
        /// The folder.
        path: PathBuf,
    },
    /// A folder is not a shard (its config.json has no `settings.shard`).
    #[error("{}: not a shard of a sharded run (its config.json has no settings.shard; was it run with --shard?)", dir.display())]
    NotAShard {
        /// The folder.
        dir: PathBuf,
    },
    /// Two folders ran with different `--seed`.
    #[error("{}: seed {seed} differs from {}'s seed {reference_seed}: not shards of one run", dir.display(), reference.display())]
    DifferentSeed {
        /// The folder.
        dir: PathBuf,
        /// Its seed.
        seed: u64,
        /// The folder compared with (the first given).
        reference: PathBuf,
        /// Its seed.
        reference_seed: u64,
    },
    /// Two folders were told different numbers of shards.
    #[error("{}: shard count {count} differs from {}'s {reference_count}", dir.display(), reference.display())]
    DifferentShardCount {
        /// The folder.
        dir: PathBuf,
        /// Its count.
        count: u32,
        /// The folder compared with.
        reference: PathBuf,
        /// Its count.
        reference_count: u32,
    },
    /// Two folders differ in a setting other than their shard (and where they wrote).
    #[error("{}: {field} is {value}, {}'s is {reference_value}: not shards of one run", dir.display(), reference.display())]
    DifferentSettings {
        /// The folder.
        dir: PathBuf,
        /// The setting, as config.json names it: `settings.KEY`, or `target.model`.
        field: String,
        /// Its value there (compact JSON, shortened).
        value: String,
        /// The folder compared with.
        reference: PathBuf,
        /// The value there.
        reference_value: String,
    },
    /// Two folders are the same shard.
    #[error("shard {index} is given twice: {} and {}", first.display(), second.display())]
    DuplicateShard {
        /// The index.
        index: u32,
        /// The first folder with it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Shards are missing (and `allow_partial` was not given).
    #[error(
        "shard(s) {} of {count} missing: give every shard's folder, or --allow-partial to merge what is there",
        list(missing)
    )]
    MissingShards {
        /// The missing indexes.
        missing: Vec<u32>,
        /// The shard count.
        count: u32,
    },
    /// A step's histogram is missing from a shard's step_histograms.json.
    #[error("{}: step_histograms.json has no {name} for step {step}, which step_summary.json has values for", dir.display())]
    MissingHistogram {
        /// The folder.
        dir: PathBuf,
        /// The step.
        step: usize,
        /// Which histogram.
        name: &'static str,
    },
    /// A stored histogram is not one the engine writes.
    #[error("{}: step_histograms.json, step {step}, {name}: {source}", dir.display())]
    BadHistogram {
        /// The folder.
        dir: PathBuf,
        /// The step.
        step: usize,
        /// Which histogram.
        name: &'static str,
        /// What is wrong.
        #[source]
        source: crate::stats::HistogramError,
    },
    /// A file of a folder could not be read (it names the file).
    #[error(transparent)]
    Read(#[from] loadtest_run::ReadError),
    /// A file of the merged folder could not be written.
    #[error(transparent)]
    Output(#[from] loadtest_run::OutputError),
    /// The report of the merged folder could not be written.
    #[error(transparent)]
    Write(#[from] crate::SweepError),
    /// A bug.
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

impl MergeError {
    /// True when the input was refused (not shards of one run, a shard missing or given
    /// twice, an unreadable folder, an existing output folder), as opposed to a failure to
    /// write the merged folder.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            MergeError::Output(_) | MergeError::Write(_) | MergeError::Internal { .. }
        )
    }
}

fn list(indexes: &[u32]) -> String {
    indexes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Merges the shard folders `inputs` (any order) into the new run folder `out`.
///
/// # Errors
///
/// Refuses ([`MergeError::is_refusal`]) folders that are not shards of one run — a
/// different seed, shard count or setting (besides `shard`, `output_dir`, `run_name` and
/// `gpu`), a shard given twice, shards missing without
/// [`allow_partial`](MergeOptions::allow_partial) — and an `out` that exists; fails when a
/// file cannot be read or written (the half-written `out` is removed).
pub fn merge_runs(
    inputs: &[PathBuf],
    out: &Path,
    options: &MergeOptions,
) -> Result<MergeOutcome, MergeError> {
    if out.exists() {
        return Err(MergeError::OutExists {
            path: out.to_owned(),
        });
    }
    let (shards, missing) = inputs::read_shards(inputs, options.allow_partial)?;
    let plan = output::plan(&shards, &missing);
    // The histograms are added (and checked) before anything is written; the rows are folded
    // as requests.jsonl is written, in one pass over each shard's file.
    let steps = steps::StepsMerge::prepare(&shards)?;
    output::write(&shards, out, options, plan, steps, missing)
}
