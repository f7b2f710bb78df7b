//! `--prompt-file`: JSONL where each row is plain text, a JSON string, or an object with
//! `prompt`, `text` or `messages`. A leading UTF-8 byte order mark is skipped; a row that is
//! a JSON array, number, boolean or null is an error naming the file and line.

use loadtest_client::{ChatMessage, Prompt};
use loadtest_run::PromptFileFacts;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The largest prompt file read (a guard against pointing the tool at the wrong file).
pub const MAX_PROMPT_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The UTF-8 byte order mark, skipped at the start of a prompt file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// What a row may be, quoted by the errors of rows that are JSON of another kind.
const ROW_KINDS: &str =
    "expected text, a JSON string, or an object with \"prompt\", \"text\" or \"messages\"";

/// Why a prompt file could not be used; every variant names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum PromptFileError {
    /// Opening or reading failed.
    #[error("cannot read prompt file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Larger than [`MAX_PROMPT_FILE_BYTES`].
    #[error("prompt file {path} is {bytes} bytes, more than the {max} bytes allowed")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// No usable row.
    #[error("prompt file {path} holds no prompts")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A row that is not valid.
    #[error("prompt file {path}, line {line}: {reason}")]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads every prompt of a JSONL prompt file. Blank lines are skipped.
pub fn read_prompt_file(path: &Path) -> Result<Vec<Prompt>, PromptFileError> {
    load_prompt_file(path).map(|(prompts, _)| prompts)
}

/// [`read_prompt_file`], also returning the file's facts (path, SHA-256, rows).
pub fn load_prompt_file(path: &Path) -> Result<(Vec<Prompt>, PromptFileFacts), PromptFileError> {
    let io = |source| PromptFileError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    if bytes > MAX_PROMPT_FILE_BYTES {
        return Err(PromptFileError::TooLarge {
            path: path.to_owned(),
            bytes,
            max: MAX_PROMPT_FILE_BYTES,
        });
    }
    let mut reader = BufReader::new(file.take(MAX_PROMPT_FILE_BYTES));
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut prompts = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        digest.update(&buf);
        line_no += 1;
        let bad = |reason: String| PromptFileError::BadRow {
            path: path.to_owned(),
            line: line_no,
            reason,
        };
        // A UTF-8 byte order mark (editors on Windows write one) is not part of the first
        // row: left in, it would turn a JSON row into text that starts with U+FEFF.
        let row = match buf.strip_prefix(UTF8_BOM) {
            Some(rest) if line_no == 1 => rest,
            _ => &buf[..],
        };
        let text = std::str::from_utf8(row)
            .map_err(|e| bad(format!("not valid UTF-8 (byte {})", e.valid_up_to())))?;
        if let Some(prompt) = parse_row(text).map_err(bad)? {
            prompts.push(prompt);
        }
    }
    if prompts.is_empty() {
        return Err(PromptFileError::Empty {
            path: path.to_owned(),
        });
    }
    let sha256 = digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let facts = PromptFileFacts {
        path: path.to_owned(),
        sha256,
        rows: prompts.len(),
    };
    Ok((prompts, facts))
}

/// Parses one row; `Ok(None)` for a blank line. The error is the reason, without location.
pub fn parse_row(line: &str) -> Result<Option<Prompt>, String> {
    let row = line.trim_end_matches(['\n', '\r']);
    let trimmed = row.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let looks_json = trimmed.starts_with(['{', '"', '[']);
    if !looks_json {
        // A row that is a whole JSON number, boolean or null is a mistake (a column of
        // numbers, a `null` left by a script), not a prompt; text merely starting like one
        // ("42 is the answer", "nothing") is text.
        if trimmed.starts_with(|c: char| c.is_ascii_digit() || "-tfn".contains(c))
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed)
        {
            return Err(format!(
                "{} is not a prompt ({ROW_KINDS})",
                json_kind(&value)
            ));
        }
        return Ok(Some(Prompt::text(row)));
    }
    let value: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON: {e}"))?;
    match value {
        serde_json::Value::String(text) => non_empty_text(text).map(Some),
        serde_json::Value::Object(mut map) => {
            if let Some(messages) = map.remove("messages") {
                return messages_prompt(messages).map(Some);
            }
            for key in ["prompt", "text"] {
                match map.remove(key) {
                    Some(serde_json::Value::String(text)) => return non_empty_text(text).map(Some),
                    Some(_) => return Err(format!("\"{key}\" is not a string")),
                    None => {}
                }
            }
            Err("object has none of \"prompt\", \"text\" or \"messages\"".to_owned())
        }
        other => Err(format!(
            "{} is not a prompt ({ROW_KINDS})",
            json_kind(&other)
        )),
    }
}

/// "a JSON array", "a JSON number", … for the row errors.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "a JSON null",
        serde_json::Value::Bool(_) => "a JSON boolean",
        serde_json::Value::Number(_) => "a JSON number",
        serde_json::Value::String(_) => "a JSON string",
        serde_json::Value::Array(_) => "a JSON array",
        serde_json::Value::Object(_) => "a JSON object",
    }
}

