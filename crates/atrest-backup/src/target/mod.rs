//! Where backups go: a local directory, or any `object_store` store under a prefix, behind a small blocking API.
//!
//! A plain path (the default) or a `file://` URL is a local directory, created if needed and written by
//! `local` (private modes, a writer lock, temporaries that a later run can find). Any other URL is handed to
//! `object_store::parse_url`, which knows `memory://` in every build and `s3://`, `az://`/`abfs://` and `gs://`
//! when this crate is built with the `aws`, `azure` or `gcp` feature. The store and the CLI are synchronous, so
//! an object-store target keeps its own single-threaded tokio runtime and blocks on each call.

mod local;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{BackupError, Result};
use crate::layout::{BACKUPS_DIR, OBJECTS_DIR};
use local::{DirLock, LocalDir};

pub use local::LOCK_NAME;
pub(crate) use local::create_private_dir;

/// One object under the target: its name relative to the target's prefix and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Name relative to the target, e.g. `objects/3f…`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// A backup target: a local directory, or an object store under a prefix with the runtime that drives it.
pub struct Target {
    backend: Backend,
    label: String,
}

enum Backend {
    Local(LocalDir),
    Remote { store: Arc<dyn ObjectStore>, prefix: ObjectPath, runtime: tokio::runtime::Runtime },
}

