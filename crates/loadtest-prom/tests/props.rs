//! Property tests: fixtures split at any line boundary (or any byte) and concatenated parse the
//! same; label values with every escapable character round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use loadtest_prom::{Exposition, Line, LineErrorKind, escape_label_value, lines, parse_line};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vllm-0.32.0/metrics_idle.txt"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vllm-0.32.0/metrics_after_load.txt"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/llamacpp-0c1e57098/metrics_idle.txt"
    ),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sglang.txt"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/llamacpp_nan.txt"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tgi.txt"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vllm_v0.txt"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile.txt"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/openmetrics.txt"),
];

fn fixture(i: usize) -> Vec<u8> {
    std::fs::read(FIXTURES[i]).expect("fixture present")
}

/// Samples as comparable text (Debug prints NaN as NaN, so NaN == NaN here).
fn samples(body: &[u8]) -> Vec<String> {
    Exposition::parse(body)
        .samples()
        .map(|s| format!("{s:?}"))
        .collect()
}

/// Errors as (line, column, kind), line numbers shifted by `offset`.
fn errors(body: &[u8], offset: usize) -> Vec<(usize, usize, LineErrorKind)> {
    Exposition::parse(body)
        .errors
        .into_iter()
        .map(|e| (e.line + offset, e.column, e.kind))
        .collect()
}

/// Byte offsets just after each `\n` (plus 0 and the end).
fn line_starts(body: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1),
    );
    if *starts.last().unwrap() != body.len() {
        starts.push(body.len());
    }
    starts
}

/// One line's parse, without its line number.
fn per_line(body: &[u8]) -> Vec<String> {
    lines(body)
        .map(|(_, r)| format!("{:?}", r.map_err(|e| (e.column, e.kind))))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn split_at_any_line_boundary_parses_the_same(which in 0..FIXTURES.len(), at in any::<prop::sample::Index>()) {
        let body = fixture(which);
        let starts = line_starts(&body);
        let cut = starts[at.index(starts.len())];
        let (a, b) = body.split_at(cut);
        let lines_in_a = a.iter().filter(|&&c| c == b'\n').count();
        let mut joined = samples(a);
        joined.extend(samples(b));
        prop_assert_eq!(joined, samples(&body));
        let mut errs = errors(a, 0);
        errs.extend(errors(b, lines_in_a));
        prop_assert_eq!(errs, errors(&body, 0));
    }

    #[test]
    fn concatenated_fixtures_parse_as_both(first in 0..FIXTURES.len() - 1, second in 0..FIXTURES.len()) {
        // The last fixture ends in `# EOF`: nothing may follow it, so it only comes second.
        let a = fixture(first);
        let b = fixture(second);
        let mut both = a.clone();
        both.extend_from_slice(&b);
        let mut expected = samples(&a);
        expected.extend(samples(&b));
        prop_assert_eq!(samples(&both), expected);
    }

    #[test]
    fn split_at_any_byte_never_panics_and_keeps_whole_lines(which in 0..FIXTURES.len(), at in any::<prop::sample::Index>()) {
        let body = fixture(which);
        let cut = at.index(body.len() + 1);
        let (a, b) = body.split_at(cut);
        let whole = per_line(&body);
        let (pa, pb) = (per_line(a), per_line(b));
        // Every line of A but the (possibly cut) last is a line of the whole.
        let full_a = a.iter().filter(|&&c| c == b'\n').count();
        prop_assert_eq!(&pa[..full_a], &whole[..full_a]);
        // Every line of B after its first (possibly cut) one is a line of the whole.
        if !pb.is_empty() {
            let skip = whole.len() - pb.len();
            prop_assert_eq!(&pb[1..], &whole[skip + 1..]);
        }
        let _ = Exposition::parse(a);
        let _ = Exposition::parse(b);
    }

    #[test]
    fn label_values_round_trip(
        values in prop::collection::vec(
            prop::collection::vec(
                prop::sample::select(vec!['\\', '"', '\n', ',', '}', '{', '#', '=', ' ', '\t', '\r', 'a', 'Z', '0', 'é', '☃', 'n']),
                0..24,
            ).prop_map(|chars| chars.into_iter().collect::<String>()),
            1..4,
        ),
        value in -1e12f64..1e12,
    ) {
        let labels: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("l{i}=\"{}\"", escape_label_value(v)))
            .collect();
        let text = format!("vllm:some_metric{{{}}} {value}", labels.join(","));
        prop_assert!(!text.contains('\n'));
        let Ok(Line::Sample(sample)) = parse_line(&text) else {
            return Err(TestCaseError::fail(format!("did not parse: {text:?}")));
        };
        prop_assert_eq!(sample.name.as_ref(), "vllm:some_metric");
        prop_assert_eq!(sample.value, value);
        let got: Vec<&str> = sample.labels.iter().map(|l| l.value.as_ref()).collect();
        let want: Vec<&str> = values.iter().map(String::as_str).collect();
        prop_assert_eq!(got, want);
        // And inside a whole exposition, with CRLF.
        let body = format!("# TYPE vllm:some_metric gauge\r\n{text}\r\n");
        let exp = Exposition::parse_str(&body);
        prop_assert!(exp.errors.is_empty());
        prop_assert_eq!(exp.families[0].samples[0].labels.len(), values.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let exp = Exposition::parse(&body);
        let snap = loadtest_prom::CanonicalSnapshot::from_exposition(&exp);
        let _ = snap.csv_values();
    }
}
