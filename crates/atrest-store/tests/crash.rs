//! Crash safety with the fault-injecting storage: crash at the N-th write or sync for every N of a workload,
//! rebuild the disk as power loss could leave it (unsynced writes kept, dropped or torn), reopen, and compare
//! with a reference model of the acknowledged writes. Also: a failed write poisons the store and loses
//! nothing acknowledged.

mod common;

use atrest_store::{FaultPlan, FaultStorage, IndexPolicy, Storage, Store, StoreError};
use common::small_cfg;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

#[derive(Clone, Debug)]
enum Step {
    Put(String, String),
    Many(Vec<(String, String)>),
    Delete(String),
    Attach(String, String, Vec<u8>),
    /// Maintenance that must not change what is stored.
    Rotate,
    Checkpoint,
    Rekey,
}

type Model = (BTreeMap<String, String>, BTreeMap<(String, String), Vec<u8>>);

fn workload() -> Vec<Step> {
    let mut w = Vec::new();
    for i in 0..12u32 {
        let pad = "p".repeat((i as usize * 1500) % 9000);
        w.push(Step::Put(format!("d{}", i % 7), format!(r#"{{"i":{i},"pad":"{pad}"}}"#)));
        if i % 3 == 0 {
            w.push(Step::Many((0..5).map(|j| (format!("m{i}-{j}"), format!(r#"{{"j":{j}}}"#))).collect()));
        }
        if i % 4 == 1 {
            w.push(Step::Delete(format!("d{}", (i + 3) % 7)));
        }
        if i % 5 == 2 {
            w.push(Step::Attach(format!("d{}", i % 7), format!("a{i}"), vec![i as u8; 9000 + i as usize]));
        }
        match i {
            4 => w.push(Step::Rotate),
            6 => w.push(Step::Checkpoint),
            8 => w.push(Step::Rekey),
            _ => {}
        }
    }
    w
}

fn apply(m: &mut Model, step: &Step) {
    match step {
        Step::Put(id, d) => {
            m.0.insert(id.clone(), d.clone());
        }
        Step::Many(v) => {
            for (id, d) in v {
                m.0.insert(id.clone(), d.clone());
            }
        }
        Step::Delete(id) => {
            m.0.remove(id);
            m.1.retain(|(d, _), _| d != id);
        }
        Step::Attach(id, n, b) => {
            if m.0.contains_key(id) {
                m.1.insert((id.clone(), n.clone()), b.clone());
            }
        }
        Step::Rotate | Step::Checkpoint | Step::Rekey => {}
    }
}

fn run(s: &Store, step: &Step) -> Result<(), StoreError> {
    match step {
        Step::Put(id, d) => s.put("c", id, d.clone().into_bytes()),
        Step::Many(v) => s.put_many("c", v.iter().map(|(i, d)| (i.clone(), d.clone().into_bytes())).collect()),
        Step::Delete(id) => s.delete("c", id).map(drop),
        Step::Attach(id, n, b) => match s.attach("c", id, n, &b[..]) {
            Err(StoreError::NoSuchDocument { .. }) => Ok(()),
            r => r.map(drop),
        },
        Step::Rotate => s.rotate().map(drop),
        Step::Checkpoint => s.checkpoint(),
        Step::Rekey => s.rekey(&mut |_, _| {}).map(drop),
    }
}

fn observe(s: &Store, model: &Model) -> Model {
    let docs: BTreeMap<String, String> =
        s.scan("c").map(|r| r.unwrap()).map(|(id, d)| (id, String::from_utf8(d).unwrap())).collect();
    let mut atts = BTreeMap::new();
    for id in docs.keys() {
        for (name, _) in s.attachments("c", id).unwrap() {
            let mut b = Vec::new();
            s.attachment_reader("c", id, &name).unwrap().unwrap().read_to_end(&mut b).unwrap();
            atts.insert((id.clone(), name), b);
        }
    }
    let _ = model;
    (docs, atts)
}

#[test]
fn crash_at_every_io_recovers_exactly_the_acknowledged_writes() {
    crash_at_every_io(1 << 20);
}

#[test]
fn crash_at_every_io_with_frequent_checkpoints() {
    crash_at_every_io(24 * 1024);
}

fn crash_at_every_io(checkpoint_bytes: u64) {
    let steps = workload();
    let mut n = 1;
    loop {
        let fs = FaultStorage::new();
        let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
        let mut cfg = small_cfg(Arc::new(fs.clone()), keys.clone());
        cfg.checkpoint_bytes = checkpoint_bytes;
        let s = Store::create(cfg).unwrap();
        s.create_collection("c", IndexPolicy::All).unwrap();
        fs.set_plan(FaultPlan::CrashAt(n));
        let mut acked: Model = Default::default();
        let mut in_flight = None;
        for step in &steps {
            match run(&s, step) {
                Ok(()) => apply(&mut acked, step),
                Err(_) => {
                    in_flight = Some(step.clone());
                    break;
                }
            }
        }
        let finished = in_flight.is_none() && !fs.crashed();
        drop(s);
        let image = fs.crash_image(n);
        let mut cfg = small_cfg(Arc::new(image.clone()), keys.clone());
        cfg.checkpoint_bytes = checkpoint_bytes;
        let s = Store::open(cfg.clone()).unwrap_or_else(|e| panic!("crash at I/O {n}: reopen failed: {e}"));
        let got = observe(&s, &acked);
        let mut with_flight = acked.clone();
        if let Some(step) = &in_flight {
            apply(&mut with_flight, step);
        }
        assert!(
            got == acked || got == with_flight,
            "crash at I/O {n}: recovered state differs from the acknowledged writes\n got: {:?}\nwant: {:?}",
            got.0.keys().collect::<Vec<_>>(),
            acked.0.keys().collect::<Vec<_>>()
        );
        // The recovered store takes new writes and keeps them across another reopen.
        s.put("c", "after", b"{\"x\":1}".to_vec()).unwrap();
        drop(s);
        let s = Store::open(cfg).unwrap();
        assert!(s.get("c", "after").unwrap().is_some(), "crash at I/O {n}: write after recovery lost");
        assert!(s.verify(&mut |_, _| {}).unwrap().is_ok(), "crash at I/O {n}: verify after recovery");
        if finished {
            assert!(n > 50, "the workload should take many I/O operations, took {n}");
            break;
        }
        n += 1;
    }
}

#[test]
fn failed_write_poisons_until_reopen_and_loses_nothing() {
    for fail_at in 1..12 {
        let fs = FaultStorage::new();
        let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
        let cfg = small_cfg(Arc::new(fs.clone()), keys.clone());
        let s = Store::create(cfg.clone()).unwrap();
        s.create_collection("c", IndexPolicy::All).unwrap();
        fs.set_plan(FaultPlan::FailAt(fail_at));
        let mut acked = Vec::new();
        let mut failed = false;
        for i in 0..10 {
            let id = format!("k{i}");
            match s.put("c", &id, format!(r#"{{"i":{i}}}"#).into_bytes()) {
                Ok(()) => {
                    assert!(!failed, "a write was accepted after a failed one");
                    acked.push(id)
                }
                Err(e) => {
                    if failed {
                        assert!(matches!(e, StoreError::Poisoned { .. }), "after a failure: {e}");
                    }
                    failed = true;
                }
            }
        }
        assert!(failed, "FailAt({fail_at}) injected no failure");
        drop(s);
        let s = Store::open(cfg).unwrap();
        for id in &acked {
            assert!(s.get("c", id).unwrap().is_some(), "FailAt({fail_at}): acknowledged {id} lost");
        }
        s.put("c", "new", b"{}".to_vec()).unwrap();
    }
}

#[test]
fn damage_in_the_middle_of_the_log_is_refused_not_truncated() {
    let fs = FaultStorage::new();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let cfg = small_cfg(Arc::new(fs.clone()), keys);
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..6 {
        s.put("c", &format!("k{i}"), format!(r#"{{"i":{i}}}"#).into_bytes()).unwrap();
    }
    drop(s); // no checkpoint: every put is in the log after the checkpoint
    let seg = fs.list().unwrap().into_iter().filter(|n| n.starts_with("seg-")).max().unwrap();
    let len = fs.read_file(&seg).unwrap().len();
    assert!(len >= 6 * 4096, "one page per commit");
    // Damage the first page: later pages say its batch was durable, so this is not a torn tail.
    assert!(flip(&fs, &seg, 200));
    match Store::open(cfg.clone()) {
        Err(StoreError::Integrity { file, offset, detail, .. }) => {
            assert!(file.contains(&seg) && offset == 0, "{file} {offset}");
            assert!(detail.contains("middle of the log"), "{detail}");
        }
        other => panic!("expected an integrity error, got {other:?}"),
    }
    assert_eq!(fs.read_file(&seg).unwrap().len(), len, "nothing was truncated");
    // Damage only the last page: the log cannot tell it from a torn tail. Once the key service's record has
    // seen that batch durable, the open is refused (an acknowledged write is missing)...
    let fs2 = FaultStorage::new();
    let mut cfg2 = small_cfg(Arc::new(fs2.clone()), Arc::new(atrest_keys::Keyring::ephemeral().unwrap()));
    let s = Store::create(cfg2.clone()).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..3 {
        s.put("c", &format!("k{i}"), b"{}".to_vec()).unwrap();
    }
    s.advance_record().unwrap();
    drop(s);
    let seg = fs2.list().unwrap().into_iter().filter(|n| n.starts_with("seg-")).max().unwrap();
    let len = fs2.read_file(&seg).unwrap().len();
    assert!(flip(&fs2, &seg, len - 100));
    match Store::open(cfg2.clone()) {
        Err(StoreError::Rollback { behind, .. }) => assert!(behind[0].contains("1 commit batch"), "{behind:?}"),
        other => panic!("expected a rollback error, got {other:?}"),
    }
    assert_eq!(fs2.read_file(&seg).unwrap().len(), len, "nothing was truncated");
    // ... and without the record (here: not checked), it is truncated as a torn tail; the rest survives.
    cfg2.rollback = atrest_store::RollbackCheck::Ignore;
    let s = Store::open(cfg2).unwrap();
    assert_eq!(s.count("c").unwrap(), 2);
    assert_eq!(fs2.read_file(&seg).unwrap().len(), len - 4096);
}

/// Flips one bit of a stored file (so the byte surely changes), durably.
fn flip(fs: &FaultStorage, name: &str, offset: usize) -> bool {
    let Some(data) = fs.read_file(name) else { return false };
    offset < data.len() && fs.tamper(name, offset, &[data[offset] ^ 0x01])
}
