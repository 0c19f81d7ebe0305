//! Retention: keep the newest backups, delete the others, and delete only the chunk objects that no kept
//! backup references.
//!
//! Every kept manifest is opened (and so authenticated) before anything is deleted: a kept backup whose
//! manifest cannot be read stops the pruning, because its objects could not be told apart from garbage.
//! Manifests are opened with the live store's keys; one sealed under a store key that has since been
//! destroyed (a `rotate` then `rekey` destroys the old store key) is opened with the keyring it carries and
//! the master key from `provider`, as a restore would.
//! Dropped manifests are deleted before any object, so an interruption leaves extra objects (removed by the
//! next run), never a manifest pointing at a deleted object. Pruning holds the target's lock, like a backup,
//! so it never runs while another process backs up to a local target (whose new chunks are not yet referenced
//! by a manifest); object-store targets rely on one writer at a time.
//!
//! Pruning only ever sees one store's backups: the target must be `store_id`'s (see `owner`), and every
//! manifest it removes or keeps must name that store.

use std::collections::BTreeSet;
use std::sync::Arc;

use atrest_keys::KeyProvider;

use crate::digest::Digest;
use crate::error::{BackupError, Result};
use crate::layout::manifest_name;
use crate::target::Target;
use crate::upload::{existing_objects, list_backups, read_manifest};

/// What pruning removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunePlan {
    /// Backups kept, oldest first.
    pub kept: Vec<String>,
    /// Backups removed, oldest first.
    pub removed: Vec<String>,
    /// Objects removed: referenced by no kept backup.
    pub objects: Vec<Digest>,
    /// Temporary files of interrupted backups removed.
    pub temporaries_removed: usize,
}

/// Plans pruning: keep the newest `keep` of `ids` (sorted oldest first), remove objects of `existing` that are
/// not in `referenced` (the union of the kept backups' objects).
pub fn plan(ids: &[String], keep: usize, existing: &BTreeSet<Digest>, referenced: &BTreeSet<Digest>) -> PrunePlan {
    let cut = ids.len().saturating_sub(keep);
    PrunePlan {
        kept: ids[cut..].to_vec(),
        removed: ids[..cut].to_vec(),
        objects: existing.difference(referenced).copied().collect(),
        temporaries_removed: 0,
    }
}

/// Keeps the newest `keep` backups of store `store_id` at `target` and removes the rest, with every object no
/// kept backup needs and the temporary files of interrupted backups. `keys` are the live store's; `provider`
/// (the master key) opens manifests whose key the store no longer has.
///
/// # Errors
/// [`BackupError::Config`] for `keep == 0`; [`BackupError::ForeignStore`] when the target or any of its
/// manifests belongs to another store, and a kept manifest that cannot be opened (nothing is deleted then);
/// [`BackupError::TargetBusy`]; target errors.
pub fn prune(
    target: &Target,
    store_id: [u8; 16],
    keys: &atrest_keys::Keyring,
    provider: Option<&Arc<dyn KeyProvider>>,
    keep: usize,
) -> Result<PrunePlan> {
    if keep == 0 {
        return Err(BackupError::Config("retention must keep at least one backup".into()));
    }
    let lock = target.lock()?;
    let temporaries_removed = target.remove_temporaries(&lock)?;
    crate::owner::claim(target, &store_id)?;
    let ids = list_backups(target)?;
    crate::owner::check_all_ours(target, &ids, &store_id)?;
    let kept = &ids[ids.len().saturating_sub(keep)..];
    let mut referenced = BTreeSet::new();
    for id in kept {
        let manifest = match (read_manifest(target, id, keys), provider) {
            (Err(BackupError::ManifestKey { .. }), Some(p)) => crate::fetch::open_with_own_keyring(target, id, p)?,
            (r, _) => r?,
        };
        if manifest.store_id != store_id {
            return Err(BackupError::ForeignStore {
                target: target.to_string(),
                holds: hex::encode(manifest.store_id),
                this: hex::encode(store_id),
            });
        }
        referenced.extend(manifest.objects());
    }
    let existing: BTreeSet<Digest> = existing_objects(target)?.into_keys().collect();
    let mut plan = plan(&ids, keep, &existing, &referenced);
    plan.temporaries_removed = temporaries_removed;
    for id in &plan.removed {
        target.delete(&manifest_name(id))?;
    }
    for d in &plan.objects {
        target.delete(&d.object_name())?;
    }
    drop(lock);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8) -> Digest {
        Digest([b; 32])
    }

    #[test]
    fn keeps_newest_and_only_unreferenced_objects_go() {
        let ids: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let existing: BTreeSet<Digest> = [d(1), d(2), d(3), d(4)].into();
        let referenced: BTreeSet<Digest> = [d(2), d(4)].into();
        let p = plan(&ids, 2, &existing, &referenced);
        assert_eq!(p.kept, ["c", "d"]);
        assert_eq!(p.removed, ["a", "b"]);
        assert_eq!(p.objects, [d(1), d(3)]);
    }

    #[test]
    fn keeping_more_than_exist_removes_nothing_referenced() {
        let ids: Vec<String> = vec!["a".into()];
        let existing: BTreeSet<Digest> = [d(1)].into();
        let p = plan(&ids, 5, &existing, &existing);
        assert_eq!(p.kept, ["a"]);
        assert!(p.removed.is_empty() && p.objects.is_empty());
    }
}
