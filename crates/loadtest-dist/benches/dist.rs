//! `cargo bench -p loadtest-dist --bench dist`: draws per second for each kind of spec.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loadtest_dist::Sampler;

fn draws(c: &mut Criterion) {
    let mut group = c.benchmark_group("dist");
    const BATCH: u64 = 1_000;
    group.throughput(Throughput::Elements(BATCH));
    for spec in [
        "128",
        "uniform:1:4096",
        "normal:256:64:32:1024",
        "lognormal:6.0:0.5:128:4096",
    ] {
        let sampler = Sampler::new(spec.parse().unwrap(), 42);
        group.bench_function(spec, |b| {
            b.iter(|| {
                (0..BATCH)
                    .map(|i| sampler.sample(black_box(i)))
                    .sum::<u64>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, draws);
criterion_main!(benches);
