//! The nom grammar of one line (text 0.0.4 and OpenMetrics 1.0 share it).
//!
//! Tokens are separated by any run of blanks or tabs (0.0.4) — OpenMetrics' single space is a
//! special case. A line is blank, a comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF` or any other
//! `#` text), or a sample:
//!
//! ```text
//! sample   = [name] [ws] ["{" [item {"," item} [","]] "}"] ws value [ws timestamp] [ws exemplar]
//! item     = (label-name | quoted) [ws] "=" [ws] quoted  |  quoted      (a quoted metric name)
//! exemplar = "#" [ws] "{" labels "}" ws value [ws timestamp] [anything, ignored]
//! ```

use std::borrow::Cow;

use nom::Parser;
use nom::bytes::complete::take_while;
use nom::character::complete::char;
use nom::combinator::opt;
use nom::error::{ErrorKind, ParseError};

use crate::error::{LineErrorKind, snippet};
use crate::lex::{
    BLANK, CLASS, Fault, Res, bare_label_name, expect, fail, is_blank, metric_name, parse_number,
    quoted, token, unescape, ws, ws1,
};
use crate::types::{Exemplar, Label, MetricType, Sample};

/// One classified line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// Empty or whitespace only.
    Blank,
    /// A `#` line that is not HELP, TYPE, UNIT or EOF.
    Comment(&'a str),
    /// `# HELP name text` (text with `\\`, `\n` and `\"` decoded).
    Help {
        /// Family name.
        name: Cow<'a, str>,
        /// Docstring; empty when the line has none.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// Family name.
        name: Cow<'a, str>,
        /// Declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// Family name.
        name: Cow<'a, str>,
        /// Unit; empty when the line has none.
        unit: &'a str,
    },
    /// `# EOF` (OpenMetrics end marker).
    Eof,
    /// A sample.
    Sample(Sample<'a>),
}

/// What `{…}` held: an optional quoted metric name and the labels.
type LabelBlock<'a> = (Option<Cow<'a, str>>, Vec<Label<'a>>);

/// `{` items `}`, with a trailing comma allowed and a quoted metric name allowed as an item.
fn label_block(input: &str) -> Res<'_, LabelBlock<'_>> {
    let Some(mut input) = input.strip_prefix('{') else {
        return Err(nom::Err::Error(Fault::from_error_kind(
            input,
            ErrorKind::Char,
        )));
    };
    let mut name = None;
    let mut labels = Vec::new();
    loop {
        let (rest, _) = ws(input)?;
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((after, (name, labels)));
        }
        let is_quoted = rest.starts_with('"');
        let (rest, label_name) = if is_quoted {
            quoted(rest)?
        } else {
            match bare_label_name(rest) {
                Ok((r, n)) => (r, Cow::Borrowed(n)),
                Err(_) => return fail(rest, LineErrorKind::ExpectedLabelName),
            }
        };
        let (rest, _) = ws(rest)?;
        let rest = if let Some(after) = rest.strip_prefix('=') {
            let (after, _) = ws(after)?;
            let (after, value) = quoted(after)?;
            labels.push(Label {
                name: label_name,
                value,
            });
            after
        } else if is_quoted && name.is_none() && labels.is_empty() {
            // A quoted metric name inside the braces (text 1.0.0 / UTF-8 names).
            name = Some(label_name);
            rest
        } else {
            return fail(rest, LineErrorKind::ExpectedEquals);
        };
        let (rest, _) = ws(rest)?;
        if let Some(after) = rest.strip_prefix(',') {
            input = after;
        } else if let Some(after) = rest.strip_prefix('}') {
            return Ok((after, (name, labels)));
        } else {
            return fail(rest, LineErrorKind::ExpectedCommaOrBrace);
        }
    }
}

fn value(input: &str) -> Res<'_, f64> {
    let (rest, tok) = match token(input) {
        Ok(ok) => ok,
        Err(_) => return fail(input, LineErrorKind::MissingValue),
    };
    match parse_number(tok) {
        Some(v) => Ok((rest, v)),
        None => fail(input, LineErrorKind::InvalidValue(snippet(tok))),
    }
}

fn timestamp(input: &str) -> Res<'_, f64> {
    let (rest, tok) = token(input)?;
    match parse_number(tok) {
        Some(v) if v.is_finite() => Ok((rest, v)),
        _ => fail(input, LineErrorKind::InvalidTimestamp(snippet(tok))),
    }
}

/// `# {labels} value [timestamp]`, anything after it ignored.
fn exemplar(input: &str) -> Res<'_, Exemplar<'_>> {
    let inner = |input| -> Res<'_, Exemplar<'_>> {
        let (input, _) = char('#')(input)?;
        let (input, _) = ws(input)?;
        let (input, (_, labels)) = label_block(input)?;
        let (input, _) = expect(ws1, LineErrorKind::MissingValue)(input)?;
        let (input, value) = value(input)?;
        let (input, ts) = opt((ws1, timestamp).map(|(_, t)| t)).parse(input)?;
        Ok((
            input,
            Exemplar {
                labels,
                value,
                timestamp: ts,
            },
        ))
    };
    match inner(input) {
        Err(nom::Err::Failure(f) | nom::Err::Error(f)) => {
            fail(f.rest, LineErrorKind::InvalidExemplar(Box::new(f.kind)))
        }
        ok => ok,
    }
}

