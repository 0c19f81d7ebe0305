//! Key lookup failures, lookup revisions, lookups behind `Arc`, explicit thread pools and reserved nonces.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use atrest_core::Xaes256Gcm;
use atrest_core::page::{
    KeyLookup, KeySourceError, LookupError, OpenJob, Opener, PageContext, PageError, PageKind, PageSize, SealJob,
    Sealer,
};
use atrest_core::rayon::ThreadPoolBuilder;

/// A key service stand-in: one key that can be destroyed or made unreachable, and a revision counter.
struct Service {
    key: Arc<Xaes256Gcm>,
    state: Mutex<&'static str>,
    revision: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("key service down")]
struct Down;

impl KeyLookup for Service {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        match (id, *self.state.lock().unwrap()) {
            (1, "up") => Ok(Arc::clone(&self.key)),
            (1, "down") => Err(LookupError::Unavailable(KeySourceError::new(Down))),
            (1, _) => Err(LookupError::Destroyed),
            _ => Err(LookupError::Unknown),
        }
    }
    fn revision(&self) -> u64 {
        self.revision.load(Ordering::SeqCst)
    }
}

fn sealed(sealer: &Sealer, ctx: &PageContext<'_>) -> Vec<u8> {
    let size = PageSize::KIB_4;
    let mut page = vec![0u8; size.bytes()];
    sealer.seal(PageKind::Index, ctx, &vec![0x11; size.capacity()], &mut page).unwrap();
    page
}

#[test]
fn lookup_failures_stay_distinct_and_carry_the_service_error() {
    let key = Arc::new(Xaes256Gcm::try_new(&[5; 32]).unwrap());
    let service = Arc::new(Service { key: Arc::clone(&key), state: Mutex::new("up"), revision: AtomicU64::new(0) });
    // `Arc<T>` is a lookup, so the engine keeps its own handle on the service.
    let opener = Opener::new(Arc::clone(&service));
    let ctx = PageContext::new(3, 4);
    let page = sealed(&Sealer::with_key(Arc::clone(&key), 1).unwrap(), &ctx);
    assert!(opener.open(&mut page.clone(), &ctx).is_ok());

    *service.state.lock().unwrap() = "down";
    match opener.open(&mut page.clone(), &ctx).unwrap_err() {
        PageError::KeyUnavailable { id: 1, source } => {
            assert!(source.downcast_ref::<Down>().is_some(), "the service's error keeps its type");
        }
        other => panic!("expected KeyUnavailable, got {other:?}"),
    }
    *service.state.lock().unwrap() = "destroyed";
    assert_eq!(opener.open(&mut page.clone(), &ctx).unwrap_err(), PageError::KeyDestroyed { id: 1 });

    let foreign = sealed(&Sealer::with_key(key, 2).unwrap(), &ctx);
    assert_eq!(opener.open(&mut foreign.clone(), &ctx).unwrap_err(), PageError::UnknownKey { id: 2 });
}

#[test]
fn a_new_revision_drops_every_cached_subkey() {
    let key = Arc::new(Xaes256Gcm::try_new(&[6; 32]).unwrap());
    let service = Arc::new(Service { key: Arc::clone(&key), state: Mutex::new("up"), revision: AtomicU64::new(7) });
    let opener = Opener::new(Arc::clone(&service));
    let ctx = PageContext::new(1, 1);
    let page = sealed(&Sealer::with_key(Arc::clone(&key), 1).unwrap(), &ctx);
    opener.open(&mut page.clone(), &ctx).unwrap();
    opener.open(&mut page.clone(), &ctx).unwrap();
    assert_eq!(opener.cached_subkeys(), 1);
    // Another page's open under a new revision finds the cache emptied before it derives its own subkey.
    service.revision.fetch_add(1, Ordering::SeqCst);
    let other = sealed(&Sealer::with_key(key, 1).unwrap(), &ctx);
    opener.open(&mut other.clone(), &ctx).unwrap();
    assert_eq!(opener.cached_subkeys(), 1, "the subkey of the first epoch was dropped");
}

#[test]
fn explicit_pools_and_reserved_nonces_seal_what_the_opener_opens() {
    let key = Arc::new(Xaes256Gcm::try_new(&[8; 32]).unwrap());
    let sealer = Sealer::with_key(Arc::clone(&key), 9).unwrap();
    let opener = Opener::new(HashMap::from([(9, key)]));
    let pool = ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let size = PageSize::KIB_16;
    let bodies: Vec<Vec<u8>> = (0..24u8).map(|i| vec![i; size.capacity()]).collect();
    let mut pages = vec![vec![0u8; size.bytes()]; bodies.len()];
    let mut jobs: Vec<SealJob<'_>> = pages
        .iter_mut()
        .zip(&bodies)
        .enumerate()
        .map(|(i, (page, body))| SealJob::new(PageKind::Data, PageContext::new(1, i as u64), body, page))
        .collect();
    sealer.seal_batch_in(&pool, &mut jobs).unwrap();
    drop(jobs);

    // Reserved nonces, sealed on threads this test spawns itself (any executor would do).
    let reserved = sealer.reserve(4).unwrap();
    let nonces: Vec<[u8; 24]> = reserved.iter().map(|n| n.nonce()).collect();
    let mut distinct = nonces.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "every reservation has its own nonce");
    let extra: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = reserved
            .into_iter()
            .enumerate()
            .map(|(i, nonce)| {
                let body = &bodies[i];
                s.spawn(move || {
                    let mut page = vec![0u8; size.bytes()];
                    nonce.seal(PageKind::Data, &PageContext::new(1, 100 + i as u64), body, &mut page).unwrap();
                    page
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, page) in extra.iter().enumerate() {
        assert_eq!(page[12..36], nonces[i], "the page carries its reserved nonce");
    }
    pages.extend(extra);

    let mut jobs: Vec<OpenJob<'_>> = pages
        .iter_mut()
        .enumerate()
        .map(|(i, page)| {
            let page_no = if i < bodies.len() { i as u64 } else { 100 + (i - bodies.len()) as u64 };
            OpenJob::new(page, PageContext::new(1, page_no))
        })
        .collect();
    let results = opener.open_batch_in(&pool, &mut jobs);
    for (i, r) in results.into_iter().enumerate() {
        let body = &bodies[if i < bodies.len() { i } else { i - bodies.len() }];
        assert_eq!(&r.unwrap().body[..], &body[..], "page {i}");
    }
}
