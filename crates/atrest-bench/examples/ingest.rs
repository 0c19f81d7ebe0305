//! Only the store's durable ingest of `atrest bench`, for profiling one stage (`perf record` around it).
//!
//! `cargo run --release -p atrest-bench --example ingest -- DIR [SIZE_MIB] [all|none]`; with `GETS=1` in the
//! environment, random gets after the ingest; with `SCAN=1`, three cold full scans.

use atrest_bench::store_run::{self, DocPool, RunSetup};
use atrest_store::IndexPolicy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).ok_or("usage: ingest DIR [SIZE_MIB] [all|none]")?);
    let mib: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(256);
    let all = args.get(3).is_none_or(|p| p == "all");
    let setup = RunSetup {
        data_dir: dir.join("data"),
        key_dir: dir.join("keys"),
        threads: 0,
        page_size: atrest_core::page::PageSize::KIB_16,
    };
    let pool = DocPool::with_bytes(1, 64 << 20);
    let policy = if all { IndexPolicy::All } else { IndexPolicy::None };
    let bench = store_run::create(&setup, policy)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = std::time::Instant::now();
    let r = store_run::ingest(&bench, &pool, mib << 20, if all { "all" } else { "none" }, threads, &|_| {})?;
    let secs = t.elapsed().as_secs_f64();
    println!("{r:?}");
    println!("{:.0} MB/s of documents in {secs:.2} s", (mib << 20) as f64 / secs / 1e6);
    if std::env::var_os("GETS").is_some() {
        let g = store_run::random_gets(&bench, &pool, r.docs, 200_000, std::time::Duration::from_secs(5))?;
        println!("{g:?}");
    }
    if std::env::var_os("SCAN").is_some() {
        for _ in 0..3 {
            println!("{:?}", store_run::full_scan(&bench, r.docs)?);
        }
    }
    bench.store.close()?;
    Ok(())
}
