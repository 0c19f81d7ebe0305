//! A key service that stops answering in the middle of a workload: within the lease the store keeps working;
//! after it, every operation that needs a key fails with a typed `KeyServiceUnavailable` naming the service
//! (never an integrity error, never a poisoned store), nothing acknowledged is lost and nothing is left
//! half-written; when the service answers again the same store resumes. Time is a manual clock, the service an
//! in-memory provider told to be unreachable (tests/ of atrest-cli do the same with SoftHSM2 and PyKMIP).

mod common;

use std::sync::Arc;
use std::time::Duration;

use atrest_keys::{
    InsecureMemoryProvider, KeyError, Keyring, KeyringOptions, ManualClock, MasterKeyId, SimulatedFault,
};
use atrest_store::{FaultStorage, IndexPolicy, Store, StoreConfig, StoreError};
use common::small_cfg;

const LEASE: Duration = Duration::from_secs(60);

struct Setup {
    provider: Arc<InsecureMemoryProvider>,
    clock: Arc<ManualClock>,
    cfg: StoreConfig,
}

fn setup() -> Setup {
    let master = MasterKeyId::new("m1").unwrap();
    let provider = Arc::new(InsecureMemoryProvider::with_master_key(&master).unwrap());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let options = KeyringOptions { lease: LEASE };
    let keys = Arc::new(Keyring::in_memory(provider.clone(), &master, clock.clone(), options).unwrap());
    let mut cfg = small_cfg(Arc::new(FaultStorage::new()), keys);
    cfg.clock = clock.clone();
    Setup { provider, clock, cfg }
}

fn doc(i: usize) -> Vec<u8> {
    format!(r#"{{"i":{i},"pad":"{}"}}"#, "p".repeat(i * 13 % 700)).into_bytes()
}

/// Whether `e` is the typed outage error naming the in-memory provider.
fn is_outage(e: &StoreError) -> bool {
    matches!(e, StoreError::Keys(KeyError::KeyServiceUnavailable { provider, .. }) if provider.contains("in-memory"))
}

#[test]
fn works_within_the_lease_fails_closed_after_it_and_resumes_without_a_restart() {
    let Setup { provider, clock, cfg } = setup();
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..50 {
        s.put("c", &format!("d{i}"), doc(i)).unwrap();
    }

    // The service goes away. Within the lease (past its half, where the keyring asks again in the background
    // and fails), writes, batches, attachments and reads go on.
    provider.simulate_fault(Some(SimulatedFault::Unreachable));
    clock.advance(LEASE * 2 / 3);
    for i in 50..100 {
        s.put("c", &format!("d{i}"), doc(i)).unwrap();
    }
    s.put_many("c", (100..120).map(|i| (format!("d{i}"), doc(i))).collect()).unwrap();
    s.attach("c", "d1", "a", &[9u8; 20_000][..]).unwrap();
    for i in 0..120 {
        assert_eq!(s.get("c", &format!("d{i}")).unwrap().unwrap(), doc(i));
    }

    // Past the lease: fail closed, typed, for writes and for reads (also of pages read before, which the
    // page cache no longer serves).
    clock.advance(LEASE / 2);
    let e = s.put("c", "late", doc(7)).unwrap_err();
    assert!(is_outage(&e), "{e}");
    assert!(e.to_string().contains("unavailable") && e.to_string().contains("lease"), "{e}");
    let e = s.put_many("c", vec![("late2".into(), doc(8))]).unwrap_err();
    assert!(is_outage(&e), "{e}");
    let e = s.get("c", "d3").unwrap_err();
    assert!(is_outage(&e), "a read fails closed with the key-service error, not an integrity error: {e}");
    let e = s.attach("c", "d2", "b", &[1u8; 5000][..]).unwrap_err();
    assert!(is_outage(&e), "{e}");
    assert!(matches!(s.rotate().unwrap_err(), StoreError::Keys(_)));
    let e = s.verify(&mut |_, _| {}).unwrap_err();
    assert!(is_outage(&e), "verify reports the outage, not damaged pages: {e}");

    // The service is back: the same store resumes once the keyring asks again (after its retry interval).
    provider.simulate_fault(None);
    clock.advance(cfg.keys.options().retry_after_failure());
    s.put("c", "after", doc(1)).unwrap();
    for i in 0..120 {
        assert_eq!(s.get("c", &format!("d{i}")).unwrap().unwrap(), doc(i), "acknowledged d{i}");
    }
    assert!(s.get("c", "late").unwrap().is_none(), "a refused write left nothing behind");
    assert!(s.get("c", "late2").unwrap().is_none());
    let v = s.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_ok(), "{v:?}");
    s.close().unwrap();

    // Reopened (replay of the whole log): exactly the acknowledged writes.
    let s = Store::open(cfg).unwrap();
    assert_eq!(s.ids("c", "", 1000).unwrap().len(), 121);
    assert!(s.get("c", "late").unwrap().is_none());
    let mut att = Vec::new();
    std::io::Read::read_to_end(&mut s.attachment_reader("c", "d1", "a").unwrap().unwrap(), &mut att).unwrap();
    assert_eq!(att, vec![9u8; 20_000]);
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
}

#[test]
fn a_checkpoint_refused_for_want_of_keys_loses_no_buffered_entry() {
    let Setup { provider, clock, cfg } = setup();
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.create_collection("other", IndexPolicy::All).unwrap();
    for i in 0..30 {
        s.put("c", &format!("d{i}"), doc(i)).unwrap();
    }
    provider.simulate_fault(Some(SimulatedFault::Unreachable));
    clock.advance(LEASE * 2);
    // Dropping a collection checkpoints first: the buffered index entries cannot be sealed into runs, so the
    // drop fails; the buffers must still hold every entry.
    let e = s.drop_collection("other").unwrap_err();
    assert!(is_outage(&e), "{e}");
    provider.simulate_fault(None);
    clock.advance(LEASE);
    for i in 0..30 {
        assert_eq!(s.get("c", &format!("d{i}")).unwrap().unwrap(), doc(i), "d{i} after the failed checkpoint");
    }
    assert_eq!(s.find("c", "/i", &serde_json::json!(7)).unwrap().len(), 1, "the index kept its entries too");
    s.drop_collection("other").unwrap();
    s.close().unwrap();
    let s = Store::open(cfg).unwrap();
    assert_eq!(s.ids("c", "", 100).unwrap().len(), 30);
}
