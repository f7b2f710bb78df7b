//! Reading a trace file row by row: bounded lines, each row checked, timestamps non-negative
//! and non-decreasing; every error names the line. Nothing in the file can make it panic.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::{MAX_INPUT_TOKENS, MAX_LINE_BYTES, MAX_OUTPUT_TOKENS, MAX_TIMESTAMP_S};
use super::{TraceError, TraceFormat};
use crate::dataset::jsonl::read_line_capped;
use crate::dataset::read::skip_bom;

/// One replayable row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceRow {
    /// The row's timestamp in the file, seconds.
    pub(crate) timestamp_s: f64,
    /// Prompt tokens.
    pub(crate) input_tokens: u64,
    /// Output tokens (`max_tokens`), at least 1.
    pub(crate) output_tokens: u64,
    /// Mooncake's block hashes (empty for BurstGPT).
    pub(crate) hash_ids: Vec<u64>,
}

/// The BurstGPT columns used, by position.
#[derive(Debug, Clone, Copy)]
struct Columns {
    count: usize,
    timestamp: usize,
    request: usize,
    response: usize,
}

/// Reads the rows of a trace in order.
pub(crate) struct RowReader<R> {
    reader: R,
    format: TraceFormat,
    path: PathBuf,
    line_no: u64,
    line: Vec<u8>,
    columns: Option<Columns>,
    last_timestamp_s: f64,
    /// Data rows read so far (blank lines and the header not counted).
    pub(crate) rows: u64,
    /// Rows skipped so far: no output (a BurstGPT failure, or `output_length` 0).
    pub(crate) skipped: u64,
}

impl<R: BufRead> RowReader<R> {
    /// A reader of `reader` (the file at `path`, named in errors); reads the CSV header.
    pub(crate) fn new(mut reader: R, format: TraceFormat, path: &Path) -> Result<Self, TraceError> {
        skip_bom(&mut reader).map_err(|source| io(path, source))?;
        let mut this = RowReader {
            reader,
            format,
            path: path.to_owned(),
            line_no: 0,
            line: Vec::new(),
            columns: None,
            last_timestamp_s: 0.0,
            rows: 0,
            skipped: 0,
        };
        if format == TraceFormat::BurstGpt {
            let columns = match this.next_line()? {
                Some(line) => header(line),
                None => Err("the file is empty (expected the header Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type)".to_owned()),
            };
            this.columns = Some(columns.map_err(|reason| this.error(reason))?);
        }
        Ok(this)
    }

    /// The next replayable row; `None` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<TraceRow>, TraceError> {
        loop {
            let (format, columns) = (self.format, self.columns);
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            let parsed = match (format, columns) {
                (TraceFormat::BurstGpt, Some(columns)) => burstgpt_row(line, columns),
                _ => mooncake_row(line),
            };
            let row = parsed.map_err(|reason| self.error(reason))?;
            self.rows += 1;
            if row.timestamp_s < self.last_timestamp_s {
                return Err(self.error(format!(
                    "timestamp {} is before the previous row's {} (rows must be in time order)",
                    row.timestamp_s, self.last_timestamp_s
                )));
            }
            self.last_timestamp_s = row.timestamp_s;
            if row.output_tokens == 0 {
                self.skipped += 1;
                continue;
            }
            return Ok(Some(row));
        }
    }

    /// The reader, once the rows are read.
    pub(crate) fn into_inner(self) -> R {
        self.reader
    }

    /// The next non-blank line, without its line end.
    fn next_line(&mut self) -> Result<Option<&[u8]>, TraceError> {
        loop {
            self.line_no += 1;
            let complete = read_line_capped(&mut self.reader, &mut self.line, MAX_LINE_BYTES)
                .map_err(|source| io(&self.path, source))?;
            match complete {
                None => return Ok(None),
                Some(false) => {
                    return Err(self.error(format!("longer than {MAX_LINE_BYTES} bytes")));
                }
                Some(true) => {}
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if !self.line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(&self.line));
            }
        }
    }

    fn error(&self, reason: String) -> TraceError {
        TraceError::Row {
            path: self.path.clone(),
            line: self.line_no,
            reason,
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> TraceError {
    TraceError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(serde::Deserialize)]
struct MooncakeRow {
    timestamp: f64,
    input_length: u64,
    output_length: u64,
    #[serde(default)]
    hash_ids: Option<Vec<u64>>,
}

/// A Mooncake line: `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": […]}`.
fn mooncake_row(line: &[u8]) -> Result<TraceRow, String> {
    let row: MooncakeRow = serde_json::from_slice(line).map_err(|e| {
        format!(
            "not a Mooncake row ({e}; expected {{\"timestamp\": ms, \"input_length\": n, \"output_length\": n, \"hash_ids\": [..]}})"
        )
    })?;
    Ok(TraceRow {
        timestamp_s: timestamp(row.timestamp / 1000.0, row.timestamp, "timestamp")?,
        input_tokens: bounded(row.input_length, MAX_INPUT_TOKENS, "input_length")?,
        output_tokens: bounded(row.output_length, MAX_OUTPUT_TOKENS, "output_length")?,
        hash_ids: row.hash_ids.unwrap_or_default(),
    })
}

/// The BurstGPT header: the positions of the columns used.
fn header(line: &[u8]) -> Result<Columns, String> {
    let fields = csv_fields(line)?;
    let find = |name: &str| {
        fields
            .iter()
            .position(|f| f.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "the header has no {name:?} column (expected Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type)"
                )
            })
    };
    Ok(Columns {
        count: fields.len(),
        timestamp: find("Timestamp")?,
        request: find("Request tokens")?,
        response: find("Response tokens")?,
    })
}

