//! Batch sealing and opening of 16 KiB pages on one thread and on all threads of the machine.
//!
//! The point is scaling: a batch spreads over the rayon pool it runs in, so the all-threads figure should be
//! close to the one-thread figure times the core count (the goal on 2 cores is at least 1.9x). Each
//! configuration runs in its own pool (`ThreadPool::install`) so the thread count is exact. Run with
//! `cargo bench -p atrest-benches --bench batch`; `ATREST_BACKEND` pins the backend.

use std::collections::HashMap;
use std::sync::Arc;

use atrest_core::Xaes256Gcm;
use atrest_core::page::{OpenJob, Opener, PageContext, PageKind, PageSize, SealJob, Sealer};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Pages per batch: 4 MiB, about what one group commit of a busy store seals.
const PAGES: usize = 256;
const SIZE: PageSize = PageSize::KIB_16;

fn thread_counts() -> Vec<usize> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    if all > 1 { vec![1, all] } else { vec![1] }
}

fn batch(c: &mut Criterion) {
    let key = Arc::new(Xaes256Gcm::try_new(&[7u8; 32]).expect("key"));
    let sealer = Sealer::with_key(Arc::clone(&key), 1).expect("sealer");
    let opener = Opener::new(HashMap::from([(1u32, Arc::clone(&key))]));
    let bodies: Vec<Vec<u8>> = (0..PAGES).map(|i| vec![i as u8; SIZE.capacity()]).collect();
    let mut pages: Vec<Vec<u8>> = vec![vec![0u8; SIZE.bytes()]; PAGES];
    let ctxs: Vec<PageContext<'static>> = (0..PAGES as u64).map(|i| PageContext::new(1, i)).collect();

    let mut group = c.benchmark_group(format!("batch_seal_16k_x{PAGES}/{}", key.backend()));
    group.throughput(Throughput::Bytes((PAGES * SIZE.bytes()) as u64));
    for threads in thread_counts() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        group.bench_function(BenchmarkId::new("seal", format!("{threads}-threads")), |b| {
            b.iter(|| {
                pool.install(|| {
                    let mut jobs: Vec<SealJob<'_>> = pages
                        .iter_mut()
                        .zip(bodies.iter().zip(&ctxs))
                        .map(|(page, (body, ctx))| SealJob::new(PageKind::Data, *ctx, body, page))
                        .collect();
                    sealer.seal_batch(&mut jobs).expect("seal batch");
                })
            })
        });
    }
    group.finish();

    // Open sealed copies; each iteration restores the ciphertext first (a memcpy, also timed, same in both).
    let sealed = pages.clone();
    let mut group = c.benchmark_group(format!("batch_open_16k_x{PAGES}/{}", key.backend()));
    group.throughput(Throughput::Bytes((PAGES * SIZE.bytes()) as u64));
    for threads in thread_counts() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        group.bench_function(BenchmarkId::new("open", format!("{threads}-threads")), |b| {
            b.iter(|| {
                pool.install(|| {
                    for (page, src) in pages.iter_mut().zip(&sealed) {
                        page.copy_from_slice(src);
                    }
                    let mut jobs: Vec<OpenJob<'_>> =
                        pages.iter_mut().zip(&ctxs).map(|(page, ctx)| OpenJob::new(page, *ctx)).collect();
                    let results = opener.open_batch(&mut jobs);
                    assert!(results.iter().all(Result::is_ok));
                })
            })
        });
    }
    group.finish();
}

/// One 16 KiB page through `Sealer::seal` next to a bare AES-256-GCM seal of the same body under the same
/// kind of subkey: the difference is the page codec's own cost (header, AAD, nonce assignment, copy).
fn single_page_overhead(c: &mut Criterion) {
    let key = Arc::new(Xaes256Gcm::try_new(&[7u8; 32]).expect("key"));
    let sealer = Sealer::with_key(Arc::clone(&key), 1).expect("sealer");
    let subkey = key.subkey(&[3u8; 12]);
    let body = vec![0x5au8; SIZE.capacity()];
    let mut page = vec![0u8; SIZE.bytes()];
    let mut out = vec![0u8; SIZE.capacity()];
    let ctx = PageContext::new(1, 2);
    let mut group = c.benchmark_group(format!("page_16k/{}", key.backend()));
    group.throughput(Throughput::Bytes(SIZE.capacity() as u64));
    group.bench_function("sealer_seal", |b| {
        b.iter(|| sealer.seal(PageKind::Data, &ctx, &body, &mut page).expect("seal"))
    });
    group.bench_function("bare_aes256gcm_seal_into", |b| {
        b.iter(|| subkey.seal_into(&[0u8; 12], &[0u8; 52], &body, &mut out).expect("seal"))
    });
    // The same bare seal writing where a page's body lies (offset 36, not 16-byte aligned).
    group.bench_function("bare_aes256gcm_seal_into_page_body", |b| {
        b.iter(|| subkey.seal_into(&[0u8; 12], &[0u8; 52], &body, &mut page[SIZE.body_range()]).expect("seal"))
    });
    group.finish();
}

criterion_group!(benches, batch, single_page_overhead);
criterion_main!(benches);
