//! Naming a key service in one string, and opening a data directory's keyring with it: what the command line,
//! `atrest serve` and backups share, so a provider is chosen the same way everywhere.
//!
//! ```text
//! file:PATH                                              the local key file (kept outside the data directory)
//! pkcs11:MODULE?token=LABEL&pin-file=PATH                a PKCS#11 token (HSM; SoftHSM2 in tests)
//! kmip://HOST:PORT?cert=PATH&key=PATH&ca=PATH            a KMIP server, over TLS with a client certificate
//! ```
//!
//! A keys configuration file holds the same in `name = value` lines (`#` starts a comment):
//!
//! ```text
//! keys = kmip://kms.example:5696?cert=/etc/atrest/client.pem&key=/etc/atrest/client.key&ca=/etc/atrest/ca.pem
//! lease = 15m
//! ```
//!
//! A server opens a store's keys with [`open_keyring`]: the provider given, else the one the keyring records
//! (every keyring written by this version records the provider it was last opened with).

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::SystemClock;
use crate::error::{KeyError, Result};
use crate::keyring::{Keyring, KeyringOptions};
use crate::provider::{KeyProvider, LocalKeyFileProvider};
#[cfg(feature = "kmip")]
use crate::provider::{KmipConfig, KmipProvider};
#[cfg(feature = "pkcs11")]
use crate::provider::{Pkcs11Config, Pkcs11Provider};
use crate::secret::MasterKeyId;

/// A key service, as named by one string (see the module documentation).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProviderSpec {
    /// The local key file at this path.
    File(PathBuf),
    /// A PKCS#11 token.
    #[cfg(feature = "pkcs11")]
    Pkcs11(Pkcs11Config),
    /// A KMIP server.
    #[cfg(feature = "kmip")]
    Kmip(KmipConfig),
}

impl ProviderSpec {
    /// Parses `file:PATH`, `pkcs11:…` or `kmip://…`. A PKCS#11 PIN is read from the file or variable named.
    ///
    /// # Errors
    /// [`KeyError::ProviderConfig`] naming what is wrong, also for a provider this build leaves out.
    pub fn parse(spec: &str) -> Result<ProviderSpec> {
        let bad = |reason: &str| KeyError::ProviderConfig { config: spec.to_owned(), reason: reason.to_owned() };
        if let Some(path) = spec.strip_prefix("file:") {
            if path.is_empty() {
                return Err(bad("file: needs the key file's path"));
            }
            let path = std::path::absolute(path).map_err(|e| bad(&format!("key file path: {e}")))?;
            return Ok(ProviderSpec::File(path));
        }
        if spec.starts_with("pkcs11:") {
            #[cfg(feature = "pkcs11")]
            return Ok(ProviderSpec::Pkcs11(Pkcs11Config::parse(spec)?));
            #[cfg(not(feature = "pkcs11"))]
            return Err(bad("this build of atrest has no PKCS#11 support (feature `pkcs11`)"));
        }
        if spec.starts_with("kmip://") {
            #[cfg(feature = "kmip")]
            return Ok(ProviderSpec::Kmip(KmipConfig::parse(spec)?));
            #[cfg(not(feature = "kmip"))]
            return Err(bad("this build of atrest has no KMIP support (feature `kmip`)"));
        }
        Err(bad("expected file:PATH, pkcs11:MODULE?token=LABEL&pin-file=PATH or kmip://HOST:PORT?cert=…&key=…&ca=…"))
    }

