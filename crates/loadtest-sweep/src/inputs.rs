//! What each request sends: the prompt and the token targets, a pure function of
//! `(seed, request index)`.

use std::sync::Arc;

use loadtest_client::Prompt;
use loadtest_dist::{DistSpec, Sampler, derive_seed};

use crate::synthetic::synthetic_prompt;

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
    /// Generated prompts of `--input-size` words (≈ tokens), unique per request.
    Synthetic(DistSpec),
}

/// The inputs of one request.
#[derive(Debug, Clone)]
pub struct RequestInputs {
    /// The prompt to send.
    pub prompt: Prompt,
    /// The prompt length asked for (synthetic mode only).
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
}

#[derive(Debug, Clone)]
enum PromptGen {
    Fixed(Prompt),
    File(Arc<[Prompt]>),
    Synthetic { words: Sampler, word_seed: u64 },
    Custom(Arc<dyn RequestSource>),
}

impl InputPlan {
    /// A plan for `source`, `max_output_tokens` and the run `seed`.
    pub fn new(source: InputSource, max_output_tokens: DistSpec, seed: u64) -> Self {
        let prompts = match &source {
            InputSource::FixedPrompt(prompt) => PromptGen::Fixed(prompt.clone()),
            InputSource::PromptFile(rows) => PromptGen::File(Arc::clone(rows)),
            InputSource::Custom(source) => PromptGen::Custom(Arc::clone(source)),
            InputSource::Synthetic(spec) => PromptGen::Synthetic {
                words: Sampler::new(*spec, derive_seed(seed, "input-size")),
                word_seed: derive_seed(seed, "prompt-words"),
            },
        };
        InputPlan {
            source,
            prompts,
            max_tokens: Sampler::new(max_output_tokens, derive_seed(seed, "max-output-tokens")),
        }
    }

    /// The prompt source.
    pub fn source(&self) -> &InputSource {
        &self.source
    }

    /// The inputs of request `index`: the same for the same `(seed, index)`.
    pub fn inputs(&self, index: u64) -> RequestInputs {
        let (prompt, input_tokens_target) = match &self.prompts {
            PromptGen::Custom(source) => return source.inputs(index),
            PromptGen::Fixed(prompt) => (prompt.clone(), None),
            PromptGen::File(rows) => match rows.get((index % rows.len().max(1) as u64) as usize) {
                Some(row) => (row.clone(), None),
                // An empty file is refused when it is read; an empty slice means no prompt.
                None => (Prompt::text(""), None),
            },
            PromptGen::Synthetic { words, word_seed } => {
                let count = words.sample(index);
                let text = synthetic_prompt(*word_seed, index, count);
                (Prompt::text(&text), Some(count))
            }
        };
        RequestInputs {
            prompt,
            input_tokens_target,
            max_tokens: self.max_tokens.sample(index),
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
}
