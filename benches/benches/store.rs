//! The full encrypted store under criterion: durable bulk ingest (indexing off and the default indexing),
//! random gets, and a full scan, on generated JSON documents of 1 to 4 KiB (the `atrest bench` generator).
//!
//! The store lives in a fresh directory under `$TMPDIR` (set `TMPDIR` to put it on the disk under test) with
//! the embedded default keys (a local key file outside the data directory). Every ingest iteration writes a
//! new batch of documents with fresh ids and is durable (fdatasync) on return, so the store grows while the
//! bench runs; gets and the scan use a store filled once up front. `atrest bench` is the report of record
//! (it also measures the disk itself); this bench tracks the store's paths over time.
//! Run with `cargo bench -p atrest-benches --bench store`.

use std::cell::Cell;
use std::time::Duration;

use atrest_bench::docgen::{Rng, doc_id};
use atrest_bench::store_run::{self, BenchStore, COLLECTION, DocPool, RunSetup};
use atrest_core::page::PageSize;
use atrest_store::IndexPolicy;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Documents per ingest batch (about 2.5 MB of JSON: one group commit).
const BATCH_DOCS: u64 = 1024;
/// Documents in the store that gets and scans read.
const READ_DOCS: u64 = 8192;

fn open_store(root: &std::path::Path, name: &str, policy: IndexPolicy) -> BenchStore {
    let setup = RunSetup {
        data_dir: root.join(name),
        key_dir: root.join(format!("{name}-keys")),
        threads: 0,
        page_size: PageSize::KIB_16,
    };
    store_run::create(&setup, policy).expect("create the store")
}

fn batch(pool: &DocPool, first: u64) -> Vec<(String, Vec<u8>)> {
    (first..first + BATCH_DOCS).map(|n| (doc_id(n), pool.doc(n).to_vec())).collect()
}

fn ingest(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("tempdir");
    let pool = DocPool::with_bytes(1, 16 << 20);
    let bytes: u64 = (0..BATCH_DOCS).map(|n| pool.doc(n).len() as u64).sum();
    let mut group = c.benchmark_group("store_ingest");
    group.throughput(Throughput::Bytes(bytes)).sample_size(20).measurement_time(Duration::from_secs(8));
    for (name, policy) in [("indexing-none", IndexPolicy::None), ("indexing-all", IndexPolicy::All)] {
        let store = open_store(root.path(), name, policy);
        let next = Cell::new(0u64);
        group.bench_function(BenchmarkId::new("put_many_durable", name), |b| {
            b.iter_batched(
                || {
                    let first = next.get();
                    next.set(first + BATCH_DOCS);
                    batch(&pool, first)
                },
                |docs| store.store.put_many(COLLECTION, docs).expect("put_many"),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn filled(root: &std::path::Path, pool: &DocPool) -> BenchStore {
    let store = open_store(root, "read", IndexPolicy::None);
    for first in (0..READ_DOCS).step_by(BATCH_DOCS as usize) {
        store.store.put_many(COLLECTION, batch(pool, first)).expect("fill");
    }
    store
}

fn reads(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("tempdir");
    let pool = DocPool::with_bytes(2, 8 << 20);
    let store = filled(root.path(), &pool);
    let mut rng = Rng::new(3);
    let mut group = c.benchmark_group("store_read");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_random", |b| {
        b.iter(|| {
            let n = rng.below(READ_DOCS);
            store.store.get(COLLECTION, &doc_id(n)).expect("get").expect("present")
        })
    });
    let bytes: u64 = (0..READ_DOCS).map(|n| pool.doc(n).len() as u64).sum();
    group.throughput(Throughput::Bytes(bytes)).sample_size(10);
    group.bench_function("scan_full_warm", |b| {
        b.iter(|| {
            let docs = store.store.scan(COLLECTION).map(|d| d.expect("scan").1.len() as u64).sum::<u64>();
            assert_eq!(docs, bytes);
        })
    });
    group.finish();
}

criterion_group!(benches, ingest, reads);
criterion_main!(benches);
