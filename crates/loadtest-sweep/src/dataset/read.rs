//! What both formats share: a row before counting, a reader that hashes what it reads, and
//! the UTF-8 byte order mark.

use std::io::{BufRead, Read};

use loadtest_client::ChatMessage;

use super::MAX_ROW_BYTES;

/// A row's prompt, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawPrompt {
    /// Plain text (sent as `prompt`, or as one user message on chat).
    Text(String),
    /// Chat messages (chat endpoint only).
    Messages(Vec<ChatMessage>),
}

/// A row's answer length, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawAnswer {
    /// None given.
    None,
    /// The answer's text (counted later).
    Text(String),
    /// Given in tokens (`output_tokens`).
    Tokens(u64),
}

/// A usable row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawRow {
    pub(crate) prompt: RawPrompt,
    pub(crate) answer: RawAnswer,
}

/// What one row of the file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowOutcome {
    /// Usable.
    Row(RawRow),
    /// Unusable: why.
    Invalid(String),
    /// A prompt or answer over [`MAX_ROW_BYTES`] (or a conversation over
    /// [`super::MAX_CONVERSATION_BYTES`]).
    TooLarge,
    /// Usable, with every turn (`--turns dataset`).
    Conversation(super::turns::RawConversation),
}

/// The UTF-8 byte order mark, skipped at the start of a file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Skips a UTF-8 byte order mark at the start of `reader`.
pub(crate) fn skip_bom(reader: &mut impl BufRead) -> std::io::Result<()> {
    let head = reader.fill_buf()?;
    if head.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    Ok(())
}

/// A reader that hashes (SHA-256) and counts every byte read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    digest: ring::digest::Context,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
        }
    }

    /// Bytes read and their SHA-256, lowercase hex.
    pub(crate) fn finish(self) -> (u64, String) {
        let hex = self
            .digest
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (self.bytes, hex)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// `text` as a prompt or answer: `Err` outcome when it is empty or too large.
pub(crate) fn checked_text(text: String, what: &str) -> Result<String, RowOutcome> {
    if text.len() > MAX_ROW_BYTES {
        Err(RowOutcome::TooLarge)
    } else if text.trim().is_empty() {
        Err(RowOutcome::Invalid(format!("empty {what}")))
    } else {
        Ok(text)
    }
}

/// Chat messages from a `messages` value: every message needs a string `role` and `content`.
pub(crate) fn messages(value: serde_json::Value) -> Result<Vec<ChatMessage>, RowOutcome> {
    let serde_json::Value::Array(list) = value else {
        return Err(RowOutcome::Invalid("\"messages\" is not an array".into()));
    };
    if list.is_empty() {
        return Err(RowOutcome::Invalid("\"messages\" is empty".into()));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut bytes = 0usize;
    for (i, message) in list.into_iter().enumerate() {
        let message: ChatMessage = serde_json::from_value(message).map_err(|_| {
            RowOutcome::Invalid(format!(
                "message {i} needs a string \"role\" and a string \"content\""
            ))
        })?;
        bytes += message.content.len();
        if bytes > MAX_ROW_BYTES {
            return Err(RowOutcome::TooLarge);
        }
        out.push(message);
    }
    if out.iter().all(|m| m.content.trim().is_empty()) {
        return Err(RowOutcome::Invalid("empty messages".into()));
    }
    Ok(out)
}
