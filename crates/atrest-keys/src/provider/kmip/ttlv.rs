//! KMIP's binary encoding, TTLV (OASIS KMIP Specification v1.4, section 9.1): every item is a 3-byte tag, a
//! 1-byte type, a 4-byte big-endian length and a value padded with zeros to a multiple of 8 bytes; a structure's
//! value is the items it holds.
//!
//! ```text
//!  0       3    4        8                     8 + len, rounded up to a multiple of 8
//!  | tag   | ty | length | value ... | padding |
//! ```
//!
//! Decoding takes bytes from the network, so it checks every length against what is left, limits nesting, and
//! returns an error naming the offset instead of panicking on any input.

use std::fmt;

/// Deepest nesting accepted when decoding (KMIP messages nest about 6 deep).
const MAX_DEPTH: usize = 32;

/// One TTLV value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// 0x01: the items inside.
    Structure(Vec<Item>),
    /// 0x02: 32-bit signed.
    Integer(i32),
    /// 0x03: 64-bit signed.
    LongInteger(i64),
    /// 0x04: two's complement, big-endian, a multiple of 8 bytes.
    BigInteger(Vec<u8>),
    /// 0x05: 32-bit unsigned.
    Enumeration(u32),
    /// 0x06: 8 bytes, 0 or 1.
    Boolean(bool),
    /// 0x07: UTF-8.
    TextString(String),
    /// 0x08: bytes (key material, ciphertext).
    ByteString(Vec<u8>),
    /// 0x09: seconds since the Unix epoch, 64-bit signed.
    DateTime(i64),
    /// 0x0A: seconds, 32-bit unsigned.
    Interval(u32),
}

/// A tagged value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) tag: u32,
    pub(crate) value: Value,
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06X}=", self.tag)?;
        match &self.value {
            Value::Structure(items) => f.debug_list().entries(items).finish(),
            Value::Integer(v) => write!(f, "{v}i"),
            Value::LongInteger(v) => write!(f, "{v}l"),
            Value::BigInteger(v) => write!(f, "big({})", v.len()),
            Value::Enumeration(v) => write!(f, "enum {v:#x}"),
            Value::Boolean(v) => write!(f, "{v}"),
            Value::TextString(v) => write!(f, "{v:?}"),
            // Byte strings may hold key material: only their length is shown.
            Value::ByteString(v) => write!(f, "bytes({})", v.len()),
            Value::DateTime(v) => write!(f, "time {v}"),
            Value::Interval(v) => write!(f, "{v}s"),
        }
    }
}

/// A TTLV decoding failure: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError {
    pub(crate) offset: usize,
    pub(crate) what: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed TTLV at byte {}: {}", self.offset, self.what)
    }
}

impl Item {
    pub(crate) fn new(tag: u32, value: Value) -> Item {
        Item { tag, value }
    }

    pub(crate) fn structure(tag: u32, items: Vec<Item>) -> Item {
        Item::new(tag, Value::Structure(items))
    }

    /// The items of a structure (empty for any other type).
    pub(crate) fn items(&self) -> &[Item] {
        match &self.value {
            Value::Structure(items) => items,
            _ => &[],
        }
    }

    /// The first item with `tag` inside this structure.
    pub(crate) fn find(&self, tag: u32) -> Option<&Item> {
        self.items().iter().find(|i| i.tag == tag)
    }

    /// Every item with `tag` inside this structure.
    pub(crate) fn find_all(&self, tag: u32) -> impl Iterator<Item = &Item> {
        self.items().iter().filter(move |i| i.tag == tag)
    }

