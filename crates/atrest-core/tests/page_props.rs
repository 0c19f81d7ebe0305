//! Property tests: random contexts, sizes, kinds and batch shapes round-trip, batch results equal one-by-one
//! results, and any single-byte change to a sealed page, or a change of context, makes it fail to open.

use std::collections::HashMap;
use std::sync::Arc;

use atrest_core::Xaes256Gcm;
use atrest_core::page::{OpenJob, Opener, PageContext, PageError, PageHeader, PageKind, PageSize, SealJob, Sealer};
use proptest::prelude::*;

fn size() -> impl Strategy<Value = PageSize> {
    prop::sample::select(PageSize::ALL.to_vec())
}

fn kind() -> impl Strategy<Value = PageKind> {
    prop::sample::select(PageKind::ALL.to_vec())
}

/// A page to seal: size, kind, file id, page number, extra bytes, body seed.
type Spec = (PageSize, PageKind, u64, u64, Vec<u8>, u8);

fn spec() -> impl Strategy<Value = Spec> {
    (size(), kind(), any::<u64>(), any::<u64>(), prop::collection::vec(any::<u8>(), 0..200), any::<u8>())
}

fn body(size: PageSize, seed: u8) -> Vec<u8> {
    (0..size.capacity()).map(|i| (i as u8) ^ seed.rotate_left(i as u32 % 8)).collect()
}

fn keys(key: [u8; 32], id: u32) -> (Sealer, Opener<HashMap<u32, Arc<Xaes256Gcm>>>) {
    let key = Arc::new(Xaes256Gcm::try_new(&key).unwrap());
    (Sealer::with_key(Arc::clone(&key), id).unwrap(), Opener::new(HashMap::from([(id, key)])))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_pages_round_trip_and_fail_when_moved_or_altered(
        key in any::<[u8; 32]>(),
        id in any::<u32>(),
        (size, kind, file_id, page_no, extra, seed) in spec(),
        flip_at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let (sealer, opener) = keys(key, id);
        let ctx = PageContext { file_id, page_no, extra: &extra };
        let plain = body(size, seed);
        let mut page = vec![0u8; size.bytes()];
        sealer.seal(kind, &ctx, &plain, &mut page).unwrap();

        let mut copy = page.clone();
        let opened = opener.open(&mut copy, &ctx).unwrap();
        prop_assert_eq!((opened.kind, opened.key_id, opened.size), (kind, id, size));
        prop_assert_eq!(&opened.body[..], &plain[..]);

        let mut altered = page.clone();
        altered[flip_at.index(page.len())] ^= flip;
        prop_assert!(opener.open(&mut altered, &ctx).is_err());

        let moved = [
            PageContext { page_no: page_no.wrapping_add(1), ..ctx },
            PageContext { file_id: file_id ^ 1, ..ctx },
            PageContext { extra: &extra[..extra.len().saturating_sub(1)], ..ctx },
        ];
        for other in moved.iter().filter(|c| **c != ctx) {
            let mut copy = page.clone();
            prop_assert_eq!(opener.open(&mut copy, other).unwrap_err(), PageError::Authentication);
        }
    }

    #[test]
    fn batches_equal_one_by_one(
        key in any::<[u8; 32]>(),
        specs in prop::collection::vec(spec(), 0..12),
        broken in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let (sealer, opener) = keys(key, 3);
        let bodies: Vec<Vec<u8>> = specs.iter().map(|s| body(s.0, s.5)).collect();
        let ctxs: Vec<PageContext<'_>> =
            specs.iter().map(|s| PageContext { file_id: s.2, page_no: s.3, extra: &s.4 }).collect();
        let mut pages: Vec<Vec<u8>> = specs.iter().map(|s| vec![0u8; s.0.bytes()]).collect();
        let mut jobs: Vec<SealJob<'_>> = pages
            .iter_mut()
            .zip(specs.iter().zip(&bodies).zip(&ctxs))
            .map(|(page, ((s, b), c))| SealJob::new(s.1, *c, b, page))
            .collect();
        sealer.seal_batch(&mut jobs).unwrap();
        drop(jobs);

        // Every nonce in the batch is distinct.
        let mut nonces: Vec<[u8; 24]> = pages.iter().map(|p| PageHeader::parse(p).unwrap().nonce).collect();
        nonces.sort_unstable();
        nonces.dedup();
        prop_assert_eq!(nonces.len(), pages.len());

        // Corrupt a few pages, then open the batch and each page alone.
        for b in &broken {
            if !pages.is_empty() {
                let i = b.index(pages.len());
                let at = b.index(pages[i].len());
                pages[i][at] ^= 0x80;
            }
        }
        let mut alone = pages.clone();
        let expected: Vec<Result<(PageKind, Vec<u8>), PageError>> = alone
            .iter_mut()
            .zip(&ctxs)
            .map(|(p, c)| opener.open(p, c).map(|o| (o.kind, o.body.to_vec())))
            .collect();
        let mut open_jobs: Vec<OpenJob<'_>> = pages.iter_mut().zip(&ctxs).map(|(p, c)| OpenJob::new(p, *c)).collect();
        let got: Vec<Result<(PageKind, Vec<u8>), PageError>> =
            opener.open_batch(&mut open_jobs).into_iter().map(|r| r.map(|o| (o.kind, o.body.to_vec()))).collect();
        drop(open_jobs);
        prop_assert_eq!(&got, &expected);
        // The batch leaves every buffer exactly as opening one by one does (plaintext or zeroed body).
        prop_assert_eq!(&pages, &alone);
        for (i, result) in got.iter().enumerate() {
            if let Ok((kind, plain)) = result {
                prop_assert_eq!(*kind, specs[i].1);
                prop_assert_eq!(plain, &bodies[i]);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_open(
        bytes in prop::collection::vec(any::<u8>(), 0..5000),
        fix_header in any::<bool>(),
    ) {
        let (_, opener) = keys([1; 32], 1);
        let mut page = bytes;
        if fix_header && page.len() >= 12 {
            page[..8].copy_from_slice(b"ATRP\x01\x01\x01\x0c");
            page[8..12].copy_from_slice(&1u32.to_le_bytes());
            page.resize(4096, 0);
        }
        prop_assert!(opener.open(&mut page, &PageContext::new(0, 0)).is_err());
    }
}
