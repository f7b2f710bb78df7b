//! The pool of rows requests draw from: one streaming pass keeping the rows with the smallest
//! seeded keys, then counting and filtering them in key order.

use std::collections::BinaryHeap;
use std::io::{BufReader, Read as _};
use std::sync::atomic::{AtomicBool, Ordering};

use loadtest_client::Prompt;
use loadtest_dist::derive_seed;
use loadtest_run::{DatasetFacts, DatasetTurnFacts};

use super::read::{HashingReader, RawAnswer, RawPrompt, RawRow, RowOutcome, skip_bom};
use super::split::SplitError;
use super::turns::{DatasetTurn, RawTurn, later_turns};
use super::{CANDIDATES_PER_ROW, DatasetError, DatasetFormat, DatasetOptions, DatasetSpec};
use crate::tokenize::TokenCounter;

/// One row of the pool.
#[derive(Debug, Clone)]
pub struct DatasetRow {
    /// The prompt sent.
    pub prompt: Prompt,
    /// Its length: tokens with `--tokenizer` (as `/v1/completions` counts; for messages, the
    /// contents' tokens), whitespace-separated words otherwise.
    pub prompt_tokens: u64,
    /// The row's answer length (its gpt turn, counted likewise, or its `output_tokens`).
    pub output_tokens: Option<u64>,
    /// `--turns dataset`: the row's later turns, 1 and on, cut to what fits
    /// `--max-model-len` (empty otherwise, and for a one-turn row).
    pub turns: Vec<DatasetTurn>,
}

/// The rows a run draws from, and what reading the file gave.
#[derive(Debug)]
pub struct DatasetPool {
    rows: Vec<DatasetRow>,
    facts: DatasetFacts,
    use_output_len: bool,
    pick_seed: u64,
}

impl DatasetPool {
    /// A pool of `rows` (not empty), for programs and tests; `facts` as they should be
    /// recorded.
    pub fn from_rows(
        rows: Vec<DatasetRow>,
        facts: DatasetFacts,
        use_output_len: bool,
        seed: u64,
    ) -> Self {
        DatasetPool {
            rows,
            facts,
            use_output_len,
            pick_seed: derive_seed(seed, "dataset-pick"),
        }
    }

