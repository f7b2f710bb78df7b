//! `cargo bench -p loadtest-prom --bench prom`: MB/s parsing the real vLLM 0.32 scrape
//! `metrics_after_load.txt` (goal ≥ 200 MB/s), and the canonical reduction on top.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loadtest_prom::{CanonicalSnapshot, Exposition};

const AFTER_LOAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/vllm-0.32.0/metrics_after_load.txt"
);

fn parse(c: &mut Criterion) {
    let body = std::fs::read(AFTER_LOAD).expect("fixture present");
    let mut group = c.benchmark_group("prom");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_metrics_after_load", |b| {
        b.iter(|| Exposition::parse(black_box(&body)).sample_count())
    });
    group.bench_function("snapshot_metrics_after_load", |b| {
        b.iter(|| {
            CanonicalSnapshot::parse(black_box(&body))
                .0
                .scalars
                .generation_tokens_total
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
