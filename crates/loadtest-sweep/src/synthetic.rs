//! Synthetic prompts: `n` words (≈ `n` tokens; most common English words are one token for
//! Llama-family tokenizers), every word drawn from `(seed, request index)`, so each prompt is
//! unique from its first word and prefix caching does not flatter the server.

use crate::tokenize::TokenCounter;

/// Common short English words, each one token for most BPE vocabularies.
const WORDS: [&str; 128] = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "name",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "foot",
    "boy",
    "age",
    "policy",
    "music",
    "market",
    "sense",
    "nation",
    "plan",
    "college",
    "interest",
    "death",
    "experience",
    "effect",
    "use",
    "class",
    "control",
    "care",
    "field",
    "development",
    "role",
    "effort",
    "rate",
    "heart",
    "drug",
    "show",
    "leader",
    "light",
    "voice",
    "wife",
    "police",
    "mind",
];

/// A prompt of exactly `words` whitespace-separated words for request `index`.
pub fn synthetic_prompt(seed: u64, index: u64, words: u64) -> String {
    let mut state = seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut out = String::with_capacity(words as usize * 7);
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        let r = splitmix64(&mut state);
        out.push_str(WORDS[(r % WORDS.len() as u64) as usize]);
    }
    out
}

/// Synthetic prompts of an exact token count for one tokenizer (`--tokenizer`): seeded words
/// as in [`synthetic_prompt`], chosen so that the text encodes to exactly the drawn number
/// of tokens (counted as `/v1/completions` counts a prompt, special tokens included).
///
/// Each word's cost in tokens is measured once; for tokenizers whose pre-tokenizer splits
/// at spaces (byte-level BPE, SentencePiece with `split`) costs add up, which is checked on
/// sample prompts when the generator is made. Otherwise every prompt is re-encoded and
/// corrected word by word.
#[derive(Debug, Clone)]
pub struct ExactSynthetic {
    counter: std::sync::Arc<TokenCounter>,
    /// Tokens of each word at the start of the prompt.
    first_cost: Vec<u64>,
    /// Tokens of `" word"` after another word.
    cost: Vec<u64>,
    /// Indices of the words that cost one token after another word.
    one_token: Vec<usize>,
    /// Tokens of the empty prompt (a BOS the post-processor adds).
    base: u64,
    /// Costs add up (checked on sample prompts): no per-prompt re-encoding needed.
    additive: bool,
}

/// Corrections tried on a prompt whose costs did not add up.
const MAX_CORRECTIONS: usize = 64;

impl ExactSynthetic {
    /// Measures the word costs of `counter`'s tokenizer.
    pub fn new(counter: std::sync::Arc<TokenCounter>) -> Self {
        let first_cost = WORDS.iter().map(|w| counter.count_content(w)).collect();
        let cost: Vec<u64> = WORDS
            .iter()
            .map(|w| counter.count_content(&format!(" {w}")))
            .collect();
        let one_token = (0..WORDS.len()).filter(|&i| cost[i] == 1).collect();
        let base = counter.count_prompt("");
        let mut this = ExactSynthetic {
            counter,
            first_cost,
            cost,
            one_token,
            base,
            additive: true,
        };
        this.additive = (0..24u64).all(|i| {
            let want = this.base + 1 + i * 37;
            let (text, _) = this.build(0x5EED, i, want, true);
            let (more, _) = this.build(0x5EED, i + 100, 1 + i * 11, false);
            this.counter.count_prompt(&text) == want
                && this.counter.count_prompt(&format!("{text}{more}")) == want + 1 + i * 11
        });
        if !this.additive {
            tracing::info!(
                "token costs of words do not add up: every synthetic prompt is re-encoded"
            );
        }
        this
    }

    /// A prompt for request `index` of exactly `tokens` tokens, and its actual count (the
    /// same, unless `tokens` is below what the empty prompt costs or the tokenizer has no
    /// one-token word to fill with).
    pub fn prompt(&self, seed: u64, index: u64, tokens: u64) -> (String, u64) {
        let (text, words) = self.build(seed, index, tokens, true);
        self.finish(text, words, tokens.max(self.base), seed ^ index)
    }

    /// `prefix` (a prompt of `prefix_tokens`, from [`ExactSynthetic::prompt`]) followed by
    /// `tokens` more for request `index`, and the actual total (`prefix_tokens + tokens`).
    pub fn with_prefix(
        &self,
        prefix: &str,
        prefix_tokens: u64,
        seed: u64,
        index: u64,
        tokens: u64,
    ) -> (String, u64) {
        let (suffix, words) = self.build(seed, index, tokens, false);
        let text = format!("{prefix}{suffix}");
        self.finish(text, words, prefix_tokens + tokens, seed ^ index)
    }

