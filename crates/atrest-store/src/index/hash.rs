//! Hashes of the index: the keyed hash that stands for a (pointer, value) pair in index entries, and the
//! hash the run filters use.
//!
//! Index entries hold `SipHash-1-3(collection hash key, pointer, canonical value)` instead of the value, so
//! an index is a small, fixed cost per indexed value however large the value is. Two pairs can share a
//! hash, so every candidate is checked against its document before it is returned. The key is random per
//! collection and lives only in the sealed catalog.

use siphasher::sip::SipHasher13;
use std::hash::Hasher;

/// The hash of an indexed (pointer, canonical value) pair under a collection's hash key.
pub(crate) fn index_hash(key: &[u8; 16], pointer: &str, value: &[u8]) -> u64 {
    let mut h = SipHasher13::new_with_key(key);
    // Length-prefixed, so ("/a", "bc") and ("/ab", "c") differ.
    h.write_u64(pointer.len() as u64);
    h.write(pointer.as_bytes());
    h.write(value);
    h.finish()
}

/// The hash run filters are built on (the filters are sealed; no key is needed).
pub(crate) fn filter_hash(bytes: &[u8]) -> u64 {
    let mut h = SipHasher13::new_with_keys(0x6174_7265_7374_2d66, 0x696c_7465_722d_3031);
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_every_part_matter() {
        let k = [7u8; 16];
        let base = index_hash(&k, "/a", b"sx");
        assert_ne!(base, index_hash(&[8u8; 16], "/a", b"sx"));
        assert_ne!(base, index_hash(&k, "/a", b"sy"));
        assert_ne!(index_hash(&k, "/a", b"bc"), index_hash(&k, "/ab", b"c"));
        assert_eq!(base, index_hash(&k, "/a", b"sx"));
        assert_ne!(filter_hash(b"a"), filter_hash(b"b"));
    }
}