/// A BurstGPT row.
fn burstgpt_row(line: &[u8], columns: Columns) -> Result<TraceRow, String> {
    let fields = csv_fields(line)?;
    if fields.len() != columns.count {
        return Err(format!(
            "{} fields, the header has {}",
            fields.len(),
            columns.count
        ));
    }
    let field = |at: usize| fields.get(at).map_or("", |f| f.trim());
    let ts_text = field(columns.timestamp);
    let ts = ts_text
        .parse::<f64>()
        .map_err(|_| format!("Timestamp {:?} is not a number", short(ts_text)))?;
    Ok(TraceRow {
        timestamp_s: timestamp(ts, ts, "Timestamp")?,
        input_tokens: bounded(
            count(field(columns.request), "Request tokens")?,
            MAX_INPUT_TOKENS,
            "Request tokens",
        )?,
        output_tokens: bounded(
            count(field(columns.response), "Response tokens")?,
            MAX_OUTPUT_TOKENS,
            "Response tokens",
        )?,
        hash_ids: Vec::new(),
    })
}

/// Splits a CSV line at its commas; a field may be quoted (`"a,b"`, `""` for a quote).
fn csv_fields(line: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not valid UTF-8".to_owned())?;
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".to_owned()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a quoted field".to_owned()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// A token count: a whole number >= 0 (`12` or `12.0`).
fn count(text: &str, what: &str) -> Result<u64, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 1e15 => Ok(x as u64),
        _ => Err(format!(
            "{what} {:?} is not a whole number >= 0",
            short(text)
        )),
    }
}

fn bounded(n: u64, max: u64, what: &str) -> Result<u64, String> {
    if n > max {
        Err(format!("{what} {n} is above {max}"))
    } else {
        Ok(n)
    }
}

/// `seconds` checked: finite, >= 0, at most [`MAX_TIMESTAMP_S`]; `given` is the file's value.
fn timestamp(seconds: f64, given: f64, what: &str) -> Result<f64, String> {
    if seconds.is_finite() && (0.0..=MAX_TIMESTAMP_S).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!(
            "{what} {given} is not a time >= 0 (and at most {MAX_TIMESTAMP_S} s)"
        ))
    }
}

