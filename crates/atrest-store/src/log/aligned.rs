//! A growable byte buffer whose start is 4096-byte aligned, so whole batches can be written with `O_DIRECT`
//! straight from where they were packed and sealed, and reused from batch to batch without new page faults.

/// Alignment of the buffer start (the largest logical block size `O_DIRECT` commonly needs).
pub(crate) const ALIGN: usize = 4096;

/// A zero-initialised, 4096-aligned, growable buffer.
#[derive(Debug, Default)]
pub(crate) struct AlignedBuf {
    raw: Vec<u8>,
    off: usize,
    len: usize,
}

impl AlignedBuf {
    /// An empty buffer that can grow to `cap` bytes without reallocating.
    pub(crate) fn with_capacity(cap: usize) -> AlignedBuf {
        let raw = vec![0u8; cap + ALIGN];
        let off = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        AlignedBuf { raw, off, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `n` zero bytes.
    pub(crate) fn grow_zeroed(&mut self, n: usize) {
        let new_len = self.len + n;
        if self.off + new_len > self.raw.len() {
            let mut bigger = AlignedBuf::with_capacity((new_len * 2).max(1 << 20));
            bigger.raw[bigger.off..bigger.off + self.len].copy_from_slice(self.as_slice());
            bigger.len = self.len;
            *self = bigger;
        }
        let (off, len) = (self.off, self.len);
        self.raw[off + len..off + new_len].fill(0);
        self.len = new_len;
    }

    /// Forgets the contents, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.raw[self.off..self.off + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.off..self.off + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_aligned_and_zeroed_when_growing_and_reused() {
        let mut b = AlignedBuf::with_capacity(8192);
        b.grow_zeroed(4096);
        b.as_mut_slice().fill(7);
        b.grow_zeroed(3 << 20);
        assert_eq!(b.as_slice().as_ptr() as usize % ALIGN, 0);
        assert!(b.as_slice()[..4096].iter().all(|&x| x == 7));
        assert!(b.as_slice()[4096..].iter().all(|&x| x == 0));
        b.clear();
        b.grow_zeroed(4096);
        assert!(b.as_slice().iter().all(|&x| x == 0));
    }
}
