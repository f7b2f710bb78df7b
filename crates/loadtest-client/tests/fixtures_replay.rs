//! Every real SSE capture replayed byte for byte through a loopback hyper server: whole, one
//! byte per write, and split at random offsets (proptest); and, without the network, split at
//! every offset. Each must give the same events, token count, usage and finish reason as an
//! independent reading of the file, with the role chunk not counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Expected, Reply, expected, serve, sse_fixtures};
use loadtest_client::measure::{NoGapSink, StreamMeasurer};
use loadtest_client::{Client, ClientConfig, Endpoint, Prompt, RequestRecord, StreamRequest};
use loadtest_run::Status;
use proptest::prelude::*;

fn request() -> StreamRequest {
    StreamRequest::new(Endpoint::Chat, Arc::from("tiny-llama"), Prompt::text("hi"))
        .unwrap()
        .with_max_tokens(Some(16))
}

fn check(name: &str, record: &RequestRecord, want: &Expected) {
    assert_eq!(record.status, Status::Ok, "{name}: {record:?}");
    assert_eq!(
        record.token_events, want.token_events,
        "{name}: token events"
    );
    assert_eq!(record.usage.prompt_tokens, want.prompt_tokens, "{name}");
    assert_eq!(
        record.usage.completion_tokens, want.completion_tokens,
        "{name}"
    );
    assert_eq!(record.usage.cached_tokens, want.cached_tokens, "{name}");
    assert_eq!(record.finish_reason, want.finish_reason, "{name}");
    assert_eq!(
        record.gaps.count,
        want.token_events.saturating_sub(1),
        "{name}"
    );
    assert!(record.ttft.is_some() && record.e2e.is_some(), "{name}");
    assert!(
        record.ttft <= record.e2e && record.e2e <= Some(record.total),
        "{name}"
    );
    assert_eq!(record.http_status, Some(200), "{name}");
    assert!(record.error.is_none(), "{name}");
}

/// Sanity of the oracle itself on files whose content the fixtures README describes.
#[test]
fn oracle_matches_fixture_readme() {
    let all = sse_fixtures();
    let get = |n: &str| expected(&all.iter().find(|(name, _)| name.ends_with(n)).unwrap().1);
    let usage = get("vllm-0.32.0/sse_chat_usage.txt");
    assert_eq!(usage.token_events, 16);
    assert_eq!(usage.role_chunks, 1);
    assert_eq!(usage.completion_tokens, Some(16));
    assert_eq!(usage.prompt_tokens, Some(27));
    let llama = get("llamacpp-0c1e57098/sse_completions_no_usage.txt");
    assert_eq!(llama.cached_tokens, Some(8));
    assert_eq!(get("sse_chat_max_tokens_1.txt").token_events, 1);
    assert_eq!(get("sse_chat_no_usage.txt").completion_tokens, None);
}

/// In-process, no network: every fixture split in two at every byte offset.
#[test]
fn every_split_offset_gives_the_same_record() {
    for (name, body) in sse_fixtures() {
        let want = expected(&body);
        let t0 = Instant::now();
        for cut in 0..=body.len() {
            let mut m = StreamMeasurer::new(t0);
            m.feed(&body[..cut], t0 + Duration::from_millis(1), &mut NoGapSink);
            m.feed(&body[cut..], t0 + Duration::from_millis(2), &mut NoGapSink);
            let mut record = m.finish(t0 + Duration::from_millis(3));
            record.http_status = Some(200);
            check(&format!("{name} cut at {cut}"), &record, &want);
        }
    }
}

async fn replay(pieces: Vec<Vec<u8>>) -> RequestRecord {
    let server = serve(move |_| Reply::sse_pieces(pieces.clone())).await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let mut gaps = 0u64;
    let record = client
        .stream(&request(), &mut |_g: Duration| gaps += 1)
        .await;
    assert_eq!(gaps, record.gaps.count, "every gap reaches the sink");
    record
}

#[tokio::test]
async fn replay_whole() {
    for (name, body) in sse_fixtures() {
        let want = expected(&body);
        let record = replay(vec![body]).await;
        check(name, &record, &want);
    }
}

#[tokio::test]
async fn replay_one_byte_per_write() {
    for (name, body) in sse_fixtures() {
        let want = expected(&body);
        let pieces = body.iter().map(|b| vec![*b]).collect();
        let record = replay(pieces).await;
        check(name, &record, &want);
    }
}

#[tokio::test]
async fn replay_real_http_chunks() {
    let raw = common::fixture("vllm-0.32.0/sse_chat_usage_raw_chunked.txt");
    let chunks = common::dechunk(&raw);
    let body: Vec<u8> = chunks.concat();
    let record = replay(chunks).await;
    check("raw_chunked", &record, &expected(&body));
    assert_eq!(record.usage.completion_tokens, Some(8));
}

fn split_at(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for c in cuts {
        pieces.push(body[at..c].to_vec());
        at = c;
    }
    pieces.push(body[at..].to_vec());
    pieces.retain(|p| !p.is_empty());
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn replay_split_at_random_offsets(cuts in proptest::collection::vec(any::<usize>(), 1..24)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for (name, body) in sse_fixtures() {
            let want = expected(&body);
            let record = rt.block_on(replay(split_at(&body, &cuts)));
            check(name, &record, &want);
        }
    }

    /// In-process: any number of splits, any offsets.
    #[test]
    fn measurer_split_anywhere(cuts in proptest::collection::vec(any::<usize>(), 0..64)) {
        let t0 = Instant::now();
        for (name, body) in sse_fixtures() {
            let want = expected(&body);
            let mut m = StreamMeasurer::new(t0);
            for piece in split_at(&body, &cuts) {
                m.feed(&piece, t0, &mut NoGapSink);
            }
            let mut record = m.finish(t0);
            record.http_status = Some(200);
            check(name, &record, &want);
        }
    }
}
