//! Crash safety with a real process: run `atrest soak` (which prints `acked ID` only after each write is
//! durable), kill it with SIGKILL at a random moment, reopen, and check that every acknowledged document is
//! there with its content; repeat on the same store.

use atrest_keys::{Keyring, LocalKeyFileProvider, SystemClock};
use atrest_store::{FsStorage, Store, StoreConfig};
use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn open(data: &std::path::Path, key: &std::path::Path) -> Store {
    let provider = LocalKeyFileProvider::open(key, data).unwrap();
    let keyring = Keyring::open(data, Arc::new(provider), Arc::new(SystemClock)).unwrap();
    let cfg = StoreConfig::new(Arc::new(FsStorage::new(data)), Arc::new(keyring));
    Store::open(cfg).unwrap()
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let key = t.path().join("k.key");
    let exe = env!("CARGO_BIN_EXE_atrest");
    let st = Command::new(exe)
        .args(["init", "--data", data.to_str().unwrap(), "--key-file", key.to_str().unwrap(), "--page-kib", "4"])
        .output()
        .unwrap();
    assert!(st.status.success());
    let mut acked: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut seed = std::process::id() as u64 ^ 0x5eed;
    for round in 0..8 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let wait = 30 + (seed >> 33) % 400;
        let prefix = format!("r{round}");
        let mut child = Command::new(exe)
            .args(["soak", "c", &prefix, "--data", data.to_str().unwrap(), "--key-file", key.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut out = String::new();
        // Odd rounds may die before their first write; even rounds wait for one acknowledgement first, so the
        // test makes progress however slow the machine is.
        if round % 2 == 0 {
            stdout.read_line(&mut out).unwrap();
        }
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap(); // SIGKILL on Unix
        stdout.read_to_string(&mut out).unwrap();
        child.wait().unwrap();
        for line in out.lines() {
            let mut parts = line.split(' ');
            if let (Some("acked"), Some(id), Some(i)) = (parts.next(), parts.next(), parts.next()) {
                acked.insert(id.to_owned(), (prefix.clone(), i.parse().unwrap()));
            }
        }
        let s = open(&data, &key);
        for (id, (p, i)) in &acked {
            let doc = s.get("c", id).unwrap().unwrap_or_else(|| panic!("round {round}: acknowledged {id} lost"));
            let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
            assert_eq!((v["p"].as_str().unwrap(), v["i"].as_u64().unwrap()), (p.as_str(), *i), "round {round}: {id}");
        }
        assert!(s.verify(&mut |_, _| {}).unwrap().is_ok(), "round {round}: verify after recovery");
    }
    assert!(!acked.is_empty(), "the child acknowledged no write at all");
}
