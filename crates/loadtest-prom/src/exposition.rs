//! A whole scrape body: lines split, each parsed, samples grouped into families.

use std::borrow::Cow;

use crate::error::{LineError, LineErrorKind};
use crate::grammar::{Line, parse_line};
use crate::types::{MetricType, Sample};

/// Which text format a body turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    /// Prometheus text 0.0.4 (or 1.0.0): no `# EOF` seen.
    PrometheusText,
    /// OpenMetrics 1.0: the body had a `# EOF` line.
    OpenMetrics,
}

/// One metric family: its metadata and samples, names and labels borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    /// Family name as in `# TYPE` (or the sample name for samples without metadata).
    pub name: Cow<'a, str>,
    /// Declared type ([`MetricType::Untyped`] when there was no `# TYPE`).
    pub kind: MetricType,
    /// `# HELP` text, if any and not empty.
    pub help: Option<Cow<'a, str>>,
    /// `# UNIT`, if any and not empty.
    pub unit: Option<&'a str>,
    /// Samples in the order written.
    pub samples: Vec<Sample<'a>>,
    typed: bool,
}

impl<'a> Family<'a> {
    fn new(name: Cow<'a, str>) -> Self {
        Self {
            name,
            kind: MetricType::Untyped,
            help: None,
            unit: None,
            samples: Vec::new(),
            typed: false,
        }
    }

    /// Whether a sample called `name` belongs to this family: the family name itself, or the
    /// family name plus one of its type's suffixes (§2.3 item 5). A histogram called
    /// `vllm:iteration_tokens_total` keeps its `_total`: its samples are `…_total_bucket`.
    #[must_use]
    pub fn owns_sample_name(&self, name: &str) -> bool {
        let family = self.name.as_ref();
        if name == family {
            return true;
        }
        name.strip_prefix(family)
            .is_some_and(|suffix| self.kind.suffixes().contains(&suffix))
    }
}

/// Iterator over the lines of a body: `(1-based line number, parsed line or error)`.
///
/// Lines end at `\n`; one `\r` before it is tolerated. A line that is not UTF-8 is an error
/// for that line only. Use this to stop at the first error; [`Exposition::parse`] skips them.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    rest: &'a [u8],
    /// `rest` as text when the whole body is UTF-8 (checked once, which is cheaper than line
    /// by line): lines are then sliced from it without being validated again.
    rest_text: Option<&'a str>,
    line: usize,
}

/// Iterates over the lines of `body`.
#[must_use]
pub fn lines(body: &[u8]) -> Lines<'_> {
    Lines {
        rest: body,
        rest_text: std::str::from_utf8(body).ok(),
        line: 0,
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, Result<Line<'a>, LineError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (raw, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(end) => (&self.rest[..end], &self.rest[end + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        self.line += 1;
        let line = self.line;
        // A `\n` is ASCII, so it always sits on a character boundary of valid text.
        let checked = self.rest_text.and_then(|text| {
            let line_text = text.get(..raw.len())?;
            self.rest_text = text.get(text.len() - rest.len()..);
            Some(line_text)
        });
        let text = match checked {
            Some(text) => Ok(text),
            None => {
                self.rest_text = None;
                std::str::from_utf8(raw)
            }
        };
        let parsed = match text {
            Ok(text) => parse_line(text).map_err(|(offset, kind)| LineError {
                line,
                column: offset + 1,
                kind,
            }),
            Err(e) => Err(LineError {
                line,
                column: e.valid_up_to() + 1,
                kind: LineErrorKind::InvalidUtf8,
            }),
        };
        Some((line, parsed))
    }
}

/// A parsed scrape body. Bad lines are skipped and listed in `errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposition<'a> {
    /// Families in the order they appear. A family whose lines are interleaved with another's
    /// (forbidden by both formats) appears once per run of lines.
    pub families: Vec<Family<'a>>,
    /// Every line that could not be read, in order.
    pub errors: Vec<LineError>,
    /// `OpenMetrics` if a `# EOF` line was seen.
    pub format: Format,
}

impl<'a> Exposition<'a> {
    /// Parses a body (UTF-8 expected; bad lines are reported, not fatal).
    #[must_use]
    pub fn parse(body: &'a [u8]) -> Self {
        let mut out = Self {
            families: Vec::new(),
            errors: Vec::new(),
            format: Format::PrometheusText,
        };
        for (line, parsed) in lines(body) {
            let parsed = match parsed {
                Ok(parsed) => parsed,
                Err(err) => {
                    out.errors.push(err);
                    continue;
                }
            };
            if let Err(kind) = out.add(parsed) {
                out.errors.push(LineError {
                    line,
                    column: 1,
                    kind,
                });
            }
        }
        out
    }

    /// Parses a body held as `&str`.
    #[must_use]
    pub fn parse_str(body: &'a str) -> Self {
        Self::parse(body.as_bytes())
    }

    /// Number of samples in all families.
    #[must_use]
    pub fn sample_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    /// All samples, family by family.
    pub fn samples(&self) -> impl Iterator<Item = &Sample<'a>> {
        self.families.iter().flat_map(|f| f.samples.iter())
    }

    /// The family named `name` (the first, if interleaved).
    #[must_use]
    pub fn family(&self, name: &str) -> Option<&Family<'a>> {
        self.families.iter().find(|f| f.name == name)
    }

    fn add(&mut self, line: Line<'a>) -> Result<(), LineErrorKind> {
        if self.format == Format::OpenMetrics && !matches!(line, Line::Blank) {
            return Err(LineErrorKind::AfterEof);
        }
        match line {
            Line::Blank | Line::Comment(_) => {}
            Line::Eof => self.format = Format::OpenMetrics,
            Line::Help { name, text } => {
                let family = self.family_for_metadata(name);
                if family.help.is_some() {
                    return Err(LineErrorKind::DuplicateMetadata(
                        "HELP",
                        family.name.to_string(),
                    ));
                }
                family.help = (!text.is_empty()).then_some(text);
            }
            Line::Type { name, kind } => {
                let family = self.family_for_metadata(name);
                if family.typed {
                    return Err(LineErrorKind::DuplicateMetadata(
                        "TYPE",
                        family.name.to_string(),
                    ));
                }
                if !family.samples.is_empty() {
                    return Err(LineErrorKind::TypeAfterSamples(family.name.to_string()));
                }
                family.kind = kind;
                family.typed = true;
            }
            Line::Unit { name, unit } => {
                let family = self.family_for_metadata(name);
                if family.unit.is_some() {
                    return Err(LineErrorKind::DuplicateMetadata(
                        "UNIT",
                        family.name.to_string(),
                    ));
                }
                family.unit = (!unit.is_empty()).then_some(unit);
            }
            Line::Sample(sample) => match self.families.last_mut() {
                Some(family) if family.owns_sample_name(&sample.name) => {
                    family.samples.push(sample);
                }
                _ => {
                    let mut family = Family::new(sample.name.clone());
                    family.samples.push(sample);
                    self.families.push(family);
                }
            },
        }
        Ok(())
    }

    /// The current family if it has this name, else a new one.
    fn family_for_metadata(&mut self, name: Cow<'a, str>) -> &mut Family<'a> {
        let reuse = self.families.last().is_some_and(|f| f.name == name);
        if !reuse {
            self.families.push(Family::new(name));
        }
        let last = self.families.len() - 1;
        &mut self.families[last]
    }
}
