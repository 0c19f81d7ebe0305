//! A small binary codec for the store's own structures (log records, index checkpoints, the manifest).
//!
//! Everything it decodes comes out of authenticated pages, but a bug or a format change must still never
//! panic or over-allocate, so every read is bounds-checked and reports which field ran short.

/// Appends little-endian fields to a byte vector.
#[derive(Default, Debug)]
pub(crate) struct Enc {
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn new() -> Enc {
        Enc { buf: Vec::new() }
    }
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A length-prefixed (u32) byte string.
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).expect("field over 4 GiB"));
        self.buf.extend_from_slice(v);
        self
    }
    pub(crate) fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    /// An unsigned LEB128 integer (7 bits a byte, low bits first).
    pub(crate) fn varint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
        self
    }
    /// Raw bytes, no length.
    pub(crate) fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A structure read from a page did not decode; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {problem}")]
pub struct DecodeError {
    /// The structure or field being read.
    pub what: &'static str,
    /// What was wrong.
    pub problem: &'static str,
}

/// Reads fields written by [`Enc`], bounds-checked.
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Dec<'a> {
        Dec { buf, pos: 0, what }
    }
    fn err(&self, problem: &'static str) -> DecodeError {
        DecodeError { what: self.what, problem }
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(self.err("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    /// An unsigned LEB128 integer of at most ten bytes.
    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than ten bytes"))
    }
    /// A varint length, checked against the bytes left, then that many bytes.
    pub(crate) fn var_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.err("length exceeds memory"))?;
        self.take(n)
    }
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("string is not UTF-8"))
    }
    /// A count of following items, checked against the bytes left so a corrupt count cannot make the caller
    /// reserve gigabytes (each item takes at least `min_item` bytes).
    pub(crate) fn count(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(self.err("item count exceeds the bytes present"));
        }
        Ok(n)
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    pub(crate) fn fail(&self, problem: &'static str) -> DecodeError {
        self.err(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut e = Enc::new();
        e.u8(7).u32(0xdead_beef).u64(u64::MAX).str("héllo").bytes(&[1, 2, 3]);
        let buf = e.finish();
        let mut d = Dec::new(&buf, "test");
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.u32().unwrap(), 0xdead_beef);
        assert_eq!(d.u64().unwrap(), u64::MAX);
        assert_eq!(d.string().unwrap(), "héllo");
        assert_eq!(d.bytes().unwrap(), &[1, 2, 3]);
        assert!(d.is_empty());
        for cut in 0..buf.len() {
            let mut d = Dec::new(&buf[..cut], "test");
            let r = (|| -> Result<(), DecodeError> {
                d.u8()?;
                d.u32()?;
                d.u64()?;
                d.string()?;
                d.bytes()?;
                Ok(())
            })();
            assert_eq!(r.unwrap_err().problem, "truncated");
        }
    }

    #[test]
    fn varints_round_trip_and_refuse_overflow() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut e = Enc::new();
            e.varint(v);
            let b = e.finish();
            assert_eq!(Dec::new(&b, "t").varint().unwrap(), v);
            assert!(Dec::new(&b[..b.len() - 1], "t").varint().is_err());
        }
        assert!(Dec::new(&[0xff; 10], "t").varint().is_err());
        assert!(Dec::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], "t").varint().is_err());
    }

    #[test]
    fn huge_count_is_rejected() {
        let buf = u32::MAX.to_le_bytes();
        assert!(Dec::new(&buf, "t").count(1).is_err());
    }
}
