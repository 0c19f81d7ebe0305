//! A backup taken while writers, attachments and checkpoints run is a consistent snapshot: each writer's
//! sequential documents form a gap-free prefix, every multi-document put is all there or not at all, and the
//! restored store verifies page by page.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use atrest_backup::{Target, backup, restore, verify_backup};
use atrest_store::{IndexPolicy, Store};
use common::{Fixture, contents};

const WRITERS: u64 = 3;

fn writer(store: &Store, t: u64, stop: &AtomicBool, written: &AtomicU64) {
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if i % 10 == 9 {
            // A group of five documents in one put: all or nothing in any snapshot.
            let docs =
                (0..5).map(|j| (format!("g{t}-{i:06}-{j}"), format!(r#"{{"group":{i},"j":{j}}}"#).into())).collect();
            store.put_many("c", docs).unwrap();
        } else {
            store
                .put("c", &format!("w{t}-{i:06}"), format!(r#"{{"t":{t},"i":{i},"pad":"{}"}}"#, "p".repeat(200)))
                .unwrap();
        }
        if t == 0 && i.is_multiple_of(25) {
            store.attach("c", &format!("w0-{i:06}"), "blob", &vec![i as u8; 9000][..]).unwrap();
        }
        i += 1;
        written.fetch_add(1, Ordering::Relaxed);
    }
}

fn check_consistent(c: &common::Contents) -> u64 {
    let mut per_writer: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut groups: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for ((coll, id), (doc, atts)) in c {
        assert_eq!(coll, "c");
        let parts: Vec<&str> = id[1..].split('-').collect();
        let t: u64 = parts[0].parse().unwrap();
        let i: u64 = parts[1].parse().unwrap();
        if id.starts_with('w') {
            let v: serde_json::Value = serde_json::from_slice(doc).unwrap();
            assert_eq!((v["t"].as_u64(), v["i"].as_u64()), (Some(t), Some(i)), "{id}");
            per_writer.entry(t).or_default().push(i);
            if let Some(b) = atts.get("blob") {
                assert_eq!(b, &vec![i as u8; 9000]);
            }
        } else {
            *groups.entry((t, i)).or_default() += 1;
        }
    }
    for (&(t, i), &n) in &groups {
        assert_eq!(n, 5, "group {i} of writer {t} is torn");
    }
    let mut total = 0;
    for (t, mut seq) in per_writer {
        seq.sort_unstable();
        let groups_of_t = groups.keys().filter(|(gt, _)| *gt == t).count() as u64;
        let n = seq.len() as u64 + groups_of_t;
        // Sequential puts of one writer: present ones are exactly 0..n, minus the group slots.
        let expected: Vec<u64> = (0..n).filter(|i| i % 10 != 9).collect();
        assert_eq!(seq, expected, "writer {t} has a gap");
        total += n;
    }
    total
}

#[test]
fn backups_during_concurrent_writes_are_consistent_snapshots() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("c", IndexPolicy::All).unwrap();
    let store = Arc::new(store);
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..WRITERS {
        let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
        threads.push(std::thread::spawn(move || writer(&store, t, &stop, &written)));
    }
    {
        let (store, stop) = (store.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                store.checkpoint().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
        }));
    }
    let target = Target::open(fx.path("target").to_str().unwrap()).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let seen = written.load(Ordering::Relaxed);
        while written.load(Ordering::Relaxed) < seen + 150 {
            std::thread::yield_now();
        }
        ids.push(backup(&store, &target).unwrap().id);
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let last = backup(&store, &target).unwrap().id;

    let mut totals = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let dest = fx.path(&format!("r{n}"));
        restore(&target, Some(id), &dest, fx.provider()).unwrap();
        let (restored, _) = fx.open_store(&dest);
        totals.push(check_consistent(&contents(&restored)));
    }
    assert!(totals.windows(2).all(|w| w[0] < w[1]), "each backup was taken later in the run: {totals:?}");
    assert!(totals[0] >= 150);
    verify_backup(&target, Some(&ids[1]), fx.provider()).unwrap();

    // Taken after the writers stopped, the last backup is the store exactly.
    restore(&target, Some(&last), &fx.path("last"), fx.provider()).unwrap();
    let (restored, _) = fx.open_store(&fx.path("last"));
    let now = contents(&store);
    check_consistent(&now);
    assert_eq!(contents(&restored), now);
}
