//! Several processes on one data directory: 4 writers × 500 `atrest put` and 2 reader loops at once. One
//! process owns the directory at a time; the others are refused with the in-use error and change nothing.
//! Afterwards every put that reported success is there, and `verify` is clean.

mod common;

use common::{atrest, init_store, ok};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

const WRITERS: usize = 4;
const PUTS: usize = 500;
const IN_USE: &str = "in use by another process";

#[test]
fn concurrent_processes_lose_nothing_acknowledged() {
    let home = tempfile::tempdir().unwrap();
    let (d, k) = init_store(home.path(), "4");
    ok(atrest(home.path(), &["--data", &d, "--key-file", &k, "create", "c"], None));
    let stop = AtomicBool::new(false);
    let (acked, refused, reads) = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (home, d, k, stop) = (home.path(), &d, &k, &stop);
                scope.spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let args: &[&str] = if r == 0 {
                            &["--data", d, "--key-file", k, "get", "c", "w0-0"]
                        } else {
                            &["--data", d, "--key-file", k, "find", "c", "/w", "1"]
                        };
                        let o = atrest(home, args, None);
                        let err = String::from_utf8_lossy(&o.stderr);
                        // A reader either gets its answer, finds nothing yet, or is refused: never anything else.
                        assert!(
                            o.status.success() || err.contains(IN_USE) || err.contains("no document"),
                            "reader {r}: {err}"
                        );
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (home, d, k) = (home.path(), &d, &k);
                scope.spawn(move || {
                    let mut acked = Vec::new();
                    let mut refused = 0;
                    for i in 0..PUTS {
                        let id = format!("w{w}-{i}");
                        let doc = format!(r#"{{"w":{w},"i":{i}}}"#);
                        let o = atrest(home, &["--data", d, "--key-file", k, "put", "c", &id], Some(doc.as_bytes()));
                        if o.status.success() {
                            acked.push((id, doc));
                        } else {
                            let err = String::from_utf8_lossy(&o.stderr);
                            assert!(err.contains(IN_USE), "put {id} failed otherwise: {err}");
                            refused += 1;
                        }
                    }
                    (acked, refused)
                })
            })
            .collect();
        let mut acked = BTreeMap::new();
        let mut refused = 0;
        for h in writers {
            let (a, r) = h.join().unwrap();
            acked.extend(a);
            refused += r;
        }
        stop.store(true, Ordering::Relaxed);
        let reads: usize = readers.into_iter().map(|h| h.join().unwrap()).sum();
        (acked, refused, reads)
    });
    assert_eq!(acked.len() + refused, WRITERS * PUTS);
    assert!(!acked.is_empty(), "no put succeeded");
    assert!(reads > 0);
    for (id, doc) in &acked {
        let got = ok(atrest(home.path(), &["--data", &d, "--key-file", &k, "get", "c", id], None));
        assert_eq!(got.trim_end(), doc, "{id}");
    }
    let info = ok(atrest(home.path(), &["--data", &d, "--key-file", &k, "info"], None));
    assert!(info.contains(&format!("\"c\": {} documents", acked.len())), "{info}");
    ok(atrest(home.path(), &["--data", &d, "--key-file", &k, "verify"], None));
    eprintln!("{} puts acknowledged, {refused} refused as in use, {reads} reads", acked.len());
}

/// A backup of a store that another process owns is refused with the in-use error, never a partial copy.
#[test]
fn backup_of_a_store_owned_by_another_process_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let (d, k) = init_store(home.path(), "4");
    let mut owner = std::process::Command::new(env!("CARGO_BIN_EXE_atrest"))
        .args(["--data", &d, "--key-file", &k, "soak", "c", "s"])
        .env("XDG_CONFIG_HOME", home.path().join("cfg"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the owner has acknowledged a write: it holds the directory from then on.
    let mut out = std::io::BufReader::new(owner.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("acked"), "{line}");
    let target = home.path().join("backups");
    let o = atrest(home.path(), &["--data", &d, "--key-file", &k, "backup", target.to_str().unwrap()], None);
    owner.kill().unwrap();
    owner.wait().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(IN_USE) && err.contains("atrest soak"), "{err}");
    let copied = std::fs::read_dir(&target).map(|d| d.count()).unwrap_or(0);
    assert_eq!(copied, 0, "a refused backup wrote to its target");
}
