//! Blocked Bloom filters: one 512-bit block per key, so a probe reads one cache line of one page.
//!
//! A run's filter is cut into groups (one per [`super::run::GROUP_BLOCKS`] data blocks), each sized for its
//! own keys, so a run is written in bounded memory however many keys it has. With 10 bits per key and 6
//! probes per block the false-positive rate is about 1 %.

/// Bytes of one filter block.
pub(crate) const BLOCK_BYTES: usize = 64;
const BLOCK_BITS: u64 = (BLOCK_BYTES * 8) as u64;
/// Filter bits spent per key.
const BITS_PER_KEY: usize = 10;
/// Bits set per key.
const PROBES: u32 = 6;

/// How many blocks a filter for `keys` keys has.
pub(crate) fn blocks_for(keys: usize) -> usize {
    (keys * BITS_PER_KEY).div_ceil(BLOCK_BITS as usize).max(1)
}

/// The block a hash falls in.
pub(crate) fn block_of(h: u64, blocks: usize) -> usize {
    (((h >> 32) * blocks as u64) >> 32) as usize
}

fn bit_positions(h: u64) -> impl Iterator<Item = u64> {
    let a = h as u32;
    let b = ((h >> 32) as u32).rotate_left(13) | 1;
    (0..PROBES).map(move |i| u64::from(a.wrapping_add(i.wrapping_mul(b))) % BLOCK_BITS)
}

/// Adds hash `h` to `filter` (`blocks` blocks of [`BLOCK_BYTES`]).
pub(crate) fn insert(filter: &mut [u8], blocks: usize, h: u64) {
    let block = &mut filter[block_of(h, blocks) * BLOCK_BYTES..][..BLOCK_BYTES];
    for bit in bit_positions(h) {
        block[(bit / 8) as usize] |= 1 << (bit % 8);
    }
}

/// Whether `h` may be in the filter, given its block (of [`BLOCK_BYTES`]).
pub(crate) fn may_contain(block: &[u8], h: u64) -> bool {
    block.len() == BLOCK_BYTES && bit_positions(h).all(|bit| block[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::hash::filter_hash;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let n = 20_000;
        let blocks = blocks_for(n);
        let mut f = vec![0u8; blocks * BLOCK_BYTES];
        for i in 0..n {
            insert(&mut f, blocks, filter_hash(format!("key{i}").as_bytes()));
        }
        let probe = |k: &str| {
            let h = filter_hash(k.as_bytes());
            may_contain(&f[block_of(h, blocks) * BLOCK_BYTES..][..BLOCK_BYTES], h)
        };
        assert!((0..n).all(|i| probe(&format!("key{i}"))));
        let fp = (0..n).filter(|i| probe(&format!("other{i}"))).count();
        assert!(fp < n * 3 / 100, "{fp} false positives of {n}");
    }
}
