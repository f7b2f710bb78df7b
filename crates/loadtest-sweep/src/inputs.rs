//! What each request sends: the prompt and the token targets, a pure function of
//! `(seed, request index)`.

use std::sync::Arc;

use loadtest_client::Prompt;
use loadtest_dist::{DistSpec, Sampler, derive_seed};

use crate::dataset::DatasetPool;
use crate::prefix::{Prefixes, SharedPrefix};
use crate::synthetic::{ExactSynthetic, synthetic_prompt};
use crate::tokenize::TokenCounter;
use crate::trace::{TracePrompts, TraceReplay, TraceRow};

/// A request source of an embedding program: the inputs of request `index`, a pure function
/// of the index (so runs reproduce whatever the timing).
pub trait RequestSource: Send + Sync + std::fmt::Debug {
    /// The inputs of request `index`.
    fn inputs(&self, index: u64) -> RequestInputs;
    /// A short description for config.json.
    fn describe(&self) -> String;
}

/// Where prompts come from (`--input-mode`).
#[derive(Debug, Clone)]
pub enum InputSource {
    /// A program's own source (see `examples/embed.rs`); `max_output_tokens` is its business.
    Custom(Arc<dyn RequestSource>),
    /// The same prompt for every request (`--prompt-text`), serialised once.
    FixedPrompt(Prompt),
    /// Rows of a prompt file, used in order and cycled (`--prompt-file`).
    PromptFile(Arc<[Prompt]>),
    /// Generated prompts of `--input-size` words (≈ tokens; exact tokens with a tokenizer,
    /// see [`InputPlan::with_tokenizer`]), unique per request.
    Synthetic(DistSpec),
    /// Rows of a dataset (`--dataset`), drawn with the seed.
    Dataset(Arc<DatasetPool>),
    /// A trace replayed (`--arrival trace:PATH`, with [`loadtest_run::Arrival::Trace`]): each
    /// request's lengths and arrival are its row's. Request `i` is row `i`.
    Trace(Arc<TraceReplay>),
}

/// The inputs of one request.
#[derive(Debug, Clone)]
pub struct RequestInputs {
    /// The prompt to send.
    pub prompt: Prompt,
    /// The prompt length: asked for (synthetic mode), or counted on the client (a dataset
    /// row; any prompt with a tokenizer). Tokens with a tokenizer, words otherwise.
    pub input_tokens_target: Option<u64>,
    /// `max_tokens` sent.
    pub max_tokens: u64,
}

/// Builds the inputs of request `i` from the run seed; cheap, stateless, shareable.
#[derive(Debug, Clone)]
pub struct InputPlan {
    source: InputSource,
    prompts: PromptGen,
    max_tokens: Sampler,
    /// The seed of later turns' inputs (`--turns`): their own streams, apart from the
    /// requests' (see [`InputPlan::turn_inputs`]).
    turn_seed: u64,
}

#[derive(Debug, Clone)]
enum PromptGen {
    Fixed(Prompt, Option<u64>),
    File(Arc<[Prompt]>, Option<Arc<[Option<u64>]>>),
    Synthetic {
        words: Sampler,
        word_seed: u64,
        exact: Option<Arc<ExactSynthetic>>,
        prefixes: Option<Arc<Prefixes>>,
    },
    Dataset(Arc<DatasetPool>),
    Trace(TracePrompts),
    Custom(Arc<dyn RequestSource>),
}

impl InputPlan {
    /// A plan for `source`, `max_output_tokens` and the run `seed`.
    pub fn new(source: InputSource, max_output_tokens: DistSpec, seed: u64) -> Self {
        let prompts = match &source {
            InputSource::FixedPrompt(prompt) => PromptGen::Fixed(prompt.clone(), None),
            InputSource::PromptFile(rows) => PromptGen::File(Arc::clone(rows), None),
            InputSource::Custom(source) => PromptGen::Custom(Arc::clone(source)),
            InputSource::Synthetic(spec) => PromptGen::Synthetic {
                words: Sampler::new(*spec, derive_seed(seed, "input-size")),
                word_seed: derive_seed(seed, "prompt-words"),
                exact: None,
                prefixes: None,
            },
            InputSource::Dataset(pool) => PromptGen::Dataset(Arc::clone(pool)),
            InputSource::Trace(_) => PromptGen::Trace(TracePrompts::new(seed)),
        };
        InputPlan {
            source,
            prompts,
            max_tokens: Sampler::new(max_output_tokens, derive_seed(seed, "max-output-tokens")),
            turn_seed: derive_seed(seed, "conversation-turns"),
        }
    }

