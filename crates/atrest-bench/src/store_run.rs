//! The full store under load: durable bulk ingest, random gets and a cold full scan.
//!
//! Ingest goes through the public API a bulk loader would use: `put_many` batches of about
//! [`BATCH_DOC_BYTES`] from [`WRITERS`] concurrent client threads, each call durable (fdatasync) on return.
//! Two writers let one batch be parsed while the group commit of the other is sealed and synced, as
//! concurrent clients would. Documents come from a pool generated before timing starts (and cycled with fresh
//! ids past the pool), so generating JSON is not charged to the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atrest_core::page::PageSize;
use atrest_store::{IndexPolicy, Store, StoreConfig};
use serde::Serialize;

use crate::cpu::{mb_s, process_cpu, thread_cpu};
use crate::docgen::{Rng, doc_id};
use crate::error::BenchError;

/// Document bytes per `put_many` call (one group commit's worth, the store's default commit write size).
pub const BATCH_DOC_BYTES: usize = 8 << 20;
/// Concurrent client threads during ingest.
pub const WRITERS: usize = 2;
/// The collection the benchmark writes.
pub const COLLECTION: &str = "bench";

/// Pre-generated documents, cycled with fresh ids.
#[derive(Debug)]
pub struct DocPool {
    docs: Vec<Vec<u8>>,
}

impl DocPool {
    /// A pool of about `bytes` document bytes (at least one document).
    pub fn with_bytes(seed: u64, bytes: u64) -> DocPool {
        let mut docs = Vec::new();
        let mut total = 0u64;
        let mut n = 0;
        while total < bytes.max(1) {
            let d = crate::docgen::document(seed, n);
            total += d.len() as u64;
            docs.push(d);
            n += 1;
        }
        DocPool { docs }
    }

    /// Document `n` (the pool cycles).
    pub fn doc(&self, n: u64) -> &[u8] {
        &self.docs[(n % self.docs.len() as u64) as usize]
    }

    /// The distinct documents.
    pub fn docs(&self) -> &[Vec<u8>] {
        &self.docs
    }
}

/// A durable bulk ingest.
#[derive(Debug, Clone, Serialize)]
pub struct IngestResult {
    /// `"none"` or `"all"` (every scalar).
    pub indexing: String,
    /// Documents written.
    pub docs: u64,
    /// Their bytes (JSON as given).
    pub doc_bytes: u64,
    /// Growth of the data directory (sealed pages, index files, manifest).
    pub bytes_written: u64,
    /// Wall time of the ingest.
    pub seconds: f64,
    /// CPU time of the whole process during ingest, less the clients' own batch preparation.
    pub cpu_seconds: f64,
    /// The part of the process's CPU time spent in the kernel (system time: write path, syncs, page faults),
    /// 10 ms resolution; `None` where `/proc/self/stat` is unavailable.
    pub system_cpu_seconds: Option<f64>,
    /// What `threads` cores would ingest (bytes written) if the process had them to itself: bytes written
    /// per CPU-second times the store's threads. The CPU-bound rate, independent of other load.
    pub cpu_bound_mb_s: f64,
    /// Document bytes per second.
    pub doc_mb_s: f64,
    /// Bytes written per second.
    pub written_mb_s: f64,
    /// `put_many` calls (each durable on return).
    pub batches: u64,
    /// Concurrent client threads.
    pub writers: usize,
    /// Where the store's commit leader spent the ingest's wall time.
    pub leader: LeaderTimes,
}

/// The commit leader's steps during an ingest (from [`atrest_store::CommitTimes`]), in seconds of wall time.
#[derive(Debug, Clone, Serialize)]
pub struct LeaderTimes {
    /// Commits led.
    pub commits: u64,
    /// Packing, sealing and handing pages to the disk.
    pub pack_seal_s: f64,
    /// Waiting for writes in flight.
    pub write_wait_s: f64,
    /// `fdatasync`.
    pub sync_s: f64,
    /// Applying records to the buffers.
    pub apply_s: f64,
    /// The sum of those over the ingest's wall time: 1.0 means commits never stopped, so the one leader was
    /// the limit.
    pub busy: f64,
}

/// Random point reads.
#[derive(Debug, Clone, Serialize)]
pub struct GetResult {
    /// Gets done (each checked against the document written).
    pub gets: u64,
    /// Gets per second, one thread.
    pub gets_per_s: f64,
    /// Mean latency, microseconds.
    pub mean_us: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// State of the page cache: the store's files were just written, so this measures the store's CPU path.
    pub cache: String,
}

/// A full scan of the collection.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    /// Documents read.
    pub docs: u64,
    /// Their bytes.
    pub doc_bytes: u64,
    /// Size of the data directory read through.
    pub stored_bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// CPU time of the process during the scan.
    pub cpu_seconds: f64,
    /// Document bytes per second.
    pub doc_mb_s: f64,
    /// Stored bytes per second (comparable with the disk's sequential read).
    pub stored_mb_s: f64,
    /// How the cache was made cold.
    pub cache: String,
}