fn sample(input: &str) -> Res<'_, Sample<'_>> {
    let (input, bare) = opt(metric_name).parse(input)?;
    let (after_ws, _) = ws(input)?;
    let (input, (quoted_name, labels)) = if after_ws.starts_with('{') {
        label_block(after_ws)?
    } else {
        (input, (None, Vec::new()))
    };
    let name = match (bare, quoted_name) {
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => return fail(input, LineErrorKind::ExpectedMetricName),
        (Some(_), Some(_)) => return fail(input, LineErrorKind::ExpectedEquals),
    };
    let (input, _) = match ws1(input) {
        Ok(ok) => ok,
        Err(_) => match input.chars().next() {
            None => return fail(input, LineErrorKind::MissingValue),
            Some(c) => return fail(input, LineErrorKind::UnexpectedChar(c)),
        },
    };
    let (input, value) = value(input)?;
    let mut sample = Sample {
        name,
        labels,
        value,
        timestamp: None,
        exemplar: None,
    };
    let (mut input, _) = ws(input)?;
    if !input.is_empty() && !input.starts_with('#') {
        let (rest, ts) = timestamp(input)?;
        sample.timestamp = Some(ts);
        input = ws(rest)?.0;
    }
    if input.starts_with('#') {
        let (rest, ex) = exemplar(input)?;
        sample.exemplar = Some(ex);
        input = rest;
        // Anything after the exemplar is ignored (reference §2.3 item 4).
        let _ = input;
        return Ok(("", sample));
    }
    if !input.is_empty() {
        return fail(input, LineErrorKind::TrailingText(snippet(input)));
    }
    Ok((input, sample))
}

fn metadata_name<'a>(input: &'a str, what: &'static str) -> Res<'a, Cow<'a, str>> {
    let (input, _) = expect(ws1, LineErrorKind::IncompleteMetadata(what))(input)?;
    expect(metric_name, LineErrorKind::IncompleteMetadata(what))(input)
}

/// Rest of a metadata line after the name: one separator, then the text (possibly empty).
fn metadata_text(input: &str) -> &str {
    let text = input.strip_prefix([' ', '\t']).unwrap_or(input);
    text.trim_start_matches(is_blank).trim_end_matches(is_blank)
}

fn comment(line: &str) -> Res<'_, Line<'_>> {
    let (input, _) = char('#')(line)?;
    let (input, _) = ws(input)?;
    let (after_kw, keyword) = take_while(|c: char| c.is_ascii_alphabetic())(input)?;
    match keyword {
        "HELP" if after_kw.is_empty() || after_kw.starts_with(is_blank) => {
            let (rest, name) = metadata_name(after_kw, "HELP")?;
            if !rest.is_empty() && !rest.starts_with(is_blank) {
                return fail(rest, LineErrorKind::IncompleteMetadata("HELP"));
            }
            let text = unescape(metadata_text(rest));
            Ok(("", Line::Help { name, text }))
        }
        "TYPE" if after_kw.is_empty() || after_kw.starts_with(is_blank) => {
            let (rest, name) = metadata_name(after_kw, "TYPE")?;
            let (rest, _) = expect(ws1, LineErrorKind::IncompleteMetadata("TYPE"))(rest)?;
            let (rest, word) = expect(token, LineErrorKind::IncompleteMetadata("TYPE"))(rest)?;
            let Some(kind) = MetricType::from_keyword(word) else {
                return fail(rest, LineErrorKind::UnknownType(snippet(word)));
            };
            let (rest, _) = ws(rest)?;
            if !rest.is_empty() {
                return fail(rest, LineErrorKind::TrailingText(snippet(rest)));
            }
            Ok(("", Line::Type { name, kind }))
        }
        "UNIT" if after_kw.is_empty() || after_kw.starts_with(is_blank) => {
            let (rest, name) = metadata_name(after_kw, "UNIT")?;
            Ok((
                "",
                Line::Unit {
                    name,
                    unit: metadata_text(rest),
                },
            ))
        }
        "EOF" if after_kw.trim_start_matches(is_blank).is_empty() => Ok(("", Line::Eof)),
        _ => Ok(("", Line::Comment(line))),
    }
}

/// Parses one line (without its `\n`; one trailing `\r` is tolerated). On error, returns the
/// 0-based byte offset where the problem was found and what it is.
pub fn parse_line(line: &str) -> Result<Line<'_>, (usize, LineErrorKind)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let bytes = line.as_bytes();
    let start = bytes
        .iter()
        .position(|&b| CLASS[usize::from(b)] != BLANK)
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| CLASS[usize::from(b)] != BLANK)
        .map_or(start, |i| i + 1);
    if start >= end {
        return Ok(Line::Blank);
    }
    // Blanks are ASCII: both cuts are on char boundaries.
    let trimmed = &line[start..];
    let content = &line[start..end];
    let result = if content.starts_with('#') {
        comment(content)
    } else {
        sample(content).map(|(rest, s)| (rest, Line::Sample(s)))
    };
    match result {
        Ok((_, parsed)) => Ok(parsed),
        Err(nom::Err::Error(f) | nom::Err::Failure(f)) => {
            let offset = line.len() - trimmed.len() + (content.len() - f.rest.len());
            Err((offset, f.kind))
        }
        Err(nom::Err::Incomplete(_)) => Err((line.len(), LineErrorKind::MissingValue)),
    }
}
