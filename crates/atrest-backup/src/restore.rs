//! `restore`: a chosen backup into an empty or new directory, checked object by object, then opened as a
//! store with every page verified before success is reported. On any failure the files written so far are
//! removed again (and the directory too, if restore created it), so the directory can be reused.
//!
//! The restored store seals new pages under fresh writer epochs: each writer draws a random 12-byte nonce
//! prefix when the store is opened, never a counter carried in the backup, so restoring (even twice, from the
//! same backup) cannot repeat a nonce.

use std::path::Path;
use std::sync::Arc;

use atrest_keys::KeyProvider;

use crate::error::{BackupError, Result};
use crate::fetch::{fetch_all, open_backup, resolve_id};
use crate::target::Target;

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The backup restored.
    pub id: String,
    /// Files written.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Pages opened.
    pub pages_ok: u64,
    /// Pages under destroyed keys of dropped collections.
    pub pages_shredded: u64,
    /// What of the restored store is older than the key service's record of the store (a store restored
    /// over its own newer state): a legitimate rewind, so the record was moved back to the restored state.
    /// Empty if the record was not ahead.
    pub rewound: Vec<String>,
}

/// Restores backup `id` (default: the newest) from `target` into `dest`, which must be empty or not exist,
/// with the master key from `provider`. A missing `dest` is created with mode 0700; the files are 0600.
///
/// # Errors
/// [`BackupError::DestinationNotEmpty`]; [`BackupError::Damaged`] naming every bad file; key, target and I/O
/// errors. After an error `dest` is empty again, or gone if this call created it.
pub fn restore(
    target: &Target,
    id: Option<&str>,
    dest: &Path,
    provider: Arc<dyn KeyProvider>,
) -> Result<RestoreReport> {
    let io = |op| {
        let path = dest.to_owned();
        move |source| BackupError::Io { op, path, source }
    };
    let created = match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::DestinationNotEmpty { path: dest.to_owned() });
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::target::create_private_dir(dest).map_err(io("creating"))?;
            true
        }
        Err(e) => return Err(io("reading")(e)),
    };
    let result = resolve_id(target, id).and_then(|id| restore_into(target, &id, dest, provider));
    if result.is_err() {
        // Leave the destination as we found it: empty, or absent if this call created it.
        if let Ok(entries) = std::fs::read_dir(dest) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        if created {
            let _ = std::fs::remove_dir(dest);
        }
    }
    result
}

fn restore_into(target: &Target, id: &str, dest: &Path, provider: Arc<dyn KeyProvider>) -> Result<RestoreReport> {
    let damaged = |problems| BackupError::Damaged { id: id.to_owned(), problems };
    let opened = open_backup(target, id, provider, dest)?.map_err(damaged)?;
    let problems = fetch_all(target, &opened.manifest, dest)?;
    if !problems.is_empty() {
        return Err(damaged(problems));
    }
    let pages = crate::store::open_pages(dest, opened.keyring.clone(), id, atrest_store::RollbackCheck::Accept)?;
    if !pages.problems.is_empty() {
        return Err(damaged(pages.problems));
    }
    Ok(RestoreReport {
        id: id.to_owned(),
        files: opened.manifest.files.len(),
        bytes: opened.manifest.files.iter().map(|f| f.size).sum(),
        pages_ok: pages.pages_ok,
        pages_shredded: pages.pages_shredded,
        rewound: pages.rewound,
    })
}
