//! A store with a small thread pool (`StoreConfig::threads` 1 or 2) must not deadlock when maintenance that
//! holds the writer lock (checkpoint, verify, snapshot, rotate) runs alongside group commits: the pool's
//! threads must never be the ones waiting for the writer lock.

mod common;

use atrest_store::{IndexPolicy, Store};
use common::{mem, small_cfg};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const WRITERS: usize = 4;
const ROUNDS: usize = 30;
const BATCH: usize = 20;

/// Runs writers doing `put_many` and a thread looping over checkpoint, verify, snapshot and rotate, on a
/// store with `threads` pool threads; returns how many maintenance rounds ran. Panics with a clear message
/// if the workload does not finish within a minute.
fn writes_with_maintenance(threads: usize) -> usize {
    let (fs, keys) = mem();
    let storage = Arc::new(fs);
    let mut cfg = small_cfg(storage.clone(), keys.clone());
    cfg.threads = threads;
    // Small, so automatic checkpoints inside commits happen too.
    cfg.checkpoint_bytes = 64 * 1024;
    let s = Arc::new(Store::create(cfg).unwrap());
    s.create_collection("c", IndexPolicy::All).unwrap();

    let (tx, rx) = mpsc::channel();
    let work = {
        let s = s.clone();
        std::thread::spawn(move || {
            let done = Arc::new(AtomicBool::new(false));
            let maint = {
                let s = s.clone();
                let done = done.clone();
                std::thread::spawn(move || {
                    let mut rounds = 0;
                    // At least a few rounds, then as many as the writers leave time for.
                    while rounds < 5 || !done.load(Ordering::Relaxed) {
                        s.checkpoint().unwrap();
                        let report = s.verify(&mut |_, _| {}).unwrap();
                        assert!(report.is_ok(), "verify failed during writes: {:?}", report.failures);
                        assert!(!s.snapshot().unwrap().is_empty());
                        assert!(!s.rotate().unwrap().is_empty());
                        rounds += 1;
                    }
                    rounds
                })
            };
            let writers: Vec<_> = (0..WRITERS)
                .map(|t| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        for r in 0..ROUNDS {
                            let docs = (0..BATCH)
                                .map(|i| {
                                    (format!("{t}-{r}-{i}"), format!(r#"{{"t":{t},"pad":"{}"}}"#, "x".repeat(200)))
                                })
                                .map(|(id, doc)| (id, doc.into_bytes()))
                                .collect();
                            s.put_many("c", docs).unwrap();
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
            let rounds = maint.join().unwrap();
            let _ = tx.send(rounds);
        })
    };
    let rounds = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(rounds) => rounds,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "threads = {threads}: writers and checkpoint/verify/snapshot/rotate did not finish in 60 s (deadlock)"
            )
        }
        // The workload thread ended without sending: one of its threads panicked; show why.
        Err(mpsc::RecvTimeoutError::Disconnected) => match work.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the workload sends before it ends"),
        },
    };
    work.join().unwrap();

    let total = WRITERS * ROUNDS * BATCH;
    assert_eq!(s.count("c").unwrap(), total as u64);
    assert_eq!(s.find("c", "/t", &json!(1)).unwrap().len(), ROUNDS * BATCH);
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
    drop(s);
    // Everything acknowledged is there after reopening.
    let mut cfg = small_cfg(storage, keys);
    cfg.threads = threads;
    let s = Store::open(cfg).unwrap();
    assert_eq!(s.count("c").unwrap(), total as u64);
    assert_eq!(s.get("c", "3-29-19").unwrap().map(|d| d.len()), Some(br#"{"t":3,"pad":""}"#.len() + 200));
    rounds
}

#[test]
fn one_pool_thread_does_not_deadlock_writes_against_checkpoints() {
    assert!(writes_with_maintenance(1) >= 5);
}

#[test]
fn two_pool_threads_do_not_deadlock_writes_against_checkpoints() {
    assert!(writes_with_maintenance(2) >= 5);
}
