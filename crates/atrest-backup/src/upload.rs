//! Making a backup: cut every snapshot file into chunks, upload the chunks the target lacks, then write the
//! sealed manifest. The manifest goes last, so a backup interrupted half way is not a backup at all (its
//! uploaded chunks are reused by the next one, or removed by retention).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::digest::{Digest, Hasher};
use crate::error::{BackupError, Result};
use crate::layout::{CHUNK_BYTES, OBJECTS_DIR, manifest_name, new_id};
use crate::manifest::{BackupManifest, ChunkRef, FileEntry, KEYRING_NAME, valid_file_name};
use crate::source::Snapshot;
use crate::target::Target;

/// What one backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The new backup's id.
    pub id: String,
    /// Files in the backup.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Chunks uploaded because the target lacked them.
    pub objects_uploaded: usize,
    /// Bytes uploaded (chunks and manifest).
    pub bytes_uploaded: u64,
    /// Chunks the target already had.
    pub objects_reused: usize,
    /// Temporary files of interrupted earlier backups that were removed first.
    pub temporaries_removed: usize,
}

/// The chunk objects at the target, by digest, with their sizes.
pub(crate) fn existing_objects(target: &Target) -> Result<BTreeMap<Digest, u64>> {
    let prefix = format!("{OBJECTS_DIR}/");
    Ok(target
        .list(OBJECTS_DIR)?
        .into_iter()
        .filter_map(|o| Some((Digest::from_hex(o.name.strip_prefix(&prefix)?)?, o.size)))
        .collect())
}

/// Backs `snapshot` of store `store_id` up to `target` as a new backup made at `now_ms` (Unix milliseconds),
/// sealing its manifest under `keys`. Only chunks the target lacks (or holds with the wrong size) are uploaded.
/// Holds the target's lock throughout, first removing what interrupted backups left, and refuses a target
/// that holds another store's backups.
///
/// # Errors
/// [`BackupError::Snapshot`] if the snapshot has no keyring, a bad file name, or a file shorter than its noted
/// length; [`BackupError::ForeignStore`], [`BackupError::TargetBusy`]; read, target and key errors.
pub fn backup_snapshot(
    snapshot: &Snapshot,
    target: &Target,
    keys: &atrest_keys::Keyring,
    store_id: [u8; 16],
    now_ms: u64,
) -> Result<BackupReport> {
    let mut files: Vec<_> = snapshot.files.iter().collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(f) = files.iter().find(|f| !valid_file_name(&f.name)) {
        return Err(BackupError::Snapshot(format!("file name {:?} cannot be backed up", f.name)));
    }
    if files.windows(2).any(|w| w[0].name == w[1].name) {
        return Err(BackupError::Snapshot("the snapshot lists a file twice".into()));
    }
    if !files.iter().any(|f| f.name == KEYRING_NAME) {
        return Err(BackupError::Snapshot(format!(
            "the snapshot has no `{KEYRING_NAME}`: a backup carries the store's wrapped keyring, so the store's keys \
             must be a keyring in its data directory"
        )));
    }
    let lock = target.lock()?;
    let temporaries_removed = target.remove_temporaries(&lock)?;
    crate::owner::claim(target, &store_id)?;
    let mut have = existing_objects(target)?;
    let id = new_id(now_ms)?;
    let mut report = BackupReport {
        id: id.clone(),
        files: files.len(),
        bytes: 0,
        objects_uploaded: 0,
        bytes_uploaded: 0,
        objects_reused: 0,
        temporaries_removed,
    };
    let mut entries = Vec::with_capacity(files.len());
    let mut buf = vec![0u8; CHUNK_BYTES];
    for f in files {
        let mut whole = Hasher::new();
        let mut chunks = Vec::new();
        let mut offset = 0u64;
        while offset < f.len {
            let n = (f.len - offset).min(CHUNK_BYTES as u64) as usize;
            read_full(&*f.reader, &mut buf[..n], offset, &f.name, f.len)?;
            let chunk = &buf[..n];
            whole.update(chunk);
            let digest = Digest::of(chunk);
            if have.get(&digest) == Some(&(n as u64)) {
                report.objects_reused += 1;
            } else {
                target.put(&digest.object_name(), Bytes::copy_from_slice(chunk))?;
                have.insert(digest, n as u64);
                report.objects_uploaded += 1;
                report.bytes_uploaded += n as u64;
            }
            chunks.push(ChunkRef { digest, len: n as u64 });
            offset += n as u64;
        }
        report.bytes += f.len;
        entries.push(FileEntry { name: f.name.clone(), size: f.len, digest: whole.finish(), chunks });
    }
    let manifest = BackupManifest { id: id.clone(), store_id, created_ms: now_ms, files: entries };
    let sealed = manifest.seal(keys)?;
    report.bytes_uploaded += sealed.len() as u64;
    target.put(&manifest_name(&id), Bytes::from(sealed))?;
    drop(lock);
    Ok(report)
}

fn read_full(reader: &dyn crate::source::ReadAt, buf: &mut [u8], offset: u64, name: &str, len: u64) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = reader
            .read_at(&mut buf[done..], offset + done as u64)
            .map_err(|e| BackupError::Snapshot(format!("reading {name}: {e}")))?;
        if n == 0 {
            return Err(BackupError::Snapshot(format!(
                "{name} ends at byte {} but the snapshot holds {len} bytes of it",
                offset + done as u64
            )));
        }
        done += n;
    }
    Ok(())
}

/// The ids of every backup at `target`, oldest first.
///
/// # Errors
/// Target errors.
pub fn list_backups(target: &Target) -> Result<Vec<String>> {
    let prefix = format!("{}/", crate::layout::BACKUPS_DIR);
    let mut ids: Vec<String> = target
        .list(crate::layout::BACKUPS_DIR)?
        .into_iter()
        .filter_map(|o| o.name.strip_prefix(&prefix).map(str::to_owned))
        .filter(|id| crate::layout::valid_id(id))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Reads and opens backup `id`'s manifest with `keys`.
///
/// # Errors
/// [`BackupError::NoSuchBackup`], manifest and target errors.
pub fn read_manifest(target: &Target, id: &str, keys: &atrest_keys::Keyring) -> Result<BackupManifest> {
    let object = manifest_name(id);
    let bytes = target
        .get(&object)?
        .ok_or_else(|| BackupError::NoSuchBackup { id: id.to_owned(), target: target.to_string() })?;
    crate::manifest::open(&object, &bytes, keys)
}
