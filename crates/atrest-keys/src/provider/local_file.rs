//! The embedded default provider: master keys in a local key file kept outside the data directory.
//!
//! File format (text, one master key per line, so that rotation can hold the old and the new key for a while):
//!
//! ```text
//! # atrest master key file, format 1. Secret: keep it outside the data directory, mode 0600, and back it up.
//! atrest-master-key-v1 <master-key-id> <64 hex digits>
//! ```
//!
//! The file is created with mode 0600 in a directory that is created with mode 0700, and refused when it lies
//! inside the data directory, is readable or writable by group or others, or sits in a directory that group or
//! others can write (where the key could be swapped). Changes replace the file atomically.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use super::{KeyProvider, local_record, xaes_wrap};
use crate::atomic;
use crate::error::{KeyError, Result};
use crate::secret::{DataKey, KEY_LEN, MasterKeyId, MasterKeyMaterial};

const HEADER: &str =
    "# atrest master key file, format 1. Secret: keep it outside the data directory, mode 0600, and back it up.\n";
const TAG: &str = "atrest-master-key-v1";

/// The default place for a store's key file: `$XDG_CONFIG_HOME/atrest/keys/<store-id>.key`, else
/// `$HOME/.config/atrest/keys/<store-id>.key`; `None` when neither variable is set.
pub fn default_key_file_path(store_id: &str) -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".config"),
    };
    Some(base.join("atrest").join("keys").join(format!("{store_id}.key")))
}

/// Master keys from a local key file.
pub struct LocalKeyFileProvider {
    path: PathBuf,
    keys: Mutex<BTreeMap<MasterKeyId, MasterKeyMaterial>>,
}

impl std::fmt::Debug for LocalKeyFileProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<MasterKeyId> = self.keys().keys().cloned().collect();
        f.debug_struct("LocalKeyFileProvider").field("path", &self.path).field("master_keys", &ids).finish()
    }
}

impl LocalKeyFileProvider {
    /// Creates a new key file at `path` holding one fresh master key `first`, creating its directory (mode
    /// 0700) when missing.
    ///
    /// # Errors
    /// When the file exists, lies inside `data_dir`, or its directory is writable by group or others.
    pub fn create(path: &Path, data_dir: &Path, first: &MasterKeyId) -> Result<Self> {
        let path = absolute(path)?;
        let parent = path.parent().ok_or_else(|| {
            KeyError::key_file_io(&path)(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a key file needs a parent directory",
            ))
        })?;
        DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(KeyError::key_file_io(parent))?;
        check_dir(parent)?;
        check_outside(&path, data_dir)?;
        let mut keys = BTreeMap::new();
        keys.insert(first.clone(), MasterKeyMaterial::generate()?);
        let text = encode(&keys);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(KeyError::key_file_io(&path))?;
        let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
        written.and_then(|()| atomic::sync_dir(&path)).map_err(KeyError::key_file_io(&path))?;
        Ok(LocalKeyFileProvider { path, keys: Mutex::new(keys) })
    }

    /// Opens an existing key file after checking where it is and who can read it.
    ///
    /// # Errors
    /// [`KeyError::KeyFileInsideDataDir`], [`KeyError::KeyFilePermissions`], [`KeyError::KeyDirPermissions`],
    /// [`KeyError::KeyFileMalformed`], or [`KeyError::KeyFileIo`] when it cannot be read.
    pub fn open(path: &Path, data_dir: &Path) -> Result<Self> {
        let path = absolute(path)?;
        let io = |source| KeyError::key_file_io(&path)(source);
        let meta = std::fs::metadata(&path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::KeyFilePermissions { path, mode });
        }
        if let Some(parent) = path.parent() {
            check_dir(parent)?;
        }
        check_outside(&path, data_dir)?;
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(io)?);
        let keys = decode(&path, &text)?;
        Ok(LocalKeyFileProvider { path, keys: Mutex::new(keys) })
    }

    /// Where the key file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn keys(&self) -> MutexGuard<'_, BTreeMap<MasterKeyId, MasterKeyMaterial>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn material(&self, id: &MasterKeyId) -> Result<MasterKeyMaterial> {
        self.keys()
            .get(id)
            .cloned()
            .ok_or_else(|| KeyError::MasterKeyNotFound { master_key: id.to_string(), provider: self.describe() })
    }

    /// Writes `keys` to the file, then adopts them; on failure the file and memory keep the old keys.
    fn store(
        &self,
        keys: &mut MutexGuard<'_, BTreeMap<MasterKeyId, MasterKeyMaterial>>,
        new: BTreeMap<MasterKeyId, MasterKeyMaterial>,
    ) -> Result<()> {
        let text = encode(&new);
        atomic::replace(&self.path, text.as_bytes(), 0o600).map_err(KeyError::key_file_io(&self.path))?;
        **keys = new;
        Ok(())
    }
}

