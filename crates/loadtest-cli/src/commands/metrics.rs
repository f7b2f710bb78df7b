//! `vllm-loadtest metrics <FILE|URL> [--json]` and `metrics --diff <BEFORE> <AFTER> [--json]`:
//! read a Prometheus `/metrics` scrape (or two) and show the canonical metrics.

mod fetch;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use loadtest_client::MAX_GET_BODY_BYTES;
use loadtest_prom::{Exposition, ScrapeSummary};

use crate::output;

/// How long a URL fetch may take, connect to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How many characters of a body that is not a scrape are quoted in the error.
const BODY_START_CHARS: usize = 48;
/// How many characters of a server's `Content-Type` are quoted.
const CONTENT_TYPE_CHARS: usize = 64;

/// Arguments of `vllm-loadtest metrics`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Bodies are read up to 64 MiB; a URL has 10 s from connect to last byte, and any status but \
2xx is an error.

A body in which no line is a Prometheus sample (JSON such as /v1/models, an HTML page, an \
error text) is an error: exit 2 with one line naming the source, its Content-Type (for a URL) \
and the first bytes of the body. A valid but empty exposition (an empty body, or only \
comments, # HELP / # TYPE lines and blank lines) prints a warning on stderr, then the table \
(or JSON) with every metric absent, and exits 0. Both apply to each --diff scrape.

A histogram's mean is exact (_sum / _count). Its percentiles are the bucket holding each: \
`≤ 300 ms`, `300–500 ms`, `> 7680 s` (the +Inf bucket), with an estimate only inside a narrow \
bucket (lower edge > 0, upper / lower ≤ 1.5): `≈49 ms (40–60 ms)`. In --json each is \
{\"lo\", \"hi\", \"est\"} in seconds (hi null in the +Inf bucket, est null without an \
estimate).")]
pub(crate) struct Args {
    /// Scrape to read: a file, or an `http://` or `https://` URL such as
    /// `http://localhost:8000/metrics`.
    #[arg(
        value_name = "FILE|URL",
        required_unless_present = "diff",
        conflicts_with = "diff"
    )]
    source: Option<Source>,
    /// Compare two scrapes (files or URLs): counters and histograms as AFTER − BEFORE (a
    /// counter that went down counts from 0), gauges as in AFTER.
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    diff: Option<Vec<Source>>,
    /// Print `{"server", "families", "samples", "errors", "canonical"}` as JSON.
    #[arg(long)]
    json: bool,
}

/// Where a scrape comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A file holding a scrape body.
    File(PathBuf),
    /// An `http://` or `https://` URL to GET.
    Url(String),
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            Ok(Self::Url(s.to_owned()))
        } else if s.is_empty() {
            Err("empty path (expected a file or an http:// or https:// URL)".into())
        } else {
            Ok(Self::File(PathBuf::from(s)))
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "scrape file {}", path.display()),
            Self::Url(url) => f.write_str(url),
        }
    }
}

/// A scrape body as read, with the server's `Content-Type` for a URL.
struct Loaded {
    body: Vec<u8>,
    content_type: Option<String>,
}

impl Source {
    fn load(&self) -> anyhow::Result<Loaded> {
        match self {
            Self::File(path) => {
                let read = || -> std::io::Result<Vec<u8>> {
                    let mut body = Vec::new();
                    std::fs::File::open(path)?
                        .take(MAX_GET_BODY_BYTES as u64 + 1)
                        .read_to_end(&mut body)?;
                    Ok(body)
                };
                let body = read().with_context(|| format!("cannot read {self}"))?;
                if body.len() > MAX_GET_BODY_BYTES {
                    bail!(
                        "{self} is larger than {} MiB: not a /metrics scrape",
                        MAX_GET_BODY_BYTES >> 20
                    );
                }
                Ok(Loaded {
                    body,
                    content_type: None,
                })
            }
            Self::Url(url) => {
                let fetched = fetch::http_get(url, FETCH_TIMEOUT)?;
                Ok(Loaded {
                    body: fetched.body,
                    content_type: fetched.content_type,
                })
            }
        }
    }