fn non_empty_text(text: String) -> Result<Prompt, String> {
    if text.trim().is_empty() {
        Err("empty prompt".to_owned())
    } else {
        Ok(Prompt::text(&text))
    }
}

fn messages_prompt(messages: serde_json::Value) -> Result<Prompt, String> {
    let serde_json::Value::Array(list) = messages else {
        return Err("\"messages\" is not an array".to_owned());
    };
    if list.is_empty() {
        return Err("\"messages\" is empty".to_owned());
    }
    let mut parsed = Vec::with_capacity(list.len());
    for (i, message) in list.into_iter().enumerate() {
        let message: ChatMessage = serde_json::from_value(message)
            .map_err(|_| format!("message {i} needs a string \"role\" and a string \"content\""))?;
        parsed.push(message);
    }
    Ok(Prompt::messages(&parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: Option<Prompt>) -> Prompt {
        p.unwrap()
    }

    #[test]
    fn every_row_kind() {
        assert_eq!(
            text(parse_row("hello world\n").unwrap()),
            Prompt::text("hello world")
        );
        assert_eq!(
            text(parse_row("\"quoted\"").unwrap()),
            Prompt::text("quoted")
        );
        assert_eq!(
            text(parse_row(r#"{"prompt": "p"}"#).unwrap()),
            Prompt::text("p")
        );
        assert_eq!(
            text(parse_row(r#"{"text": "t", "x": 1}"#).unwrap()),
            Prompt::text("t")
        );
        let m = parse_row(r#"{"messages": [{"role": "user", "content": "hi"}]}"#).unwrap();
        let expected = Prompt::messages(&[ChatMessage {
            role: "user".into(),
            content: "hi".into(),
        }]);
        assert_eq!(m, Some(expected));
        assert!(parse_row("   \r\n").unwrap().is_none());
    }

    #[test]
    fn bad_rows_say_why() {
        assert!(
            parse_row("{broken")
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert_eq!(
            parse_row(r#"{"foo": 1}"#).unwrap_err(),
            "object has none of \"prompt\", \"text\" or \"messages\""
        );
        assert_eq!(
            parse_row(r#"{"prompt": 5}"#).unwrap_err(),
            "\"prompt\" is not a string"
        );
        assert_eq!(
            parse_row(r#"{"messages": []}"#).unwrap_err(),
            "\"messages\" is empty"
        );
        assert!(parse_row(r#"{"messages": [{"content": "x"}]}"#).is_err());
        assert!(parse_row("[1,2]").is_err());
        assert_eq!(parse_row("\"  \"").unwrap_err(), "empty prompt");
    }

    #[test]
    fn json_scalars_are_refused_like_arrays() {
        let array = parse_row("[1]").unwrap_err();
        assert!(
            array.starts_with("a JSON array is not a prompt (expected text"),
            "{array}"
        );
        for (row, kind) in [
            ("42", "a JSON number"),
            ("-1.5e3", "a JSON number"),
            (" true ", "a JSON boolean"),
            ("false", "a JSON boolean"),
            ("null\r\n", "a JSON null"),
        ] {
            let err = parse_row(row).unwrap_err();
            assert_eq!(err, array.replace("a JSON array", kind), "{row:?}");
        }
        // Text that only starts like a scalar is text.
        for row in ["42 is the answer", "nothing", "true story", "-", "fast"] {
            assert_eq!(parse_row(row).unwrap(), Some(Prompt::text(row)), "{row:?}");
        }
    }

    fn write_file(bytes: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write as _;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn a_leading_bom_is_skipped() {
        let file = write_file(b"\xEF\xBB\xBF{\"prompt\": \"p\"}\nplain\n");
        let (prompts, facts) = load_prompt_file(file.path()).unwrap();
        assert_eq!(prompts, vec![Prompt::text("p"), Prompt::text("plain")]);
        assert_eq!(facts.rows, 2);
        // The digest is the file's bytes, BOM included.
        let file2 = write_file(b"{\"prompt\": \"p\"}\nplain\n");
        assert_ne!(
            load_prompt_file(file2.path()).unwrap().1.sha256,
            facts.sha256
        );

        let file = write_file(b"\xEF\xBB\xBFhello\n\"q\"\n");
        let prompts = read_prompt_file(file.path()).unwrap();
        assert_eq!(prompts, vec![Prompt::text("hello"), Prompt::text("q")]);
        // A BOM alone is an empty file.
        let file = write_file(b"\xEF\xBB\xBF\n");
        assert!(matches!(
            read_prompt_file(file.path()),
            Err(PromptFileError::Empty { .. })
        ));
    }

    #[test]
    fn scalar_rows_name_file_and_line() {
        let file = write_file(b"hello\n\n7\n");
        let err = read_prompt_file(file.path()).unwrap_err().to_string();
        let want = format!(
            "prompt file {}, line 3: a JSON number is not a prompt",
            file.path().display()
        );
        assert!(err.starts_with(&want), "{err}");
    }
}