    /// Counts prompts with `tokenizer` (`--tokenizer`): synthetic prompts become exactly the
    /// drawn number of tokens, and fixed and prompt-file prompts are counted into
    /// [`RequestInputs::input_tokens_target`] — text as `/v1/completions` counts a prompt,
    /// chat messages as the sum of their contents' tokens (the chat template's own tokens
    /// are the step's `prompt_overhead_tokens`), as dataset rows are counted when loaded.
    pub fn with_tokenizer(mut self, tokenizer: Option<Arc<TokenCounter>>) -> Self {
        let Some(counter) = tokenizer else {
            return self;
        };
        let count = |p: &Prompt| match p.as_text() {
            Some(text) => Some(counter.count_prompt(&text)),
            None => p
                .message_contents()
                .map(|contents| contents.iter().map(|c| counter.count_content(c)).sum()),
        };
        self.prompts = match self.prompts {
            PromptGen::Fixed(prompt, _) => {
                let n = count(&prompt);
                PromptGen::Fixed(prompt, n)
            }
            PromptGen::File(rows, _) => {
                let counts: Arc<[Option<u64>]> = rows.iter().map(count).collect();
                PromptGen::File(rows, Some(counts))
            }
            PromptGen::Synthetic {
                words,
                word_seed,
                prefixes,
                ..
            } => PromptGen::Synthetic {
                words,
                word_seed,
                exact: Some(Arc::new(ExactSynthetic::new(Arc::clone(&counter)))),
                prefixes,
            },
            PromptGen::Trace(prompts) => PromptGen::Trace(prompts.with_tokenizer(counter)),
            other => other,
        };
        self
    }

    /// Puts one of `shared.groups` seeded prefixes of `shared.tokens` tokens before every
    /// synthetic prompt (`--shared-prefix-tokens`, `--prefix-groups`); call after
    /// [`InputPlan::with_tokenizer`], so the prefixes are exact too. Other sources are left
    /// as they are (the front end refuses the combination).
    pub fn with_shared_prefix(mut self, shared: Option<SharedPrefix>, seed: u64) -> Self {
        if let (
            Some(shared),
            PromptGen::Synthetic {
                exact, prefixes, ..
            },
        ) = (shared, &mut self.prompts)
        {
            *prefixes = Some(Arc::new(Prefixes::new(shared, seed, exact.as_deref())));
        }
        self
    }

    /// The prompt source.
    pub fn source(&self) -> &InputSource {
        &self.source
    }

    /// The inputs of request `index`: the same for the same `(seed, index)`.
    pub fn inputs(&self, index: u64) -> RequestInputs {
        let mut max_tokens = None;
        let (prompt, input_tokens_target) = match &self.prompts {
            PromptGen::Custom(source) => return source.inputs(index),
            PromptGen::Fixed(prompt, count) => (prompt.clone(), *count),
            PromptGen::File(rows, counts) => {
                let at = (index % rows.len().max(1) as u64) as usize;
                let count = counts.as_ref().and_then(|c| c.get(at).copied().flatten());
                match rows.get(at) {
                    Some(row) => (row.clone(), count),
                    // An empty file is refused when it is read; an empty slice means no prompt.
                    None => (Prompt::text(""), None),
                }
            }
            PromptGen::Synthetic {
                words,
                word_seed,
                exact,
                prefixes,
            } => {
                let count = words.sample(index);
                let prefix = prefixes.as_ref().map(|p| p.pick(index));
                let (text, actual) = match (exact, prefix) {
                    (Some(exact), Some((prefix, n))) => {
                        exact.with_prefix(prefix, n, *word_seed, index, count)
                    }
                    (Some(exact), None) => exact.prompt(*word_seed, index, count),
                    (None, Some((prefix, n))) => (
                        format!("{prefix} {}", synthetic_prompt(*word_seed, index, count)),
                        n + count,
                    ),
                    (None, None) => (synthetic_prompt(*word_seed, index, count), count),
                };
                (Prompt::text(&text), Some(actual))
            }
            PromptGen::Dataset(pool) => match pool.pick(index) {
                Some(row) => {
                    if pool.uses_output_len() {
                        max_tokens = row.output_tokens;
                    }
                    (row.prompt.clone(), Some(row.prompt_tokens))
                }
                // An empty pool is refused when the dataset is read.
                None => (Prompt::text(""), None),
            },
            // A trace's rows come with their requests ([`InputPlan::trace_inputs`]).
            PromptGen::Trace(_) => (Prompt::text(""), None),
        };
        RequestInputs {
            prompt,
            input_tokens_target,
            max_tokens: max_tokens.unwrap_or_else(|| self.max_tokens.sample(index)),
        }
    }
}

impl InputPlan {
    /// The inputs of request `index`, trace row `row`: a prompt of the row's input length
    /// (exact with a tokenizer, sharing the blocks of its hash ids), `max_tokens` = its output
    /// length. A function of `(seed, index, row)`.
    pub(crate) fn trace_inputs(&self, index: u64, row: &TraceRow) -> RequestInputs {
        let fallback;
        let prompts = match &self.prompts {
            PromptGen::Trace(prompts) => prompts,
            // Only a trace plan replays rows; any other builds the row's prompt in words.
            _ => {
                fallback = TracePrompts::new(0);
                &fallback
            }
        };
        let (text, tokens) = prompts.prompt(index, row);
        RequestInputs {
            prompt: Prompt::text(&text),
            input_tokens_target: Some(tokens),
            max_tokens: row.output_tokens,
        }
    }
}

