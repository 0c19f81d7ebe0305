//! Every decoder of the store's own structures, fed random and mutated bytes: they must return errors, never
//! panic or allocate without bound. (Inputs come from authenticated pages, so this guards against bugs and
//! format drift rather than attackers; page parsing itself is fuzzed in atrest-core.)

use crate::index::Collection;
use crate::json::{IndexKey, IndexPolicy};
use crate::manifest::{CatalogEntry, Manifest, SegmentMeta};
use crate::pages::BodyHeader;
use crate::record::{Extent, Loc, Record};

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
    let mut c = Collection::new(1, "c".into(), IndexPolicy::All);
    c.put(
        "a".into(),
        Loc { seg: 1, page: 0, offset: 0, len: 9 },
        vec![IndexKey { pointer: "/x".into(), value: "1".into() }],
    );
    let m = Manifest {
        segments: vec![SegmentMeta { id: 1, keys: [1, 2].into() }],
        catalog: vec![CatalogEntry {
            number: 1,
            name: "c".into(),
            policy: IndexPolicy::Paths(vec!["/a".into()]),
            index_file: 3,
            index_pages: 1,
        }],
        ..Manifest::default()
    };
    let (mb, cb) = m.encode();
    vec![rec, c.encode(), mb, cb]
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
        let _ = Collection::new(1, "c".into(), IndexPolicy::All).decode_into(&input);
        let _ = Manifest::decode(&input, &input);
        let _ = BodyHeader::read(&input);
    }
    // The unmutated samples do decode.
    assert!(Record::decode(&good[0]).is_ok());
    assert!(Collection::new(1, "c".into(), IndexPolicy::All).decode_into(&good[1]).is_ok());
    assert!(Manifest::decode(&good[2], &good[3]).is_ok());
}
