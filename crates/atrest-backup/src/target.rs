//! Where backups go: any `object_store` store under a prefix, driven through a small blocking API.
//!
//! The store and the CLI are synchronous, so this crate keeps its own single-threaded tokio runtime and blocks
//! on each object-store call. A plain path (the default) is a local directory, created if needed; a URL is
//! handed to `object_store::parse_url`, which knows `file://` and `memory://` in every build and `s3://`,
//! `az://`/`abfs://` and `gs://` when this crate is built with the `aws`, `azure` or `gcp` feature.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{BackupError, Result};

/// One object under the target: its name relative to the target's prefix and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Name relative to the target, e.g. `objects/3f…`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// A backup target: an object store, a prefix inside it, and the runtime that drives it.
pub struct Target {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    label: String,
    runtime: tokio::runtime::Runtime,
}

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
        Target::local(std::path::Path::new(spec))
    }

    /// [`Target::open`] for reading: a local directory must already exist (restore and verify create nothing).
    ///
    /// # Errors
    /// [`BackupError::Target`] for a missing directory, and as [`Target::open`].
    pub fn open_existing(spec: &str) -> Result<Target> {
        let is_url = spec.split_once("://").is_some_and(|(scheme, _)| !scheme.is_empty() && scheme != "file");
        let local = match spec.strip_prefix("file://") {
            Some(path) => std::path::Path::new(path),
            None => std::path::Path::new(spec),
        };
        if !is_url && !local.is_dir() {
            return Err(BackupError::Target { target: spec.to_owned(), reason: "no such directory".into() });
        }
        Target::open(spec)
    }

    /// A local directory, created if missing. Writes are synced.
    ///
    /// # Errors
    /// [`BackupError::Target`] when it cannot be created or opened.
    pub fn local(dir: &std::path::Path) -> Result<Target> {
        let label = dir.display().to_string();
        let refuse = |reason: String| BackupError::Target { target: label.clone(), reason };
        std::fs::create_dir_all(dir).map_err(|e| refuse(format!("cannot create the directory: {e}")))?;
        // Each object (and its directory) is synced before the call returns, so a manifest, written last, is
        // never durable before the chunks it names.
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| refuse(e.to_string()))?.with_fsync(true);
        Target::new(Arc::new(store), ObjectPath::default(), label)
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
        Ok(Target { store, prefix, label, runtime })
    }

    /// The underlying store (tests use it to damage objects).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn path(&self, name: &str) -> ObjectPath {
        name.split('/').fold(self.prefix.clone(), |p, part| p.clone().join(part))
    }

    fn fail(&self, op: &'static str, name: &str) -> impl FnOnce(object_store::Error) -> BackupError {
        let target = self.label.clone();
        let object = name.to_owned();
        move |source| BackupError::Store { target, op, object, source: Box::new(source) }
    }

    /// Writes `bytes` as object `name`, replacing it.
    ///
    /// # Errors
    /// [`BackupError::Store`].
    pub fn put(&self, name: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(name);
        self.runtime.block_on(self.store.put(&path, PutPayload::from(bytes))).map_err(self.fail("writing", name))?;
        Ok(())
    }

    /// Reads object `name`, or `None` if it does not exist.
    ///
    /// # Errors
    /// [`BackupError::Store`] for any failure but absence.
    pub fn get(&self, name: &str) -> Result<Option<Bytes>> {
        let path = self.path(name);
        let got = self.runtime.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map_err(self.fail("reading", name))
    }

    /// Deletes object `name`; deleting a missing object is not an error.
    ///
    /// # Errors
    /// [`BackupError::Store`].
    pub fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        match self.runtime.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail("deleting", name)(e)),
        }
    }

    /// Every object whose name starts with the folder `dir` (e.g. `objects`), with names relative to the target.
    ///
    /// # Errors
    /// [`BackupError::Store`].
    pub fn list(&self, dir: &str) -> Result<Vec<ObjectInfo>> {
        let base = self.path(dir);
        let skip = self.prefix.parts().count();
        let listed: Vec<object_store::Result<object_store::ObjectMeta>> =
            self.runtime.block_on(self.store.list(Some(&base)).collect());
        let mut out = Vec::with_capacity(listed.len());
        for meta in listed {
            let meta = meta.map_err(self.fail("listing", dir))?;
            let name: Vec<String> = meta.location.parts().skip(skip).map(|p| p.as_ref().to_owned()).collect();
            out.push(ObjectInfo { name: name.join("/"), size: meta.size });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
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
