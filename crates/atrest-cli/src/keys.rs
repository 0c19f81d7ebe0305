//! Opening a store's keys from the command line: the local key file (the embedded default provider),
//! kept outside the data directory.

use atrest_keys::{Keyring, LocalKeyFileProvider, MasterKeyId, SystemClock, default_key_file_path};
use atrest_store::{FsStorage, Store, StoreConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The master key id `init` creates.
const FIRST_MASTER_KEY: &str = "master-1";

fn key_path(explicit: Option<&Path>, store_id: &str) -> Result<PathBuf, String> {
    match explicit {
        Some(p) => Ok(p.to_owned()),
        None => default_key_file_path(store_id)
            .ok_or_else(|| "no --key-file given and neither XDG_CONFIG_HOME nor HOME is set".to_owned()),
    }
}

/// Creates a store in `data` with a new key file; returns the store and where the key file is.
pub fn init(
    data: &Path,
    key_file: Option<&Path>,
    cfg: impl FnOnce(&mut StoreConfig),
) -> Result<(Store, PathBuf), String> {
    std::fs::create_dir_all(data).map_err(|e| format!("creating data directory {}: {e}", data.display()))?;
    if Store::read_format(&FsStorage::new(data)).is_ok() {
        return Err(format!("a store already exists in {}", data.display()));
    }
    // A store owns its directory: its files would mix with others', and `drop`, `rekey` and a restore would
    // treat whatever is there as the store's.
    let mut entries = std::fs::read_dir(data).map_err(|e| format!("reading data directory {}: {e}", data.display()))?;
    if let Some(entry) = entries.next() {
        let name = entry.map(|e| e.file_name().to_string_lossy().into_owned()).unwrap_or_default();
        return Err(format!(
            "data directory {} is not empty (it holds {name:?}): init needs a new or empty directory",
            data.display()
        ));
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| format!("OS random number generator: {e}"))?;
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let path = key_path(key_file, &hex)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating key directory {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if key_file.is_none() {
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
        }
    }
    let master = MasterKeyId::new(FIRST_MASTER_KEY).map_err(|e| e.to_string())?;
    let provider = LocalKeyFileProvider::create(&path, data, &master).map_err(|e| e.to_string())?;
    let keyring =
        Keyring::create(data, Arc::new(provider), &master, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let mut c = StoreConfig::new(Arc::new(FsStorage::new(data)), Arc::new(keyring));
    c.store_id = Some(id);
    cfg(&mut c);
    let store = Store::create(c).map_err(|e| e.to_string())?;
    Ok((store, path))
}

/// Opens the store in `data` with its key file.
pub fn open(data: &Path, key_file: Option<&Path>, cfg: impl FnOnce(&mut StoreConfig)) -> Result<Store, String> {
    let storage = FsStorage::new(data);
    let format = Store::read_format(&storage).map_err(|e| e.to_string())?;
    let path = key_path(key_file, &format.store_id_hex())?;
    let provider = LocalKeyFileProvider::open(&path, data).map_err(|e| e.to_string())?;
    let keyring = Keyring::open(data, Arc::new(provider), Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let mut c = StoreConfig::new(Arc::new(storage), Arc::new(keyring));
    cfg(&mut c);
    // A store of an older format is migrated as it opens; show how far that got.
    let bar = indicatif::ProgressBar::hidden();
    let store = Store::open_with_progress(c, &mut |done, total| {
        if bar.is_hidden() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_message("migrating the index to the current format");
        }
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    store.map_err(|e| e.to_string())
}