/// Held while a backup or a prune writes to a target: see [`Target::lock`].
#[derive(Debug)]
pub struct TargetLock(#[allow(dead_code)] Option<DirLock>);

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target").field("target", &self.label).finish_non_exhaustive()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl Target {
    /// Opens `spec`: a URL with a scheme `object_store` knows, or else a local directory path (created if
    /// missing).
    ///
    /// # Errors
    /// [`BackupError::Target`] for an unknown scheme or a directory that cannot be created.
    pub fn open(spec: &str) -> Result<Target> {
        let refuse = |reason: String| BackupError::Target { target: spec.to_owned(), reason };
        if let Some((scheme, _)) = spec.split_once("://")
            && !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        {
            let url = url::Url::parse(spec).map_err(|e| refuse(format!("not a valid URL: {e}")))?;
            if url.scheme() == "file" {
                let path = url.to_file_path().map_err(|()| refuse("not a local file URL".into()))?;
                return Target::local(&path);
            }
            let (store, prefix) = object_store::parse_url(&url)
                .map_err(|e| refuse(format!("{e} (cloud stores need this build's `aws`, `azure` or `gcp` feature)")))?;
            return Target::new(Arc::from(store), prefix, spec.to_owned());
        }
        Target::local(Path::new(spec))
    }

    /// [`Target::open`] for reading: a local directory must already exist (restore and verify create nothing).
    ///
    /// # Errors
    /// [`BackupError::Target`] for a missing directory, and as [`Target::open`].
    pub fn open_existing(spec: &str) -> Result<Target> {
        let is_url = spec.split_once("://").is_some_and(|(scheme, _)| !scheme.is_empty() && scheme != "file");
        let local = match spec.strip_prefix("file://") {
            Some(path) => Path::new(path),
            None => Path::new(spec),
        };
        if !is_url && !local.is_dir() {
            return Err(BackupError::Target { target: spec.to_owned(), reason: "no such directory".into() });
        }
        Target::open(spec)
    }

    /// A local directory, created (mode 0700) if missing. Objects are created 0600 and synced.
    ///
    /// # Errors
    /// [`BackupError::Target`] when it cannot be created or opened.
    pub fn local(dir: &Path) -> Result<Target> {
        let label = dir.display().to_string();
        let dir = LocalDir::create(dir).map_err(|e| BackupError::Target {
            target: label.clone(),
            reason: format!("cannot create the directory: {e}"),
        })?;
        Ok(Target { backend: Backend::Local(dir), label })
    }

    /// A fresh in-memory target (for tests; gone with the value).
    ///
    /// # Errors
    /// When the runtime cannot start.
    pub fn memory() -> Result<Target> {
        Target::new(Arc::new(InMemory::new()), ObjectPath::default(), "memory:///".into())
    }

    /// Any object store under `prefix`.
    ///
    /// # Errors
    /// When the runtime cannot start.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: ObjectPath, label: String) -> Result<Target> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(|e| {
            BackupError::Target { target: label.clone(), reason: format!("cannot start the I/O runtime: {e}") }
        })?;
        Ok(Target { backend: Backend::Remote { store, prefix, runtime }, label })
    }

    /// The directory of a local target.
    pub fn local_dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Local(d) => Some(d.root()),
            Backend::Remote { .. } => None,
        }
    }

    /// Refuses a local target inside `data_dir` (after resolving symbolic links): backups there would be
    /// copied into the next backup, deleted with the store, and lost with its disk.
    ///
    /// # Errors
    /// [`BackupError::Target`] naming both directories.
    pub fn refuse_inside(&self, data_dir: &Path) -> Result<()> {
        let Some(dir) = self.local_dir() else { return Ok(()) };
        let resolve = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_owned());
        let (dir, data): (PathBuf, PathBuf) = (resolve(dir), resolve(data_dir));
        if dir.starts_with(&data) {
            return Err(BackupError::Target {
                target: self.label.clone(),
                reason: format!(
                    "it lies inside the data directory {}: keep backups outside the store they back up",
                    data_dir.display()
                ),
            });
        }
        Ok(())
    }

    /// Takes the target's writer lock for a backup or a prune. A local target has one exclusive lock,
    /// `TARGET/lock`, and is refused while another process holds it; an object store has none (one process at
    /// a time may write to it).
    ///
    /// # Errors
    /// [`BackupError::TargetBusy`]; I/O errors on the lock file.
    pub fn lock(&self) -> Result<TargetLock> {
        match &self.backend {
            Backend::Local(d) => match d.lock()? {
                Some(l) => Ok(TargetLock(Some(l))),
                None => Err(BackupError::TargetBusy { target: self.label.clone(), lock: d.root().join(LOCK_NAME) }),
            },
            Backend::Remote { .. } => Ok(TargetLock(None)),
        }
    }

    /// Removes the temporary files that a killed backup left in a local target; returns how many. Call it
    /// under [`Target::lock`]. Object stores write each object in one request and leave none.
    ///
    /// # Errors
    /// I/O errors, naming the file.
    pub fn remove_temporaries(&self, _lock: &TargetLock) -> Result<usize> {
        match &self.backend {
            Backend::Local(d) => d.remove_temporaries(&[OBJECTS_DIR, BACKUPS_DIR]),
            Backend::Remote { .. } => Ok(0),
        }
    }

    fn fail(&self, op: &'static str, name: &str) -> impl FnOnce(object_store::Error) -> BackupError {
        let target = self.label.clone();
        let object = name.to_owned();
        move |source| BackupError::Store { target, op, object, source: Box::new(source) }
    }

    /// Writes `bytes` as object `name`, replacing it.
    ///
    /// # Errors
    /// [`BackupError::Store`], or [`BackupError::Io`] for a local target.
    pub fn put(&self, name: &str, bytes: Bytes) -> Result<()> {
        match &self.backend {
            Backend::Local(d) => d.put(name, &bytes),
            Backend::Remote { store, prefix, runtime } => {
                let path = object_path(prefix, name);
                runtime.block_on(store.put(&path, PutPayload::from(bytes))).map_err(self.fail("writing", name))?;
                Ok(())
            }
        }
    }

    /// Writes `bytes` as object `name` unless an object of that name exists; returns whether it wrote. On an
    /// object store without conditional writes, checks and then writes (not atomic).
    ///
    /// # Errors
    /// As [`Target::put`].
    pub fn put_new(&self, name: &str, bytes: Bytes) -> Result<bool> {
        match &self.backend {
            Backend::Local(d) => d.put_new(name, &bytes),
            Backend::Remote { store, prefix, runtime } => {
                let path = object_path(prefix, name);
                let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
                match runtime.block_on(store.put_opts(&path, PutPayload::from(bytes.clone()), opts)) {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                    Err(object_store::Error::NotImplemented { .. }) => {
                        if self.get(name)?.is_some() {
                            return Ok(false);
                        }
                        self.put(name, bytes).map(|()| true)
                    }
                    Err(e) => Err(self.fail("writing", name)(e)),
                }
            }
        }
    }

    /// Reads object `name`, or `None` if it does not exist.
    ///
    /// # Errors
    /// [`BackupError::Store`] (or [`BackupError::Io`]) for any failure but absence.
    pub fn get(&self, name: &str) -> Result<Option<Bytes>> {
        match &self.backend {
            Backend::Local(d) => Ok(d.get(name)?.map(Bytes::from)),
            Backend::Remote { store, prefix, runtime } => {
                let path = object_path(prefix, name);
                let got = runtime.block_on(async {
                    match store.get(&path).await {
                        Ok(r) => r.bytes().await.map(Some),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                });
                got.map_err(self.fail("reading", name))
            }
        }
    }

    /// Deletes object `name`; deleting a missing object is not an error.
    ///
    /// # Errors
    /// [`BackupError::Store`] (or [`BackupError::Io`]).
    pub fn delete(&self, name: &str) -> Result<()> {
        match &self.backend {
            Backend::Local(d) => d.delete(name),
            Backend::Remote { store, prefix, runtime } => {
                match runtime.block_on(store.delete(&object_path(prefix, name))) {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(self.fail("deleting", name)(e)),
                }
            }
        }
    }

    /// Every object in the folder `dir` (e.g. `objects`), with names relative to the target, sorted.
    ///
    /// # Errors
    /// [`BackupError::Store`] (or [`BackupError::Io`]).
    pub fn list(&self, dir: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = match &self.backend {
            Backend::Local(d) => d.list(dir)?.into_iter().map(|(name, size)| ObjectInfo { name, size }).collect(),
            Backend::Remote { store, prefix, runtime } => {
                let base = object_path(prefix, dir);
                let skip = prefix.parts().count();
                let listed: Vec<object_store::Result<object_store::ObjectMeta>> =
                    runtime.block_on(store.list(Some(&base)).collect());
                let mut out = Vec::with_capacity(listed.len());
                for meta in listed {
                    let meta = meta.map_err(self.fail("listing", dir))?;
                    let name: Vec<String> = meta.location.parts().skip(skip).map(|p| p.as_ref().to_owned()).collect();
                    out.push(ObjectInfo { name: name.join("/"), size: meta.size });
                }
                out
            }
        };
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn object_path(prefix: &ObjectPath, name: &str) -> ObjectPath {
    name.split('/').fold(prefix.clone(), |p, part| p.clone().join(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_paths_and_urls() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("t");
        let t = Target::open(local.to_str().unwrap()).unwrap();
        t.put("objects/ab", Bytes::from_static(b"x")).unwrap();
        assert!(local.join("objects").join("ab").is_file());
        assert_eq!(t.list("objects").unwrap(), [ObjectInfo { name: "objects/ab".into(), size: 1 }]);
        assert_eq!(t.get("objects/ab").unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(t.get("objects/none").unwrap(), None);
        t.delete("objects/ab").unwrap();
        t.delete("objects/ab").unwrap();
        assert!(t.list("objects").unwrap().is_empty());

        let url = format!("file://{}", local.display());
        let t = Target::open(&url).unwrap();
        t.put("backups/x", Bytes::from_static(b"yz")).unwrap();
        assert!(local.join("backups").join("x").is_file());

        assert!(matches!(
            Target::open_existing(dir.path().join("nope").to_str().unwrap()),
            Err(BackupError::Target { .. })
        ));
        assert!(!dir.path().join("nope").exists());
        Target::open_existing(local.to_str().unwrap()).unwrap();
        let m = Target::open("memory:///").unwrap();
        m.put("objects/a", Bytes::from_static(b"1")).unwrap();
        assert_eq!(m.list("objects").unwrap().len(), 1);
    }

    #[test]
    fn cloud_urls_need_their_feature() {
        for url in ["s3://bucket/path", "gs://bucket/path", "az://container/path"] {
            match Target::open(url) {
                Err(BackupError::Target { reason, .. }) => assert!(reason.contains("feature"), "{url}: {reason}"),
                Ok(_) if cfg!(any(feature = "aws", feature = "gcp", feature = "azure")) => {}
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(matches!(Target::open("bogus://x"), Err(BackupError::Target { .. })));
    }
}
