//! Per-line parse errors: a bad line is reported with its number and reason, and the caller
//! decides whether to skip it and go on.

use serde::Serialize;

/// Why one line of an exposition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineErrorKind {
    /// The line is not valid UTF-8.
    #[error("the line is not valid UTF-8")]
    InvalidUtf8,
    /// A metric name was expected (`[a-zA-Z_:][a-zA-Z0-9_:]*` or a quoted string).
    #[error("expected a metric name")]
    ExpectedMetricName,
    /// A label name was expected (`[a-zA-Z_][a-zA-Z0-9_]*` or a quoted string).
    #[error("expected a label name")]
    ExpectedLabelName,
    /// A label name was not followed by `=`.
    #[error("expected '=' after label name")]
    ExpectedEquals,
    /// A label value did not start with `"`.
    #[error("expected '\"' to open the label value")]
    ExpectedQuote,
    /// A quoted string ran to the end of the line.
    #[error("quoted string is not closed by '\"'")]
    UnterminatedString,
    /// Inside `{…}` something other than `,` or `}` followed a label.
    #[error("expected ',' or '}}' after a label")]
    ExpectedCommaOrBrace,
    /// A character that cannot start or continue the token expected here.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    /// The sample value is missing.
    #[error("expected a sample value")]
    MissingValue,
    /// The sample value is not a number.
    #[error("sample value {0:?} is not a number")]
    InvalidValue(String),
    /// The timestamp is not a number.
    #[error("timestamp {0:?} is not a number")]
    InvalidTimestamp(String),
    /// Text follows the value (and timestamp) that is neither a timestamp nor an exemplar.
    #[error("unexpected text {0:?} after the value")]
    TrailingText(String),
    /// An exemplar (`# {…} value [timestamp]`) is malformed.
    #[error("malformed exemplar: {0}")]
    InvalidExemplar(Box<LineErrorKind>),
    /// `# TYPE` names a type this parser does not know.
    #[error("unknown metric type {0:?}")]
    UnknownType(String),
    /// `# HELP`, `# TYPE` or `# UNIT` without the parts it needs.
    #[error("incomplete {0} line")]
    IncompleteMetadata(&'static str),
    /// A second `# HELP`, `# TYPE` or `# UNIT` for the same family.
    #[error("duplicate {0} for family {1:?}")]
    DuplicateMetadata(&'static str, String),
    /// `# TYPE` came after samples of its family.
    #[error("TYPE for {0:?} after its samples")]
    TypeAfterSamples(String),
    /// Anything after `# EOF`.
    #[error("content after # EOF")]
    AfterEof,
}

/// One bad line: where it is (1-based line, 1-based byte column) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct LineError {
    /// 1-based line number (lines end at `\n`).
    pub line: usize,
    /// 1-based byte column where the problem was found.
    pub column: usize,
    /// What is wrong.
    pub kind: LineErrorKind,
}

impl Serialize for LineError {
    /// Serialized as `{"line": N, "message": "column C: reason"}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("LineError", 2)?;
        s.serialize_field("line", &self.line)?;
        s.serialize_field("message", &format!("column {}: {}", self.column, self.kind))?;
        s.end()
    }
}

/// Shortens a bad token for an error message (at most 40 characters).
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