impl KeyProvider for LocalKeyFileProvider {
    fn kind(&self) -> &'static str {
        "local-file"
    }

    fn describe(&self) -> String {
        format!("local key file {}", self.path.display())
    }

    fn locator(&self) -> Option<String> {
        Some(format!("file:{}", self.path.display()))
    }

    fn master_key_ids(&self) -> Result<Vec<MasterKeyId>> {
        Ok(self.keys().keys().cloned().collect())
    }

    fn create_master_key(&self, id: &MasterKeyId) -> Result<()> {
        let mut keys = self.keys();
        if keys.contains_key(id) {
            return Err(KeyError::MasterKeyExists { master_key: id.to_string(), provider: self.describe() });
        }
        let mut new = keys.clone();
        new.insert(id.clone(), MasterKeyMaterial::generate()?);
        self.store(&mut keys, new)
    }

    fn wrap(&self, master: &MasterKeyId, key: &DataKey, aad: &[u8]) -> Result<Vec<u8>> {
        xaes_wrap::wrap(&self.describe(), master, &self.material(master)?, key, aad)
    }

    fn unwrap(&self, master: &MasterKeyId, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
        xaes_wrap::unwrap(&self.describe(), master, &self.material(master)?, wrapped, aad)
    }

    fn retire_master_key(&self, id: &MasterKeyId) -> Result<()> {
        let mut keys = self.keys();
        if !keys.contains_key(id) {
            return Ok(());
        }
        let mut new = keys.clone();
        new.remove(id);
        self.store(&mut keys, new)
    }

    fn read_records(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let path = local_record::path(&self.path, name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(KeyError::key_file_io(&path)(e)),
        };
        let record = local_record::open(&path, name, &bytes, |id| self.keys().get(id).cloned())?;
        Ok(vec![record])
    }

    fn write_record(&self, name: &str, master: &MasterKeyId, bytes: &[u8]) -> Result<()> {
        let path = local_record::path(&self.path, name);
        let sealed = local_record::seal(name, master, &self.material(master)?, bytes);
        atomic::replace(&path, &sealed, 0o600).map_err(KeyError::key_file_io(&path))
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(KeyError::key_file_io(path))
}

/// Refuses a directory that group or others can write: whoever can write it can replace the key file.
fn check_dir(dir: &Path) -> Result<()> {
    let meta = std::fs::metadata(dir).map_err(KeyError::key_file_io(dir))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(KeyError::KeyDirPermissions { path: dir.to_owned(), mode });
    }
    Ok(())
}

/// Refuses a key file inside the data directory (after resolving symbolic links on both sides).
fn check_outside(path: &Path, data_dir: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let dir = dir.canonicalize().map_err(KeyError::key_file_io(dir))?;
    let resolved = match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    };
    let resolved = resolved.canonicalize().unwrap_or(resolved);
    let data = match data_dir.canonicalize() {
        Ok(d) => d,
        Err(_) => std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned()),
    };
    if resolved.starts_with(&data) {
        return Err(KeyError::KeyFileInsideDataDir { path: path.to_owned(), data_dir: data_dir.to_owned() });
    }
    Ok(())
}

fn encode(keys: &BTreeMap<MasterKeyId, MasterKeyMaterial>) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::from(HEADER));
    for (id, key) in keys {
        // Writing to a String cannot fail.
        let _ = writeln!(text, "{TAG} {id} {}", hex::encode(key.expose_secret()));
    }
    text
}

fn decode(path: &Path, text: &str) -> Result<BTreeMap<MasterKeyId, MasterKeyMaterial>> {
    let mut keys = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad =
            |reason: &str| KeyError::KeyFileMalformed { path: path.to_owned(), line: n + 1, reason: reason.to_owned() };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(tag), Some(id), Some(hex_key), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected `atrest-master-key-v1 <id> <64 hex digits>`"));
        };
        if tag != TAG {
            return Err(bad("unknown line type (expected atrest-master-key-v1)"));
        }
        let id = MasterKeyId::new(id).map_err(|_| bad("invalid master-key id"))?;
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(hex_key, &mut bytes[..]).map_err(|_| bad("the key is not 64 hex digits"))?;
        if keys.insert(id, MasterKeyMaterial::from_bytes(*bytes)).is_some() {
            return Err(bad("the same master-key id appears twice"));
        }
    }
    if keys.is_empty() {
        return Err(KeyError::KeyFileMalformed {
            path: path.to_owned(),
            line: 0,
            reason: "it holds no master key".to_owned(),
        });
    }
    Ok(keys)
}
