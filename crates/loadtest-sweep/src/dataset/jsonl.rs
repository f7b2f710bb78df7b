//! JSONL datasets: one object per line with `prompt` (a string) or `messages` (chat
//! messages), and an optional `output_tokens` (a positive integer). Lines are read with a
//! bounded buffer: a line longer than the limit is skipped without being held.

use std::io::BufRead;

use serde_json::Value;

use super::MAX_ROW_BYTES;
use super::read::{RawAnswer, RawPrompt, RawRow, RowOutcome, checked_text, messages};

/// The longest line held (prompt, answer and JSON around them).
const MAX_LINE_BYTES: usize = 2 * MAX_ROW_BYTES + 4096;

/// Calls `each` with every non-blank line of `reader`.
pub(crate) fn read_rows(
    reader: &mut impl BufRead,
    each: &mut dyn FnMut(RowOutcome),
) -> std::io::Result<()> {
    let mut line = Vec::new();
    while let Some(complete) = read_line_capped(reader, &mut line, MAX_LINE_BYTES)? {
        if !complete {
            each(RowOutcome::TooLarge);
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(row(&line));
    }
    Ok(())
}

/// Reads one line into `line` (without its `\n`). `None` at the end of the input;
/// `Some(false)` when the line was longer than `cap` (the rest of it is skipped).
pub(crate) fn read_line_capped(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let (mut any, mut complete) = (false, true);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(complete));
        }
        any = true;
        let (chunk, used, done) = match memchr::memchr(b'\n', buf) {
            Some(at) => (&buf[..at], at + 1, true),
            None => (buf, buf.len(), false),
        };
        if complete && line.len() + chunk.len() <= cap {
            line.extend_from_slice(chunk);
        } else {
            complete = false;
            line.clear();
        }
        reader.consume(used);
        if done {
            return Ok(Some(complete));
        }
    }
}

/// One line.
pub(crate) fn row(line: &[u8]) -> RowOutcome {
    let invalid = |why: String| RowOutcome::Invalid(why);
    let Ok(text) = std::str::from_utf8(line) else {
        return invalid("not valid UTF-8".into());
    };
    let value: Value = match serde_json::from_str(text.trim()) {
        Ok(v) => v,
        Err(e) => return invalid(format!("invalid JSON: {e}")),
    };
    let Value::Object(mut obj) = value else {
        return invalid("row is not a JSON object".into());
    };
    let answer = match obj.remove("output_tokens") {
        None | Some(Value::Null) => RawAnswer::None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => RawAnswer::Tokens(n),
            _ => return invalid("\"output_tokens\" is not a positive integer".into()),
        },
    };
    let prompt = if let Some(list) = obj.remove("messages") {
        match messages(list) {
            Ok(m) => RawPrompt::Messages(m),
            Err(outcome) => return outcome,
        }
    } else {
        match obj.remove("prompt") {
            Some(Value::String(text)) => match checked_text(text, "prompt") {
                Ok(t) => RawPrompt::Text(t),
                Err(outcome) => return outcome,
            },
            Some(_) => return invalid("\"prompt\" is not a string".into()),
            None => return invalid("object has neither \"prompt\" nor \"messages\"".into()),
        }
    };
    RowOutcome::Row(RawRow { prompt, answer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_client::ChatMessage;

    fn rows(bytes: &[u8]) -> Vec<RowOutcome> {
        let mut out = Vec::new();
        let mut reader = std::io::BufReader::with_capacity(7, bytes);
        read_rows(&mut reader, &mut |r| out.push(r)).unwrap();
        out
    }

    #[test]
    fn prompt_messages_and_output_tokens() {
        let out = rows(
            b"{\"prompt\": \"p\", \"output_tokens\": 12}\n\n  \r\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\r\n{\"prompt\":\"last\"}",
        );
        assert_eq!(
            out,
            vec![
                RowOutcome::Row(RawRow {
                    prompt: RawPrompt::Text("p".into()),
                    answer: RawAnswer::Tokens(12)
                }),
                RowOutcome::Row(RawRow {
                    prompt: RawPrompt::Messages(vec![ChatMessage {
                        role: "user".into(),
                        content: "hi".into()
                    }]),
                    answer: RawAnswer::None
                }),
                RowOutcome::Row(RawRow {
                    prompt: RawPrompt::Text("last".into()),
                    answer: RawAnswer::None
                }),
            ]
        );
    }

    #[test]
    fn hostile_rows_are_counted_not_fatal() {
        let mut file = Vec::new();
        for line in [
            "plain text",
            "42",
            "[1]",
            "{broken",
            "{}",
            "{\"prompt\": 5}",
            "{\"prompt\": \"\"}",
            "{\"prompt\": \"x\", \"output_tokens\": -1}",
            "{\"prompt\": \"x\", \"output_tokens\": \"9\"}",
            "{\"prompt\": \"x\", \"output_tokens\": 0}",
            "{\"messages\": []}",
            "{\"messages\": [{\"role\": 1, \"content\": \"x\"}]}",
        ] {
            file.extend_from_slice(line.as_bytes());
            file.push(b'\n');
        }
        file.extend_from_slice(b"{\"prompt\": \"\xff\xfe\"}\n");
        let huge = "y".repeat(MAX_LINE_BYTES + 10);
        file.extend_from_slice(format!("{{\"prompt\": \"{huge}\"}}\n").as_bytes());
        let big = "z".repeat(MAX_ROW_BYTES + 1);
        file.extend_from_slice(format!("{{\"prompt\": \"{big}\"}}\n").as_bytes());
        file.extend_from_slice(b"{\"prompt\": \"fine\"}\n");
        let out = rows(&file);
        assert_eq!(out.len(), 16, "{out:?}");
        assert!(
            out[..13]
                .iter()
                .all(|r| matches!(r, RowOutcome::Invalid(_)))
        );
        assert_eq!(out[13], RowOutcome::TooLarge);
        assert_eq!(out[14], RowOutcome::TooLarge);
        assert!(matches!(out[15], RowOutcome::Row(_)));
    }

    #[test]
    fn capped_lines() {
        let mut reader = std::io::BufReader::with_capacity(3, &b"abcdef\nab\nabcd"[..]);
        let mut line = Vec::new();
        assert_eq!(
            read_line_capped(&mut reader, &mut line, 4).unwrap(),
            Some(false)
        );
        assert_eq!(
            read_line_capped(&mut reader, &mut line, 4).unwrap(),
            Some(true)
        );
        assert_eq!(line, b"ab");
        assert_eq!(
            read_line_capped(&mut reader, &mut line, 4).unwrap(),
            Some(true)
        );
        assert_eq!(line, b"abcd");
        assert_eq!(read_line_capped(&mut reader, &mut line, 4).unwrap(), None);
    }
}