    /// `text` (whose last `words` words were generated) checked against `target`: as is when
    /// costs add up, otherwise re-encoded and corrected a word at a time at its end.
    fn finish(&self, mut text: String, mut words: u64, target: u64, seed: u64) -> (String, u64) {
        if self.additive {
            return (text, target);
        }
        let mut actual = self.counter.count_prompt(&text);
        let mut filler = seed;
        for _ in 0..MAX_CORRECTIONS {
            if actual > target && words > 0 {
                match text.rfind(' ') {
                    Some(at) => text.truncate(at),
                    None => text.clear(),
                }
                words -= 1;
            } else if actual < target && !self.one_token.is_empty() {
                let pick = self.one_token
                    [(splitmix64(&mut filler) % self.one_token.len() as u64) as usize];
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(WORDS[pick]);
                words += 1;
            } else {
                break;
            }
            actual = self.counter.count_prompt(&text);
        }
        (text, actual)
    }

    /// The text the word costs say is `tokens` long, and its number of words: a whole
    /// prompt (`start`), or a continuation of one (each word after a space).
    fn build(&self, seed: u64, index: u64, tokens: u64, start: bool) -> (String, u64) {
        let target = if start {
            tokens.saturating_sub(self.base)
        } else {
            tokens
        };
        let mut state = seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut out = String::with_capacity(target as usize * 7);
        let (mut total, mut words) = (0u64, 0u64);
        let (mut filling, mut misses) = (false, 0);
        while total < target {
            let r = splitmix64(&mut state);
            let pick = if filling {
                match self.one_token.len() as u64 {
                    0 => break,
                    n => self.one_token[(r % n) as usize],
                }
            } else {
                (r % WORDS.len() as u64) as usize
            };
            let first = start && words == 0;
            let cost = if first {
                self.first_cost[pick]
            } else {
                self.cost[pick]
            };
            if cost == 0 || total + cost > target {
                // Too long for what is left: fill the rest with one-token words.
                filling = true;
                misses += 1;
                if misses > MAX_CORRECTIONS {
                    break;
                }
                continue;
            }
            misses = 0;
            if !first {
                out.push(' ');
            }
            out.push_str(WORDS[pick]);
            total += cost;
            words += 1;
        }
        (out, words)
    }
}

/// SplitMix64: the next well-mixed value of `state`.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_word_count_and_unique_prefixes() {
        let a = synthetic_prompt(1, 0, 300);
        assert_eq!(a.split(' ').count(), 300);
        let prefixes: std::collections::HashSet<String> =
            (0..1000).map(|i| synthetic_prompt(1, i, 8)).collect();
        assert!(prefixes.len() > 990, "{}", prefixes.len());
        assert_eq!(synthetic_prompt(1, 5, 20), synthetic_prompt(1, 5, 20));
        assert_eq!(synthetic_prompt(1, 5, 0), "");
    }

    #[test]
    fn exact_prompts_encode_to_the_asked_count() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/tiny-llama-tokenizer");
        let counter = std::sync::Arc::new(TokenCounter::load(&dir).unwrap());
        let exact = ExactSynthetic::new(std::sync::Arc::clone(&counter));
        assert!(exact.additive, "byte-level BPE costs add up");
        for (i, n) in (1..400u64).step_by(7).chain([1000, 4096]).enumerate() {
            let (text, actual) = exact.prompt(3, i as u64, n);
            assert_eq!(actual, n);
            assert_eq!(counter.count_prompt(&text), n, "{n}: {text:?}");
        }
        // The same (seed, index, n) gives the same prompt; another index another one.
        assert_eq!(exact.prompt(3, 9, 50), exact.prompt(3, 9, 50));
        assert_ne!(exact.prompt(3, 9, 50).0, exact.prompt(3, 10, 50).0);
    }

    #[test]
    fn the_correction_path_is_exact_too() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/tiny-llama-tokenizer");
        let counter = std::sync::Arc::new(TokenCounter::load(&dir).unwrap());
        let mut exact = ExactSynthetic::new(std::sync::Arc::clone(&counter));
        exact.additive = false;
        for n in [1u64, 2, 17, 256] {
            let (text, actual) = exact.prompt(5, n, n);
            assert_eq!((actual, counter.count_prompt(&text)), (n, n));
        }
    }
}
