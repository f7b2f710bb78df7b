//! `cargo bench -p loadtest-client --bench sse`: SSE parse events/s, chunk decode events/s,
//! and the whole per-frame path (parse + decode + timing) over a real vLLM capture.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loadtest_client::decode::{ChunkKind, decode_chunk};
use loadtest_client::measure::{NoGapSink, StreamMeasurer};
use loadtest_client::sse::SseParser;

fn fixture(rel: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/").to_owned() + rel;
    std::fs::read(&path).unwrap()
}

/// The capture's events, one `data: …\n\n` block each (as vLLM writes one per HTTP chunk).
fn events(body: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(body).unwrap();
    text.split_inclusive("\n\n")
        .map(|e| e.as_bytes().to_vec())
        .collect()
}

fn bench(c: &mut Criterion) {
    let body = fixture("vllm-0.32.0/sse_chat_usage.txt");
    let per_event = events(&body);
    let n_events = per_event.len() as u64;

    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Elements(n_events));
    group.bench_function("parse/one_read", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut n = 0usize;
            parser.feed(black_box(&body), |e| n += e.map_or(0, |e| e.data().len()));
            n
        })
    });
    group.bench_function("parse/one_read_per_event", |b| {
        b.iter(|| {
            let mut parser = SseParser::new();
            let mut n = 0usize;
            for e in &per_event {
                parser.feed(black_box(e), |e| n += e.map_or(0, |e| e.data().len()));
            }
            n
        })
    });

    let mut datas = Vec::new();
    SseParser::new().feed(&body, |e| datas.push(e.unwrap().data().to_owned()));
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut tokens = 0usize;
            for d in &datas {
                if let Ok(ChunkKind::Chunk(c)) = decode_chunk(black_box(d)) {
                    tokens += usize::from(c.is_token);
                }
            }
            tokens
        })
    });
    group.bench_function("measure/parse+decode+timing", |b| {
        let t0 = Instant::now();
        b.iter(|| {
            let mut m = StreamMeasurer::new(t0);
            for e in &per_event {
                m.feed(black_box(e), t0, &mut NoGapSink);
            }
            m.finish(t0).token_events
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
