//! Rough durable-ingest throughput on a real directory (for development; `atrest bench` is the benchmark).
//!
//! `cargo run --release -p atrest-store --example ingest -- DIR [DOCS] [DOC_BYTES] [BATCH] [POLICY all|none]`
//! `[BATCH_KIB]` (the store's `batch_bytes`, in KiB; default the store's)
//!
//! Documents are generated before the clock starts, so the figure is the store's alone. The process CPU time
//! of the ingest (all threads, from `/proc/self/stat` on Linux) is printed too: on a shared machine it says
//! more than the wall time about what the store costs.

use atrest_store::{FsStorage, IndexPolicy, Store, StoreConfig};
use std::sync::Arc;
use std::time::Instant;

/// User and system CPU seconds of this process so far (zero where `/proc` is not there).
fn cpu_secs() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return (0.0, 0.0) };
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // Clock ticks are 100 per second on every Linux configuration in use.
    (f.get(11).copied().unwrap_or(0.0) / 100.0, f.get(12).copied().unwrap_or(0.0) / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: ingest DIR [DOCS] [DOC_BYTES] [BATCH] [all|none]");
    let docs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let size: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let batch: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let policy = if args.get(5).map(String::as_str) == Some("all") { IndexPolicy::All } else { IndexPolicy::None };
    std::fs::create_dir_all(dir).unwrap();
    let mut cfg = StoreConfig::new(Arc::new(FsStorage::new(dir)), Arc::new(atrest_keys::Keyring::ephemeral().unwrap()));
    if let Some(kib) = args.get(6).and_then(|s| s.parse::<usize>().ok()) {
        cfg.batch_bytes = kib << 10;
    }
    let store = Store::create(cfg.clone()).unwrap();
    store.create_collection("bench", policy).unwrap();
    let pad = "x".repeat(size.saturating_sub(40));
    let batches: Vec<Vec<(String, Vec<u8>)>> = (0..docs)
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(|chunk| {
            chunk
                .iter()
                .map(|i| (format!("doc-{i:09}"), format!(r#"{{"i":{i},"pad":"{pad}"}}"#).into_bytes()))
                .collect()
        })
        .collect();
    let bytes: usize = batches.iter().flatten().map(|d| d.1.len()).sum();
    let cpu0 = cpu_secs();
    let start = Instant::now();
    for v in batches {
        store.put_many("bench", v).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_secs();
    let mib = bytes as f64 / 1048576.0;
    let (user, sys) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    println!("{docs} docs, {mib:.1} MiB of documents in {secs:.2}s: {:.1} MiB/s durable", mib / secs);
    println!(
        "CPU {user:.2}s user + {sys:.2}s system: {:.1} ms per MiB, {:.1} MiB per CPU-second",
        (user + sys) * 1000.0 / mib,
        mib / (user + sys).max(0.01)
    );
    let t = Instant::now();
    store.close().unwrap();
    println!("close (index checkpoint): {:.2}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let reopened = Store::open(cfg).unwrap();
    println!("reopen: {:.2}s for {} documents", t.elapsed().as_secs_f64(), reopened.count("bench").unwrap());
}
