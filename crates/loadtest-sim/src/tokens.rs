//! `--tokenizer PATH`: the simulator counts prompt tokens with a Hugging Face
//! `tokenizer.json` (read from disk, never downloaded) instead of words, so a test can check a
//! client's exact prompt sizes through `usage.prompt_tokens`.
//!
//! A completions prompt is counted as vLLM counts it (special tokens added); a chat request
//! is counted as the sum of its message contents' tokens (no chat template is applied).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a tokenizer could not be loaded; names the path.
#[derive(Debug, thiserror::Error)]
#[error(
    "tokenizer {path}: {reason} (expected a tokenizer.json, or a model directory holding one; nothing is downloaded)"
)]
pub struct TokenizerError {
    /// The path given.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// A loaded tokenizer: cheap to clone, compared by the path it was loaded from.
#[derive(Clone)]
pub struct SimTokenizer {
    tokenizer: Arc<tokenizers::Tokenizer>,
    path: PathBuf,
}

impl std::fmt::Debug for SimTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTokenizer")
            .field("path", &self.path)
            .finish()
    }
}

impl PartialEq for SimTokenizer {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl SimTokenizer {
    /// Loads `path`: a `tokenizer.json`, or a directory holding one.
    pub fn load(path: &Path) -> Result<Self, TokenizerError> {
        let fail = |reason: String| TokenizerError {
            path: path.to_owned(),
            reason,
        };
        let file = if path.is_dir() {
            path.join("tokenizer.json")
        } else {
            path.to_owned()
        };
        if !file.is_file() {
            return Err(fail("not found".to_owned()));
        }
        let tokenizer = tokenizers::Tokenizer::from_file(&file).map_err(|e| fail(e.to_string()))?;
        Ok(SimTokenizer {
            tokenizer: Arc::new(tokenizer),
            path: path.to_owned(),
        })
    }

    /// The path it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokens of `text`, with the tokenizer's special tokens (`special`) or without.
    pub fn count(&self, text: &str, special: bool) -> u64 {
        match self.tokenizer.encode_fast(text, special) {
            Ok(encoding) => encoding.len() as u64,
            Err(err) => {
                tracing::warn!(%err, "tokenizer failed; counting words");
                text.split_whitespace().count() as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_test_tokenizer_and_names_a_missing_one() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny-llama-tokenizer");
        let t = SimTokenizer::load(&dir).unwrap();
        assert_eq!(t, SimTokenizer::load(&dir).unwrap());
        assert!(t.count("hello world", true) >= 2);
        let err = SimTokenizer::load(Path::new("missing/tok.json")).unwrap_err();
        assert!(err.to_string().contains("missing/tok.json"), "{err}");
    }
}
