//! Reading a backup back: its manifest, its keyring, and every file, each chunk checked against its digest
//! and each file against its whole-file digest. Shared by restore and verify; every problem names the file
//! and object at fault, and checking goes on past the first problem so one run reports them all.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use atrest_keys::{KeyProvider, Keyring, SystemClock};

use crate::digest::{Digest, Hasher};
use crate::error::{BackupError, Result};
use crate::layout::manifest_name;
use crate::manifest::{BackupManifest, ChunkRef, KEYRING_NAME, read_header};
use crate::target::Target;
use crate::upload::list_backups;
use crate::verify::{Problem, ProblemKind};

/// Picks `id`, or the newest backup when `None` (refused where the target holds several stores' backups).
pub(crate) fn resolve_id(target: &Target, id: Option<&str>) -> Result<String> {
    let ids = list_backups(target)?;
    match id {
        Some(id) if ids.iter().any(|i| i == id) => Ok(id.to_owned()),
        Some(id) => Err(BackupError::NoSuchBackup { id: id.to_owned(), target: target.to_string() }),
        None => {
            crate::owner::check_single_store(target, &ids)?;
            ids.last().cloned().ok_or_else(|| BackupError::NoBackups { target: target.to_string() })
        }
    }
}

/// The unauthenticated header of backup `id` (default: the newest): enough to find the master key file by the
/// store id. Nothing in it is trusted until the manifest is opened with the key.
///
/// # Errors
/// [`BackupError::NoSuchBackup`], [`BackupError::NoBackups`], [`BackupError::ManifestFormat`], target errors.
pub fn read_backup_header(target: &Target, id: Option<&str>) -> Result<crate::manifest::ManifestHeader> {
    let id = resolve_id(target, id)?;
    let object = manifest_name(&id);
    let bytes =
        target.get(&object)?.ok_or_else(|| BackupError::NoSuchBackup { id: id.clone(), target: target.to_string() })?;
    read_header(&object, &bytes)
}

/// The key provider the keyring of backup `id` (default: the newest) records, in the one-string form of
/// [`atrest_keys::ProviderSpec`]: where restore and verify-backup find the master key when none is named.
/// `None` for a keyring that records none. Read before any key is at hand, so not yet authenticated: a
/// provider that does not hold the keyring's master key fails its check values when the keyring is opened.
///
/// # Errors
/// [`BackupError::Damaged`] when the keyring's chunks are missing or altered; [`BackupError::Keys`] for an
/// undecodable keyring; target errors.
pub fn recorded_provider(target: &Target, id: Option<&str>) -> Result<Option<String>> {
    let header = read_backup_header(target, id)?;
    let mut bytes = Vec::new();
    let mut problems = Vec::new();
    for c in &header.keyring {
        let object = c.digest.object_name();
        match target.get(&object)? {
            Some(b) if Digest::of(&b) == c.digest => bytes.extend_from_slice(&b),
            Some(_) => problems.push(Problem { file: KEYRING_NAME.into(), object, kind: ProblemKind::Altered }),
            None => problems.push(Problem { file: KEYRING_NAME.into(), object, kind: ProblemKind::Missing }),
        }
    }
    if !problems.is_empty() {
        return Err(BackupError::Damaged { id: header.id, problems });
    }
    Ok(Keyring::recorded_provider_in(Path::new(KEYRING_NAME), &bytes)?)
}

/// A backup whose manifest and keyring have been read and opened.
pub(crate) struct Opened {
    pub(crate) manifest: BackupManifest,
    pub(crate) keyring: Arc<Keyring>,
}