    pub(crate) fn as_enum(&self) -> Option<u32> {
        match self.value {
            Value::Enumeration(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::TextString(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Value::ByteString(v) => Some(v),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn as_integer(&self) -> Option<i32> {
        match self.value {
            Value::Integer(v) => Some(v),
            _ => None,
        }
    }

    /// The encoded bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tag.to_be_bytes()[1..]);
        let (ty, fixed): (u8, Option<[u8; 8]>) = match &self.value {
            Value::Structure(_) => (0x01, None),
            Value::Integer(v) => (0x02, Some(four(v.to_be_bytes()))),
            Value::LongInteger(v) => (0x03, Some(v.to_be_bytes())),
            Value::BigInteger(_) => (0x04, None),
            Value::Enumeration(v) => (0x05, Some(four(v.to_be_bytes()))),
            Value::Boolean(v) => (0x06, Some(u64::from(*v).to_be_bytes())),
            Value::TextString(_) => (0x07, None),
            Value::ByteString(_) => (0x08, None),
            Value::DateTime(v) => (0x09, Some(v.to_be_bytes())),
            Value::Interval(v) => (0x0A, Some(four(v.to_be_bytes()))),
        };
        out.push(ty);
        if let Some(bytes) = fixed {
            let len: u32 = if matches!(ty, 0x02 | 0x05 | 0x0A) { 4 } else { 8 };
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&bytes);
            return;
        }
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let start = out.len();
        match &self.value {
            Value::Structure(items) => items.iter().for_each(|i| i.encode_into(out)),
            Value::BigInteger(b) => {
                // Sign-extended on the left to a positive multiple of 8 bytes (9.1.1.4), so that any value
                // encodes to what the decoder takes.
                let fill = if b.first().is_some_and(|&x| x & 0x80 != 0) { 0xFF } else { 0 };
                let pad = if b.is_empty() { 8 } else { (8 - b.len() % 8) % 8 };
                out.extend(std::iter::repeat_n(fill, pad));
                out.extend_from_slice(b);
            }
            Value::ByteString(b) => out.extend_from_slice(b),
            Value::TextString(s) => out.extend_from_slice(s.as_bytes()),
            _ => unreachable!("fixed-length types returned above"),
        }
        let len = out.len() - start;
        out[len_at..start].copy_from_slice(&(len as u32).to_be_bytes());
        out.resize(start + len.div_ceil(8) * 8, 0);
    }

    /// Decodes exactly one item that fills `bytes`.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Item, DecodeError> {
        let (item, used) = decode_at(bytes, 0, 0)?;
        if used != bytes.len() {
            return Err(DecodeError { offset: used, what: format!("{} bytes after the message", bytes.len() - used) });
        }
        Ok(item)
    }
}

/// A 4-byte value left-aligned in 8 bytes (the rest is padding).
fn four(b: [u8; 4]) -> [u8; 8] {
    [b[0], b[1], b[2], b[3], 0, 0, 0, 0]
}

/// The total length (header, value, padding) of the item whose 8-byte header is `header`, or `None` when the
/// header is not a structure's (KMIP messages are structures). Used to read one message off a stream.
pub(crate) fn message_len(header: &[u8; 8]) -> Option<usize> {
    (header[3] == 0x01).then(|| 8 + (u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize))
}

fn decode_at(buf: &[u8], at: usize, depth: usize) -> Result<(Item, usize), DecodeError> {
    let fail = |offset: usize, what: String| DecodeError { offset, what };
    if depth > MAX_DEPTH {
        return Err(fail(at, format!("nested deeper than {MAX_DEPTH} structures")));
    }
    let header = buf.get(at..at + 8).ok_or_else(|| fail(at, "truncated item header".into()))?;
    let tag = u32::from_be_bytes([0, header[0], header[1], header[2]]);
    let ty = header[3];
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let start = at + 8;
    let padded = len.checked_add(7).map(|l| l / 8 * 8).ok_or_else(|| fail(at, "length overflows".into()))?;
    let end = start.checked_add(padded).filter(|e| *e <= buf.len()).ok_or_else(|| {
        fail(at, format!("item {tag:06X} of {len} bytes runs past the end ({} bytes left)", buf.len() - start))
    })?;
    let v = &buf[start..start + len];
    let exact = |want: usize| -> Result<(), DecodeError> {
        if len == want { Ok(()) } else { Err(fail(at, format!("type {ty:#04x} needs length {want}, got {len}"))) }
    };
    let value = match ty {
        0x01 => {
            if len != padded {
                return Err(fail(at, format!("structure length {len} is not a multiple of 8")));
            }
            let mut items = Vec::new();
            let mut pos = start;
            while pos < start + len {
                let (item, next) = decode_at(&buf[..start + len], pos, depth + 1)?;
                items.push(item);
                pos = next;
            }
            Value::Structure(items)
        }
        0x02 => {
            exact(4)?;
            Value::Integer(i32::from_be_bytes([v[0], v[1], v[2], v[3]]))
        }
        0x03 => {
            exact(8)?;
            Value::LongInteger(i64::from_be_bytes(v.try_into().expect("8 bytes")))
        }
        0x04 => {
            if len == 0 || !len.is_multiple_of(8) {
                return Err(fail(at, format!("big integer length {len} is not a positive multiple of 8")));
            }
            Value::BigInteger(v.to_vec())
        }
        0x05 => {
            exact(4)?;
            Value::Enumeration(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
        }
        0x06 => {
            exact(8)?;
            match u64::from_be_bytes(v.try_into().expect("8 bytes")) {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                n => return Err(fail(at, format!("boolean value {n} is neither 0 nor 1"))),
            }
        }
        0x07 => Value::TextString(
            String::from_utf8(v.to_vec()).map_err(|_| fail(at, format!("text string {tag:06X} is not UTF-8")))?,
        ),
        0x08 => Value::ByteString(v.to_vec()),
        0x09 => {
            exact(8)?;
            Value::DateTime(i64::from_be_bytes(v.try_into().expect("8 bytes")))
        }
        0x0A => {
            exact(4)?;
            Value::Interval(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
        }
        other => return Err(fail(at, format!("unknown item type {other:#04x}"))),
    };
    Ok((Item { tag, value }, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '|'], "")).unwrap()
    }

    /// The encoding examples of the OASIS KMIP Specification v1.4, section 9.1.2 (tag 0x420020 throughout).
    #[test]
    fn spec_examples() {
        let cases = [
            (Value::Integer(8), "420020 | 02 | 00000004 | 00000008 00000000"),
            (Value::LongInteger(123_456_789_000_000_000), "420020 | 03 | 00000008 | 01B69B4BA5749200"),
            (
                Value::BigInteger(hex("0000000003FD35EB6BC2DF4618080000")),
                "420020 | 04 | 00000010 | 0000000003FD35EB 6BC2DF4618080000",
            ),
            (Value::Enumeration(255), "420020 | 05 | 00000004 | 000000FF 00000000"),
            (Value::Boolean(true), "420020 | 06 | 00000008 | 0000000000000001"),
            (Value::TextString("Hello World".into()), "420020 | 07 | 0000000B | 48656C6C6F20576F 726C640000000000"),
            (Value::ByteString(vec![1, 2, 3]), "420020 | 08 | 00000003 | 0102030000000000"),
            // Friday, March 14, 2008, 11:56:40 GMT.
            (Value::DateTime(0x47DA_67F8), "420020 | 09 | 00000008 | 0000000047DA67F8"),
            // 10 days.
            (Value::Interval(864_000), "420020 | 0A | 00000004 | 000D2F00 00000000"),
            (
                Value::Structure(vec![
                    Item::new(0x420004, Value::Enumeration(254)),
                    Item::new(0x420005, Value::Integer(255)),
                ]),
                "420020 | 01 | 00000020 | 420004 | 05 | 00000004 | 000000FE 00000000 \
                 | 420005 | 02 | 00000004 | 000000FF 00000000",
            ),
        ];
        for (value, bytes) in cases {
            let item = Item::new(0x420020, value);
            let want = hex(bytes);
            assert_eq!(item.encode(), want, "{item:?}");
            assert_eq!(Item::decode(&want).unwrap(), item);
        }
    }

    #[test]
    fn big_integers_of_any_length_encode_to_what_decodes() {
        // Two's complement, sign-extended to a multiple of 8 bytes: the same number, as the decoder requires.
        let cases: [(&[u8], &str); 5] = [
            (&[], "0000000000000000"),
            (&[0x01, 0x00], "0000000000000100"),
            (&[0xFF], "FFFFFFFFFFFFFFFF"),
            (&[0x80, 0, 0, 0, 0, 0, 0, 0, 1], "FFFFFFFFFFFFFF80 0000000000000001"),
            (&[0x7F, 1, 2, 3, 4, 5, 6, 7], "7F01020304050607"),
        ];
        for (value, want) in cases {
            let item = Item::new(0x420020, Value::BigInteger(value.to_vec()));
            let want = hex(want);
            let bytes = item.encode();
            assert_eq!(&bytes[..8], &hex(&format!("420020 04 {:08X}", want.len())), "{value:02X?}");
            assert_eq!(Item::decode(&bytes).unwrap(), Item::new(0x420020, Value::BigInteger(want)));
        }
    }

    #[test]
    fn refuses_malformed_input_by_offset() {
        let good = hex("420020 | 01 | 00000010 | 420004 | 05 | 00000004 | 000000FE 00000000");
        assert!(Item::decode(&good).is_ok());
        for len in 0..good.len() {
            let err = Item::decode(&good[..len]).unwrap_err();
            assert!(err.offset <= len, "{err}");
        }
        let mut extra = good.clone();
        extra.extend_from_slice(&[0; 8]);
        assert!(Item::decode(&extra).unwrap_err().what.contains("after the message"));
        let bad_bool = hex("420020 | 06 | 00000008 | 0000000000000002");
        assert!(Item::decode(&bad_bool).unwrap_err().what.contains("boolean"));
        let bad_int = hex("420020 | 02 | 00000008 | 0000000000000002");
        assert!(Item::decode(&bad_int).unwrap_err().what.contains("needs length 4"));
        let bad_type = hex("420020 | 0B | 00000000");
        assert!(Item::decode(&bad_type).unwrap_err().what.contains("unknown item type"));
        let huge = hex("420020 | 08 | FFFFFFFF | 00");
        assert!(Item::decode(&huge).unwrap_err().what.contains("runs past the end"));
        let bad_utf8 = hex("420020 | 07 | 00000001 | FF00000000000000");
        assert!(Item::decode(&bad_utf8).unwrap_err().what.contains("UTF-8"));
        // A structure whose inner item claims more than the structure holds.
        let overrun = hex("420020 | 01 | 00000008 | 420004 | 08 | 00000010");
        assert!(Item::decode(&overrun).is_err());
        // Nesting beyond the limit.
        let mut deep = Vec::new();
        for depth in 0..40u32 {
            deep.extend_from_slice(&hex("420020 01"));
            deep.extend_from_slice(&((40 - depth - 1) * 8).to_be_bytes());
        }
        assert!(Item::decode(&deep).unwrap_err().what.contains("nested deeper"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic generator: every decode of junk returns, and re-encoding what decodes round-trips.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let seed = hex("420020 | 01 | 00000020 | 420004 | 05 | 00000004 | 000000FE 00000000 \
                        | 420005 | 07 | 00000003 | 6162630000000000");
        for _ in 0..20_000 {
            let mut b = seed.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            b.truncate(b.len() - (next() as usize % 3) * 8 % b.len());
            if let Ok(item) = Item::decode(&b) {
                assert_eq!(Item::decode(&item.encode()).unwrap(), item);
            }
        }
        assert_eq!(message_len(&seed[..8].try_into().unwrap()), Some(seed.len()));
    }
}
