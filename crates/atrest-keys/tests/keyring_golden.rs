//! Keyrings written by earlier versions stay readable. `golden/keyring-v1/keyring` was written by the
//! format-version-1 code (before named scopes existed) with the ignored test below, under an in-memory master
//! key with fixed bytes; this test opens it with today's code and checks every key.
//!
//! To write a new golden keyring (only when adding a format version; never overwrite an old one):
//! `ATREST_GOLDEN_OUT=<dir> cargo test -p atrest-keys --test keyring_golden -- --ignored`.

use std::path::PathBuf;
use std::sync::Arc;

use atrest_keys::{
    InsecureMemoryProvider, KeyState, Keyring, ManualClock, MasterKeyId, MasterKeyMaterial, ReferenceCheck, Scope,
};

/// The fixed master key of the golden keyrings (test data, not a secret).
const MASTER: [u8; 32] = *b"atrest golden keyring master key";

fn provider() -> Arc<InsecureMemoryProvider> {
    let provider = Arc::new(InsecureMemoryProvider::new());
    provider.replace_master_key(&MasterKeyId::new("golden").unwrap(), MasterKeyMaterial::from_bytes(MASTER));
    provider
}

fn golden(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(dir)
}

/// Data key bytes are not fixed (they are drawn at random when made), so the golden directory also keeps
/// `keys.txt`: `id hex-key` per live key, written alongside the keyring.
fn expected_keys(dir: &str) -> Vec<(u32, String)> {
    std::fs::read_to_string(golden(dir).join("keys.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (id, key) = l.split_once(' ').unwrap();
            (id.parse().unwrap(), key.to_owned())
        })
        .collect()
}

#[test]
fn a_version_1_keyring_opens_and_serves_its_keys() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(golden("keyring-v1").join("keyring"), tmp.path().join("keyring")).unwrap();
    let keyring = Keyring::open(tmp.path(), provider(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
    let entries = keyring.entries();
    let summary: Vec<(u32, Scope, KeyState)> = entries.iter().map(|e| (e.id, e.scope, e.state)).collect();
    assert_eq!(
        summary,
        vec![
            (1, Scope::Store, KeyState::Active),
            (2, Scope::Collection(7), KeyState::DecryptOnly),
            (3, Scope::Collection(7), KeyState::Active),
            (4, Scope::Collection(9), KeyState::Destroyed),
        ]
    );
    for (id, key) in expected_keys("keyring-v1") {
        assert_eq!(hex::encode(keyring.key(id).unwrap().expose_secret()), key, "key {id}");
    }
    // Changing it keeps version 1 while no named scope is used, so older readers can still read it.
    keyring.rotate_data_key(Scope::Store).unwrap();
    let text = std::fs::read_to_string(tmp.path().join("keyring")).unwrap();
    assert!(text.contains("\"version\":1"), "{text}");
}

#[test]
#[ignore = "writes a golden keyring; run by hand with ATREST_GOLDEN_OUT"]
fn write_golden_keyring() {
    let out = PathBuf::from(std::env::var("ATREST_GOLDEN_OUT").expect("set ATREST_GOLDEN_OUT"));
    std::fs::create_dir_all(&out).unwrap();
    let keyring = Keyring::create(
        &out,
        provider(),
        &MasterKeyId::new("golden").unwrap(),
        Arc::new(ManualClock::new(1_700_000_000)),
    )
    .unwrap();
    let (store, store_key) = keyring.active_key(Scope::Store).unwrap();
    let (old, old_key) = keyring.active_key(Scope::Collection(7)).unwrap();
    let (new, new_key) = keyring.rotate_data_key(Scope::Collection(7)).unwrap();
    let (gone, _) = keyring.active_key(Scope::Collection(9)).unwrap();
    keyring.destroy(gone, &0u64 as &dyn ReferenceCheck).unwrap();
    let keys: String = [(store, store_key), (old, old_key), (new, new_key)]
        .iter()
        .map(|(id, k)| format!("{id} {}\n", hex::encode(k.expose_secret())))
        .collect();
    std::fs::write(out.join("keys.txt"), keys).unwrap();
}
