//! Sealed pages round-trip for every size and kind, on every backend the host supports, and every way of
//! moving or altering a page makes it fail to open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use atrest_core::Xaes256Gcm;
use atrest_core::backend::{self, Backend};
use atrest_core::page::{
    HEADER_LEN, KeyLookup, LookupError, OpenJob, Opener, PageContext, PageError, PageHeader, PageKind, PageSize,
    SealJob, Sealer, lookup_fn,
};

const KEY: [u8; 32] = [0x42; 32];
const KEY_ID: u32 = 7;

fn setup(backend: Backend) -> (Sealer, Opener<HashMap<u32, Arc<Xaes256Gcm>>>) {
    let key = Arc::new(Xaes256Gcm::with_backend(&KEY, backend).unwrap());
    let sealer = Sealer::with_key(Arc::clone(&key), KEY_ID).unwrap();
    (sealer, Opener::new(HashMap::from([(KEY_ID, key)])))
}

fn body_for(size: PageSize, seed: u8) -> Vec<u8> {
    (0..size.capacity()).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn sealed(sealer: &Sealer, kind: PageKind, size: PageSize, ctx: &PageContext<'_>) -> (Vec<u8>, Vec<u8>) {
    let body = body_for(size, kind.id());
    let mut page = vec![0u8; size.bytes()];
    sealer.seal(kind, ctx, &body, &mut page).unwrap();
    (body, page)
}

#[test]
fn every_size_and_kind_round_trips_on_every_backend() {
    for backend in backend::supported() {
        let (sealer, opener) = setup(backend);
        for size in PageSize::ALL {
            for kind in PageKind::ALL {
                let ctx = PageContext::new(3, 1000 + u64::from(kind.id())).with_extra(b"gen 5");
                let (body, mut page) = sealed(&sealer, kind, size, &ctx);
                assert_ne!(&page[size.body_range()], &body[..], "{backend} {size}: body must be encrypted");
                let header = PageHeader::parse(&page).unwrap();
                assert_eq!((header.kind, header.size, header.key_id), (kind, size, KEY_ID));
                let opened = opener.open(&mut page, &ctx).unwrap();
                assert_eq!((opened.kind, opened.key_id, opened.size), (kind, KEY_ID, size));
                assert_eq!(&opened.body[..], &body[..], "{backend} {size} {kind:?}");
            }
        }
    }
}

#[test]
fn in_place_sealing_matches_copying_sealing_in_content() {
    let (sealer, opener) = setup(backend::best_supported());
    let size = PageSize::KIB_8;
    let body = body_for(size, 9);
    let mut page = vec![0u8; size.bytes()];
    page[size.body_range()].copy_from_slice(&body);
    let ctx = PageContext::new(1, 2);
    sealer.seal_in_place(PageKind::Index, &ctx, &mut page).unwrap();
    assert_eq!(&opener.open(&mut page, &ctx).unwrap().body[..], &body[..]);
}

#[test]
fn a_page_moved_elsewhere_fails_and_its_body_is_zeroed() {
    let (sealer, opener) = setup(backend::best_supported());
    let size = PageSize::KIB_4;
    let ctx = PageContext::new(10, 20).with_extra(b"generation 1");
    let (_, page) = sealed(&sealer, PageKind::Data, size, &ctx);
    let elsewhere = [
        PageContext::new(10, 21).with_extra(b"generation 1"),
        PageContext::new(11, 20).with_extra(b"generation 1"),
        PageContext::new(10, 20).with_extra(b"generation 2"),
        PageContext::new(10, 20),
    ];
    for other in elsewhere {
        let mut copy = page.clone();
        assert_eq!(opener.open(&mut copy, &other).unwrap_err(), PageError::Authentication, "{other:?}");
        assert!(copy[size.body_range()].iter().all(|&b| b == 0), "body must be zeroed");
    }
    let mut copy = page.clone();
    assert!(opener.open(&mut copy, &ctx).is_ok());
}

#[test]
fn every_flipped_bit_fails() {
    let (sealer, opener) = setup(backend::best_supported());
    let size = PageSize::KIB_4;
    let ctx = PageContext::new(1, 1);
    let (_, page) = sealed(&sealer, PageKind::Catalog, size, &ctx);
    for byte in 0..page.len() {
        // Every bit of the header, the tag and the body's ends; one bit per byte elsewhere (kept fast).
        let edge = byte < HEADER_LEN + 64 || byte >= page.len() - 16 - 64;
        let bits = if edge { 0..8 } else { byte % 8..byte % 8 + 1 };
        for bit in bits {
            let mut copy = page.clone();
            copy[byte] ^= 1 << bit;
            let err = opener.open(&mut copy, &ctx).unwrap_err();
            // A flip in a checked header field is caught by the parser (or the key lookup) before any
            // decryption; anywhere else authentication fails.
            match byte {
                0..=3 => assert!(matches!(err, PageError::BadMagic { .. }), "{byte}.{bit}: {err}"),
                4 => assert!(matches!(err, PageError::UnsupportedVersion { .. }), "{err}"),
                5 => assert!(matches!(err, PageError::UnknownAlgorithm { .. }), "{err}"),
                6 => assert!(matches!(err, PageError::UnknownKind { .. } | PageError::Authentication), "{err}"),
                7 => assert!(matches!(err, PageError::UnsupportedPageSize { .. } | PageError::BadSize { .. }), "{err}"),
                8..=11 => assert!(matches!(err, PageError::UnknownKey { .. }), "{err}"),
                _ => assert_eq!(err, PageError::Authentication, "byte {byte} bit {bit}"),
            }
        }
    }
}

#[test]
fn changed_kind_or_key_id_fails_authentication() {
    let (sealer, _) = setup(backend::best_supported());
    let key = Arc::new(Xaes256Gcm::try_new(&KEY).unwrap());
    // The same key known under two ids: relabelling the page's key id must still fail.
    let opener = Opener::new(HashMap::from([(KEY_ID, Arc::clone(&key)), (KEY_ID + 1, key)]));
    let ctx = PageContext::new(4, 4);
    let (_, page) = sealed(&sealer, PageKind::Data, PageSize::KIB_16, &ctx);
    let mut relabelled = page.clone();
    relabelled[8..12].copy_from_slice(&(KEY_ID + 1).to_le_bytes());
    assert_eq!(opener.open(&mut relabelled, &ctx).unwrap_err(), PageError::Authentication);
    for kind in PageKind::ALL.into_iter().filter(|&k| k != PageKind::Data) {
        let mut rekinded = page.clone();
        rekinded[6] = kind.id();
        assert_eq!(opener.open(&mut rekinded, &ctx).unwrap_err(), PageError::Authentication, "{kind:?}");
    }
    let mut original = page.clone();
    assert!(opener.open(&mut original, &ctx).is_ok());
}

#[test]
fn truncated_and_extended_pages_fail_with_typed_errors() {
    let (sealer, opener) = setup(backend::best_supported());
    let ctx = PageContext::new(1, 1);
    let (_, page) = sealed(&sealer, PageKind::Data, PageSize::KIB_4, &ctx);
    for len in [0, 1, HEADER_LEN - 1] {
        let mut short = page[..len].to_vec();
        assert_eq!(opener.open(&mut short, &ctx).unwrap_err(), PageError::Truncated { len, min: HEADER_LEN });
    }
    for len in [HEADER_LEN, 4095, 2048] {
        let mut short = page[..len].to_vec();
        assert_eq!(opener.open(&mut short, &ctx).unwrap_err(), PageError::BadSize { expected: 4096, actual: len });
    }
    let mut long = page.clone();
    long.push(0);
    assert_eq!(opener.open(&mut long, &ctx).unwrap_err(), PageError::BadSize { expected: 4096, actual: 4097 });
}

#[test]
fn header_fields_are_rejected_by_name() {
    let (sealer, opener) = setup(backend::best_supported());
    let ctx = PageContext::new(1, 1);
    let (_, page) = sealed(&sealer, PageKind::Data, PageSize::KIB_4, &ctx);
    // (offset, bad value, expected error, the field its message must name)
    let cases: [(usize, u8, PageError, &str); 6] = [
        (0, b'X', PageError::BadMagic { found: *b"XTRP" }, "magic"),
        (4, 2, PageError::UnsupportedVersion { version: 2 }, "version"),
        (5, 9, PageError::UnknownAlgorithm { id: 9 }, "algorithm"),
        (6, 0, PageError::UnknownKind { kind: 0 }, "kind"),
        (7, 17, PageError::UnsupportedPageSize { code: 17 }, "size"),
        (8, 0x99, PageError::UnknownKey { id: 0x99 }, "key id"),
    ];
    for (offset, value, expected, named) in cases {
        let mut bad = page.clone();
        bad[offset] = value;
        if offset == 8 {
            bad[9..12].fill(0);
        }
        let err = opener.open(&mut bad, &ctx).unwrap_err();
        assert_eq!(err, expected);
        assert!(err.to_string().contains(named), "{err} should name the {named} field");
        assert_eq!(bad[HEADER_LEN..], page[HEADER_LEN..], "nothing is decrypted on a structural error");
    }
}

#[test]
fn sealing_rejects_wrong_sizes_and_leaves_the_buffer_alone() {
    let (sealer, _) = setup(backend::best_supported());
    let ctx = PageContext::new(1, 1);
    let body = vec![1u8; PageSize::KIB_4.capacity()];
    let mut odd = vec![0xee; 5000];
    assert_eq!(
        sealer.seal(PageKind::Data, &ctx, &body, &mut odd).unwrap_err(),
        PageError::InvalidPageSize { bytes: 5000 }
    );
    assert!(odd.iter().all(|&b| b == 0xee));
    let mut page = vec![0xee; 4096];
    assert_eq!(
        sealer.seal(PageKind::Data, &ctx, &body[1..], &mut page).unwrap_err(),
        PageError::BadBodySize { expected: 4044, actual: 4043 }
    );
    assert!(page.iter().all(|&b| b == 0xee));
    assert_eq!(PageSize::new(2048).unwrap_err(), PageError::InvalidPageSize { bytes: 2048 });
    assert_eq!(PageSize::new(1 << 17).unwrap_err(), PageError::InvalidPageSize { bytes: 1 << 17 });
    assert_eq!(PageSize::new(16384).unwrap().capacity(), 16384 - 52);
}

#[test]
fn unknown_key_is_reported_with_its_id_and_a_removed_or_replaced_key_stops_opening() {
    let key = Arc::new(Xaes256Gcm::try_new(&KEY).unwrap());
    let sealer = Sealer::with_key(Arc::clone(&key), 5).unwrap();
    let ctx = PageContext::new(1, 1);
    let (_, page) = sealed(&sealer, PageKind::Data, PageSize::KIB_4, &ctx);
    let available = Arc::new(Mutex::new(Some(key)));
    let shared = Arc::clone(&available);
    let opener = Opener::new(lookup_fn(move |id: u32| {
        if id == 5 { shared.lock().unwrap().clone().ok_or(LookupError::Unknown) } else { Err(LookupError::Unknown) }
    }));
    assert!(opener.open(&mut page.clone(), &ctx).is_ok());
    assert_eq!(opener.cached_subkeys(), 1);
    assert!(opener.keys().key(5).is_ok());
    // Destroy the key: the cached subkey must not keep opening its pages.
    *available.lock().unwrap() = None;
    assert_eq!(opener.open(&mut page.clone(), &ctx).unwrap_err(), PageError::UnknownKey { id: 5 });
    // A different key under the same id must not reuse the subkey cached for the old one.
    *available.lock().unwrap() = Some(Arc::new(Xaes256Gcm::try_new(&[0x43; 32]).unwrap()));
    assert_eq!(opener.open(&mut page.clone(), &ctx).unwrap_err(), PageError::Authentication);
    opener.forget_key(5);
    assert_eq!(opener.cached_subkeys(), 0);
}

#[test]
fn batches_equal_one_by_one_and_report_failures_by_index() {
    let (sealer, opener) = setup(backend::best_supported());
    let size = PageSize::KIB_16;
    let n = 24;
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| body_for(size, i as u8)).collect();
    let mut pages = vec![vec![0u8; size.bytes()]; n];
    let extras: Vec<[u8; 8]> = (0..n as u64).map(|i| i.to_le_bytes()).collect();
    let ctxs: Vec<PageContext<'_>> = (0..n).map(|i| PageContext::new(9, i as u64 * 3).with_extra(&extras[i])).collect();
    let mut jobs: Vec<SealJob<'_>> = pages
        .iter_mut()
        .zip(&bodies)
        .zip(&ctxs)
        .map(|((page, body), ctx)| SealJob::new(PageKind::Data, *ctx, body, page))
        .collect();
    sealer.seal_batch(&mut jobs).unwrap();
    drop(jobs);
    // Nonces are unique and consecutive in job order.
    let nonces: Vec<[u8; 24]> = pages.iter().map(|p| PageHeader::parse(p).unwrap().nonce).collect();
    for (i, nonce) in nonces.iter().enumerate() {
        assert_eq!(&nonce[..12], &nonces[0][..12]);
        let counter = u128::from_be_bytes({
            let mut c = [0u8; 16];
            c[4..].copy_from_slice(&nonce[12..]);
            c
        });
        let first = u128::from_be_bytes({
            let mut c = [0u8; 16];
            c[4..].copy_from_slice(&nonces[0][12..]);
            c
        });
        assert_eq!(counter, first + i as u128);
    }
    // Break pages 3 (tamper) and 7 (moved), then open the batch.
    pages[3][100] ^= 1;
    let mut one_by_one: Vec<Vec<u8>> = pages.clone();
    let mut open_ctxs = ctxs.clone();
    open_ctxs[7].page_no += 1;
    let expected: Vec<Result<Vec<u8>, PageError>> =
        one_by_one.iter_mut().zip(&open_ctxs).map(|(p, c)| opener.open(p, c).map(|o| o.body.to_vec())).collect();
    let mut open_jobs: Vec<OpenJob<'_>> =
        pages.iter_mut().zip(&open_ctxs).map(|(page, ctx)| OpenJob::new(page, *ctx)).collect();
    let results = opener.open_batch(&mut open_jobs);
    assert_eq!(results.len(), n);
    for (i, (got, want)) in results.into_iter().zip(expected).enumerate() {
        let got = got.map(|o| o.body.to_vec());
        assert_eq!(got, want, "page {i}");
        if i == 3 || i == 7 {
            assert_eq!(got, Err(PageError::Authentication));
        } else {
            assert_eq!(got.unwrap(), bodies[i]);
        }
    }
}

