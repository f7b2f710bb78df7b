//! `--dataset FORMAT:PATH`: prompts (and answer lengths) from a ShareGPT JSON file or a JSONL
//! file, sampled with the seed.
//!
//! A dataset is read in one streaming pass: each row is parsed, checked and dropped, and only
//! a bounded set of candidates is kept — the rows with the smallest seeded keys
//! (`key = f(seed, row number)`, a reservoir sample that does not depend on the order of
//! arrival). The candidates are then counted (with `--tokenizer`, or in words) and filtered in
//! key order until `pool_size` rows are kept. Memory is bounded by the candidates, not by the
//! file; start-up is one parse of the file. Request *i* takes row `g(seed, i) mod pool`, so its
//! inputs depend only on `(seed, i)` and the file.

pub(crate) mod jsonl;
mod pool;
pub(crate) mod read;
mod sharegpt;
mod split;
mod turns;

use std::path::PathBuf;
use std::str::FromStr;

pub use pool::{DatasetPool, DatasetRow, load_dataset};
pub use turns::DatasetTurn;

/// The largest prompt (or answer) of one row, in bytes; longer rows are skipped and counted.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;

/// `--turns dataset`: the most text one row's conversation may hold, every user message and
/// answer together, in bytes (what a single-turn row holds at most, prompt plus answer);
/// longer rows are skipped and counted as too large.
pub const MAX_CONVERSATION_BYTES: usize = 2 * MAX_ROW_BYTES;

/// Default `--dataset-pool-size`: rows kept for requests to draw from.
pub const DEFAULT_POOL_SIZE: u64 = 1000;

/// Candidates examined per kept row at most, before the pool is declared short.
pub const CANDIDATES_PER_ROW: u64 = 4;

/// A dataset's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFormat {
    /// One JSON array of `{"conversations": [{"from": "human"|"gpt"|…, "value": …}, …]}`: the
    /// first human turn is the prompt, the next gpt turn the answer (with
    /// [`DatasetOptions::turns`], every human turn and its answer).
    ShareGpt,
    /// One JSON object per line with `prompt` (a string) or `messages` (chat messages) and an
    /// optional `output_tokens`.
    Jsonl,
}

impl DatasetFormat {
    /// `sharegpt` or `jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetFormat::ShareGpt => "sharegpt",
            DatasetFormat::Jsonl => "jsonl",
        }
    }
}

/// `--dataset FORMAT:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    /// The format.
    pub format: DatasetFormat,
    /// The file.
    pub path: PathBuf,
}

impl FromStr for DatasetSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected sharegpt:PATH or jsonl:PATH";
        let Some((format, path)) = s.split_once(':') else {
            return Err(format!("no format ({expected})"));
        };
        let format = match format.to_ascii_lowercase().as_str() {
            "sharegpt" => DatasetFormat::ShareGpt,
            "jsonl" => DatasetFormat::Jsonl,
            other => return Err(format!("unknown format {other:?} ({expected})")),
        };
        if path.is_empty() {
            return Err(format!("no path ({expected})"));
        }
        Ok(DatasetSpec {
            format,
            path: PathBuf::from(path),
        })
    }
}

/// How a dataset is sampled and filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetOptions {
    /// The run seed.
    pub seed: u64,
    /// Rows to keep (`--dataset-pool-size`).
    pub pool_size: u64,
    /// Skip rows whose prompt is shorter (`--dataset-min-prompt-tokens`).
    pub min_prompt_tokens: Option<u64>,
    /// Skip rows whose prompt is longer (`--dataset-max-prompt-tokens`).
    pub max_prompt_tokens: Option<u64>,
    /// Skip rows whose prompt plus output would not fit (`--max-model-len`).
    pub max_model_len: Option<u64>,
    /// Use each row's own answer length as `max_tokens` (`--output-len dataset`).
    pub use_output_len: bool,
    /// The output length reserved for a row without its own (the `--max-output-tokens`
    /// spec's largest value), for the `max_model_len` filter.
    pub output_reserve: u64,
    /// `--turns dataset`: keep every human turn of each ShareGPT row and its answer
    /// ([`DatasetRow::turns`]), and cut a conversation to the turns that fit `max_model_len`.
    /// JSONL rows keep their first prompt only.
    pub turns: bool,
}

impl DatasetOptions {
    /// Defaults: pool of [`DEFAULT_POOL_SIZE`], no filters, `--max-output-tokens` lengths.
    pub fn new(seed: u64) -> Self {
        DatasetOptions {
            seed,
            pool_size: DEFAULT_POOL_SIZE,
            min_prompt_tokens: None,
            max_prompt_tokens: None,
            max_model_len: None,
            use_output_len: false,
            output_reserve: 0,
            turns: false,
        }
    }
}

/// Why a dataset could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Opening or reading failed.
    #[error("cannot read dataset {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not what its format says (not a JSON array, for ShareGPT).
    #[error("dataset {path} is not {format} data: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// `sharegpt` or `jsonl`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No row survived parsing and the filters.
    #[error(
        "dataset {path}: no usable row ({read} read, {invalid} without a usable prompt, {filtered} filtered out)"
    )]
    Empty {
        /// The file.
        path: PathBuf,
        /// Rows read.
        read: u64,
        /// Rows without a usable prompt.
        invalid: u64,
        /// Rows skipped by the filters.
        filtered: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_say_what_is_expected() {
        let s: DatasetSpec = "sharegpt:/data/sg.json".parse().unwrap();
        assert_eq!(s.format, DatasetFormat::ShareGpt);
        assert_eq!(s.path, PathBuf::from("/data/sg.json"));
        let s: DatasetSpec = "JSONL:rows.jsonl".parse().unwrap();
        assert_eq!(s.format, DatasetFormat::Jsonl);
        for bad in ["rows.jsonl", "csv:x", "jsonl:"] {
            let err = bad.parse::<DatasetSpec>().unwrap_err();
            assert!(err.contains("sharegpt:PATH or jsonl:PATH"), "{bad}: {err}");
        }
    }
}
