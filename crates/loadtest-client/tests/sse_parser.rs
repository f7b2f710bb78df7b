//! The SSE parser against the WHATWG framing rules, split at every offset, and hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use loadtest_client::sse::{SseError, SseParser};
use proptest::prelude::*;

/// `(type, data, id)` or the error, for easy comparison.
type Seen = Result<(String, String, String), SseError>;

fn parse_pieces(pieces: &[&[u8]]) -> Vec<Seen> {
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    let mut push = |e: Result<loadtest_client::sse::SseEvent<'_>, SseError>| {
        out.push(e.map(|e| {
            (
                e.event_type().to_owned(),
                e.data().to_owned(),
                e.last_event_id().to_owned(),
            )
        }))
    };
    for p in pieces {
        parser.feed(p, &mut push);
    }
    parser.finish(&mut push);
    out
}

fn parse(bytes: &[u8]) -> Vec<Seen> {
    parse_pieces(&[bytes])
}

fn ev(t: &str, d: &str, id: &str) -> Seen {
    Ok((t.to_owned(), d.to_owned(), id.to_owned()))
}

#[test]
fn line_endings_lf_crlf_cr() {
    let want = vec![
        ev("message", "a", ""),
        ev("message", "b", ""),
        ev("message", "c", ""),
    ];
    assert_eq!(parse(b"data: a\n\ndata: b\r\n\r\ndata: c\r\r"), want);
    // Mixed within one event.
    assert_eq!(
        parse(b"data: x\rdata: y\r\ndata: z\n\n"),
        vec![ev("message", "x\ny\nz", "")]
    );
}

#[test]
fn cr_at_end_of_read_then_lf_is_one_line_end() {
    // "data: a\r" | "\n" | "\r\n": exactly one event, no spurious blank line.
    assert_eq!(
        parse_pieces(&[b"data: a\r", b"\n", b"data: b\r", b"\n\r", b"\n"]),
        vec![ev("message", "a\nb", "")]
    );
    // An empty read between CR and LF changes nothing.
    assert_eq!(
        parse_pieces(&[b"data: a\r", b"", b"\n\r\n"]),
        vec![ev("message", "a", "")]
    );
    // A lone CR then a normal char: CR was the line end.
    assert_eq!(
        parse_pieces(&[b"data: a\r", b"\rdata: b\n\n"]),
        vec![ev("message", "a", ""), ev("message", "b", "")]
    );
}

#[test]
fn comments_fields_and_spaces() {
    let input = b": ping\n:another\nevent: update\nid: 7\nretry: 1500\ndata:no-space\ndata:  two-spaces\nunknown: x\ndata\n\n";
    let mut parser = SseParser::new();
    let mut out = Vec::new();
    parser.feed(input, |e| {
        let e = e.unwrap();
        out.push((
            e.event_type().to_owned(),
            e.data().to_owned(),
            e.last_event_id().to_owned(),
        ));
    });
    assert_eq!(
        out,
        vec![(
            "update".to_owned(),
            "no-space\n two-spaces\n".to_owned(),
            "7".to_owned()
        )]
    );
    assert_eq!(parser.retry(), Some(std::time::Duration::from_millis(1500)));
}

#[test]
fn id_persists_type_resets_and_bad_retry_ignored() {
    let out = parse(b"id: 1\nevent: a\ndata: x\n\ndata: y\n\nid: bad\0id\nretry: 12x\ndata: z\n\n");
    assert_eq!(
        out,
        vec![
            ev("a", "x", "1"),
            ev("message", "y", "1"),
            ev("message", "z", "1")
        ]
    );
}

#[test]
fn empty_data_is_not_dispatched() {
    assert_eq!(parse(b"event: a\n\n\n\n: c\n\n"), vec![]);
    assert_eq!(parse(b"data:\n\n"), vec![ev("message", "", "")]);
    assert_eq!(parse(b"data\ndata\n\n"), vec![ev("message", "\n", "")]);
}

#[test]
fn bom_is_stripped_once_even_when_split() {
    assert_eq!(
        parse(b"\xEF\xBB\xBFdata: a\n\n"),
        vec![ev("message", "a", "")]
    );
    assert_eq!(
        parse_pieces(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]),
        vec![ev("message", "a", "")]
    );
    // A second BOM is content (here, part of a field name that is ignored).
    assert_eq!(parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"), vec![]);
}

#[test]
fn utf8_split_across_reads_is_reassembled() {
    let text = "data: héllo — 世界 🎉\n\n".as_bytes();
    for cut in 0..=text.len() {
        assert_eq!(
            parse_pieces(&[&text[..cut], &text[cut..]]),
            vec![ev("message", "héllo — 世界 🎉", "")],
            "cut {cut}"
        );
    }
}

#[test]
fn invalid_utf8_is_an_error_for_that_event_only() {
    let out = parse(b"data: \xff\n\ndata: ok\n\n");
    assert!(matches!(
        out[0],
        Err(SseError::InvalidUtf8 { field: "data", .. })
    ));
    assert_eq!(out[1], ev("message", "ok", ""));
}