/// At most 40 characters of `text`, for an error.
fn short(text: &str) -> String {
    loadtest_client::sanitize_error(&text.chars().take(40).collect::<String>())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn read(format: TraceFormat, text: &[u8]) -> Result<(Vec<TraceRow>, u64, u64), TraceError> {
        let reader = std::io::BufReader::with_capacity(5, text);
        let mut rows = RowReader::new(reader, format, Path::new("t"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next_row()? {
            out.push(row);
        }
        Ok((out, rows.rows, rows.skipped))
    }

    fn line_of(err: TraceError) -> (u64, String) {
        match err {
            TraceError::Row { line, reason, .. } => (line, reason),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn mooncake_rows() {
        let text = b"\xEF\xBB\xBF{\"timestamp\": 0, \"input_length\": 700, \"output_length\": 5, \"hash_ids\": [1, 2]}\n\n{\"timestamp\": 1500.5, \"input_length\": 3, \"output_length\": 0}\r\n{\"timestamp\": 1500.5, \"input_length\": 0, \"output_length\": 9, \"hash_ids\": null, \"extra\": 1}";
        let (rows, read_, skipped) = read(TraceFormat::Mooncake, text).unwrap();
        assert_eq!((read_, skipped), (3, 1));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].hash_ids, vec![1, 2]);
        assert_eq!((rows[0].input_tokens, rows[0].output_tokens), (700, 5));
        assert_eq!(rows[1].timestamp_s, 1.5005);
        assert!(rows[1].hash_ids.is_empty());
    }

    #[test]
    fn burstgpt_rows() {
        let text = b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n5,\"GPT,4\",1000,0,1000,API log\n7.25,GPT-4,20.0,3,23,API log\n";
        let (rows, read_, skipped) = read(TraceFormat::BurstGpt, text).unwrap();
        assert_eq!((read_, skipped), (3, 1));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].timestamp_s,
                rows[0].input_tokens,
                rows[0].output_tokens
            ),
            (5.0, 472, 18)
        );
        assert_eq!((rows[1].timestamp_s, rows[1].input_tokens), (7.25, 20));
    }

    #[test]
    fn hostile_rows_name_their_line() {
        let moon = |body: &str| line_of(read(TraceFormat::Mooncake, body.as_bytes()).unwrap_err());
        let ok = "{\"timestamp\": 10, \"input_length\": 1, \"output_length\": 1}\n";
        for (bad, want) in [
            ("{\"timestamp\": 10", "not a Mooncake row"),
            ("[1,2]", "not a Mooncake row"),
            (
                "{\"timestamp\": -1, \"input_length\": 1, \"output_length\": 1}",
                "not a time",
            ),
            (
                "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}",
                "before the previous",
            ),
            (
                "{\"timestamp\": 1e300, \"input_length\": 1, \"output_length\": 1}",
                "not a time",
            ),
            (
                "{\"timestamp\": 10, \"input_length\": -3, \"output_length\": 1}",
                "not a Mooncake row",
            ),
            (
                "{\"timestamp\": 10, \"input_length\": 99999999, \"output_length\": 1}",
                "above",
            ),
            ("{\"timestamp\": 10, \"output_length\": 1}", "input_length"),
            (
                "{\"timestamp\": 10, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [\"a\"]}",
                "not a Mooncake row",
            ),
            ("\u{fffd}\u{0}\u{7}", "not a Mooncake row"),
        ] {
            let (line, reason) = moon(&format!("{ok}\n{bad}\n{ok}"));
            assert_eq!(line, 3, "{bad}: {reason}");
            assert!(reason.contains(want), "{bad}: {reason}");
        }
        let huge = format!("{ok}{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let (line, reason) = moon(&huge);
        assert_eq!(line, 2);
        assert!(reason.contains("longer than"), "{reason}");
        let invalid_utf8 = [ok.as_bytes(), b"{\"timestamp\": \xff}\n"].concat();
        assert_eq!(
            line_of(read(TraceFormat::Mooncake, &invalid_utf8).unwrap_err()).0,
            2
        );

        let csv = |body: &str| line_of(read(TraceFormat::BurstGpt, body.as_bytes()).unwrap_err());
        let head = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n";
        for (bad, want) in [
            ("1,m,2", "3 fields"),
            ("x,m,1,1,2,l", "not a number"),
            ("1,m,-1,1,0,l", "not a whole number"),
            ("1,m,1,1.5,2,l", "not a whole number"),
            ("-4,m,1,1,2,l", "not a time"),
            ("1,\"m,1,1,2,l", "not closed"),
            ("inf,m,1,1,2,l", "not a time"),
        ] {
            let (line, reason) = csv(&format!("{head}{bad}\n"));
            assert_eq!(line, 2, "{bad}: {reason}");
            assert!(reason.contains(want), "{bad}: {reason}");
        }
        let (line, reason) = csv(&format!("{head}9,m,1,1,2,l\n8,m,1,1,2,l\n"));
        assert_eq!(line, 3);
        assert!(reason.contains("before the previous"), "{reason}");
        let (line, reason) = csv("Time,Model,Request tokens\n1,2,3\n");
        assert_eq!(line, 1);
        assert!(reason.contains("\"Timestamp\""), "{reason}");
        assert!(csv("").1.contains("empty"));
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic either reader: rows or an error naming a line.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            for format in [TraceFormat::Mooncake, TraceFormat::BurstGpt] {
                let mut text = b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n".to_vec();
                if format == TraceFormat::Mooncake {
                    text.clear();
                }
                text.extend_from_slice(&bytes);
                let _ = read(format, &text);
            }
        }
    }
}
