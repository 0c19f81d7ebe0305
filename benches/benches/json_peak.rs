//! JSON validation as a table: GB/s of each contender of `json_common` on each document set, and its ratio to
//! serde_json (`ignored`, the store's former validation). Each figure is the best of many short batches, the
//! contenders taking turns batch by batch, so that a shared machine disturbs them alike (as in `aead_peak`).
//!
//! Run: `cargo bench -p atrest-benches --bench json_peak`. `ATREST_PEAK_ROUNDS` sets the batches per contender
//! (default 30); `ATREST_JSON_ONLY` keeps only the contenders whose name contains it, and `ATREST_JSON_SET` only
//! the document sets whose name contains it (for profiling).

mod json_common;

use std::hint::black_box;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::var("ATREST_PEAK_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let only = std::env::var("ATREST_JSON_ONLY").unwrap_or_default();
    let mut contenders = json_common::contenders();
    contenders.retain(|c| c.0.contains(&only) || c.0 == "serde_json ignored");
    let set = std::env::var("ATREST_JSON_SET").unwrap_or_default();
    let mut sets = json_common::sets();
    sets.retain(|s| s.name.contains(&set));
    let base = contenders.iter().position(|c| c.0 == "serde_json ignored").unwrap_or(0);
    print!("| contender |");
    for s in &sets {
        print!(" {} ({:.1} MB) |", s.name, s.bytes() as f64 / 1e6);
    }
    println!();
    println!("|---|{}", "---|".repeat(sets.len()));
    let mut table = vec![vec![0f64; sets.len()]; contenders.len()];
    for (k, set) in sets.iter().enumerate() {
        let mut best = vec![f64::MAX; contenders.len()];
        for _ in 0..rounds {
            for (i, (_, f)) in contenders.iter().enumerate() {
                let t = Instant::now();
                black_box(set.docs.iter().all(|d| f(black_box(d))));
                best[i] = best[i].min(t.elapsed().as_secs_f64());
            }
        }
        for (i, b) in best.iter().enumerate() {
            table[i][k] = set.bytes() as f64 / b / 1e9;
        }
    }
    for (i, (name, _)) in contenders.iter().enumerate() {
        print!("| {name} |");
        for (gbs, base) in table[i].iter().zip(&table[base]) {
            print!(" {gbs:.2} ({:.2}x) |", gbs / base);
        }
        println!();
    }
}
