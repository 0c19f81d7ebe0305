//! Little-endian encoding helpers for the manifest. Decoding checks every length against the bytes left, so no
//! input can make it panic or allocate more than the input's size.

/// Appends fields to a buffer.
#[derive(Default)]
pub(crate) struct Enc(pub(crate) Vec<u8>);

impl Enc {
    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    /// A string of at most 65535 bytes, `u16 length | bytes`.
    pub(crate) fn str(&mut self, v: &str) -> &mut Self {
        let len = u16::try_from(v.len()).expect("callers keep names under 64 KiB");
        self.u16(len).bytes(v.as_bytes())
    }
}

/// Reads fields; every error names the field.
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Dec<'a> {
        Dec { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        if self.remaining() < n {
            return Err(format!("truncated in {field} at byte {}", self.pos));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn u16(&mut self, field: &str) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A count of items each at least `min_item` bytes long, checked against the bytes left.
    pub(crate) fn count(&mut self, min_item: usize, field: &str) -> Result<usize, String> {
        let n = self.u32(field)? as usize;
        if n.saturating_mul(min_item) > self.remaining() {
            return Err(format!("{field} {n} exceeds the bytes left"));
        }
        Ok(n)
    }

    pub(crate) fn str(&mut self, field: &str) -> Result<String, String> {
        let n = self.u16(field)? as usize;
        let b = self.take(n, field)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("{field} is not UTF-8"))
    }
}