impl InputPlan {
    /// The `max_tokens` of a conversation's turn `k > 0`, request `id`, drawn from
    /// `--max-output-tokens` with a stream of its own: a function of `(seed, id)`.
    pub fn turn_max_tokens(&self, id: u64) -> u64 {
        Sampler::new(
            *self.max_tokens.spec(),
            derive_seed(self.turn_seed, "max-output-tokens"),
        )
        .sample(id)
    }

    /// The user message of a conversation's turn `k > 0`, request `id` (`--turns`), and its
    /// length when known (asked for: a synthetic prompt; tokens with a tokenizer, words
    /// otherwise), with its `max_tokens`. A function of `(seed, id)`, drawn from streams of
    /// their own (the conversation's first turn is request `conversation`'s prompt, as in a
    /// single-turn run). Synthetic: a new prompt of `--input-size` (no shared prefix: the
    /// conversation already starts with it); a fixed prompt: the same text again; a prompt
    /// file, a dataset or a custom source: request `id`'s prompt (its last message's content
    /// for chat messages).
    pub fn turn_inputs(&self, id: u64) -> (String, Option<u64>, u64) {
        let max_tokens = || self.turn_max_tokens(id);
        let last_content = |prompt: &Prompt| {
            prompt
                .chat_messages()
                .pop()
                .map(|m| m.content)
                .unwrap_or_default()
        };
        match &self.prompts {
            PromptGen::Synthetic { words, exact, .. } => {
                let count = Sampler::new(*words.spec(), derive_seed(self.turn_seed, "input-size"))
                    .sample(id);
                let word_seed = derive_seed(self.turn_seed, "prompt-words");
                let (text, actual) = match exact {
                    Some(exact) => exact.prompt(word_seed, id, count),
                    None => (synthetic_prompt(word_seed, id, count), count),
                };
                (text, Some(actual), max_tokens())
            }
            PromptGen::Fixed(prompt, count) => (
                last_content(prompt),
                count.filter(|_| prompt.as_text().is_some()),
                max_tokens(),
            ),
            _ => {
                let inputs = self.inputs(id);
                let count = inputs
                    .input_tokens_target
                    .filter(|_| inputs.prompt.as_text().is_some());
                (last_content(&inputs.prompt), count, inputs.max_tokens)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_inputs_are_reproducible_and_sized() {
        let plan = InputPlan::new(
            InputSource::Synthetic("uniform:10:20".parse().unwrap()),
            "normal:64:8:1:128".parse().unwrap(),
            7,
        );
        let a = plan.inputs(3);
        let b = plan.inputs(3);
        assert_eq!(a.prompt, b.prompt);
        assert_eq!(a.max_tokens, b.max_tokens);
        let n = a.input_tokens_target.unwrap();
        assert!((10..=20).contains(&n));
        let words = crate::synthetic::synthetic_prompt(derive_seed(7, "prompt-words"), 3, n);
        assert_eq!(words.split(' ').count() as u64, n);
        assert_eq!(a.prompt, Prompt::text(&words));
        assert_ne!(plan.inputs(4).prompt, a.prompt);
    }

    #[test]
    fn prompt_file_rows_cycle() {
        let rows: Arc<[Prompt]> = vec![Prompt::text("a"), Prompt::text("b")].into();
        let plan = InputPlan::new(InputSource::PromptFile(rows), DistSpec::Fixed(5), 0);
        assert_eq!(plan.inputs(0).prompt, Prompt::text("a"));
        assert_eq!(plan.inputs(3).prompt, Prompt::text("b"));
        assert_eq!(plan.inputs(3).max_tokens, 5);
        assert_eq!(plan.inputs(3).input_tokens_target, None);
    }

    #[test]
    fn a_tokenizer_counts_text_and_message_prompts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/tiny-llama-tokenizer");
        let counter = Arc::new(TokenCounter::load(&dir).unwrap());
        let message = |role: &str, content: &str| loadtest_client::ChatMessage {
            role: role.into(),
            content: content.into(),
        };
        let rows: Arc<[Prompt]> = vec![
            Prompt::text("a short prompt"),
            Prompt::messages(&[
                message("system", "You answer in French."),
                message("user", "hello there, how are you today?"),
            ]),
        ]
        .into();
        let plan = InputPlan::new(InputSource::PromptFile(rows), DistSpec::Fixed(5), 0)
            .with_tokenizer(Some(Arc::clone(&counter)));
        let want = counter.count_prompt("a short prompt");
        assert_eq!(plan.inputs(0).input_tokens_target, Some(want));
        // Chat messages: the sum of their contents' tokens, as dataset rows are counted.
        let contents = counter.count_content("You answer in French.")
            + counter.count_content("hello there, how are you today?");
        assert!(contents > 8, "{contents}");
        assert_eq!(plan.inputs(1).input_tokens_target, Some(contents));
        let fixed = InputPlan::new(
            InputSource::FixedPrompt(Prompt::text("a short prompt")),
            DistSpec::Fixed(5),
            0,
        )
        .with_tokenizer(Some(counter));
        assert_eq!(fixed.inputs(7).input_tokens_target, Some(want));
    }
}