#[test]
fn unterminated_event_is_discarded_but_done_is_lenient() {
    assert_eq!(
        parse(b"data: {\"a\":1}\n\ndata: {\"b\""),
        vec![ev("message", "{\"a\":1}", "")]
    );
    assert_eq!(parse(b"data: x\n"), vec![]);
    assert_eq!(parse(b"data: [DONE]"), vec![ev("message", "[DONE]", "")]);
    assert_eq!(parse(b"data: [DONE]\n"), vec![ev("message", "[DONE]", "")]);
    let mut p = SseParser::new();
    p.feed(b"data: partial", |_| {});
    assert!(p.finish(|_| {}).discarded_partial_event);
}

#[test]
fn llamacpp_error_field() {
    assert_eq!(
        parse(b"error: {\"message\":\"boom\"}\n\n"),
        vec![ev("error", "{\"message\":\"boom\"}", "")]
    );
    assert_eq!(
        parse(b"event: error\ndata: x\n\n"),
        vec![ev("error", "x", "")]
    );
}

#[test]
fn oversized_event_is_dropped_with_an_error_and_parsing_goes_on() {
    let mut parser = SseParser::with_max_event_bytes(64);
    let mut out = Vec::new();
    let big = format!("data: {}\n\n", "x".repeat(200));
    for chunk in big.as_bytes().chunks(7) {
        parser.feed(chunk, |e| out.push(e.map(|e| e.data().to_owned())));
    }
    parser.feed(b"data: small\n\n", |e| {
        out.push(e.map(|e| e.data().to_owned()))
    });
    assert_eq!(
        out,
        vec![
            Err(SseError::TooLarge { limit: 64 }),
            Ok("small".to_owned())
        ]
    );
    // Many data lines that add up past the limit.
    let mut out = Vec::new();
    let many = "data: 0123456789\n".repeat(20) + "\n";
    parser.feed(many.as_bytes(), |e| {
        out.push(e.map(|e| e.data().to_owned()))
    });
    assert_eq!(out, vec![Err(SseError::TooLarge { limit: 64 })]);
}

/// Events of `body` through a parser limited to 64 bytes, fed in the given pieces.
fn parse_limited(pieces: &[&[u8]]) -> Vec<Seen> {
    let mut parser = SseParser::with_max_event_bytes(64);
    let mut out = Vec::new();
    let mut push = |e: Result<loadtest_client::sse::SseEvent<'_>, SseError>| {
        out.push(e.map(|e| {
            (
                e.event_type().to_owned(),
                e.data().to_owned(),
                String::new(),
            )
        }))
    };
    for p in pieces {
        parser.feed(p, &mut push);
    }
    parser.finish(&mut push);
    out
}

#[test]
fn an_overlong_line_is_dropped_wherever_the_reads_split() {
    // Found by the sse_parse fuzz target: a line over the limit was dropped when it spanned
    // two reads but parsed when it came in one (an unknown field, a comment, or `data:` whose
    // value alone fits).
    let long_field = format!("data{}\n\ndata: ok\n\n", "\u{10}".repeat(80));
    let long_comment = format!(": {}\n\ndata: ok\n\n", "c".repeat(80));
    let near_limit = format!("data: {}\n\ndata: ok\n\n", "x".repeat(60));
    for body in [long_field, long_comment, near_limit] {
        let body = body.as_bytes();
        let whole = parse_limited(&[body]);
        assert_eq!(
            whole,
            vec![
                Err(SseError::TooLarge { limit: 64 }),
                Ok(("message".to_owned(), "ok".to_owned(), String::new()))
            ]
        );
        for cut in 0..=body.len() {
            assert_eq!(
                parse_limited(&[&body[..cut], &body[cut..]]),
                whole,
                "cut {cut}"
            );
        }
    }
}

#[test]
fn every_fixture_split_at_every_offset() {
    for (name, body) in common::sse_fixtures() {
        let whole = parse(&body);
        assert!(whole.len() > 2, "{name}");
        assert!(whole.iter().all(Result::is_ok), "{name}");
        assert_eq!(
            whole.last().unwrap(),
            &ev("message", "[DONE]", ""),
            "{name}"
        );
        for cut in 0..=body.len() {
            assert_eq!(
                parse_pieces(&[&body[..cut], &body[cut..]]),
                whole,
                "{name} at {cut}"
            );
        }
    }
}

fn crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 2);
    for &b in body {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    out
}

proptest! {
    #[test]
    fn fixtures_with_any_line_endings_and_splits(
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        ending in 0u8..3,
    ) {
        for (name, body) in common::sse_fixtures() {
            let whole = parse(&body);
            let body = match ending {
                0 => body,
                1 => crlf(&body),
                _ => body.iter().map(|&b| if b == b'\n' { b'\r' } else { b }).collect(),
            };
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&body[at..c]);
                at = c;
            }
            pieces.push(&body[at..]);
            prop_assert_eq!(parse_pieces(&pieces), whole, "{}", name);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<usize>()) {
        let cut = cut % (bytes.len() + 1);
        let a = parse(&bytes);
        let b = parse_pieces(&[&bytes[..cut], &bytes[cut..]]);
        prop_assert_eq!(a, b);
    }
}
