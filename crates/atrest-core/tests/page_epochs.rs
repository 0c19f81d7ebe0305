//! Writer epochs and the opener's subkey cache: nonces stay unique across threads and epoch changes, batches
//! may span epochs, and the cache stays bounded while every page keeps opening.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use atrest_core::Xaes256Gcm;
use atrest_core::page::{OpenJob, Opener, PageContext, PageHeader, PageKind, PageSize, SealJob, Sealer};

const SIZE: PageSize = PageSize::KIB_4;

fn key() -> Arc<Xaes256Gcm> {
    Arc::new(Xaes256Gcm::try_new(&[0x24; 32]).unwrap())
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn sealer_and_opener_are_shareable_across_threads() {
    assert_send_sync::<Sealer>();
    assert_send_sync::<Opener<HashMap<u32, Arc<Xaes256Gcm>>>>();
}

#[test]
fn concurrent_sealing_never_repeats_a_nonce_across_epochs() {
    let sealer = Arc::new(Sealer::with_key(key(), 1).unwrap().with_epoch_pages(50));
    let per_thread = 150;
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let sealer = Arc::clone(&sealer);
            std::thread::spawn(move || {
                let body = vec![t as u8; SIZE.capacity()];
                let mut nonces = Vec::new();
                for i in 0..per_thread {
                    let mut page = vec![0u8; SIZE.bytes()];
                    sealer.seal(PageKind::Data, &PageContext::new(t, i), &body, &mut page).unwrap();
                    nonces.push(PageHeader::parse(&page).unwrap().nonce);
                }
                nonces
            })
        })
        .collect();
    let all: Vec<[u8; 24]> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "every nonce is unique");
    let prefixes: HashSet<&[u8]> = all.iter().map(|n| &n[..12]).collect();
    assert_eq!(prefixes.len(), 600 / 50, "one prefix per 50 pages");
    // Within an epoch the counters are exactly 0..50.
    for prefix in &prefixes {
        let mut counters: Vec<u64> = all
            .iter()
            .filter(|n| &n[..12] == *prefix)
            .map(|n| u64::from_be_bytes(n[16..24].try_into().unwrap()))
            .collect();
        counters.sort_unstable();
        assert_eq!(counters, (0..50).collect::<Vec<_>>());
    }
}

#[test]
fn a_batch_spanning_epochs_opens_and_the_opener_cache_stays_bounded() {
    let key = key();
    let sealer = Sealer::with_key(Arc::clone(&key), 9).unwrap().with_epoch_pages(3);
    let n = 20;
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; SIZE.capacity()]).collect();
    let ctxs: Vec<PageContext<'static>> = (0..n as u64).map(|i| PageContext::new(2, i)).collect();
    let mut pages = vec![vec![0u8; SIZE.bytes()]; n];
    let mut jobs: Vec<SealJob<'_>> = pages
        .iter_mut()
        .zip(bodies.iter().zip(&ctxs))
        .map(|(page, (body, ctx))| SealJob::new(PageKind::Index, *ctx, body, page))
        .collect();
    sealer.seal_batch(&mut jobs).unwrap();
    drop(jobs);
    let prefixes: HashSet<[u8; 12]> =
        pages.iter().map(|p| PageHeader::parse(p).unwrap().nonce[..12].try_into().unwrap()).collect();
    assert_eq!(prefixes.len(), n.div_ceil(3));

    let opener = Opener::with_cache_capacity(HashMap::from([(9, key)]), 4);
    for round in 0..2 {
        let mut copies = pages.clone();
        let mut open_jobs: Vec<OpenJob<'_>> =
            copies.iter_mut().zip(&ctxs).map(|(page, ctx)| OpenJob::new(page, *ctx)).collect();
        for (i, result) in opener.open_batch(&mut open_jobs).into_iter().enumerate() {
            assert_eq!(result.unwrap().body, &bodies[i][..], "round {round} page {i}");
        }
        assert!(opener.cached_subkeys() <= 4, "cache holds {}", opener.cached_subkeys());
    }
    assert_eq!(opener.cached_subkeys(), 4);
}