#[test]
fn a_bad_job_fails_the_whole_seal_batch_by_index_before_anything_is_sealed() {
    let (sealer, _) = setup(backend::best_supported());
    let size = PageSize::KIB_4;
    let body = body_for(size, 1);
    let mut a = vec![0u8; size.bytes()];
    let mut b = vec![0u8; size.bytes() - 1];
    let ctx = PageContext::new(1, 1);
    let mut jobs =
        vec![SealJob::new(PageKind::Data, ctx, &body, &mut a), SealJob::new(PageKind::Data, ctx, &body, &mut b)];
    let err = sealer.seal_batch(&mut jobs).unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(err.error, PageError::InvalidPageSize { bytes: 4095 });
    drop(jobs);
    assert!(a.iter().all(|&x| x == 0));
}

#[test]
fn epochs_rotate_to_a_fresh_random_prefix() {
    let key = Arc::new(Xaes256Gcm::try_new(&KEY).unwrap());
    let sealer = Sealer::with_key(Arc::clone(&key), 1).unwrap().with_epoch_pages(3);
    let opener = Opener::new(HashMap::from([(1, key)]));
    let size = PageSize::KIB_4;
    let body = body_for(size, 0);
    let mut nonces = Vec::new();
    for i in 0..7u64 {
        let ctx = PageContext::new(1, i);
        let mut page = vec![0u8; size.bytes()];
        sealer.seal(PageKind::Data, &ctx, &body, &mut page).unwrap();
        nonces.push(PageHeader::parse(&page).unwrap().nonce);
        assert_eq!(&opener.open(&mut page, &ctx).unwrap().body[..], &body[..]);
    }
    let prefixes: Vec<&[u8]> = nonces.iter().map(|n| &n[..12]).collect();
    assert_eq!(prefixes[0], prefixes[2]);
    assert_ne!(prefixes[2], prefixes[3]);
    assert_eq!(prefixes[3], prefixes[5]);
    assert_ne!(prefixes[5], prefixes[6]);
    assert_eq!(&nonces[4][12..], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // Two sealers on one key draw different prefixes.
    let other = Sealer::new(&KEY, 1).unwrap();
    assert_ne!(other.epoch_prefix(), sealer.epoch_prefix());
    assert_eq!(opener.cached_subkeys(), 3);
}

#[test]
fn a_header_can_be_read_before_the_whole_page() {
    let (sealer, _) = setup(backend::best_supported());
    let ctx = PageContext::new(1, 1);
    let (_, page) = sealed(&sealer, PageKind::Attachment, PageSize::KIB_32, &ctx);
    let full = PageHeader::parse(&page).unwrap();
    assert_eq!(PageHeader::parse_prefix(&page[..HEADER_LEN]).unwrap(), full);
    assert_eq!(full.encode()[..], page[..HEADER_LEN]);
    assert_eq!(
        PageHeader::parse(&page[..HEADER_LEN]).unwrap_err(),
        PageError::BadSize { expected: 32768, actual: HEADER_LEN }
    );
}
