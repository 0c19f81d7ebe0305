//! The index on disk: a random workload of puts, replacements, deletes and attachments over small buffers
//! (so checkpoints write many runs and the merger merges them) agrees with a model at every step, across
//! reopens; an index entry of a replaced value is gone; the number of runs stays bounded.

mod common;

use atrest_store::{IndexPolicy, Store, StoreConfig};
use common::{mem, small_cfg};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn cfg(fs: &atrest_store::FaultStorage, keys: &Arc<atrest_keys::Keyring>) -> StoreConfig {
    let mut c = small_cfg(Arc::new(fs.clone()), keys.clone());
    c.memtable_bytes = 64 << 10;
    c.checkpoint_bytes = 256 << 10;
    c.cache_bytes = 1 << 20;
    c
}

fn doc(id: u64, v: u64) -> String {
    format!(
        r#"{{"id":{id},"color":"c{}","n":{v},"tags":["t{}","x"],"pad":"{}"}}"#,
        v % 7,
        v % 3,
        "p".repeat((v % 50) as usize)
    )
}

/// Compares everything the store answers with the model.
fn check(s: &Store, model: &BTreeMap<String, (u64, u64)>) {
    assert_eq!(s.count("c").unwrap(), model.len() as u64);
    let scanned: Vec<String> = s.scan("c").map(|r| r.unwrap().0).collect();
    assert_eq!(scanned, model.keys().cloned().collect::<Vec<_>>());
    for (id, (n, v)) in model.iter().step_by(7) {
        assert_eq!(s.get("c", id).unwrap().unwrap(), doc(*n, *v).into_bytes(), "{id}");
    }
    for color in 0..7 {
        let want: Vec<&String> = model.iter().filter(|(_, (_, v))| v % 7 == color).map(|(k, _)| k).collect();
        let got = s.find("c", "/color", &json!(format!("c{color}"))).unwrap();
        assert_eq!(got.iter().map(|d| &d.0).collect::<Vec<_>>(), want, "color c{color}");
    }
    let want: Vec<&String> = model.iter().filter(|(_, (_, v))| v % 3 == 1).map(|(k, _)| k).collect();
    let got = s.find("c", "/tags/0", &json!("t1")).unwrap();
    assert_eq!(got.iter().map(|d| &d.0).collect::<Vec<_>>(), want);
    assert!(s.get("c", "never").unwrap().is_none());
}

#[test]
fn random_workload_matches_the_model_across_flushes_merges_and_reopens() {
    let (fs, keys) = mem();
    let mut s = Store::create(cfg(&fs, &keys)).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.create_collection("other", IndexPolicy::None).unwrap();
    let mut model: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut version = 0u64;
    for step in 0..2500u64 {
        let n = rng.below(400);
        let id = format!("doc{n:05}");
        match rng.below(10) {
            0..=5 => {
                version += 1;
                s.put("c", &id, doc(n, version)).unwrap();
                model.insert(id, (n, version));
            }
            6 => {
                let batch: Vec<(String, Vec<u8>)> = (0..20)
                    .map(|j| {
                        version += 1;
                        let m = (n + j * 13) % 400;
                        (format!("doc{m:05}"), doc(m, version).into_bytes())
                    })
                    .collect();
                for (id, d) in &batch {
                    let v: serde_json::Value = serde_json::from_slice(d).unwrap();
                    model.insert(id.clone(), (v["id"].as_u64().unwrap(), v["n"].as_u64().unwrap()));
                }
                s.put_many("c", batch).unwrap();
            }
            7 | 8 => {
                assert_eq!(s.delete("c", &id).unwrap(), model.remove(&id).is_some());
            }
            _ => {
                s.put("other", &id, doc(n, step)).unwrap();
            }
        }
        if step % 500 == 499 {
            check(&s, &model);
            s.close().unwrap();
            s = Store::open(cfg(&fs, &keys)).unwrap();
            check(&s, &model);
        }
    }
    let stats = s.stats().unwrap();
    let c = stats.collections.iter().find(|c| c.name == "c").unwrap();
    assert!(c.id_runs <= 12 && c.index_runs <= 12, "runs pile up: {c:?}");
    assert!(stats.generation > 50, "few checkpoints and merges: generation {}", stats.generation);
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
    s.close().unwrap();
}

