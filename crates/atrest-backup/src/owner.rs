//! Which store a target belongs to. A target holds the backups of one store: the first backup records the
//! store's id in `TARGET/store-id`, and every later backup and prune of another store is refused with an error
//! naming both ids. So retention, which deletes every backup it does not keep, can never delete another
//! store's backups, and "the newest backup" that restore and verify pick is always that store's.
//!
//! ```text
//! TARGET/store-id    "atrest-backup-target 1 <store id, 32 hex digits>\n"   (plaintext, like the manifests'
//!                    store id; it names no user data)
//! ```
//!
//! Targets written before the record existed are judged by their manifests' plaintext headers: a target whose
//! manifests all name this store is claimed by it; one with another store's manifests is refused, and one with
//! several stores' manifests is [`BackupError::MixedTarget`] for restore and verify unless a backup id is given.
//! A manifest whose header cannot be parsed names no store and is left to verification.

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::error::{BackupError, Result};
use crate::layout::manifest_name;
use crate::manifest::read_header;
use crate::target::Target;
use crate::upload::list_backups;

/// The object that records the target's store.
pub const OWNER_NAME: &str = "store-id";
const OWNER_TAG: &str = "atrest-backup-target 1 ";

fn encode(store_id: &[u8; 16]) -> String {
    format!("{OWNER_TAG}{}\n", hex::encode(store_id))
}

fn decode(target: &Target, bytes: &[u8]) -> Result<[u8; 16]> {
    let bad = || BackupError::Target {
        target: target.to_string(),
        reason: format!("{OWNER_NAME} is not `{OWNER_TAG}<32 hex digits>` (damaged, or not an atrest backup target)"),
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    let hex_id = text.strip_prefix(OWNER_TAG).and_then(|t| t.strip_suffix('\n')).ok_or_else(bad)?;
    let mut id = [0u8; 16];
    hex::decode_to_slice(hex_id, &mut id).map_err(|_| bad())?;
    Ok(id)
}

/// The store id the target records, if any.
fn recorded(target: &Target) -> Result<Option<[u8; 16]>> {
    target.get(OWNER_NAME)?.map(|b| decode(target, &b)).transpose()
}

/// The store ids named by the plaintext headers of backups `ids` (unparseable headers name none).
fn stores_in(target: &Target, ids: &[String]) -> Result<BTreeSet<[u8; 16]>> {
    let mut stores = BTreeSet::new();
    for id in ids {
        let object = manifest_name(id);
        if let Some(bytes) = target.get(&object)?
            && let Ok(h) = read_header(&object, &bytes)
        {
            stores.insert(h.store_id);
        }
    }
    Ok(stores)
}

fn foreign(target: &Target, holds: &[u8; 16], this: &[u8; 16]) -> BackupError {
    BackupError::ForeignStore { target: target.to_string(), holds: hex::encode(holds), this: hex::encode(this) }
}

/// Makes sure the target is `store_id`'s, recording it on first use. Called by backup and prune, under the
/// target's lock.
///
/// # Errors
/// [`BackupError::ForeignStore`] naming both stores; target errors.
pub(crate) fn claim(target: &Target, store_id: &[u8; 16]) -> Result<()> {
    if let Some(holds) = recorded(target)? {
        return if &holds == store_id { Ok(()) } else { Err(foreign(target, &holds, store_id)) };
    }
    if let Some(other) = stores_in(target, &list_backups(target)?)?.into_iter().find(|s| s != store_id) {
        return Err(foreign(target, &other, store_id));
    }
    if target.put_new(OWNER_NAME, Bytes::from(encode(store_id)))? {
        return Ok(());
    }
    // Another store claimed it in the meantime.
    match recorded(target)? {
        Some(holds) if &holds != store_id => Err(foreign(target, &holds, store_id)),
        _ => Ok(()),
    }
}

/// Refuses when any of backups `ids` names another store in its header (a target filled by older builds, or
/// by hand): retention deletes none of another store's backups.
///
/// # Errors
/// [`BackupError::ForeignStore`]; target errors.
pub(crate) fn check_all_ours(target: &Target, ids: &[String], store_id: &[u8; 16]) -> Result<()> {
    match stores_in(target, ids)?.into_iter().find(|s| s != store_id) {
        Some(other) => Err(foreign(target, &other, store_id)),
        None => Ok(()),
    }
}

/// Refuses to pick "the newest backup" of a target holding several stores' backups.
///
/// # Errors
/// [`BackupError::MixedTarget`]; target errors.
pub(crate) fn check_single_store(target: &Target, ids: &[String]) -> Result<()> {
    if recorded(target)?.is_some() {
        return Ok(());
    }
    let stores = stores_in(target, ids)?;
    if stores.len() > 1 {
        return Err(BackupError::MixedTarget {
            target: target.to_string(),
            stores: stores.iter().map(hex::encode).collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_refusals() {
        let t = Target::memory().unwrap();
        assert_eq!(recorded(&t).unwrap(), None);
        claim(&t, &[1; 16]).unwrap();
        assert_eq!(t.get(OWNER_NAME).unwrap().unwrap(), format!("{OWNER_TAG}{}\n", "01".repeat(16)).as_bytes());
        claim(&t, &[1; 16]).unwrap();
        let err = claim(&t, &[2; 16]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, BackupError::ForeignStore { .. }), "{msg}");
        assert!(msg.contains(&"01".repeat(16)) && msg.contains(&"02".repeat(16)), "{msg}");
        for bad in
            [&b""[..], b"atrest-backup-target 1 0101\n", b"atrest-backup-target 2 0101010101010101010101010101010101\n"]
        {
            t.put(OWNER_NAME, Bytes::copy_from_slice(bad)).unwrap();
            assert!(matches!(claim(&t, &[1; 16]), Err(BackupError::Target { .. })));
        }
    }
}
