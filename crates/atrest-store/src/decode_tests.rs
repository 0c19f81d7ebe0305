//! Every decoder of the store's own structures, fed random and mutated bytes: they must return errors, never
//! panic or allocate without bound. (Inputs come from authenticated pages, so this guards against bugs and
//! format drift rather than attackers; page parsing itself is fuzzed in atrest-core.)

use crate::collection::{AttEntry, DocEntry};
use crate::index::reader::decode_block;
use crate::index::run::{RunKind, RunMeta};
use crate::json::IndexPolicy;
use crate::log::record::{Extent, Loc, Record};
use crate::manifest::{CatalogEntry, Manifest, SegmentMeta};
use crate::pages::BodyHeader;
use atrest_core::page::PageKind;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn samples() -> Vec<Vec<u8>> {
    let attach = Record::Attach {
        coll: 1,
        id: "id".into(),
        name: "n".into(),
        len: 5,
        extents: vec![Extent { seg: 1, first: 2, pages: 3 }],
    };
    let (head, tail) = attach.parts();
    let rec = [head, tail.to_vec()].concat()[4..].to_vec();
    let entry = DocEntry {
        loc: Loc { seg: 1, page: 0, offset: 0, len: 9 },
        attachments: [("pic".to_owned(), AttEntry { len: 5, extents: vec![Extent { seg: 1, first: 4, pages: 1 }] })]
            .into(),
    };
    let m = Manifest {
        segments: vec![SegmentMeta { id: 1, keys: [1, 2].into() }],
        catalog: vec![CatalogEntry {
            number: 1,
            name: "c".into(),
            policy: IndexPolicy::Paths(vec!["/a".into()]),
            hash_key: [9; 16],
            docs: 3,
            runs: vec![RunMeta { id: 3, kind: RunKind::Ids, entries: 2, pages: 3, key_id: 2 }],
        }],
        meta: [("tokens".to_owned(), vec![1, 2, 3])].into(),
        ..Manifest::default()
    };
    let (mb, cb) = m.encode();
    // A data block of two entries: count, then (key length, value length, key, value) each.
    let block = [&2u32.to_le_bytes()[..], &[1, 2], b"a", b"xy", &[1, 0], b"b"].concat();
    vec![rec, entry.encode(), mb, cb, block]
}

#[test]
fn decoders_reject_garbage_without_panicking() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let good = samples();
    for round in 0..20_000 {
        let mut input = good[round % good.len()].clone();
        match rng.next() % 3 {
            0 => {
                let len = (rng.next() % 200) as usize;
                input = (0..len).map(|_| rng.next() as u8).collect();
            }
            1 if !input.is_empty() => {
                for _ in 0..1 + rng.next() % 4 {
                    let i = (rng.next() as usize) % input.len();
                    input[i] = rng.next() as u8;
                }
            }
            _ => input.truncate((rng.next() as usize) % (input.len() + 1)),
        }
        let _ = Record::decode(&input);
        let _ = DocEntry::decode(&input);
        let _ = Manifest::decode(&input, &input);
        let _ = BodyHeader::read(&input, PageKind::Data);
        let _ = decode_block(&input, b"a", None);
    }
    // The unmutated samples do decode.
    assert!(Record::decode(&good[0]).is_ok());
    assert!(DocEntry::decode(&good[1]).unwrap().is_some());
    assert_eq!(Manifest::decode(&good[2], &good[3]).unwrap().catalog[0].runs[0].entries, 2);
    assert_eq!(decode_block(&good[4], b"a", Some(b"c")).unwrap().len(), 2);
    assert!(decode_block(&good[4], b"a", Some(b"b")).is_err(), "a key past the next block's first key");
}
