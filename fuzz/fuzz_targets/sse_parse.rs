//! Fuzz target: the SSE parser on any bytes, fed whole and split at two offsets taken from the
//! input, must never panic and must deliver the same events either way; every event goes
//! through the chunk decoder too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadtest_client::decode::decode_chunk;
use loadtest_client::sse::SseParser;

/// Every event (data, type, id) or error text, then whether `finish` discarded a partial event.
fn parse(pieces: &[&[u8]], max_event_bytes: usize) -> (Vec<String>, bool) {
    let mut parser = SseParser::with_max_event_bytes(max_event_bytes);
    let mut seen = Vec::new();
    let mut push = |event: Result<loadtest_client::sse::SseEvent<'_>, _>| match event {
        Ok(e) => {
            let _ = decode_chunk(e.data());
            seen.push(format!("{}|{}|{}", e.event_type(), e.last_event_id(), e.data()));
        }
        Err(err) => seen.push(format!("error: {err}")),
    };
    for piece in pieces {
        parser.feed(piece, &mut push);
    }
    let outcome = parser.finish(&mut push);
    (seen, outcome.discarded_partial_event)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // The first two bytes choose the split points and the size cap; the rest is the stream.
    let (control, stream) = data.split_at(2);
    let a = usize::from(control[0]) * stream.len() / 256;
    let b = a + (usize::from(control[1]) * (stream.len() - a)) / 256;
    let cap = if control[0] & 1 == 0 { 64 } else { 1 << 20 };
    let whole = parse(&[stream], cap);
    let split = parse(&[&stream[..a], &[], &stream[a..b], &stream[b..]], cap);
    assert_eq!(whole, split, "split at {a} and {b} changed the events");
});
