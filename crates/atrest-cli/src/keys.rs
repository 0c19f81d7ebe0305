//! Choosing the key service from the command line: `--keys` (a provider string), `--keys-config` (a file
//! with the same), `--key-file` (shorthand for `--keys file:PATH`), else the provider the keyring records,
//! else (for a keyring from before keyrings recorded it) the store's default key file. The logic of each step
//! lives in atrest-keys ([`atrest_keys::open_keyring`], which `atrest serve` uses too).

use atrest_keys::{
    KeyError, KeyProvider, Keyring, KeysConfig, MasterKeyId, ProviderSpec, SystemClock, default_key_file_path,
    open_keyring,
};
use atrest_store::{FsStorage, Store, StoreConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The master key `init` creates when none is named.
const FIRST_MASTER_KEY: &str = "master-1";

/// The key-service options every command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct KeyArgs {
    /// The key service holding the master key: file:PATH, pkcs11:MODULE?token=LABEL&pin-file=PATH, or
    /// kmip://HOST:PORT?cert=PATH&key=PATH&ca=PATH (default: the provider the keyring records; for `init`, a
    /// new key file at $XDG_CONFIG_HOME/atrest/keys/<store-id>.key).
    #[arg(long, global = true, value_name = "PROVIDER", conflicts_with = "key_file")]
    keys: Option<String>,
    /// A keys configuration file (`keys = PROVIDER`, `lease = 15m`); --keys and --key-lease override it.
    #[arg(long, global = true, value_name = "PATH")]
    keys_config: Option<PathBuf>,
    /// The master key file: the same as --keys file:PATH.
    #[arg(long, global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// How long unwrapped data keys are used without the key service confirming them; after it, operations
    /// fail until the service answers (default 15m).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_lease)]
    key_lease: Option<std::time::Duration>,
}

fn parse_lease(text: &str) -> Result<std::time::Duration, String> {
    atrest_keys::parse_duration(text)
        .filter(|d| d.as_secs() >= 1)
        .ok_or_else(|| format!("{text:?} is not a lease of at least 1s (e.g. 90s, 15m, 1h)"))
}

impl KeyArgs {
    /// The keys configuration the options make.
    pub fn config(&self) -> Result<KeysConfig, String> {
        let mut cfg = match &self.keys_config {
            Some(path) => KeysConfig::load(path).map_err(|e| e.to_string())?,
            None => KeysConfig::default(),
        };
        if let Some(spec) = &self.keys {
            cfg.provider = Some(ProviderSpec::parse(spec).map_err(|e| e.to_string())?);
        }
        if let Some(path) = &self.key_file {
            cfg.provider = Some(ProviderSpec::File(path.clone()));
        }
        if let Some(lease) = self.key_lease {
            cfg.keyring.lease = lease;
        }
        Ok(cfg)
    }

    /// The provider for the store `store_id` whose keyring records `recorded`: the one named, else the
    /// recorded one, else the store's default key file. `beside` is the data directory (or where it will be).
    pub fn provider(
        &self,
        recorded: Option<String>,
        store_id: &[u8; 16],
        beside: &Path,
    ) -> Result<Arc<dyn KeyProvider>, String> {
        let spec = match (self.config()?.provider, recorded) {
            (Some(spec), _) => spec,
            (None, Some(recorded)) => ProviderSpec::parse(&recorded).map_err(|e| e.to_string())?,
            (None, None) => default_file(&hex(store_id))?,
        };
        spec.connect(beside).map_err(|e| e.to_string())
    }
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn default_file(store_id: &str) -> Result<ProviderSpec, String> {
    default_key_file_path(store_id)
        .map(ProviderSpec::File)
        .ok_or_else(|| "no --keys given and neither XDG_CONFIG_HOME nor HOME is set".to_owned())
}

/// What `init` made.
pub struct Created {
    /// The new store, open.
    pub store: Store,
    /// The provider, for the message.
    pub provider: String,
    /// The key file, when the provider is one.
    pub key_file: Option<PathBuf>,
    /// Whether the master key was made now (rather than found in the token or on the server).
    pub new_master_key: bool,
}

/// Creates a store in `data` under master key `master` (default `master-1`) of the chosen provider, made
/// there if it does not exist yet.
pub fn init(
    data: &Path,
    args: &KeyArgs,
    master: Option<&str>,
    cfg: impl FnOnce(&mut StoreConfig),
) -> Result<Created, String> {
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
    let keys = args.config()?;
    let spec = match keys.provider {
        Some(spec) => spec,
        None => default_file(&hex(&id))?,
    };
    let master = MasterKeyId::new(master.unwrap_or(FIRST_MASTER_KEY)).map_err(|e| e.to_string())?;
    let (provider, new_master_key) = spec.create(data, &master).map_err(|e| e.to_string())?;
    let described = provider.describe();
    let keyring = Keyring::create_with(data, provider, &master, Arc::new(SystemClock), keys.keyring)
        .map_err(|e| e.to_string())?;
    let mut c = StoreConfig::new(Arc::new(FsStorage::new(data)), Arc::new(keyring));
    c.store_id = Some(id);
    cfg(&mut c);
    let store = Store::create(c).map_err(|e| e.to_string())?;
    let key_file = match spec {
        ProviderSpec::File(path) => Some(path),
        _ => None,
    };
    Ok(Created { store, provider: described, key_file, new_master_key })
}

/// The keyring of the store in `data`, with the chosen provider.
pub fn open_keys(data: &Path, args: &KeyArgs) -> Result<Arc<Keyring>, String> {
    let cfg = args.config()?;
    match open_keyring(data, &cfg) {
        // A keyring from before keyrings recorded their provider: the store's default key file.
        Err(KeyError::NoProvider { .. }) => {
            let storage = FsStorage::new(data);
            let format = Store::read_format(&storage).map_err(|e| e.to_string())?;
            let provider = default_file(&format.store_id_hex())?.connect(data).map_err(|e| e.to_string())?;
            Keyring::open_with(data, provider, Arc::new(SystemClock), cfg.keyring)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        }
        // A directory that is not a store says so, rather than that it has no keyring.
        Err(KeyError::KeyringMissing { .. }) => match Store::read_format(&FsStorage::new(data)) {
            Err(e) => Err(e.to_string()),
            Ok(_) => Err(format!("no keyring in {}: the store's keyring file is missing", data.display())),
        },
        other => other.map_err(|e| e.to_string()),
    }
}

/// Opens the store in `data` with its keys.
pub fn open(data: &Path, args: &KeyArgs, cfg: impl FnOnce(&mut StoreConfig)) -> Result<Store, String> {
    let keyring = open_keys(data, args)?;
    let mut c = StoreConfig::new(Arc::new(FsStorage::new(data)), keyring);
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
    store.map_err(crate::serve::store_error)
}
