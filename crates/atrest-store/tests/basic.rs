//! Data model: put/get/delete/scan/find, policies, errors, attachments, reopen.

mod common;

use atrest_store::{IndexPolicy, Store, StoreError};
use common::{mem, small_cfg};
use serde_json::json;
use std::io::Read;
use std::sync::Arc;

#[test]
fn put_get_find_delete_survive_reopen() {
    let (fs, keys) = mem();
    let cfg = small_cfg(Arc::new(fs.clone()), keys.clone());
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("people", IndexPolicy::All).unwrap();
    s.put("people", "ada", br#"{"name":"Ada","address":{"city":"Oslo"}}"#.to_vec()).unwrap();
    s.put("people", "bob", br#"{"name":"Bob","address":{"city":"Bergen"}}"#.to_vec()).unwrap();
    let big = format!(r#"{{"name":"Big","address":{{"city":"Oslo"}},"pad":"{}"}}"#, "x".repeat(20_000));
    s.put("people", "big", big.clone().into_bytes()).unwrap();
    let hits = s.find("people", "/address/city", &json!("Oslo")).unwrap();
    assert_eq!(hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["ada", "big"]);
    assert_eq!(s.get("people", "big").unwrap().unwrap(), big.as_bytes());
    // Replace changes the index.
    s.put("people", "ada", br#"{"name":"Ada","address":{"city":"Bergen"}}"#.to_vec()).unwrap();
    assert_eq!(s.find("people", "/address/city", &json!("Oslo")).unwrap().len(), 1);
    assert!(s.delete("people", "bob").unwrap());
    assert!(!s.delete("people", "bob").unwrap());
    assert_eq!(s.get("people", "bob").unwrap(), None);
    drop(s); // no checkpoint: reopening must replay the log
    let s = Store::open(cfg.clone()).unwrap();
    assert_eq!(s.count("people").unwrap(), 2);
    assert_eq!(s.get("people", "big").unwrap().unwrap(), big.as_bytes());
    assert_eq!(s.find("people", "/address/city", &json!("Bergen")).unwrap()[0].0, "ada");
    let all: Vec<_> = s.scan("people").map(|r| r.unwrap().0).collect();
    assert_eq!(all, ["ada", "big"]);
    s.close().unwrap(); // checkpoint: reopening loads the index pages
    let s = Store::open(cfg).unwrap();
    assert_eq!(s.find("people", "/name", &json!("Big")).unwrap()[0].1, big.as_bytes());
}

#[test]
fn errors_say_which() {
    let (fs, keys) = mem();
    let s = Store::create(small_cfg(Arc::new(fs), keys)).unwrap();
    s.create_collection("c", IndexPolicy::Paths(vec!["/a".into()])).unwrap();
    assert!(matches!(s.put("c", "", b"{}".to_vec()), Err(StoreError::EmptyId)));
    assert!(matches!(s.put("c", &"i".repeat(2000), b"{}".to_vec()), Err(StoreError::IdTooLong { .. })));
    assert!(matches!(s.put("c", "x", b"{".to_vec()), Err(StoreError::InvalidJson(_))));
    assert!(matches!(s.put("c", "x", b"[]".to_vec()), Err(StoreError::NotAnObject)));
    let huge = format!(r#"{{"a":"{}"}}"#, "x".repeat(17 << 20));
    assert!(matches!(s.put("c", "x", huge.into_bytes()), Err(StoreError::DocumentTooLarge { .. })));
    assert!(matches!(s.put("nope", "x", b"{}".to_vec()), Err(StoreError::NoSuchCollection { .. })));
    assert!(matches!(s.find("c", "/b", &json!(1)), Err(StoreError::NotIndexed { .. })));
    assert!(matches!(s.find("c", "a", &json!(1)), Err(StoreError::BadPointer { .. })));
    let r = s.put_many("c", vec![("ok".into(), b"{}".to_vec()), ("bad".into(), b"nope".to_vec())]);
    assert!(matches!(r, Err(StoreError::InBatch { index: 1, .. })));
    assert_eq!(s.count("c").unwrap(), 0, "a refused batch writes nothing");
}

#[test]
fn attachments_stream_and_go_with_their_document() {
    let (fs, keys) = mem();
    let cfg = small_cfg(Arc::new(fs), keys);
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("c", IndexPolicy::None).unwrap();
    s.put("c", "d", b"{}".to_vec()).unwrap();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(s.attach("c", "d", "blob", &data[..]).unwrap(), data.len() as u64);
    s.attach("c", "d", "empty", &[][..]).unwrap();
    assert!(matches!(s.attach("c", "missing", "x", &[1u8][..]), Err(StoreError::NoSuchDocument { .. })));
    drop(s);
    let s = Store::open(cfg).unwrap();
    let mut out = Vec::new();
    s.attachment_reader("c", "d", "blob").unwrap().unwrap().read_to_end(&mut out).unwrap();
    assert!(out == data);
    let mut e = Vec::new();
    s.attachment_reader("c", "d", "empty").unwrap().unwrap().read_to_end(&mut e).unwrap();
    assert!(e.is_empty());
    assert!(s.delete("c", "d").unwrap());
    assert!(s.attachment_reader("c", "d", "blob").unwrap().is_none());
}

#[test]
fn concurrent_writers_share_commits() {
    let (fs, keys) = mem();
    let s = Arc::new(Store::create(small_cfg(Arc::new(fs), keys)).unwrap());
    s.create_collection("c", IndexPolicy::All).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    s.put("c", &format!("{t}-{i}"), format!(r#"{{"t":{t}}}"#).into_bytes()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.count("c").unwrap(), 200);
    assert_eq!(s.find("c", "/t", &json!(2)).unwrap().len(), 50);
}

#[test]
fn a_snapshot_copied_while_writes_go_on_opens_as_of_its_checkpoint() {
    use atrest_store::{FaultStorage, Storage};
    let (fs, keys) = mem();
    let s = Store::create(small_cfg(Arc::new(fs), keys.clone())).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..40 {
        s.put("c", &format!("k{i}"), format!(r#"{{"i":{i}}}"#).into_bytes()).unwrap();
    }
    s.attach("c", "k1", "a", &[9u8; 20_000][..]).unwrap();
    let snap = s.snapshot().unwrap();
    // Writes after the snapshot must not show up in it.
    for i in 40..60 {
        s.put("c", &format!("k{i}"), b"{}".to_vec()).unwrap();
    }
    s.delete("c", "k0").unwrap();
    s.checkpoint().unwrap();
    // The key service's record is advanced in the background after a checkpoint; now, for the test.
    s.advance_record().unwrap();
    let copy = FaultStorage::new();
    for f in &snap {
        let mut buf = vec![0u8; f.len as usize];
        let mut done = 0;
        while done < buf.len() {
            let n = f.file.read_at(&mut buf[done..], done as u64).unwrap();
            assert!(n > 0, "{} shorter than its snapshot length", f.name);
            done += n;
        }
        let out = copy.open(&f.name, true).unwrap();
        out.write_at(&buf, 0).unwrap();
        out.sync_data().unwrap();
    }
    copy.sync_dir().unwrap();
    let copy: Arc<dyn Storage> = Arc::new(copy);
    // The copy is older than the key service's record of the store: refused, unless the rewind is meant (as
    // when a backup is restored).
    let e = Store::open(small_cfg(copy.clone(), keys.clone())).unwrap_err();
    assert!(matches!(e, atrest_store::StoreError::Rollback { .. }), "{e}");
    let mut cfg = small_cfg(copy, keys);
    cfg.rollback = atrest_store::RollbackCheck::Accept;
    let r = Store::open(cfg).unwrap();
    assert!(!r.accepted_rollback().is_empty());
    assert_eq!(r.count("c").unwrap(), 40);
    assert!(r.get("c", "k0").unwrap().is_some());
    assert!(r.get("c", "k45").unwrap().is_none());
    let mut a = Vec::new();
    r.attachment_reader("c", "k1", "a").unwrap().unwrap().read_to_end(&mut a).unwrap();
    assert_eq!(a, vec![9u8; 20_000]);
    assert!(r.verify(&mut |_, _| {}).unwrap().is_ok());
}
