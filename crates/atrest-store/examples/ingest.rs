//! Rough durable-ingest throughput on a real directory (for development; `atrest bench` is the benchmark).
//!
//! `cargo run --release -p atrest-store --example ingest -- DIR [DOCS] [DOC_BYTES] [BATCH] [POLICY all|none]`

use atrest_store::{FsStorage, IndexPolicy, MemoryKeys, Store, StoreConfig};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: ingest DIR [DOCS] [DOC_BYTES] [BATCH] [all|none]");
    let docs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let size: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let batch: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let policy = if args.get(5).map(String::as_str) == Some("all") { IndexPolicy::All } else { IndexPolicy::None };
    std::fs::create_dir_all(dir).unwrap();
    let cfg = StoreConfig::new(Arc::new(FsStorage::new(dir)), Arc::new(MemoryKeys::new()));
    let store = Store::create(cfg.clone()).unwrap();
    store.create_collection("bench", policy).unwrap();
    let pad = "x".repeat(size.saturating_sub(40));
    let start = Instant::now();
    let mut bytes = 0;
    for chunk in (0..docs).collect::<Vec<_>>().chunks(batch) {
        let v: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|i| (format!("doc-{i:09}"), format!(r#"{{"i":{i},"pad":"{pad}"}}"#).into_bytes()))
            .collect();
        bytes += v.iter().map(|d| d.1.len()).sum::<usize>();
        store.put_many("bench", v).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{docs} docs, {:.1} MiB of documents in {secs:.2}s: {:.1} MiB/s durable",
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / secs
    );
    let t = Instant::now();
    store.close().unwrap();
    println!("close (index checkpoint): {:.2}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let reopened = Store::open(cfg).unwrap();
    println!("reopen: {:.2}s for {} documents", t.elapsed().as_secs_f64(), reopened.count("bench").unwrap());
}
