//! A trace row's prompt: synthetic text of exactly its `input_length` tokens with
//! `--tokenizer` (words otherwise). With Mooncake `hash_ids`, the prompt is built from one
//! seeded block of [`HASH_BLOCK_TOKENS`] per hash id — a block's text depends only on
//! `(seed, hash id)` — so requests sharing leading hash ids share their prompt's prefix as in
//! the trace; the tokens past the blocks are the request's own (`(seed, request index)`).

use std::sync::Arc;

use loadtest_dist::derive_seed;

use super::HASH_BLOCK_TOKENS;
use super::parse::TraceRow;
use crate::synthetic::{ExactSynthetic, synthetic_prompt};
use crate::tokenize::TokenCounter;

/// Builds trace rows' prompts for one run seed.
#[derive(Debug, Clone)]
pub(crate) struct TracePrompts {
    word_seed: u64,
    block_seed: u64,
    exact: Option<(Arc<ExactSynthetic>, Arc<TokenCounter>)>,
}

/// Corrections of a block prefix that came out longer than the row's prompt.
const MAX_TRIMS: usize = 64;

impl TracePrompts {
    /// Prompts of words (≈ tokens) for the run `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        TracePrompts {
            word_seed: derive_seed(seed, "prompt-words"),
            block_seed: derive_seed(seed, "trace-blocks"),
            exact: None,
        }
    }

    /// Exact prompts: counted with `counter`.
    pub(crate) fn with_tokenizer(mut self, counter: Arc<TokenCounter>) -> Self {
        self.exact = Some((Arc::new(ExactSynthetic::new(Arc::clone(&counter))), counter));
        self
    }

    /// Request `index`'s prompt for `row`, and its length (tokens with a tokenizer, words
    /// otherwise). A row of 0 input tokens gets a 1-token prompt (servers refuse an empty one).
    pub(crate) fn prompt(&self, index: u64, row: &TraceRow) -> (String, u64) {
        let target = row.input_tokens.max(1);
        match &self.exact {
            None => self.words(index, row, target),
            Some((exact, counter)) => self.exact(exact, counter, index, row, target),
        }
    }

    /// The blocks' token counts: one per hash id while they fit in `budget`, the last one
    /// cut to what is left.
    fn blocks<'a>(&self, row: &'a TraceRow, budget: u64) -> impl Iterator<Item = (u64, u64)> + 'a {
        row.hash_ids
            .iter()
            .enumerate()
            .map_while(move |(j, &hash)| {
                let start = (j as u64).saturating_mul(HASH_BLOCK_TOKENS);
                (start < budget).then(|| (hash, (budget - start).min(HASH_BLOCK_TOKENS)))
            })
    }

    fn words(&self, index: u64, row: &TraceRow, target: u64) -> (String, u64) {
        let mut parts: Vec<String> = Vec::new();
        let mut covered = 0;
        for (hash, n) in self.blocks(row, target) {
            parts.push(synthetic_prompt(self.block_seed, hash, n));
            covered += n;
        }
        if covered < target {
            parts.push(synthetic_prompt(self.word_seed, index, target - covered));
        }
        (parts.join(" "), target)
    }

    fn exact(
        &self,
        exact: &ExactSynthetic,
        counter: &TokenCounter,
        index: u64,
        row: &TraceRow,
        target: u64,
    ) -> (String, u64) {
        if row.hash_ids.is_empty() {
            return exact.prompt(self.word_seed, index, target);
        }
        // Each block is a continuation (" w1 w2 …") of its own seeded words; the prompt's
        // first space is dropped. The blocks' prefix is counted as a whole.
        let mut prefix = String::new();
        for (hash, n) in self.blocks(row, target) {
            prefix.push_str(&exact.with_prefix("", 0, self.block_seed, hash, n).0);
        }
        let mut prefix = prefix.trim_start().to_owned();
        let mut counted = counter.count_prompt(&prefix);
        for _ in 0..MAX_TRIMS {
            if counted <= target || prefix.is_empty() {
                break;
            }
            match prefix.rfind(' ') {
                Some(at) => prefix.truncate(at),
                None => prefix.clear(),
            }
            counted = counter.count_prompt(&prefix);
        }
        if counted >= target {
            return (prefix, counted);
        }
        exact.with_prefix(&prefix, counted, self.word_seed, index, target - counted)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn row(input_tokens: u64, hash_ids: &[u64]) -> TraceRow {
        TraceRow {
            timestamp_s: 0.0,
            input_tokens,
            output_tokens: 1,
            hash_ids: hash_ids.to_vec(),
        }
    }

    fn counter() -> Arc<TokenCounter> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/tiny-llama-tokenizer");
        Arc::new(TokenCounter::load(&dir).unwrap())
    }

    #[test]
    fn word_prompts_share_their_hash_blocks() {
        let p = TracePrompts::new(3);
        let (a, n) = p.prompt(0, &row(1200, &[7, 8, 9]));
        assert_eq!((a.split(' ').count() as u64, n), (1200, 1200));
        let (b, _) = p.prompt(1, &row(1100, &[7, 8, 10]));
        let (c, _) = p.prompt(2, &row(600, &[7]));
        let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let (a, b, c) = (words(&a), words(&b), words(&c));
        assert_eq!(a[..1024], b[..1024]);
        assert_ne!(a[1024..1100], b[1024..1100]);
        assert_eq!(a[..512], c[..512]);
        assert_ne!(a[512..600], c[512..600]);
        // Without hash ids, prompts are the request's own; 0 tokens asks for 1.
        assert_eq!(p.prompt(5, &row(0, &[])).1, 1);
        assert_ne!(p.prompt(5, &row(40, &[])).0, p.prompt(6, &row(40, &[])).0);
        assert_eq!(p.prompt(5, &row(40, &[])), p.prompt(5, &row(40, &[])));
    }

    #[test]
    fn exact_prompts_are_the_rows_length_and_share_prefixes() {
        let counter = counter();
        let p = TracePrompts::new(1).with_tokenizer(Arc::clone(&counter));
        for (i, (len, ids)) in [
            (1, &[][..]),
            (300, &[]),
            (700, &[1, 2]),
            (1024, &[1, 2]),
            (1030, &[1, 2]),
            (1500, &[1, 2, 3]),
            (100, &[4, 5, 6]),
        ]
        .into_iter()
        .enumerate()
        {
            let (text, n) = p.prompt(i as u64, &row(len, ids));
            assert_eq!(n, len, "row {i}");
            assert_eq!(counter.count_prompt(&text), len, "row {i}");
        }
        let (a, _) = p.prompt(10, &row(1500, &[1, 2, 3]));
        let (b, _) = p.prompt(11, &row(1400, &[1, 2, 4]));
        let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        // The two 512-token blocks they share, at least (≈ 3,500 characters of words).
        let shared = &a[..common];
        assert!(
            counter.count_prompt(shared) >= 1000,
            "{}",
            counter.count_prompt(shared)
        );
    }
}
