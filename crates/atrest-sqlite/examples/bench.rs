//! The SQLite benchmark: the same workload (bulk insert in transactions, then random reads by key) on the atrest
//! VFS, on Debian's SQLCipher and on plain SQLite, each in its own process, alternating, and the medians side
//! by side. Build with optimizations so the VFS links an optimized atrest:
//!
//! ```text
//! cargo run --profile dist -p atrest-sqlite --example bench -- [rows] [reads] [runs] [row bytes]
//! ```
//!
//! Needs gcc, libsqlite3-dev and libsqlcipher-dev (scripts/test.d/07-sqlite-packages.sh).

use std::path::Path;
use std::process::Command;

use atrest_sqlite::Build;

/// One run's rates: (insert rows/s, reads/s) by wall-clock time, then the same by CPU time.
type Rates = [f64; 4];

fn run(exe: &Path, dir: &Path, (rows, reads, row_bytes): (u64, u64, u64), keys: Option<(&Path, &Path)>) -> Rates {
    let db = dir.join("bench.db");
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut cmd = Command::new(exe);
    cmd.arg(&db).arg(rows.to_string()).arg(reads.to_string()).arg(row_bytes.to_string());
    if let Some((keyring, key_file)) = keys {
        cmd.arg(keyring).arg(key_file);
    }
    let out = cmd.output().expect("run the benchmark program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}: {stdout}{}", exe.display(), String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| -> f64 {
        stdout
            .split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
    };
    [field("insert_rows_per_s="), field("reads_per_s="), field("insert_rows_per_cpu_s="), field("reads_per_cpu_s=")]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let args: Vec<u64> =
        std::env::args().skip(1).map(|a| a.parse().expect("numbers: rows reads runs row-bytes")).collect();
    let rows = args.first().copied().unwrap_or(200_000);
    let reads = args.get(1).copied().unwrap_or(200_000);
    let runs = args.get(2).copied().unwrap_or(3);
    let row_bytes = args.get(3).copied().unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let build = Build::new(dir.path()).unwrap();
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/bench.c");
    let atrest = build.program(&src, "bench_atrest", &[]).unwrap();
    let plain = build.program(&src, "bench_plain", &["BENCH_PLAIN"]).unwrap();
    let sqlcipher = build.sqlcipher_program(&src, "bench_sqlcipher").unwrap();
    let keyring = dir.path().join("keyring");
    let key_file = dir.path().join("keys/master.key");

    println!(
        "SQLite benchmark: {rows} rows inserted in transactions of 1000, {reads} random reads by key, {runs} runs each"
    );
    println!("CPU: {cpu}; atrest linked from {}", build.staticlib().display(), cpu = cpu());
    let names = ["atrest VFS", "SQLCipher", "plain SQLite"];
    let mut results: Vec<Vec<Rates>> = vec![Vec::new(); names.len()];
    for _ in 0..runs {
        let variants = [(&atrest, Some((keyring.as_path(), key_file.as_path()))), (&sqlcipher, None), (&plain, None)];
        for (i, (exe, keys)) in variants.into_iter().enumerate() {
            results[i].push(run(exe, dir.path(), (rows, reads, row_bytes), keys));
        }
    }
    let med: Vec<Rates> =
        results.iter().map(|runs| std::array::from_fn(|m| median(runs.iter().map(|r| r[m]).collect()))).collect();
    println!("medians          insert rows/s      reads/s   | per CPU-second: insert rows      reads");
    for (name, m) in names.iter().zip(&med) {
        println!("{name:<14} {:>15.0} {:>12.0}   | {:>27.0} {:>10.0}", m[0], m[1], m[2], m[3]);
    }
    for (name, runs) in names.iter().zip(&results) {
        let each: Vec<String> =
            runs.iter().map(|r| format!("{:.0}/{:.0}/{:.0}/{:.0}", r[0], r[1], r[2], r[3])).collect();
        println!("runs {name}: {}", each.join("  "));
    }
    let ratio = |a: usize, b: usize, m: usize| med[a][m] / med[b][m];
    println!(
        "atrest / SQLCipher: insert {:.2}x, reads {:.2}x (by CPU time: {:.2}x, {:.2}x); plain SQLite / SQLCipher: \
         insert {:.2}x, reads {:.2}x (by CPU time: {:.2}x, {:.2}x)",
        ratio(0, 1, 0),
        ratio(0, 1, 1),
        ratio(0, 1, 2),
        ratio(0, 1, 3),
        ratio(2, 1, 0),
        ratio(2, 1, 1),
        ratio(2, 1, 2),
        ratio(2, 1, 3)
    );
}
