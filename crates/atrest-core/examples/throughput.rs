//! Seals and opens pages with every backend this host supports and prints the throughput of each.
//!
//! `cargo run --release -p atrest-core --example throughput [-- --seconds S]`
//!
//! A quick look, not a benchmark: the criterion benches in `benches/` are the measurements of record.

use std::time::{Duration, Instant};

use atrest_core::{Aes256Gcm, Xaes256Gcm, backend};

fn main() {
    let seconds: f64 =
        std::env::args().skip_while(|a| a != "--seconds").nth(1).and_then(|s| s.parse().ok()).unwrap_or(0.3);
    let budget = Duration::from_secs_f64(seconds);
    println!("cpu features: {}", atrest_core::CpuFeatures::get().names().join(" "));
    println!("auto-selected backend: {}", backend::best_supported());
    println!("{:<10} {:>6} {:>12} {:>12} {:>12}", "backend", "page", "seal GB/s", "open GB/s", "xaes GB/s");
    for b in backend::supported() {
        for size in [4096usize, 16384, 65536] {
            let gcm = Aes256Gcm::with_backend(&[7; 32], b).expect("supported backend");
            let xaes = Xaes256Gcm::with_backend(&[7; 32], b).expect("supported backend");
            let mut page = vec![0x5Au8; size];
            let aad = [1u8; 16];
            let mut counter = 0u64;
            let nonce = |c: u64| {
                let mut n = [0u8; 12];
                n[4..].copy_from_slice(&c.to_be_bytes());
                n
            };
            let seal = rate(size, budget, || {
                counter += 1;
                gcm.seal_in_place(&nonce(counter), &aad, &mut page).expect("seal");
            });
            let tag = gcm.seal_in_place(&nonce(0), &aad, &mut page).expect("seal");
            let mut work = page.clone();
            let open = rate(size, budget, || {
                work.copy_from_slice(&page);
                gcm.open_in_place(&nonce(0), &aad, &mut work, &tag).expect("open");
            });
            let mut xnonce = [9u8; 24];
            let xaes_rate = rate(size, budget, || {
                counter += 1;
                xnonce[16..].copy_from_slice(&counter.to_be_bytes());
                xaes.seal_in_place(&xnonce, &aad, &mut page).expect("seal");
            });
            println!("{:<10} {:>5}K {seal:>12.2} {open:>12.2} {xaes_rate:>12.2}", b.name(), size / 1024);
        }
    }
}

/// Runs `f` repeatedly for about `budget` and returns GB/s for `bytes` per call.
fn rate(bytes: usize, budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..8 {
        f();
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            f();
        }
        calls += 16;
    }
    (calls as f64 * bytes as f64) / start.elapsed().as_secs_f64() / 1e9
}
