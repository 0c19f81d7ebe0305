//! The keyring file of atrest-keys (`keyring/file.rs`): read from the data directory, which a damaged disk or an
//! attacker with write access may have changed. The first byte picks the mode.
//!
//! - 0: the rest is a keyring file. Decoding never panics; a keyring that decodes re-encodes to bytes that
//!   decode to the same keyring.
//! - 1: the rest (up to its first newline) is the JSON body, given the checksum line it needs, so the JSON and
//!   the checks after it are reached; then as mode 0.
//! - 2: the rest builds a valid keyring (any provider and locator text, master-key ids, check values, entries
//!   of every scope and state): it must encode to bytes that decode to the same keyring.

#![no_main]

use std::collections::BTreeSet;

use arbitrary::{Result, Unstructured};
use atrest_keys::fuzzing::{KeyringEntry, KeyringFile, decode_keyring, encode_keyring, with_keyring_checksum};
use atrest_keys::{EntryInfo, KeyState, MasterKeyId, Scope, ScopeName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => file(rest),
        1 => file(&with_keyring_checksum(rest)),
        _ => {
            let _ = built(&mut Unstructured::new(rest));
        }
    }
});

fn file(bytes: &[u8]) {
    if let Ok(k) = decode_keyring(bytes) {
        assert_eq!(decode_keyring(&encode_keyring(&k)).as_ref(), Ok(&k));
    }
}

/// Printable ASCII without spaces, 1 to `max` bytes (master-key ids and scope names).
fn label(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let len = u.int_in_range(1..=max)?;
    (0..len).map(|_| u.int_in_range(b'!'..=b'~').map(char::from)).collect()
}

fn master(u: &mut Unstructured<'_>) -> Result<MasterKeyId> {
    Ok(MasterKeyId::new(label(u, MasterKeyId::MAX_LEN)?).expect("a valid label"))
}

fn built(u: &mut Unstructured<'_>) -> Result<()> {
    let mut k = KeyringFile {
        provider: u.arbitrary()?,
        locator: u.arbitrary()?,
        master_key: master(u)?,
        next_id: 1,
        checks: Default::default(),
        entries: Vec::new(),
    };
    for _ in 0..u.int_in_range(0..=3)? {
        k.checks.insert(master(u)?, u.arbitrary()?);
    }
    let mut active = BTreeSet::new();
    let mut id = 0u32;
    for _ in 0..u.int_in_range(0..=8)? {
        let Some(next) = id.checked_add(u.int_in_range(1..=1000)?) else { break };
        id = next;
        let scope = match u.int_in_range(0..=2u8)? {
            0 => Scope::Store,
            1 => Scope::Collection(u.arbitrary()?),
            _ => Scope::Named(ScopeName::new(&label(u, ScopeName::MAX_LEN)?).expect("a valid label")),
        };
        let state = match u.int_in_range(0..=2u8)? {
            // One active key per scope.
            0 if active.insert(scope) => KeyState::Active,
            0 | 1 => KeyState::DecryptOnly,
            _ => KeyState::Destroyed,
        };
        let live = state != KeyState::Destroyed;
        let info = EntryInfo {
            id,
            scope,
            master_key: master(u)?,
            provider: u.arbitrary()?,
            state,
            created: u.arbitrary()?,
            changed: u.arbitrary()?,
        };
        let wrapped = if live { Some(u.arbitrary()?) } else { None };
        let binding = if live { Some(u.arbitrary()?) } else { None };
        k.entries.push(KeyringEntry { info, wrapped, binding });
    }
    k.next_id = id.saturating_add(u.int_in_range(1..=1000)?);
    if k.next_id == id {
        return Ok(()); // ids up to u32::MAX leave no next id
    }
    let bytes = encode_keyring(&k);
    assert_eq!(decode_keyring(&bytes), Ok(k.clone()), "{}", String::from_utf8_lossy(&bytes));
    Ok(())
}
