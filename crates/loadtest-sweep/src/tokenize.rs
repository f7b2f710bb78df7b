//! `--tokenizer PATH`: exact prompt lengths with a Hugging Face `tokenizer.json`, read from
//! disk only (never downloaded).
//!
//! A prompt's length is counted as `/v1/completions` counts it: the text encoded with the
//! tokenizer's special tokens (a Llama-2 `<s>`, when its post-processor adds one). Chat
//! message contents are counted without them (the chat template adds its own).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use loadtest_run::TokenCounting;

/// The largest tokenizer.json read (the biggest real ones are about 20 MB).
pub const MAX_TOKENIZER_BYTES: u64 = 256 * 1024 * 1024;

/// Why a tokenizer could not be used; every variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The path does not exist, or a directory holds no `tokenizer.json`.
    #[error(
        "tokenizer {path} not found (expected a tokenizer.json, or a model directory holding one; nothing is downloaded)"
    )]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// Reading failed.
    #[error("cannot read tokenizer {path}: {source}")]
    Io {
        /// The file read.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Larger than [`MAX_TOKENIZER_BYTES`].
    #[error("tokenizer {path} is more than {max} bytes")]
    TooLarge {
        /// The file read.
        path: PathBuf,
        /// The limit.
        max: u64,
    },
    /// Not a tokenizer.json the `tokenizers` crate can load.
    #[error("tokenizer {path} could not be loaded: {reason}")]
    Invalid {
        /// The file read.
        path: PathBuf,
        /// The library's message.
        reason: String,
    },
}

/// A loaded tokenizer and where it came from.
#[derive(Clone)]
pub struct TokenCounter {
    tokenizer: tokenizers::Tokenizer,
    path: PathBuf,
    sha256: String,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// The `tokenizer.json` that `path` names: the file itself, or the one inside a directory.
pub fn resolve_tokenizer_path(path: &Path) -> Result<PathBuf, TokenizerError> {
    let file = if path.is_dir() {
        path.join("tokenizer.json")
    } else {
        path.to_owned()
    };
    if file.is_file() {
        Ok(file)
    } else {
        Err(TokenizerError::NotFound {
            path: path.to_owned(),
        })
    }
}

impl TokenCounter {
    /// Loads `path` (a `tokenizer.json` or a directory holding one).
    pub fn load(path: &Path) -> Result<Self, TokenizerError> {
        let file = resolve_tokenizer_path(path)?;
        let io = |source| TokenizerError::Io {
            path: file.clone(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(&file)
            .map_err(io)?
            .take(MAX_TOKENIZER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_TOKENIZER_BYTES {
            return Err(TokenizerError::TooLarge {
                path: file,
                max: MAX_TOKENIZER_BYTES,
            });
        }
        let tokenizer =
            tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| TokenizerError::Invalid {
                path: file.clone(),
                reason: e.to_string(),
            })?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        let sha256 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Ok(TokenCounter {
            tokenizer,
            path: path.to_owned(),
            sha256,
        })
    }

    /// Tokens of `text` as `/v1/completions` counts a prompt (special tokens added).
    pub fn count_prompt(&self, text: &str) -> u64 {
        self.count(text, true)
    }

    /// Tokens of a chat message's content or of an answer (no special tokens).
    pub fn count_content(&self, text: &str) -> u64 {
        self.count(text, false)
    }

    fn count(&self, text: &str, special: bool) -> u64 {
        match self.tokenizer.encode_fast(text, special) {
            Ok(encoding) => encoding.len() as u64,
            Err(err) => {
                // Encoding a string only fails on a broken tokenizer; fall back to words.
                tracing::warn!(%err, "tokenizer failed; counting words");
                text.split_whitespace().count() as u64
            }
        }
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the tokenizer.json read, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The config.json fact for this tokenizer.
    pub fn facts(&self) -> TokenCounting {
        TokenCounting::tokenizer(self.path.clone(), self.sha256.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> TokenCounter {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny-llama-tokenizer");
        TokenCounter::load(&dir).unwrap()
    }

    #[test]
    fn loads_a_directory_or_the_file_and_counts() {
        let t = tiny();
        assert_eq!(t.sha256().len(), 64);
        let file = t.path().join("tokenizer.json");
        let f = TokenCounter::load(&file).unwrap();
        assert_eq!(f.sha256(), t.sha256());
        assert_eq!(t.count_prompt(""), 0);
        let n = t.count_prompt("hello world, this is a test");
        assert!((4..=12).contains(&n), "{n}");
    }

    #[test]
    fn missing_and_bad_paths_are_named() {
        let err = TokenCounter::load(Path::new("no/such/tokenizer")).unwrap_err();
        assert!(err.to_string().contains("no/such/tokenizer"), "{err}");
        assert!(err.to_string().contains("nothing is downloaded"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = TokenCounter::load(dir.path()).unwrap_err();
        assert!(matches!(err, TokenizerError::NotFound { .. }));
        let bad = dir.path().join("tokenizer.json");
        std::fs::write(&bad, b"{\"not\": \"a tokenizer\"}").unwrap();
        let err = TokenCounter::load(dir.path()).unwrap_err();
        assert!(matches!(err, TokenizerError::Invalid { .. }), "{err}");
    }
}
