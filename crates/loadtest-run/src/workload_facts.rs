//! config.json facts of the workload layer: how prompt lengths were counted
//! (`--tokenizer`) and what a dataset (`--dataset`) gave.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How prompt lengths were counted, for config.json (`settings.token_counting`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounting {
    /// `words` (whitespace-separated words, ≈ tokens: no `--tokenizer`) or `tokenizer`.
    pub method: String,
    /// The `--tokenizer` path as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// SHA-256 of the tokenizer.json read, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_sha256: Option<String>,
}

impl TokenCounting {
    /// No tokenizer: lengths are whitespace-separated words.
    pub fn words() -> Self {
        TokenCounting {
            method: "words".to_owned(),
            tokenizer: None,
            tokenizer_sha256: None,
        }
    }

    /// Lengths counted with the tokenizer at `path` (its tokenizer.json's SHA-256).
    pub fn tokenizer(path: PathBuf, sha256: String) -> Self {
        TokenCounting {
            method: "tokenizer".to_owned(),
            tokenizer: Some(path),
            tokenizer_sha256: Some(sha256),
        }
    }
}

/// What a `--dataset` file gave, for config.json (`settings.dataset`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetFacts {
    /// `sharegpt` or `jsonl`.
    pub format: String,
    /// The path as given.
    pub path: PathBuf,
    /// The file's size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Rows in the file (valid or not).
    pub rows_read: u64,
    /// Rows skipped because they had no usable prompt (missing fields, wrong types, empty).
    pub rows_invalid: u64,
    /// Rows skipped because their prompt was longer than the per-row limit in bytes.
    pub rows_too_large: u64,
    /// Rows drawn with the seed and examined (counted and filtered), at most
    /// [`DatasetFacts::pool_size`] × 4.
    pub rows_examined: u64,
    /// Examined rows skipped by `--dataset-min-prompt-tokens`.
    pub skipped_min_prompt_tokens: u64,
    /// Examined rows skipped by `--dataset-max-prompt-tokens`.
    pub skipped_max_prompt_tokens: u64,
    /// Examined rows skipped because prompt + output would exceed `--max-model-len`.
    pub skipped_max_model_len: u64,
    /// Rows kept: the pool request *i* draws from.
    pub rows_kept: u64,
    /// The pool size asked for (`--dataset-pool-size`).
    pub pool_size: u64,
    /// `--dataset-min-prompt-tokens`.
    pub min_prompt_tokens: Option<u64>,
    /// `--dataset-max-prompt-tokens`.
    pub max_prompt_tokens: Option<u64>,
    /// `--max-model-len`.
    pub max_model_len: Option<u64>,
    /// `dataset` (`--output-len dataset`: each row's own answer length as `max_tokens`) or
    /// `max-output-tokens`.
    pub output_len: String,
    /// Mean prompt length of the kept rows, in tokens (words without `--tokenizer`).
    pub mean_prompt_tokens: f64,
    /// Mean answer length of the kept rows that have one.
    pub mean_output_tokens: Option<f64>,
    /// `--turns dataset`: the kept rows' conversations (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<DatasetTurnFacts>,
}

/// `--turns dataset`: the turns of a dataset's kept rows, for config.json
/// (`settings.dataset.conversations`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetTurnFacts {
    /// Turns of the kept rows, all together (after the cuts).
    pub turns: u64,
    /// Mean turns per kept row.
    pub turns_mean: f64,
    /// Most turns of one kept row.
    pub turns_max: u32,
    /// Kept rows cut short by `--max-model-len`: their conversation would have outgrown the
    /// context, so only the turns that fit (at least the first) are sent.
    pub rows_cut_max_model_len: u64,
    /// Turns those cuts removed.
    pub turns_cut_max_model_len: u64,
    /// Rows read with more human turns than the most a conversation may have (1000): the
    /// turns past it were dropped when the row was read.
    pub rows_cut_max_turns: u64,
}

/// `--shared-prefix-tokens` / `--prefix-groups`, for config.json (`settings.shared_prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedPrefixFacts {
    /// Tokens of each prefix (words without `--tokenizer`).
    pub tokens: u64,
    /// Distinct prefixes; each request draws one with the seed.
    pub groups: u64,
}

/// What a replayed trace (`--arrival trace:PATH`) was, for config.json (`settings.trace`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceFacts {
    /// `mooncake` (JSONL) or `burstgpt` (CSV).
    pub format: String,
    /// The path as given.
    pub path: PathBuf,
    /// The file's size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Data rows in the file (blank lines and the CSV header not counted).
    pub rows: u64,
    /// Rows skipped: BurstGPT failures (`Response tokens` 0) and rows asking for no output.
    pub rows_skipped: u64,
    /// Rows replayed: the requests of the run (all shards together), warmup included.
    pub rows_replayed: u64,
    /// `--trace-speed`: 2 replays twice as fast.
    pub speed: f64,
    /// The first replayed row's timestamp in the file, seconds (it becomes t = 0).
    pub first_timestamp_s: f64,
    /// Trace time from the first to the last row replayed, seconds (before `speed`).
    pub span_s: f64,
    /// `--trace-max-steps`: the most steps replayed (absent: until the trace ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
}
