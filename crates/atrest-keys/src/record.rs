//! The state record: what the key service vouches for about one store, so that an older copy of the store's
//! data directory (or of its keyring) is refused as a rollback. The key service keeps it (a record beside the
//! local key file, a token object, a KMIP managed object: see each provider), the store moves it forward at
//! every checkpoint, at close and at a bounded interval under load, and compares its directory with it at
//! every open.
//!
//! ```text
//!  0   8  magic          "ATRSTATE"
//!  8   4  version        u32 LE (1)
//! 12  16  store id
//! 28   8  generation     u64 LE: manifest generation
//! 36   8  durable batch  u64 LE: highest commit batch known durable
//! 44   4  keys through   u32 LE: highest data key id the keyring had made
//! 48   8  written        u64 LE: Unix seconds
//! 56   4  shredded count u32 LE, then that many data key ids (u32 LE, ascending): keys destroyed
//! ```
//!
//! The record is decoded from what a key service returned (or a file an attacker may have edited, whose tag is
//! checked first), so decoding checks every length and never panics.

use std::collections::BTreeSet;

use crate::error::{KeyError, Result};

const MAGIC: &[u8; 8] = b"ATRSTATE";
const VERSION: u32 = 1;
const FIXED: usize = 60;
/// More destroyed keys than any keyring holds ids for is not a record.
const MAX_SHREDDED: usize = 1 << 20;

/// The state of a store the key service vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateRecord {
    /// The store.
    pub store_id: [u8; 16],
    /// Its manifest generation.
    pub generation: u64,
    /// The highest commit batch known durable.
    pub durable_batch: u64,
    /// The highest data key id its keyring had made.
    pub keys_through: u32,
    /// Data keys destroyed (crypto-shredded): never again live in its keyring.
    pub shredded: BTreeSet<u32>,
    /// When it was written (Unix seconds).
    pub written: u64,
}

impl StateRecord {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED + 4 * self.shredded.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.store_id);
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.durable_batch.to_le_bytes());
        out.extend_from_slice(&self.keys_through.to_le_bytes());
        out.extend_from_slice(&self.written.to_le_bytes());
        out.extend_from_slice(&(self.shredded.len() as u32).to_le_bytes());
        for id in &self.shredded {
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }

    /// Decodes a record; `source` names where it came from in errors.
    ///
    /// # Errors
    /// [`KeyError::StateRecordCorrupt`] saying what is wrong.
    pub fn decode(bytes: &[u8], source: &str) -> Result<StateRecord> {
        let bad = |reason: &str| KeyError::StateRecordCorrupt { origin: source.to_owned(), reason: reason.to_owned() };
        if bytes.len() < FIXED {
            return Err(bad("shorter than a record"));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad("not a state record"));
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        if u32_at(8) != VERSION {
            return Err(bad(&format!("unknown version {}", u32_at(8))));
        }
        let count = u32_at(56) as usize;
        if count > MAX_SHREDDED || bytes.len() != FIXED + 4 * count {
            return Err(bad("its length does not match its count of destroyed keys"));
        }
        let mut shredded = BTreeSet::new();
        let mut last = None;
        for i in 0..count {
            let id = u32_at(FIXED + 4 * i);
            if last.is_some_and(|l| l >= id) {
                return Err(bad("destroyed key ids out of order"));
            }
            last = Some(id);
            shredded.insert(id);
        }
        Ok(StateRecord {
            store_id: bytes[12..28].try_into().expect("16 bytes"),
            generation: u64_at(28),
            durable_batch: u64_at(36),
            keys_through: u32_at(44),
            written: u64_at(48),
            shredded,
        })
    }

    /// Whether `other` says nothing this record does not: every field at or below this one's.
    pub fn covers(&self, other: &StateRecord) -> bool {
        self.generation >= other.generation
            && self.durable_batch >= other.durable_batch
            && self.keys_through >= other.keys_through
            && self.shredded.is_superset(&other.shredded)
    }

    /// The field-wise maximum of two records (the union of their destroyed keys): what two copies left by an
    /// interrupted update vouch for together.
    pub fn merge(&self, other: &StateRecord) -> StateRecord {
        StateRecord {
            store_id: self.store_id,
            generation: self.generation.max(other.generation),
            durable_batch: self.durable_batch.max(other.durable_batch),
            keys_through: self.keys_through.max(other.keys_through),
            shredded: self.shredded.union(&other.shredded).copied().collect(),
            written: self.written.max(other.written),
        }
    }
}

/// The name a store's record goes by in a key service: its id in hex.
pub(crate) fn record_name(store_id: &[u8; 16]) -> String {
    hex::encode(store_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StateRecord {
        StateRecord {
            store_id: [7; 16],
            generation: 12,
            durable_batch: 9000,
            keys_through: 6,
            shredded: [2, 5].into(),
            written: 1_800_000_000,
        }
    }

    #[test]
    fn round_trip_and_golden_layout() {
        let r = sample();
        let b = r.encode();
        assert_eq!(StateRecord::decode(&b, "t").unwrap(), r);
        assert_eq!(&b[..12], b"ATRSTATE\x01\x00\x00\x00");
        assert_eq!(b.len(), FIXED + 8);
        assert_eq!(&b[56..], &[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0]);
    }

    #[test]
    fn every_truncation_and_bad_field_is_refused() {
        let b = sample().encode();
        for len in 0..b.len() {
            assert!(StateRecord::decode(&b[..len], "t").is_err(), "truncated to {len}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(StateRecord::decode(&longer, "t").is_err());
        let mut order = b.clone();
        order[60..64].copy_from_slice(&9u32.to_le_bytes());
        assert!(StateRecord::decode(&order, "t").unwrap_err().to_string().contains("order"));
        let mut version = b.clone();
        version[8] = 2;
        assert!(StateRecord::decode(&version, "t").unwrap_err().to_string().contains("version"));
        let mut huge = b;
        huge[56..60].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(StateRecord::decode(&huge, "t").is_err());
    }

    #[test]
    fn covers_and_merge() {
        let a = sample();
        let mut b = a.clone();
        b.generation += 1;
        b.shredded.remove(&5);
        assert!(!a.covers(&b) && !b.covers(&a));
        let m = a.merge(&b);
        assert!(m.covers(&a) && m.covers(&b));
        assert_eq!((m.generation, m.shredded.len()), (13, 2));
    }
}