    /// The row of request `index`: a function of `(seed, index)` only.
    pub fn pick(&self, index: u64) -> Option<&DatasetRow> {
        let n = self.rows.len() as u64;
        if n == 0 {
            return None;
        }
        let at = mix64(self.pick_seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % n;
        self.rows.get(at as usize)
    }

    /// Every row kept.
    pub fn rows(&self) -> &[DatasetRow] {
        &self.rows
    }

    /// The facts for config.json.
    pub fn facts(&self) -> &DatasetFacts {
        &self.facts
    }

    /// `--output-len dataset`: each row's answer length is its `max_tokens`.
    pub fn uses_output_len(&self) -> bool {
        self.use_output_len
    }

    /// The rows hold their conversations' turns (a ShareGPT file read with
    /// [`super::DatasetOptions::turns`]): what `--turns dataset` sends.
    pub fn has_turns(&self) -> bool {
        self.facts.conversations.is_some()
    }
}

/// A row drawn into the sample, ordered by its seeded key (a max-heap keeps the smallest).
#[derive(Debug, PartialEq, Eq)]
struct Candidate {
    key: u64,
    row_no: u64,
    row: RawRow,
    /// `--turns dataset`: turns 1 and on.
    later: Vec<RawTurn>,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key, self.row_no).cmp(&(other.key, other.row_no))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Reads `spec`'s file and builds the pool: bounded memory (the candidates), one pass. The
/// file's SHA-256 is computed on a second thread meanwhile (a second read, from the page
/// cache), so it costs no start-up time on a machine with two cores.
pub fn load_dataset(
    spec: &DatasetSpec,
    options: &DatasetOptions,
    counter: Option<&TokenCounter>,
) -> Result<DatasetPool, DatasetError> {
    let path = &spec.path;
    let io = |source| DatasetError::Io {
        path: path.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let hash_file = std::fs::File::open(path).map_err(io)?;
    let pool_size = options.pool_size.max(1);
    let mut facts = DatasetFacts {
        format: spec.format.as_str().to_owned(),
        path: path.clone(),
        pool_size,
        min_prompt_tokens: options.min_prompt_tokens,
        max_prompt_tokens: options.max_prompt_tokens,
        max_model_len: options.max_model_len,
        output_len: if options.use_output_len {
            "dataset"
        } else {
            "max-output-tokens"
        }
        .to_owned(),
        conversations: (options.turns && spec.format == DatasetFormat::ShareGpt)
            .then(DatasetTurnFacts::default),
        ..DatasetFacts::default()
    };
    let stop = AtomicBool::new(false);
    let (sampled, hashed) = std::thread::scope(|scope| {
        let hasher = scope.spawn(|| hash_all(hash_file, &stop));
        let sampled = sample(file, spec, options, &mut facts);
        if sampled.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let hashed = hasher
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread failed")));
        (sampled, hashed)
    });
    let heap = sampled?;
    let (bytes, sha256) = hashed.map_err(io)?;
    facts.bytes = bytes;
    facts.sha256 = sha256;
    let rows = keep_rows(heap.into_sorted_vec(), options, counter, &mut facts);
    let filtered = facts.skipped_min_prompt_tokens
        + facts.skipped_max_prompt_tokens
        + facts.skipped_max_model_len;
    if rows.is_empty() {
        return Err(DatasetError::Empty {
            path: path.clone(),
            read: facts.rows_read,
            invalid: facts.rows_invalid + facts.rows_too_large,
            filtered,
        });
    }
    Ok(DatasetPool::from_rows(
        rows,
        facts,
        options.use_output_len,
        options.seed,
    ))
}

/// The one pass: every row parsed, counted in `facts`, and the `4 × pool_size` rows with the
/// smallest seeded keys kept.
fn sample(
    file: std::fs::File,
    spec: &DatasetSpec,
    options: &DatasetOptions,
    facts: &mut DatasetFacts,
) -> Result<BinaryHeap<Candidate>, DatasetError> {
    let path = &spec.path;
    let io = |source| DatasetError::Io {
        path: path.clone(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 20, file);
    skip_bom(&mut reader).map_err(io)?;
    let capacity = facts.pool_size.saturating_mul(CANDIDATES_PER_ROW);
    let key_seed = derive_seed(options.seed, "dataset-sample");
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::new();
    let all_turns = facts.conversations.is_some();
    let mut each = |outcome: RowOutcome| {
        let row_no = facts.rows_read;
        facts.rows_read += 1;
        let (row, later) = match outcome {
            RowOutcome::Row(row) => (row, Vec::new()),
            RowOutcome::Conversation(c) => {
                if c.cut_at_max_turns
                    && let Some(turns) = facts.conversations.as_mut()
                {
                    turns.rows_cut_max_turns += 1;
                }
                (c.first, c.later)
            }
            RowOutcome::Invalid(why) => {
                facts.rows_invalid += 1;
                tracing::debug!(row = row_no, %why, "dataset row skipped");
                return;
            }
            RowOutcome::TooLarge => {
                facts.rows_too_large += 1;
                return;
            }
        };
        let key = mix64(key_seed ^ row_no.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        if (heap.len() as u64) < capacity {
            heap.push(Candidate {
                key,
                row_no,
                row,
                later,
            });
        } else if heap.peek().is_some_and(|top| key < top.key) {
            heap.pop();
            heap.push(Candidate {
                key,
                row_no,
                row,
                later,
            });
        }
    };
    match spec.format {
        DatasetFormat::ShareGpt => {
            let read = if all_turns {
                super::sharegpt::read_conversations
            } else {
                super::sharegpt::read_rows
            };
            read(&mut reader, &mut each).map_err(|e| match e {
                SplitError::Io(source) => io(source),
                format @ SplitError::Format { .. } => DatasetError::Format {
                    path: path.clone(),
                    format: "sharegpt",
                    reason: format.to_string(),
                },
            })?
        }
        DatasetFormat::Jsonl => super::jsonl::read_rows(&mut reader, &mut each).map_err(io)?,
    }
    Ok(heap)
}

/// Bytes and SHA-256 of `file`, read to its end unless `stop` is set.
fn hash_all(file: std::fs::File, stop: &AtomicBool) -> std::io::Result<(u64, String)> {
    let mut reader = HashingReader::new(file);
    let mut buf = vec![0u8; 1 << 20];
    while !stop.load(Ordering::Relaxed) && reader.read(&mut buf)? > 0 {}
    Ok(reader.finish())
}

/// Counts and filters `candidates` (in key order) until the pool is full.
fn keep_rows(
    candidates: Vec<Candidate>,
    options: &DatasetOptions,
    counter: Option<&TokenCounter>,
    facts: &mut DatasetFacts,
) -> Vec<DatasetRow> {
    let count_prompt = |text: &str| counter.map_or_else(|| words(text), |c| c.count_prompt(text));
    let count_content = |text: &str| counter.map_or_else(|| words(text), |c| c.count_content(text));
    let mut rows = Vec::new();
    for candidate in candidates {
        if rows.len() as u64 >= facts.pool_size {
            break;
        }
        facts.rows_examined += 1;
        let (prompt, prompt_tokens) = match &candidate.row.prompt {
            RawPrompt::Text(text) => (Prompt::text(text), count_prompt(text)),
            RawPrompt::Messages(list) => (
                Prompt::messages(list),
                list.iter().map(|m| count_content(&m.content)).sum(),
            ),
        };
        let output_tokens = match &candidate.row.answer {
            RawAnswer::None => None,
            RawAnswer::Text(text) => Some(count_content(text).max(1)),
            RawAnswer::Tokens(n) => Some(*n),
        };
        if options
            .min_prompt_tokens
            .is_some_and(|min| prompt_tokens < min)
        {
            facts.skipped_min_prompt_tokens += 1;
            continue;
        }
        if options
            .max_prompt_tokens
            .is_some_and(|max| prompt_tokens > max)
        {
            facts.skipped_max_prompt_tokens += 1;
            continue;
        }
        let reserve = match output_tokens {
            Some(n) if options.use_output_len => n,
            _ => options.output_reserve,
        };
        if options
            .max_model_len
            .is_some_and(|len| prompt_tokens.saturating_add(reserve) > len)
        {
            facts.skipped_max_model_len += 1;
            continue;
        }
        let turns = match facts.conversations.as_mut() {
            Some(turn_facts) => {
                let context = prompt_tokens.saturating_add(reserve);
                let (turns, cut) = later_turns(&candidate.later, context, options, &count_content);
                if cut.turns > 0 {
                    turn_facts.rows_cut_max_model_len += 1;
                    turn_facts.turns_cut_max_model_len += cut.turns;
                }
                turns
            }
            None => Vec::new(),
        };
        rows.push(DatasetRow {
            prompt,
            prompt_tokens,
            output_tokens,
            turns,
        });
    }
    facts.rows_kept = rows.len() as u64;
    if let Some(turn_facts) = facts.conversations.as_mut() {
        let lengths = rows.iter().map(|r| r.turns.len() as u64 + 1);
        turn_facts.turns = lengths.clone().sum();
        turn_facts.turns_max = lengths
            .max()
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        turn_facts.turns_mean = match rows.len() {
            0 => 0.0,
            n => turn_facts.turns as f64 / n as f64,
        };
    }
    if !rows.is_empty() {
        facts.mean_prompt_tokens =
            rows.iter().map(|r| r.prompt_tokens as f64).sum::<f64>() / rows.len() as f64;
        let outputs: Vec<u64> = rows.iter().filter_map(|r| r.output_tokens).collect();
        facts.mean_output_tokens = (!outputs.is_empty())
            .then(|| outputs.iter().map(|&n| n as f64).sum::<f64>() / outputs.len() as f64);
    }
    rows
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash, stable across platforms.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
