//! `--shared-prefix-tokens P --prefix-groups G`: every synthetic prompt is one of G seeded
//! prefixes of P tokens followed by its own `--input-size` tokens, so a server's prefix cache
//! has something to hit (how much it helps shows in the server's prefix-cache hit rate).

use loadtest_dist::derive_seed;

use crate::synthetic::{ExactSynthetic, synthetic_prompt};

/// Most prefix groups.
pub const MAX_PREFIX_GROUPS: u64 = 100_000;

/// Most prefix tokens held in all (groups × tokens), a bound on memory (≈ 7 bytes a token).
pub const MAX_PREFIX_TOTAL_TOKENS: u64 = 20_000_000;

/// The shared-prefix settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedPrefix {
    /// Tokens of each prefix (`--shared-prefix-tokens`), at least 1.
    pub tokens: u64,
    /// Number of distinct prefixes (`--prefix-groups`), at least 1.
    pub groups: u64,
}

impl SharedPrefix {
    /// Checks the bounds; the error says what is allowed.
    pub fn check(&self) -> Result<(), String> {
        if self.tokens == 0 || self.groups == 0 {
            return Err("expected at least 1 token and 1 group".to_owned());
        }
        if self.groups > MAX_PREFIX_GROUPS {
            return Err(format!("expected at most {MAX_PREFIX_GROUPS} groups"));
        }
        if self.tokens.saturating_mul(self.groups) > MAX_PREFIX_TOTAL_TOKENS {
            return Err(format!(
                "expected groups × tokens at most {MAX_PREFIX_TOTAL_TOKENS}"
            ));
        }
        Ok(())
    }
}

/// The G prefixes of a run, made once from the seed.
#[derive(Debug)]
pub(crate) struct Prefixes {
    /// Each group's prefix text and its length (tokens with a tokenizer, words otherwise).
    texts: Vec<(String, u64)>,
    pick_seed: u64,
}

impl Prefixes {
    /// The prefixes of `spec` for the run `seed` (exact with a tokenizer).
    pub(crate) fn new(spec: SharedPrefix, seed: u64, exact: Option<&ExactSynthetic>) -> Self {
        let text_seed = derive_seed(seed, "prefix-words");
        let texts = (0..spec.groups)
            .map(|g| match exact {
                Some(exact) => exact.prompt(text_seed, g, spec.tokens),
                None => (synthetic_prompt(text_seed, g, spec.tokens), spec.tokens),
            })
            .collect();
        Prefixes {
            texts,
            pick_seed: derive_seed(seed, "prefix-group"),
        }
    }

    /// The prefix of request `index` and its length: a function of `(seed, index)`.
    pub(crate) fn pick(&self, index: u64) -> (&str, u64) {
        let n = self.texts.len().max(1) as u64;
        let mut state = self.pick_seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let at = (crate::synthetic::splitmix64(&mut state) % n) as usize;
        self.texts
            .get(at)
            .map_or(("", 0), |(text, tokens)| (text.as_str(), *tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_shared_and_seeded() {
        let spec = SharedPrefix {
            tokens: 12,
            groups: 3,
        };
        let p = Prefixes::new(spec, 7, None);
        let seen: std::collections::BTreeSet<&str> = (0..200).map(|i| p.pick(i).0).collect();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|t| t.split(' ').count() == 12));
        assert_eq!(p.pick(5), Prefixes::new(spec, 7, None).pick(5));
        assert!(
            SharedPrefix {
                tokens: 1,
                groups: 0
            }
            .check()
            .is_err()
        );
        assert!(
            SharedPrefix {
                tokens: 1_000_000,
                groups: 100
            }
            .check()
            .is_err()
        );
    }
}