/// Fetches backup `id`'s manifest and keyring, writes the keyring into `dir`, opens it with `provider`, and
/// opens the manifest with it. Problems with the manifest or keyring objects are returned as problems (the
/// rest of the backup cannot be read without them); key errors as errors.
pub(crate) fn open_backup(
    target: &Target,
    id: &str,
    provider: Arc<dyn KeyProvider>,
    dir: &Path,
) -> Result<std::result::Result<Opened, Vec<Problem>>> {
    let object = manifest_name(id);
    let manifest_problem =
        |kind: ProblemKind| Ok(Err(vec![Problem { file: "(manifest)".into(), object: object.clone(), kind }]));
    let Some(bytes) = target.get(&object)? else {
        return manifest_problem(ProblemKind::Missing);
    };
    let header = match read_header(&object, &bytes) {
        Ok(h) => h,
        Err(e) => return manifest_problem(ProblemKind::Unreadable(e.to_string())),
    };
    let mut problems = Vec::new();
    let path = dir.join(KEYRING_NAME);
    fetch_file(target, KEYRING_NAME, &header.keyring, None, &path, &mut problems)?;
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    // Read before opening: opening records the provider that answered, which rewrites the file.
    let on_disk =
        std::fs::read(&path).map_err(|source| BackupError::Io { op: "reading", path: path.clone(), source })?;
    let keyring = Arc::new(Keyring::open(dir, provider, Arc::new(SystemClock))?);
    let manifest = match crate::manifest::open(&object, &bytes, &keyring) {
        Ok(m) => m,
        Err(
            e @ (BackupError::ManifestAuthentication { .. }
            | BackupError::ManifestFormat { .. }
            | BackupError::ManifestKey { .. }),
        ) => {
            return manifest_problem(ProblemKind::Unreadable(e.to_string()));
        }
        Err(e) => return Err(e),
    };
    let entry = manifest.keyring().expect("an opened manifest has a keyring");
    if Digest::of(&on_disk) != entry.digest {
        return Ok(Err(vec![Problem {
            file: KEYRING_NAME.into(),
            object: object.clone(),
            kind: ProblemKind::Altered,
        }]));
    }
    Ok(Ok(Opened { manifest, keyring }))
}

/// Opens backup `id`'s manifest with the keyring it carries and the master key from `provider` (in a scratch
/// directory), for manifests sealed under a key the live store has since destroyed.
pub(crate) fn open_with_own_keyring(
    target: &Target,
    id: &str,
    provider: &Arc<dyn KeyProvider>,
) -> Result<BackupManifest> {
    let scratch = tempfile::Builder::new().prefix("atrest-backup-keyring-").tempdir().map_err(|source| {
        BackupError::Io { op: "creating a scratch directory in", path: std::env::temp_dir(), source }
    })?;
    match open_backup(target, id, provider.clone(), scratch.path())? {
        Ok(opened) => Ok(opened.manifest),
        Err(problems) => Err(BackupError::Damaged { id: id.to_owned(), problems }),
    }
}

/// Fetches the chunks of file `name` into `path`, checking each chunk, and the whole file against `whole` when
/// given. Appends a problem for each missing, short or altered chunk (and a whole-file mismatch) and goes on.
pub(crate) fn fetch_file(
    target: &Target,
    name: &str,
    chunks: &[ChunkRef],
    whole: Option<Digest>,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let io = |op: &'static str| {
        let path = path.to_owned();
        move |source| BackupError::Io { op, path, source }
    };
    let mut out =
        OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(io("creating"))?;
    let mut hasher = Hasher::new();
    let before = problems.len();
    for c in chunks {
        let object = c.digest.object_name();
        let problem = |kind| Problem { file: name.to_owned(), object: object.clone(), kind };
        let Some(bytes) = target.get(&object)? else {
            problems.push(problem(ProblemKind::Missing));
            continue;
        };
        if bytes.len() as u64 != c.len {
            problems.push(problem(ProblemKind::WrongSize { expected: c.len, actual: bytes.len() as u64 }));
            continue;
        }
        if Digest::of(&bytes) != c.digest {
            problems.push(problem(ProblemKind::Altered));
            continue;
        }
        hasher.update(&bytes);
        out.write_all(&bytes).map_err(io("writing"))?;
    }
    if problems.len() == before
        && let Some(want) = whole
        && hasher.finish() != want
    {
        problems.push(Problem { file: name.to_owned(), object: "(whole file)".into(), kind: ProblemKind::Altered });
    }
    out.sync_all().map_err(io("syncing"))?;
    Ok(())
}

/// Fetches every file of `manifest` but the keyring (already there) into `dir`.
pub(crate) fn fetch_all(target: &Target, manifest: &BackupManifest, dir: &Path) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for f in manifest.files.iter().filter(|f| f.name != KEYRING_NAME) {
        fetch_file(target, &f.name, &f.chunks, Some(f.digest), &dir.join(&f.name), &mut problems)?;
    }
    let d = File::open(dir).map_err(|source| BackupError::Io { op: "opening", path: dir.to_owned(), source })?;
    d.sync_all().map_err(|source| BackupError::Io { op: "syncing", path: dir.to_owned(), source })?;
    Ok(problems)
}