#[test]
fn in_place_jobs_and_copy_jobs_mix_in_one_batch() {
    let key = key();
    let sealer = Sealer::with_key(Arc::clone(&key), 3).unwrap();
    let opener = Opener::new(HashMap::from([(3, key)]));
    let body = vec![0x77; SIZE.capacity()];
    let mut copied = vec![0u8; SIZE.bytes()];
    let mut in_place = vec![0u8; SIZE.bytes()];
    in_place[SIZE.body_range()].copy_from_slice(&body);
    let ctx = PageContext::new(5, 5);
    let mut jobs = [
        SealJob::new(PageKind::Manifest, ctx, &body, &mut copied),
        SealJob::in_place(PageKind::Manifest, ctx, &mut in_place),
    ];
    sealer.seal_batch(&mut jobs).unwrap();
    for page in [&mut copied, &mut in_place] {
        assert_eq!(opener.open(page, &ctx).unwrap().body, &body[..]);
    }
}

#[test]
fn empty_batches_are_fine() {
    let key = key();
    let sealer = Sealer::with_key(Arc::clone(&key), 3).unwrap();
    let opener = Opener::new(HashMap::from([(3, key)]));
    sealer.seal_batch(&mut []).unwrap();
    assert!(opener.open_batch(&mut []).is_empty());
}

#[test]
fn an_opened_page_does_not_print_its_plaintext() {
    let key = key();
    let sealer = Sealer::with_key(Arc::clone(&key), 3).unwrap();
    let opener = Opener::new(HashMap::from([(3, key)]));
    let mut body = vec![0u8; SIZE.capacity()];
    body[..14].copy_from_slice(b"secret-payload");
    let mut page = vec![0u8; SIZE.bytes()];
    let ctx = PageContext::new(1, 1);
    sealer.seal(PageKind::Data, &ctx, &body, &mut page).unwrap();
    let job = SealJob::new(PageKind::Data, ctx, &body, &mut page);
    let shown = format!("{job:?}");
    assert!(shown.contains("body_len: Some(4044)") && !shown.contains("115, 101, 99"), "{shown}");
    sealer.seal(PageKind::Data, &ctx, &body, &mut page).unwrap();
    let opened = opener.open(&mut page, &ctx).unwrap();
    let shown = format!("{opened:?}");
    assert!(shown.contains("body_len: 4044"), "{shown}");
    assert!(!shown.contains("115, 101, 99"), "plaintext bytes leaked: {shown}");
}

#[test]
fn a_batch_mixing_keys_epochs_and_an_unknown_key_reports_each_page() {
    let (k1, k2) = (key(), Arc::new(Xaes256Gcm::try_new(&[0x99; 32]).unwrap()));
    let s1 = Sealer::with_key(Arc::clone(&k1), 1).unwrap().with_epoch_pages(2);
    let s2 = Sealer::with_key(Arc::clone(&k2), 2).unwrap();
    let s3 = Sealer::with_key(key(), 3).unwrap();
    let opener = Opener::new(HashMap::from([(1, k1), (2, k2)]));
    let sealers = [&s1, &s1, &s2, &s1, &s3, &s1, &s2, &s2, &s1];
    let ctxs: Vec<PageContext<'static>> = (0..sealers.len() as u64).map(|i| PageContext::new(4, i)).collect();
    let mut pages: Vec<Vec<u8>> = sealers
        .iter()
        .zip(&ctxs)
        .map(|(s, ctx)| {
            let mut page = vec![0u8; SIZE.bytes()];
            s.seal(PageKind::Data, ctx, &vec![ctx.page_no as u8; SIZE.capacity()], &mut page).unwrap();
            page
        })
        .collect();
    let mut jobs: Vec<OpenJob<'_>> = pages.iter_mut().zip(&ctxs).map(|(p, c)| OpenJob::new(p, *c)).collect();
    for (i, result) in opener.open_batch(&mut jobs).into_iter().enumerate() {
        if i == 4 {
            assert_eq!(result.unwrap_err(), atrest_core::page::PageError::UnknownKey { id: 3 });
        } else {
            let opened = result.unwrap();
            assert_eq!(opened.key_id, if [2, 6, 7].contains(&i) { 2 } else { 1 });
            assert!(opened.body.iter().all(|&b| b == i as u8), "page {i}");
        }
    }
}