    /// The provider kind, as the keyring records it.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderSpec::File(_) => "local-file",
            #[cfg(feature = "pkcs11")]
            ProviderSpec::Pkcs11(_) => "pkcs11",
            #[cfg(feature = "kmip")]
            ProviderSpec::Kmip(_) => "kmip",
        }
    }

    /// Connects to the provider (opens the key file, loads the module and logs in, connects to the server)
    /// for the store in `data_dir`, after checking that nothing it names lies inside the data directory and
    /// that a PKCS#11 module cannot be replaced by others (a keyring's recorded provider may name it, and
    /// whoever can write the data directory must not be able to choose code this process loads).
    ///
    /// # Errors
    /// The provider's errors; [`KeyError::ProviderConfig`] for a file in the wrong place.
    pub fn connect(&self, data_dir: &Path) -> Result<Arc<dyn KeyProvider>> {
        match self {
            ProviderSpec::File(path) => Ok(Arc::new(LocalKeyFileProvider::open(path, data_dir)?)),
            #[cfg(feature = "pkcs11")]
            ProviderSpec::Pkcs11(c) => {
                self.outside(data_dir, &[&c.module])?;
                self.not_writable_by_others(&c.module)?;
                Ok(Arc::new(Pkcs11Provider::connect(c.clone())?))
            }
            #[cfg(feature = "kmip")]
            ProviderSpec::Kmip(c) => {
                self.outside(data_dir, &[&c.cert, &c.key, &c.ca])?;
                Ok(Arc::new(KmipProvider::connect(c.clone())?))
            }
        }
    }

    /// For a new store in `data_dir`: connects, making master key `master` first where it does not exist yet
    /// (a new key file holding it, or a new key generated in the token or on the server). Returns the
    /// provider and whether the master key was made now.
    ///
    /// # Errors
    /// As [`ProviderSpec::connect`]; for `file:`, an existing key file is used only if it holds `master`.
    pub fn create(&self, data_dir: &Path, master: &MasterKeyId) -> Result<(Arc<dyn KeyProvider>, bool)> {
        if let ProviderSpec::File(path) = self
            && !path.exists()
        {
            return Ok((Arc::new(LocalKeyFileProvider::create(path, data_dir, master)?), true));
        }
        let provider = self.connect(data_dir)?;
        if provider.master_key_ids()?.contains(master) {
            return Ok((provider, false));
        }
        if matches!(self, ProviderSpec::File(_)) {
            return Err(KeyError::MasterKeyNotFound { master_key: master.to_string(), provider: provider.describe() });
        }
        provider.create_master_key(master)?;
        Ok((provider, true))
    }

    fn refuse(&self, reason: String) -> KeyError {
        KeyError::ProviderConfig { config: self.to_string(), reason }
    }

    #[allow(dead_code, reason = "used by the optional providers")]
    fn outside(&self, data_dir: &Path, files: &[&Path]) -> Result<()> {
        let data = data_dir.canonicalize().unwrap_or_else(|_| std::path::absolute(data_dir).unwrap_or_default());
        for f in files {
            let resolved = f.canonicalize().unwrap_or_else(|_| f.to_path_buf());
            if resolved.starts_with(&data) {
                return Err(self.refuse(format!(
                    "{} lies inside the data directory {}; keep what reaches the key service outside it",
                    f.display(),
                    data_dir.display()
                )));
            }
        }
        Ok(())
    }

    #[allow(dead_code, reason = "used by the PKCS#11 provider")]
    fn not_writable_by_others(&self, file: &Path) -> Result<()> {
        for p in [Some(file), file.parent()].into_iter().flatten() {
            let meta = std::fs::metadata(p).map_err(|e| self.refuse(format!("{}: {e}", p.display())))?;
            let mode = meta.permissions().mode();
            // Directories with the sticky bit (/tmp) still let others replace only their own files.
            if mode & 0o022 != 0 && !(meta.is_dir() && mode & 0o1000 != 0) {
                return Err(self.refuse(format!(
                    "{} has mode {:04o}: group or others could replace the module this process loads",
                    p.display(),
                    mode & 0o7777
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for ProviderSpec {
    /// The one-string form, which [`ProviderSpec::parse`] reads back: no secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderSpec::File(path) => write!(f, "file:{}", path.display()),
            #[cfg(feature = "pkcs11")]
            ProviderSpec::Pkcs11(c) => c.fmt(f),
            #[cfg(feature = "kmip")]
            ProviderSpec::Kmip(c) => c.fmt(f),
        }
    }
}

/// How a data directory's keys are opened: the provider (or `None` for the one the keyring records) and the
/// keyring's options (the lease).
#[derive(Debug, Clone, Default)]
pub struct KeysConfig {
    /// The provider; `None` uses the one the keyring records.
    pub provider: Option<ProviderSpec>,
    /// The keyring's options.
    pub keyring: KeyringOptions,
}

impl KeysConfig {
    /// Reads a keys configuration file (see the module documentation).
    ///
    /// # Errors
    /// [`KeyError::ConfigFile`] naming the file and line; the provider string's errors.
    pub fn load(path: &Path) -> Result<KeysConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::ConfigFile {
            path: path.to_owned(),
            line: 0,
            reason: e.to_string(),
        })?;
        KeysConfig::parse(&text, path)
    }

    /// Parses the text of a keys configuration file; `path` names it in errors.
    ///
    /// # Errors
    /// As [`KeysConfig::load`].
    pub fn parse(text: &str, path: &Path) -> Result<KeysConfig> {
        let mut cfg = KeysConfig::default();
        let mut seen = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let bad = |reason: String| KeyError::ConfigFile { path: path.to_owned(), line: n + 1, reason };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once('=').ok_or_else(|| bad("expected `name = value`".into()))?;
            let (name, value) = (name.trim(), value.trim());
            if seen.contains(&name) {
                return Err(bad(format!("{name} is set twice")));
            }
            seen.push(name);
            match name {
                "keys" => cfg.provider = Some(ProviderSpec::parse(value)?),
                "lease" => {
                    cfg.keyring.lease =
                        parse_duration(value).filter(|d| *d >= Duration::from_secs(1)).ok_or_else(|| {
                            bad(format!("lease {value:?}: expected a duration of at least 1s (90s, 15m, 1h)"))
                        })?;
                }
                other => return Err(bad(format!("unknown setting {other:?} (expected keys or lease)"))),
            }
        }
        Ok(cfg)
    }
}

/// Opens the keyring of `data_dir` with the provider of `config`, else the one the keyring records; this is
/// what `atrest serve` and every command that opens a store call.
///
/// # Errors
/// [`KeyError::NoProvider`] when neither names one; the provider string's, the provider's and the keyring's
/// errors ([`Keyring::open_with`]).
pub fn open_keyring(data_dir: &Path, config: &KeysConfig) -> Result<Arc<Keyring>> {
    let spec = match &config.provider {
        Some(spec) => spec.clone(),
        None => match Keyring::recorded_provider(data_dir)? {
            Some(recorded) => ProviderSpec::parse(&recorded)?,
            None => return Err(KeyError::NoProvider { keyring: Keyring::path_in(data_dir) }),
        },
    };
    let provider = spec.connect(data_dir)?;
    Ok(Arc::new(Keyring::open_with(data_dir, provider, Arc::new(SystemClock), config.keyring)?))
}

/// Parses a duration such as `500ms`, `90s`, `15m`, `1h` or `2d`; `None` if it is not one.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "ms" => return Some(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(secs).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_strings_round_trip_and_refusals_name_the_problem() {
        let f = ProviderSpec::parse("file:/keys/a.key").unwrap();
        assert_eq!((f.to_string().as_str(), f.kind()), ("file:/keys/a.key", "local-file"));
        #[cfg(feature = "kmip")]
        {
            let k = ProviderSpec::parse("kmip://h:7?cert=/c&key=/k&ca=/a").unwrap();
            assert_eq!((k.to_string().as_str(), k.kind()), ("kmip://h:7?cert=/c&key=/k&ca=/a", "kmip"));
        }
        for (spec, needle) in [("", "expected file:"), ("file:", "path"), ("vault://x", "expected file:")] {
            let e = ProviderSpec::parse(spec).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn config_files() {
        let p = Path::new("/etc/atrest/keys.conf");
        let c = KeysConfig::parse("# comment\n keys = file:/k/x.key \nlease=90s\n", p).unwrap();
        assert_eq!(c.provider.unwrap().to_string(), "file:/k/x.key");
        assert_eq!(c.keyring.lease, Duration::from_secs(90));
        assert_eq!(KeysConfig::parse("", p).unwrap().keyring, KeyringOptions::default());
        for (text, line, needle) in [
            ("keys file:/x", 1, "name = value"),
            ("\nlease = 0s", 2, "at least 1s"),
            ("lease = soon", 1, "lease"),
            ("keys=file:/a\nkeys=file:/b", 2, "twice"),
            ("colour = blue", 1, "unknown setting"),
        ] {
            match KeysConfig::parse(text, p) {
                Err(e @ KeyError::ConfigFile { line: l, .. }) => {
                    assert_eq!(l, line, "{text}: {e}");
                    assert!(e.to_string().contains(needle) && e.to_string().contains("keys.conf"), "{e}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        for bad in ["", "h", "1", "1x", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
