//! The keyring as the key source of sealed pages: its sealers follow rotation, it is the opener's key lookup,
//! destroying a key stops its pages at once (cached subkeys included), an outage keeps its typed error, and
//! named scopes get keys of their own.

mod common;

use std::sync::Arc;

use atrest_core::page::{Opener, PageContext, PageError, PageKind, PageSize};
use atrest_keys::{KeyError, Keyring, Scope, ScopeName, SimulatedFault};
use common::Fixture;

fn seal(keyring: &Keyring, scope: Scope, page_no: u64) -> (u32, Vec<u8>) {
    let sealer = keyring.sealer(scope).unwrap();
    let size = PageSize::KIB_4;
    let mut page = vec![0u8; size.bytes()];
    sealer
        .seal(PageKind::Data, &PageContext::new(1, page_no), &vec![page_no as u8; size.capacity()], &mut page)
        .unwrap();
    (sealer.key_id(), page)
}

fn open(opener: &Opener<Arc<Keyring>>, page: &[u8], page_no: u64) -> Result<u8, PageError> {
    let mut page = page.to_vec();
    opener.open(&mut page, &PageContext::new(1, page_no)).map(|p| p.body[0])
}

#[test]
fn sealers_follow_rotation_and_the_keyring_opens_what_they_seal() {
    let f = Fixture::new();
    let keyring = Arc::new(f.keyring);
    let opener = Opener::new(Arc::clone(&keyring));
    let scope = Scope::Collection(3);
    let first = keyring.sealer(scope).unwrap();
    assert!(Arc::ptr_eq(&first, &keyring.sealer(scope).unwrap()), "one sealer per active key");
    let (id1, _) = keyring.active_key(scope).unwrap();
    assert_eq!(first.key_id(), id1, "the sealer writes its own key's id");
    // The sealer and the lookup share one cipher object, so the opener's cache applies to it.
    assert!(Arc::ptr_eq(&keyring.cipher(id1).unwrap(), &keyring.cipher(id1).unwrap()));

    let (k1, p1) = seal(&keyring, scope, 1);
    let (id2, _) = keyring.rotate_data_key(scope).unwrap();
    let (k2, p2) = seal(&keyring, scope, 2);
    assert_eq!((k1, k2), (id1, id2), "after rotation new pages use the new key");
    assert_eq!(open(&opener, &p1, 1).unwrap(), 1, "the decrypt-only key still opens old pages");
    assert_eq!(open(&opener, &p2, 2).unwrap(), 2);
}

#[test]
fn destroying_a_key_stops_its_pages_and_empties_the_opener_cache() {
    let f = Fixture::new();
    let keyring = Arc::new(f.keyring);
    let opener = Opener::new(Arc::clone(&keyring));
    let (old, page) = seal(&keyring, Scope::Store, 5);
    keyring.rotate_data_key(Scope::Store).unwrap();
    let (_, other) = seal(&keyring, Scope::Store, 6);
    assert_eq!(open(&opener, &page, 5).unwrap(), 5);
    assert_eq!(opener.cached_subkeys(), 1);

    keyring.destroy(old, &0u64).unwrap();
    assert_eq!(open(&opener, &page, 5).unwrap_err(), PageError::KeyDestroyed { id: old });
    // The next open under a live key finds the old key's subkey gone from the cache.
    assert_eq!(open(&opener, &other, 6).unwrap(), 6);
    assert_eq!(opener.cached_subkeys(), 1, "only the live key's subkey is left");
    assert_eq!(open(&opener, &page, 5).unwrap_err(), PageError::KeyDestroyed { id: old });
}

#[test]
fn an_unreachable_key_service_is_unavailable_not_unknown_and_keeps_its_type() {
    let f = Fixture::new();
    let (id, page) = seal(&f.keyring, Scope::Store, 1);
    let provider = f.provider.clone();
    let dir = f.dir;
    drop(f.keyring);
    let keyring = Arc::new(Keyring::open(dir.path(), provider.clone(), f.clock.clone()).unwrap());
    // Let the lease run out, then take the key service away.
    f.clock.advance(std::time::Duration::from_secs(24 * 3600));
    provider.simulate_fault(Some(SimulatedFault::Unreachable));
    let opener = Opener::new(Arc::clone(&keyring));
    match open(&opener, &page, 1).unwrap_err() {
        PageError::KeyUnavailable { id: got, source } => {
            assert_eq!(got, id);
            assert!(
                matches!(source.downcast_ref::<KeyError>(), Some(KeyError::KeyServiceUnavailable { .. })),
                "{source:?}"
            );
        }
        other => panic!("expected KeyUnavailable, got {other:?}"),
    }
    provider.simulate_fault(None);
    f.clock.advance(keyring.options().retry_after_failure());
    assert_eq!(open(&opener, &page, 1).unwrap(), 1, "the same opener recovers with the service");
    let mut foreign = page.clone();
    foreign[8..12].copy_from_slice(&999u32.to_le_bytes());
    assert_eq!(open(&opener, &foreign, 1).unwrap_err(), PageError::UnknownKey { id: 999 });
}

#[test]
fn named_scopes_have_their_own_keys_and_survive_reopening() {
    let f = Fixture::new();
    let sqlite = Scope::Named(ScopeName::new("sqlite:orders.db").unwrap());
    let wal = Scope::Named(ScopeName::new("sqlite:orders.db-wal").unwrap());
    let (a, _) = f.keyring.active_key(sqlite).unwrap();
    let (b, _) = f.keyring.active_key(wal).unwrap();
    let (c, _) = f.keyring.active_key(Scope::Store).unwrap();
    assert!(a != b && b != c && a != c);
    let text = String::from_utf8(f.file_bytes()).unwrap();
    assert!(text.contains("\"version\":2") && text.contains("{\"named\":\"sqlite:orders.db\"}"), "{text}");
    let reopened = f.reopen().unwrap();
    assert_eq!(reopened.active_key(sqlite).unwrap().0, a);
    assert_eq!(reopened.entries()[1].scope, wal);

    for bad in ["", "has space", &"x".repeat(ScopeName::MAX_LEN + 1), "tab\t"] {
        assert!(matches!(ScopeName::new(bad), Err(KeyError::InvalidScopeName { .. })), "{bad:?}");
    }
}
