//! JSON validation under criterion: every contender of `json_common` on every document set, as throughput
//! (criterion prints GB/s). `json_peak` prints the same as one table of ratios.
//! Run with `cargo bench -p atrest-benches --bench json`.

mod json_common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn validate(c: &mut Criterion) {
    for set in json_common::sets() {
        let mut g = c.benchmark_group(format!("json/{}", set.name));
        g.throughput(Throughput::Bytes(set.bytes() as u64));
        g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500)).sample_size(20);
        for (name, f) in json_common::contenders() {
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| set.docs.iter().all(|d| f(black_box(d))))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, validate);
criterion_main!(benches);