/// How one store run is set up.
#[derive(Debug, Clone)]
pub struct RunSetup {
    /// A fresh, empty data directory.
    pub data_dir: PathBuf,
    /// Where the key file lives (outside `data_dir`).
    pub key_dir: PathBuf,
    /// Threads for sealing and parsing (0: one per core).
    pub threads: usize,
    /// The store's page size.
    pub page_size: PageSize,
}

/// An open store of one run.
#[derive(Debug)]
pub struct BenchStore {
    /// The store.
    pub store: Store,
    /// Its data directory.
    pub data_dir: PathBuf,
}

fn store_err(stage: &str) -> impl FnOnce(atrest_store::StoreError) -> BenchError + '_ {
    move |source| BenchError::Store { stage: stage.to_owned(), source }
}

/// Creates the store of a run, with the collection under `policy`.
///
/// # Errors
/// [`BenchError::Keys`] or [`BenchError::Store`] if the key file, keyring or store cannot be created.
pub fn create(setup: &RunSetup, policy: IndexPolicy) -> Result<BenchStore, BenchError> {
    std::fs::create_dir_all(&setup.data_dir).map_err(|source| BenchError::Io {
        what: "create the data directory",
        path: setup.data_dir.clone(),
        source,
    })?;
    let keys = crate::keys::embedded(&setup.data_dir, &setup.key_dir)?;
    let storage = Arc::new(atrest_store::FsStorage::new(&setup.data_dir));
    let mut cfg = StoreConfig::new(storage, keys);
    cfg.page_size = setup.page_size;
    cfg.threads = setup.threads;
    let store = Store::create(cfg).map_err(store_err("creating the store"))?;
    store.create_collection(COLLECTION, policy).map_err(store_err("creating the collection"))?;
    Ok(BenchStore { store, data_dir: setup.data_dir.clone() })
}

