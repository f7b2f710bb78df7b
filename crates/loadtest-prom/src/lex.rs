//! Tokens of the line grammar: byte-class scanners, names, quoted strings with escapes and
//! numbers, as nom parsers (`IResult` functions with [`Fault`] as the error type).

use std::borrow::Cow;

use nom::IResult;
use nom::Parser;
use nom::error::{ErrorKind, ParseError};

use crate::error::LineErrorKind;

/// The nom error type of this grammar: where (the rest of the line) and why.
#[derive(Debug)]
pub(crate) struct Fault<'a> {
    pub(crate) rest: &'a str,
    pub(crate) kind: LineErrorKind,
}

impl<'a> ParseError<&'a str> for Fault<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        let kind = match input.chars().next() {
            Some(c) => LineErrorKind::UnexpectedChar(c),
            None => LineErrorKind::MissingValue,
        };
        Self { rest: input, kind }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type Res<'a, T> = IResult<&'a str, T, Fault<'a>>;

/// A non-recoverable error at `rest`.
pub(crate) fn fail<'a, T>(rest: &'a str, kind: LineErrorKind) -> Res<'a, T> {
    Err(nom::Err::Failure(Fault { rest, kind }))
}

/// Turns a recoverable nom error of `parser` into a failure with `kind` at the point it failed.
pub(crate) fn expect<'a, T>(
    mut parser: impl Parser<&'a str, Output = T, Error = Fault<'a>>,
    kind: LineErrorKind,
) -> impl FnMut(&'a str) -> Res<'a, T> {
    move |input: &'a str| match parser.parse(input) {
        Err(nom::Err::Error(e)) => fail(e.rest, kind.clone()),
        other => other,
    }
}

pub(crate) fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Byte classes for the hot scanners (ASCII only; any non-ASCII byte is in no class).
pub(crate) const BLANK: u8 = 1;
pub(crate) const LABEL: u8 = 2;
pub(crate) const METRIC: u8 = 4;

pub(crate) static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if c == b' ' || c == b'\t' {
            table[i] = BLANK;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            table[i] = LABEL | METRIC;
        } else if c == b':' {
            table[i] = METRIC;
        }
        i += 1;
    }
    table
};

/// Length of the longest prefix of `input` made of bytes in `class`.
#[inline]
pub(crate) fn class_len(input: &str, class: u8) -> usize {
    let bytes = input.as_bytes();
    let mut n = 0;
    while n < bytes.len() && CLASS[usize::from(bytes[n])] & class != 0 {
        n += 1;
    }
    n
}

/// nom parser: the longest prefix of bytes in `class` (at least `min` bytes). The classes
/// hold ASCII bytes only, so the split is always on a char boundary.
#[inline]
pub(crate) fn take_class(input: &str, class: u8, min: usize) -> Res<'_, &str> {
    let n = class_len(input, class);
    if n < min {
        return Err(nom::Err::Error(Fault::from_error_kind(
            input,
            ErrorKind::TakeWhile1,
        )));
    }
    Ok((&input[n..], &input[..n]))
}

#[inline]
pub(crate) fn ws(input: &str) -> Res<'_, &str> {
    take_class(input, BLANK, 0)
}

#[inline]
pub(crate) fn ws1(input: &str) -> Res<'_, &str> {
    take_class(input, BLANK, 1)
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn bare_metric_name(input: &str) -> Res<'_, &str> {
    let (rest, name) = take_class(input, METRIC, 1)?;
    if name.as_bytes()[0].is_ascii_digit() {
        return Err(nom::Err::Error(Fault::from_error_kind(
            input,
            ErrorKind::Alpha,
        )));
    }
    Ok((rest, name))
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn bare_label_name(input: &str) -> Res<'_, &str> {
    let (rest, name) = take_class(input, LABEL, 1)?;
    if name.as_bytes()[0].is_ascii_digit() {
        return Err(nom::Err::Error(Fault::from_error_kind(
            input,
            ErrorKind::Alpha,
        )));
    }
    Ok((rest, name))
}

/// Decodes `\\`, `\"` and `\n`; any other `\x` is kept as written.
pub(crate) fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// `"…"` with escapes; borrowed when there is nothing to decode.
pub(crate) fn quoted(input: &str) -> Res<'_, Cow<'_, str>> {
    let Some(body) = input.strip_prefix('"') else {
        return fail(input, LineErrorKind::ExpectedQuote);
    };
    let bytes = body.as_bytes();
    let mut at = 0;
    let mut escaped = false;
    loop {
        match memchr::memchr2(b'"', b'\\', &bytes[at..]) {
            None => return fail(input, LineErrorKind::UnterminatedString),
            Some(offset) => {
                let pos = at + offset;
                if bytes[pos] == b'"' {
                    let raw = &body[..pos];
                    let value = if escaped {
                        unescape(raw)
                    } else {
                        Cow::Borrowed(raw)
                    };
                    return Ok((&body[pos + 1..], value));
                }
                escaped = true;
                // Skip the backslash and the byte it escapes (ASCII for every escape we decode;
                // a multi-byte char after `\` is kept by `unescape`, and its continuation bytes
                // can never be `"` or `\`).
                at = pos + 2;
                if at > bytes.len() {
                    return fail(input, LineErrorKind::UnterminatedString);
                }
            }
        }
    }
}

pub(crate) fn metric_name(input: &str) -> Res<'_, Cow<'_, str>> {
    if input.starts_with('"') {
        quoted(input)
    } else {
        bare_metric_name(input).map(|(rest, name)| (rest, Cow::Borrowed(name)))
    }
}

/// Go `ParseFloat`-like: decimal with optional exponent, or `[+-]` `inf`/`infinity`/`nan` in
/// any case.
pub(crate) fn parse_number(token: &str) -> Option<f64> {
    token.parse::<f64>().ok()
}

/// nom parser: a run of non-blank characters (at least one).
pub(crate) fn token(input: &str) -> Res<'_, &str> {
    let n = memchr::memchr2(b' ', b'\t', input.as_bytes()).unwrap_or(input.len());
    if n == 0 {
        return Err(nom::Err::Error(Fault::from_error_kind(
            input,
            ErrorKind::TakeTill1,
        )));
    }
    Ok((&input[n..], &input[..n]))
}
