//! Seeded per-request randomness: every draw is a function of (seed, stream label, request
//! sequence number), so a request behaves the same whatever else is going on.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Independent streams of draws, one per purpose.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    /// Natural output length.
    Length = 1,
    /// Fault decisions.
    Fault = 2,
    /// Token text.
    Text = 3,
    /// `/metrics` garbage decisions (indexed by scrape number).
    Scrape = 4,
}

/// SplitMix64 finalizer over `seed`, `stream` and `index`.
pub(crate) fn mix(seed: u64, stream: Stream, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add((stream as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for one request and one purpose.
pub(crate) fn rng(seed: u64, stream: Stream, index: u64) -> StdRng {
    StdRng::seed_from_u64(mix(seed, stream, index))
}

/// A uniform draw in `[0, 1)`.
pub(crate) fn unit(rng: &mut StdRng) -> f64 {
    rng.random::<f64>()
}

/// The natural output length of request `index`: exponential with mean `mean`, at least 1.
pub(crate) fn natural_length(seed: u64, index: u64, mean: u64) -> u64 {
    let mut r = rng(seed, Stream::Length, index);
    let u = unit(&mut r);
    // Inverse CDF of the exponential; `1 - u` is in (0, 1], so the log is finite.
    let draw = -(mean as f64) * (1.0 - u).ln();
    let rounded = draw.ceil();
    if rounded.is_finite() && rounded >= 1.0 {
        rounded.min(u64::MAX as f64) as u64
    } else {
        1
    }
}

/// Words the simulated model "says". Each token is one of these (ASCII, no escaping needed).
const VOCAB: [&str; 32] = [
    " the", " load", " test", " token", " stream", " server", " batch", " queue", " latency",
    " cache", " model", " prompt", " engine", " step", " first", " time", " fast", " slow",
    " haiku", " sim", " data", " run", " under", " over", " a", " of", " to", " and", ".", ",",
    " GPU", " vLLM",
];

/// Token text for one request: a cheap deterministic word sequence.
#[derive(Debug, Clone)]
pub(crate) struct TokenText {
    state: u64,
}

impl TokenText {
    /// The text generator of request `index`.
    pub(crate) fn new(seed: u64, index: u64) -> Self {
        TokenText {
            state: mix(seed, Stream::Text, index) | 1,
        }
    }

    /// Appends the text of `tokens` more tokens to `out`.
    pub(crate) fn push(&mut self, tokens: u64, out: &mut String) {
        for _ in 0..tokens {
            // xorshift64: fast, and seeded per request.
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            out.push_str(VOCAB[(self.state % VOCAB.len() as u64) as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_lengths_are_seeded_and_have_the_mean() {
        assert_eq!(natural_length(7, 3, 100), natural_length(7, 3, 100));
        let n = 20_000u64;
        let total: u64 = (0..n).map(|i| natural_length(1, i, 100)).sum();
        let mean = total as f64 / n as f64;
        assert!((95.0..106.0).contains(&mean), "mean {mean}");
        assert!((0..n).all(|i| natural_length(1, i, 100) >= 1));
    }

    #[test]
    fn text_is_deterministic() {
        let (mut a, mut b) = (TokenText::new(1, 2), TokenText::new(1, 2));
        let (mut sa, mut sb) = (String::new(), String::new());
        a.push(10, &mut sa);
        b.push(10, &mut sb);
        assert_eq!(sa, sb);
        assert!(!sa.is_empty());
    }
}