/// Total length of the files under `dir`.
///
/// # Errors
/// [`BenchError::Io`] naming the directory or file that could not be listed.
pub fn dir_bytes(dir: &Path) -> Result<u64, BenchError> {
    let err = |source| BenchError::Io { what: "measure the data directory", path: dir.to_owned(), source };
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let meta = entry.metadata().map_err(err)?;
        total += if meta.is_dir() { dir_bytes(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

/// Writes documents `0..` from `pool` until `size` document bytes were written, in durable batches.
/// `progress` is called with the document bytes written so far.
///
/// # Errors
/// [`BenchError::Store`] if a batch fails.
pub fn ingest(
    bench: &BenchStore,
    pool: &DocPool,
    size: u64,
    indexing: &str,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<IngestResult, BenchError> {
    // Cut the stream into batches up front (cheap: lengths only), so writers take them in order.
    let mut batches: Vec<std::ops::Range<u64>> = Vec::new();
    let (mut n, mut total) = (0u64, 0u64);
    while total < size.max(1) {
        let start = n;
        let mut bytes = 0usize;
        while bytes < BATCH_DOC_BYTES && total < size.max(1) {
            let len = pool.doc(n).len();
            bytes += len;
            total += len as u64;
            n += 1;
        }
        batches.push(start..n);
    }
    let before = dir_bytes(&bench.data_dir)?;
    let commits0 = bench.store.stats().map_err(store_err("reading the store's statistics"))?.commits;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let written = std::sync::atomic::AtomicU64::new(0);
    let stage = format!("ingesting with indexing {indexing}");
    let cpu0 = process_cpu();
    let split0 = crate::cpu::user_system();
    let start = Instant::now();
    let prep: Result<Vec<Duration>, BenchError> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WRITERS)
            .map(|_| {
                s.spawn(|| {
                    let mut prep = Duration::ZERO;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(range) = batches.get(i) else { return Ok(prep) };
                        let t = thread_cpu();
                        let docs: Vec<(String, Vec<u8>)> =
                            range.clone().map(|n| (doc_id(n), pool.doc(n).to_vec())).collect();
                        let bytes: u64 = docs.iter().map(|(_, d)| d.len() as u64).sum();
                        prep += thread_cpu() - t;
                        bench.store.put_many(COLLECTION, docs).map_err(store_err(&stage))?;
                        progress(written.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed) + bytes);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(BenchError::Worker("an ingest client thread panicked".into()))))
            .collect()
    });
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu0;
    let system = match (split0, crate::cpu::user_system()) {
        (Some((_, s0)), Some((_, s1))) => Some(s1.saturating_sub(s0).as_secs_f64()),
        _ => None,
    };
    let prep: Duration = prep?.into_iter().sum();
    let bytes_written = dir_bytes(&bench.data_dir)?.saturating_sub(before);
    let c = bench.store.stats().map_err(store_err("reading the store's statistics"))?.commits;
    let secs = |a: u64, b: u64| a.saturating_sub(b) as f64 / 1e6;
    let mut leader = LeaderTimes {
        commits: c.commits.saturating_sub(commits0.commits),
        pack_seal_s: secs(c.pack_seal_us, commits0.pack_seal_us),
        write_wait_s: secs(c.write_wait_us, commits0.write_wait_us),
        sync_s: secs(c.sync_us, commits0.sync_us),
        apply_s: secs(c.apply_us, commits0.apply_us),
        busy: 0.0,
    };
    leader.busy =
        (leader.pack_seal_s + leader.write_wait_s + leader.sync_s + leader.apply_s) / elapsed.as_secs_f64().max(1e-9);
    Ok(IngestResult {
        indexing: indexing.to_owned(),
        docs: n,
        doc_bytes: total,
        bytes_written,
        seconds: elapsed.as_secs_f64(),
        cpu_seconds: cpu.saturating_sub(prep).as_secs_f64(),
        system_cpu_seconds: system,
        cpu_bound_mb_s: mb_s(bytes_written, cpu.saturating_sub(prep)) * threads as f64,
        doc_mb_s: mb_s(total, elapsed),
        written_mb_s: mb_s(bytes_written, elapsed),
        batches: batches.len() as u64,
        writers: WRITERS,
        leader,
    })
}

/// Threads that issue random gets at once.
pub const GET_THREADS: usize = 2;

/// `count` random gets (at most `budget` of wall time) of documents `0..docs` from [`GET_THREADS`] threads,
/// each checked.
///
/// # Errors
/// [`BenchError::Store`] on a failed get; [`BenchError::Mismatch`] if a document is missing or differs.
pub fn random_gets(
    bench: &BenchStore,
    pool: &DocPool,
    docs: u64,
    count: u64,
    budget: Duration,
) -> Result<GetResult, BenchError> {
    let start = Instant::now();
    let per_thread = count.max(1).div_ceil(GET_THREADS as u64);
    let results: Vec<Result<Vec<Duration>, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..GET_THREADS as u64)
            .map(|t| {
                scope.spawn(move || {
                    let mut rng = Rng::new(0x6E75 ^ t);
                    let mut lat = Vec::with_capacity(per_thread as usize);
                    while (lat.len() as u64) < per_thread && (lat.is_empty() || start.elapsed() < budget) {
                        let n = rng.below(docs.max(1));
                        let t = Instant::now();
                        let got = bench.store.get(COLLECTION, &doc_id(n)).map_err(store_err("getting documents"))?;
                        lat.push(t.elapsed());
                        match got {
                            Some(doc) if doc == pool.doc(n) => {}
                            Some(_) => {
                                return Err(BenchError::Mismatch(format!(
                                    "document {} differs from what was written",
                                    doc_id(n)
                                )));
                            }
                            None => return Err(BenchError::Mismatch(format!("document {} is missing", doc_id(n)))),
                        }
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(BenchError::Worker("a get thread panicked".into()))))
            .collect()
    });
    let elapsed = start.elapsed();
    let mut lat = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| us(lat[((lat.len() - 1) as f64 * p).round() as usize]);
    Ok(GetResult {
        gets: lat.len() as u64,
        gets_per_s: lat.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        mean_us: us(lat.iter().sum::<Duration>()) / lat.len() as f64,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        cache: format!("warm (after a full scan), {GET_THREADS} threads"),
    })
}

/// Drops the cached pages of every file in the data directory, then reads the whole collection.
///
/// # Errors
/// [`BenchError::Store`] on a failed read; [`BenchError::Mismatch`] if the count differs from `expect_docs`.
pub fn full_scan(bench: &BenchStore, expect_docs: u64) -> Result<ScanResult, BenchError> {
    let stored_bytes = dir_bytes(&bench.data_dir)?;
    let cold = drop_dir_cache(&bench.data_dir);
    let cpu0 = process_cpu();
    let start = Instant::now();
    let (mut docs, mut doc_bytes) = (0u64, 0u64);
    for item in bench.store.scan(COLLECTION) {
        let (_, doc) = item.map_err(store_err("scanning"))?;
        docs += 1;
        doc_bytes += doc.len() as u64;
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu() - cpu0;
    if docs != expect_docs {
        return Err(BenchError::Mismatch(format!("scan returned {docs} documents, {expect_docs} were written")));
    }
    Ok(ScanResult {
        docs,
        doc_bytes,
        stored_bytes,
        seconds: elapsed.as_secs_f64(),
        cpu_seconds: cpu.as_secs_f64(),
        doc_mb_s: mb_s(doc_bytes, elapsed),
        stored_mb_s: mb_s(stored_bytes, elapsed),
        cache: match cold {
            Ok(()) => "cold (fadvise DONTNEED on every file)".into(),
            Err(e) => format!("warm (could not drop the cache: {e})"),
        },
    })
}

fn drop_dir_cache(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let f = std::fs::File::open(entry.path())?;
            crate::disk::drop_cache(&f)?;
        }
    }
    Ok(())
}