#[test]
fn a_replaced_value_is_not_found_and_attachments_survive_a_replace() {
    let (fs, keys) = mem();
    let s = Store::create(cfg(&fs, &keys)).unwrap();
    s.create_collection("c", IndexPolicy::Paths(vec!["/city".into()])).unwrap();
    s.put("c", "a", br#"{"city":"Oslo"}"#.to_vec()).unwrap();
    s.attach("c", "a", "pic", &b"picture"[..]).unwrap();
    s.checkpoint().unwrap();
    s.put("c", "a", br#"{"city":"Bergen"}"#.to_vec()).unwrap();
    assert!(s.find("c", "/city", &json!("Oslo")).unwrap().is_empty());
    assert_eq!(s.find("c", "/city", &json!("Bergen")).unwrap().len(), 1);
    assert_eq!(s.attachments("c", "a").unwrap(), vec![("pic".to_owned(), 7)]);
    s.checkpoint().unwrap();
    s.delete("c", "a").unwrap();
    assert!(s.find("c", "/city", &json!("Bergen")).unwrap().is_empty());
    assert!(matches!(s.find("c", "/other", &json!(1)), Err(atrest_store::StoreError::NotIndexed { .. })));
    drop(s);
    let s = Store::open(cfg(&fs, &keys)).unwrap();
    assert!(s.find("c", "/city", &json!("Bergen")).unwrap().is_empty());
    assert_eq!(s.count("c").unwrap(), 0);
}

#[test]
fn opening_reads_no_index_and_memory_stays_bounded() {
    let (fs, keys) = mem();
    let s = Store::create(cfg(&fs, &keys)).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    for chunk in 0..20u64 {
        let batch = (0..500u64).map(|i| {
            let n = chunk * 500 + i;
            (format!("k{n:06}"), doc(n, n).into_bytes())
        });
        s.put_many("c", batch.collect()).unwrap();
        let st = s.stats().unwrap();
        // The buffers taking writes stay under twice `memtable_bytes` (64 KiB here) plus one commit (500
        // documents with every scalar indexed: about 104 KB of buffer), and one such set may be frozen,
        // still being written out by the background checkpoint: at most twice that in all.
        let bound = 2 * (2 * (64 << 10) + (128 << 10));
        assert!(st.buffer_bytes <= bound, "buffers hold {} bytes, over {bound}", st.buffer_bytes);
        assert!(st.cache_bytes <= 1 << 20, "cache holds {} bytes", st.cache_bytes);
    }
    s.close().unwrap();
    let s = Store::open(cfg(&fs, &keys)).unwrap();
    let st = s.stats().unwrap();
    assert_eq!(st.cache_bytes, 0, "opening read index pages");
    assert_eq!(s.get("c", "k004321").unwrap().unwrap(), doc(4321, 4321).into_bytes());
    assert!(s.stats().unwrap().cache_bytes > 0);
}

#[test]
fn find_iter_reads_in_chunks_and_agrees_with_find() {
    let (fs, keys) = mem();
    let s = Store::create(cfg(&fs, &keys)).unwrap();
    s.create_collection("c", IndexPolicy::Paths(vec!["/city".into()])).unwrap();
    // 2,500 matches (three chunks of the iterator), some in runs and some in the buffers, one replaced so it
    // no longer matches, one deleted, and others that never matched.
    for i in 0..3000u64 {
        let city = if i % 6 == 5 { "Bergen" } else { "Oslo" };
        s.put("c", &format!("d{i:05}"), format!(r#"{{"city":"{city}","n":{i}}}"#).into_bytes()).unwrap();
        if i == 1500 {
            s.checkpoint().unwrap();
        }
    }
    s.put("c", "d00000", br#"{"city":"Bergen"}"#.to_vec()).unwrap();
    s.delete("c", "d00001").unwrap();
    let all = s.find("c", "/city", &json!("Oslo")).unwrap();
    assert_eq!(all.len(), 2500 - 2);
    let streamed: Vec<_> = s.find_iter("c", "/city", &json!("Oslo")).unwrap().map(Result::unwrap).collect();
    assert_eq!(streamed, all);
    assert!(streamed.windows(2).all(|w| w[0].0 < w[1].0), "not in id order");
    assert!(matches!(s.find_iter("c", "/n", &json!(1)), Err(atrest_store::StoreError::NotIndexed { .. })));
    assert!(matches!(
        s.find_iter("nope", "/city", &json!("Oslo")),
        Err(atrest_store::StoreError::NoSuchCollection { .. })
    ));
}

#[test]
fn commit_times_count_every_commit() {
    let (fs, keys) = mem();
    let s = Store::create(cfg(&fs, &keys)).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    let before = s.stats().unwrap().commits;
    for i in 0..5u64 {
        s.put("c", &format!("k{i}"), doc(i, i).into_bytes()).unwrap();
    }
    let after = s.stats().unwrap().commits;
    assert_eq!(after.commits - before.commits, 5);
    assert!(after.pack_seal_us >= before.pack_seal_us && after.apply_us >= before.apply_us);
}
