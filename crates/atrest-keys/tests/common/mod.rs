//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use atrest_keys::{InsecureMemoryProvider, Keyring, ManualClock, MasterKeyId};
use sha3::{Digest, Sha3_256};

/// A fixed start time for the manual clock: 2023-11-14T22:13:20Z.
pub const T0: u64 = 1_700_000_000;

pub fn mid(s: &str) -> MasterKeyId {
    MasterKeyId::new(s).unwrap()
}

/// A data directory with a keyring under master key "m1" of an in-memory provider.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub provider: Arc<InsecureMemoryProvider>,
    pub clock: Arc<ManualClock>,
    pub keyring: Keyring,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let provider = Arc::new(InsecureMemoryProvider::with_master_key(&mid("m1")).unwrap());
        let clock = Arc::new(ManualClock::new(T0));
        let keyring = Keyring::create(dir.path(), provider.clone(), &mid("m1"), clock.clone()).unwrap();
        Fixture { dir, provider, clock, keyring }
    }

    pub fn reopen(&self) -> atrest_keys::Result<Keyring> {
        Keyring::open(self.dir.path(), self.provider.clone(), self.clock.clone())
    }

    pub fn file_bytes(&self) -> Vec<u8> {
        std::fs::read(self.keyring.path()).unwrap()
    }
}

/// Rewrites the keyring body as a deliberate attacker would: edit the JSON, then recompute the checksum.
pub fn rewrite_keyring(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).unwrap();
    let end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&bytes[..end]).unwrap();
    edit(&mut body);
    let body = serde_json::to_vec(&body).unwrap();
    let mut out = body.clone();
    out.extend_from_slice(format!("\nsha3-256 {}\n", hex::encode(Sha3_256::digest(&body))).as_bytes());
    std::fs::write(path, out).unwrap();
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
