//! State records (rollback protection) in the local key file provider: beside the key file, authenticated
//! under a key derived from the master key, replaced atomically, and moved to the new master key by a
//! rotation before the old one is retired.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use atrest_keys::{KeyError, KeyProvider, Keyring, LocalKeyFileProvider, MasterKeyId, StateRecord, SystemClock};

fn record(generation: u64) -> StateRecord {
    StateRecord {
        store_id: [0x5a; 16],
        generation,
        durable_batch: 40,
        keys_through: 3,
        shredded: [2].into(),
        written: 1_900_000_000,
    }
}

#[test]
fn the_local_key_file_keeps_an_authenticated_record_that_survives_master_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let (keys_dir, data) = (tmp.path().join("keys"), tmp.path().join("data"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&keys_dir).unwrap();
    let key_file = keys_dir.join("store.key");
    let m1 = MasterKeyId::new("m1").unwrap();
    let p = Arc::new(LocalKeyFileProvider::create(&key_file, &data, &m1).unwrap());
    let keyring = Keyring::create(&data, p.clone(), &m1, Arc::new(SystemClock)).unwrap();
    assert!(keyring.read_state_record(&[0x5a; 16]).unwrap().is_none());
    keyring.write_state_record(&record(7)).unwrap();
    let file = keys_dir.join(format!("store.key.{}.state", "5a".repeat(16)));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!std::fs::read_dir(&data).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("state")));
    assert_eq!(keyring.read_state_record(&[0x5a; 16]).unwrap().unwrap(), record(7));

    // Rotation: the record moves to m2, m1 is retired from the key file, and the record still reads.
    let m2 = MasterKeyId::new("m2").unwrap();
    p.create_master_key(&m2).unwrap();
    let rotation = keyring.rotate_master_key(&m2).unwrap();
    assert_eq!(rotation.retired, vec![m1.clone()]);
    assert!(!p.master_key_ids().unwrap().contains(&m1));
    let reopened =
        Keyring::open(&data, Arc::new(LocalKeyFileProvider::open(&key_file, &data).unwrap()), Arc::new(SystemClock))
            .unwrap();
    assert_eq!(reopened.read_state_record(&[0x5a; 16]).unwrap().unwrap(), record(7));

    // Any change to the file is refused as corrupt (an attacker cannot move the record back by hand).
    let bytes = std::fs::read(&file).unwrap();
    let mut edited = bytes.clone();
    let at = edited.len() - 40;
    edited[at] ^= 1;
    std::fs::write(&file, &edited).unwrap();
    match reopened.read_state_record(&[0x5a; 16]) {
        Err(KeyError::StateRecordCorrupt { reason, .. }) => assert!(reason.contains("authenticate"), "{reason}"),
        other => panic!("expected a corrupt record, got {other:?}"),
    }
    // Another store's record file put in its place does not authenticate under this store's name either.
    std::fs::write(&file, &bytes).unwrap();
    let other = keys_dir.join(format!("store.key.{}.state", "00".repeat(16)));
    std::fs::copy(&file, &other).unwrap();
    assert!(matches!(reopened.read_state_record(&[0; 16]), Err(KeyError::StateRecordCorrupt { .. })));
}