    /// Reads and parses the scrape. A body in which no line is a sample but some line failed
    /// to parse is not a scrape: an error. One that is only comments, metadata and blank lines
    /// (or empty) is a valid empty exposition: a warning.
    fn parse<'a>(&self, loaded: &'a Loaded) -> anyhow::Result<Exposition<'a>> {
        let exposition = Exposition::parse(&loaded.body);
        if exposition.sample_count() > 0 {
            return Ok(exposition);
        }
        if exposition.errors.is_empty() {
            output::note(&format!(
                "warning: {self} holds no samples: an empty exposition ({} bytes of only \
                 comments, metadata or blank lines); every metric is absent",
                loaded.body.len()
            ));
            return Ok(exposition);
        }
        let content_type = match (self, &loaded.content_type) {
            (Self::File(_), _) => String::new(),
            (Self::Url(_), Some(ct)) => {
                format!(
                    "Content-Type: {}; ",
                    sanitize(ct.as_bytes(), CONTENT_TYPE_CHARS)
                )
            }
            (Self::Url(_), None) => "no Content-Type; ".to_owned(),
        };
        let start = sanitize(&loaded.body, BODY_START_CHARS);
        let start = if start.is_empty() {
            "the body is only control characters".to_owned()
        } else {
            format!("the body starts: {start}")
        };
        bail!(
            "{self} holds no Prometheus samples ({content_type}{start}): expected a /metrics \
             scrape in the Prometheus text format"
        )
    }
}

/// The first `max_chars` characters of untrusted bytes, safe to print
/// ([`loadtest_client::sanitize_text`]; invalid UTF-8 as U+FFFD).
fn sanitize(bytes: &[u8], max_chars: usize) -> String {
    // Enough bytes for `max_chars` characters and one more (so that a cut shows).
    let head = &bytes[..bytes
        .len()
        .min(max_chars.saturating_add(1).saturating_mul(4))];
    let mut out = loadtest_client::sanitize_text(&String::from_utf8_lossy(head), max_chars);
    if head.len() < bytes.len() && !out.ends_with('…') {
        out.push('…');
    }
    out
}

/// Runs the subcommand.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (summary, is_diff) = match (args.source, args.diff) {
        (Some(source), None) => {
            let body = source.load()?;
            (ScrapeSummary::of(&source.parse(&body)?), false)
        }
        (None, Some(pair)) => {
            let [before, after]: [Source; 2] = pair
                .try_into()
                .map_err(|_| anyhow::anyhow!("--diff takes exactly two scrapes"))?;
            let before_body = before.load()?;
            let before_exposition = before.parse(&before_body)?;
            let after_body = after.load()?;
            let after_exposition = after.parse(&after_body)?;
            let summary = ScrapeSummary::diff(&before_exposition, &after_exposition);
            (summary, true)
        }
        _ => anyhow::bail!("give one scrape, or --diff BEFORE AFTER"),
    };
    if args.json {
        output::line(&summary.to_json_pretty());
    } else {
        for line in summary.table_lines(is_diff) {
            output::line(&line);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_quotes_untrusted_bytes_safely() {
        assert_eq!(sanitize(b"", 8), "");
        assert_eq!(sanitize(b"  {\"a\":\n\t1}", 48), "{\"a\": 1}");
        assert_eq!(sanitize(b"\x1b[31mred\x07", 48), "[31mred");
        assert_eq!(sanitize(b"abcdefghij", 4), "abcd…");
        assert_eq!(sanitize(b"ab cd", 4), "ab c…");
        assert_eq!(sanitize("é\u{202e}x".as_bytes(), 16), "é\\u{202e}x");
        assert_eq!(sanitize(b"\xff\xfeok", 8), "\u{fffd}\u{fffd}ok");
        let long = vec![b'a'; 1000];
        assert_eq!(sanitize(&long, 3), "aaa…");
        let mut spaced = b"a".to_vec();
        spaced.extend([b' '; 500]);
        spaced.push(b'b');
        assert_eq!(sanitize(&spaced, 48), "a…");
    }

    #[test]
    fn urls_of_both_schemes_are_urls() {
        for s in [
            "http://h/metrics",
            "HTTPS://h/metrics",
            "https://127.0.0.1:1/metrics",
        ] {
            assert!(matches!(s.parse::<Source>(), Ok(Source::Url(_))), "{s}");
        }
        assert!(matches!(
            "metrics.txt".parse::<Source>(),
            Ok(Source::File(_))
        ));
        assert!("".parse::<Source>().is_err());
    }
}
