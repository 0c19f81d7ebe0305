//! Log records: what a commit batch says happened, and where things are.
//!
//! ```text
//! record  = len u32 (bytes after this field) | type u8 | collection u64 | fields
//! Put     (1) = id str | doc bytes
//! Delete  (2) = id str
//! Attach  (3) = id str | name str | length u64 | extent count u32 | (segment u64 | first page u64 | pages u32)*
//! Detach  (4) = id str | name str
//! str / bytes = len u32 | bytes
//! ```
//!
//! Records of one collection are packed back to back into the payload stream of a run of pages sealed under
//! that collection's key; a record may span pages.

use crate::codec::{Dec, DecodeError, Enc};

/// Bytes of the length field that starts every record (it counts the bytes after it).
pub(crate) const LEN_BYTES: usize = 4;
/// Offset of the record type, from the start of the record.
pub(crate) const TYPE_AT: usize = 4;
/// Offset of the collection number.
pub(crate) const COLL_AT: usize = 5;
/// Offset of the type's fields.
pub(crate) const FIELDS_AT: usize = 13;

/// Splits a collection's payload stream into records: (offset of the record in the stream, the record
/// without its length field). A length that overruns the stream is an error naming the offset.
pub(crate) fn split_records(stream: &[u8]) -> impl Iterator<Item = Result<(usize, &[u8]), (usize, &'static str)>> {
    let mut o = 0usize;
    std::iter::from_fn(move || {
        if o >= stream.len() {
            return None;
        }
        let at = o;
        let Some(lb) = stream.get(o..o + LEN_BYTES) else {
            o = stream.len();
            return Some(Err((at, "truncated record length")));
        };
        let len = u32::from_le_bytes([lb[0], lb[1], lb[2], lb[3]]) as usize;
        let Some(body) = stream.get(o + LEN_BYTES..o + LEN_BYTES + len) else {
            o = stream.len();
            return Some(Err((at, "record overruns its stream")));
        };
        o += LEN_BYTES + len;
        Some(Ok((at, body)))
    })
}

/// Where a record lies: segment, first page, offset in that page's payload, and total length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) seg: u64,
    pub(crate) page: u64,
    pub(crate) offset: u32,
    pub(crate) len: u32,
}

/// A run of consecutive attachment pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub(crate) seg: u64,
    pub(crate) first: u64,
    pub(crate) pages: u32,
}

/// A log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Put { coll: u64, id: String, doc: Vec<u8> },
    Delete { coll: u64, id: String },
    Attach { coll: u64, id: String, name: String, len: u64, extents: Vec<Extent> },
    Detach { coll: u64, id: String, name: String },
}

const PUT: u8 = 1;
const DELETE: u8 = 2;
const ATTACH: u8 = 3;
const DETACH: u8 = 4;

impl Record {
    pub(crate) fn coll(&self) -> u64 {
        match self {
            Record::Put { coll, .. }
            | Record::Delete { coll, .. }
            | Record::Attach { coll, .. }
            | Record::Detach { coll, .. } => *coll,
        }
    }

    /// The document id the record is about.
    pub(crate) fn id(&self) -> &str {
        match self {
            Record::Put { id, .. }
            | Record::Delete { id, .. }
            | Record::Attach { id, .. }
            | Record::Detach { id, .. } => id,
        }
    }

    /// The record as a head (length prefix and fields) and a tail (the document bytes, not copied).
    #[cfg(test)]
    pub(crate) fn parts(&self) -> (Vec<u8>, &[u8]) {
        let mut head = Vec::new();
        let tail = self.parts_into(&mut head);
        (head, tail)
    }

    /// Like [`Record::parts`], writing the head into `head` (cleared first), so the commit path can reuse one
    /// buffer for every record instead of allocating a head per document.
    pub(crate) fn parts_into(&self, head: &mut Vec<u8>) -> &[u8] {
        head.clear();
        let mut e = Enc { buf: std::mem::take(head) };
        e.u32(0);
        let tail: &[u8] = match self {
            Record::Put { coll, id, doc } => {
                e.u8(PUT).u64(*coll).str(id).u32(doc.len() as u32);
                doc
            }
            Record::Delete { coll, id } => {
                e.u8(DELETE).u64(*coll).str(id);
                &[]
            }
            Record::Attach { coll, id, name, len, extents } => {
                e.u8(ATTACH).u64(*coll).str(id).str(name).u64(*len).u32(extents.len() as u32);
                for x in extents {
                    e.u64(x.seg).u64(x.first).u32(x.pages);
                }
                &[]
            }
            Record::Detach { coll, id, name } => {
                e.u8(DETACH).u64(*coll).str(id).str(name);
                &[]
            }
        };
        *head = e.finish();
        let len = (head.len() - 4 + tail.len()) as u32;
        head[..4].copy_from_slice(&len.to_le_bytes());
        tail
    }

    /// Decodes one record (without its length prefix: the field at [`TYPE_AT`] comes first).
    pub(crate) fn decode(body: &[u8]) -> Result<Record, DecodeError> {
        debug_assert_eq!((COLL_AT - TYPE_AT, FIELDS_AT - COLL_AT), (1, 8));
        let mut d = Dec::new(body, "log record");
        let ty = d.u8()?;
        let coll = d.u64()?;
        let id = d.string()?;
        let rec = match ty {
            PUT => Record::Put { coll, id, doc: d.bytes()?.to_vec() },
            DELETE => Record::Delete { coll, id },
            ATTACH => {
                let name = d.string()?;
                let len = d.u64()?;
                let n = d.count(20)?;
                let mut extents = Vec::with_capacity(n);
                for _ in 0..n {
                    extents.push(Extent { seg: d.u64()?, first: d.u64()?, pages: d.u32()? });
                }
                Record::Attach { coll, id, name, len, extents }
            }
            DETACH => Record::Detach { coll, id, name: d.string()? },
            _ => return Err(d.fail("unknown record type")),
        };
        if !d.is_empty() {
            return Err(d.fail("trailing bytes"));
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let recs = [
            Record::Put { coll: 3, id: "a".into(), doc: b"{\"x\":1}".to_vec() },
            Record::Delete { coll: 4, id: "b".into() },
            Record::Attach {
                coll: 5,
                id: "c".into(),
                name: "n".into(),
                len: 99,
                extents: vec![Extent { seg: 1, first: 2, pages: 3 }],
            },
            Record::Detach { coll: 6, id: "d".into(), name: "m".into() },
        ];
        for r in recs {
            let (head, tail) = r.parts();
            let mut all = head.clone();
            all.extend_from_slice(tail);
            let len = u32::from_le_bytes([all[0], all[1], all[2], all[3]]) as usize;
            assert_eq!(len, all.len() - 4);
            assert_eq!(Record::decode(&all[4..]).unwrap(), r);
            assert!(Record::decode(&all[4..all.len() - 1]).is_err());
        }
    }
}
