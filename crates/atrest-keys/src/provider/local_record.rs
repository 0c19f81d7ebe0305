//! State records of the local key file provider: one file per store beside the key file,
//! `<key file>.<store id>.state`, replaced atomically, authenticated with a key derived from a master key of
//! the key file (so it is as hard to forge as the key file is to read), never inside the data directory.
//!
//! ```text
//!  0   8  magic        "ATRSREC1"
//!  8   1  n            length of the master-key id
//!  9   n  master key   the id of the master key the tag is made under
//!  .   4  length       u32 LE, then the record's bytes
//!  .  32  tag          SHA3-256(K || every byte before the tag),
//!                      K = SHA3-256("atrest-state-record-key-v1" || master key || 0x00 || record name)
//! ```
//!
//! SHA3-256 of key and message is a MAC (SHA-3 has no length extension); the derived key is bound to the
//! record's name, so one store's record cannot stand in for another's.

use std::path::{Path, PathBuf};

use sha3::{Digest, Sha3_256};

use crate::error::{KeyError, Result};
use crate::secret::{MasterKeyId, MasterKeyMaterial};

const MAGIC: &[u8; 8] = b"ATRSREC1";
const TAG_LEN: usize = 32;

/// Where the record `name` of the key file at `key_file` lives.
pub(crate) fn path(key_file: &Path, name: &str) -> PathBuf {
    let file = key_file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    key_file.with_file_name(format!("{file}.{name}.state"))
}

pub(crate) fn tag(master: &MasterKeyMaterial, name: &str, body: &[u8]) -> [u8; TAG_LEN] {
    let mut k = Sha3_256::new();
    k.update(b"atrest-state-record-key-v1");
    k.update(master.expose_secret());
    k.update([0u8]);
    k.update(name.as_bytes());
    let k: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(k.finalize().into());
    let mut t = Sha3_256::new();
    t.update(&k[..]);
    t.update(body);
    t.finalize().into()
}

/// The file's bytes for `record` under master key `id` (bytes `material`).
pub(crate) fn seal(name: &str, id: &MasterKeyId, material: &MasterKeyMaterial, record: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(id.as_str().len() as u8);
    out.extend_from_slice(id.as_str().as_bytes());
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(record);
    let t = tag(material, name, &out);
    out.extend_from_slice(&t);
    out
}

/// The record in the file's bytes, after checking its tag with the named master key (`material_of` finds
/// it, `None` if the key file no longer holds it).
pub(crate) fn open(
    file: &Path,
    name: &str,
    bytes: &[u8],
    material_of: impl FnOnce(&MasterKeyId) -> Option<MasterKeyMaterial>,
) -> Result<Vec<u8>> {
    let bad = |reason: String| KeyError::StateRecordCorrupt { origin: file.display().to_string(), reason };
    let short = || bad("truncated".into());
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("not a state record file".into()))?;
    let (&n, rest) = rest.split_first().ok_or_else(short)?;
    let id = rest.get(..usize::from(n)).ok_or_else(short)?;
    let rest = &rest[usize::from(n)..];
    let len = rest.get(..4).ok_or_else(short)?;
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let rest = &rest[4..];
    if rest.len() != len.checked_add(TAG_LEN).ok_or_else(short)? {
        return Err(bad("its length does not match the record it holds".into()));
    }
    let id = std::str::from_utf8(id)
        .ok()
        .and_then(|s| MasterKeyId::new(s).ok())
        .ok_or_else(|| bad("bad master-key id".into()))?;
    let material = material_of(&id).ok_or_else(|| {
        bad(format!(
            "it is authenticated under master key {id:?}, which the key file no longer holds (a master key \
             retired by a rotation made without the store open); removing this file makes the store start a new \
             record at its next open, without protection against what happened before"
        ))
    })?;
    let body_end = bytes.len() - TAG_LEN;
    let want = tag(&material, name, &bytes[..body_end]);
    let diff = want.iter().zip(&bytes[body_end..]).fold(0u8, |d, (a, b)| d | (a ^ b));
    if diff != 0 {
        return Err(bad("it does not authenticate under the key file's master key: altered, or written for another key file or store".into()));
    }
    Ok(rest[..len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_tamper_and_wrong_key() {
        let id = MasterKeyId::new("m1").unwrap();
        let k = MasterKeyMaterial::from_bytes([3; 32]);
        let f = Path::new("/k/a.key.00.state");
        let sealed = seal("00", &id, &k, b"record");
        assert_eq!(open(f, "00", &sealed, |_| Some(k.clone())).unwrap(), b"record");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open(f, "00", &bad, |_| Some(k.clone())).is_err(), "flip at {i}");
        }
        for len in 0..sealed.len() {
            assert!(open(f, "00", &sealed[..len], |_| Some(k.clone())).is_err(), "truncated to {len}");
        }
        assert!(open(f, "01", &sealed, |_| Some(k.clone())).is_err(), "another store's record");
        let other = MasterKeyMaterial::from_bytes([4; 32]);
        assert!(open(f, "00", &sealed, |_| Some(other)).is_err());
        let e = open(f, "00", &sealed, |_| None).unwrap_err().to_string();
        assert!(e.contains("no longer holds"), "{e}");
        assert_eq!(path(Path::new("/k/a.key"), "00"), Path::new("/k/a.key.00.state"));
    }
}
