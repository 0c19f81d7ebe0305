//! The PKCS#11 provider's configuration, and its one-string form for command lines, config files and the
//! keyring's record of its provider:
//!
//! ```text
//! pkcs11:MODULE?token=LABEL&pin-file=PATH[&destroy-retired=true|false]
//! pkcs11:MODULE?token=LABEL&pin-env=VARIABLE[&destroy-retired=true|false]
//! ```
//!
//! `MODULE` is the absolute path of the vendor's PKCS#11 library (SoftHSM2 on Debian:
//! `/usr/lib/softhsm/libsofthsm2.so`), `token` the label of the token holding the master keys. The user PIN is
//! read from a file (its first line; the file must not be readable by group or others) or from an environment
//! variable, never written in the string: the string holds no secret, so it may be recorded and shown.
//! Values are percent-decoded.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{KeyError, Result};
use crate::provider::spec_text::{flag, percent_encode, query_pairs};

/// Where the user PIN came from (recorded in the one-string form instead of the PIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// The first line of this file.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// Where the token is and how to log in.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// The vendor's PKCS#11 module (for SoftHSM2 on Debian: `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The label of the token that holds the master keys.
    pub token_label: String,
    /// The token's user PIN.
    pub pin: Zeroizing<String>,
    /// Where the PIN came from, when it was read from a file or the environment; a configuration with one
    /// has a one-string form (its `Display`), which the keyring records.
    pub pin_source: Option<PinSource>,
    /// Whether retiring a master key after rotation destroys its object in the token. Off by default: in a
    /// shared HSM, destroying keys is usually a separate, audited step.
    pub destroy_retired_master_keys: bool,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("pin", &"<redacted>")
            .field("pin_source", &self.pin_source)
            .field("destroy_retired_master_keys", &self.destroy_retired_master_keys)
            .finish()
    }
}

impl Pkcs11Config {
    /// Parses the one-string form (see the module documentation) and reads the PIN from where it names.
    ///
    /// # Errors
    /// [`KeyError::ProviderConfig`] naming the part at fault: another scheme, a relative module path, an
    /// unknown or repeated parameter, no token, no or two PIN sources, a PIN file that cannot be read or is
    /// readable by others, an unset variable.
    pub fn parse(spec: &str) -> Result<Pkcs11Config> {
        let bad = |reason: String| KeyError::ProviderConfig { config: spec.to_owned(), reason };
        let rest = spec
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("expected pkcs11:MODULE?token=LABEL&pin-file=PATH".into()))?;
        let (module, query) = rest.split_once('?').unwrap_or((rest, ""));
        let module = crate::provider::spec_text::percent_decode(module)
            .ok_or_else(|| bad("module: bad percent-encoding".into()))?;
        if !Path::new(&module).is_absolute() {
            return Err(bad(format!("the module {module:?} must be an absolute path")));
        }
        let (mut token, mut source, mut destroy) = (None, None, false);
        for (name, value) in query_pairs(query).map_err(bad)? {
            match name {
                "token" => token = Some(value),
                "pin-file" | "pin-env" if source.is_some() => {
                    return Err(bad("give the PIN one way: pin-file= or pin-env=".into()));
                }
                "pin-file" => source = Some(PinSource::File(PathBuf::from(value))),
                "pin-env" => source = Some(PinSource::Env(value)),
                "destroy-retired" => destroy = flag(name, &value).map_err(bad)?,
                "pin" => return Err(bad("the PIN is never written in the string: use pin-file= or pin-env=".into())),
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| bad("missing token= (the token's label)".into()))?;
        let source = source.ok_or_else(|| bad("missing pin-file= or pin-env= (where the user PIN is)".into()))?;
        let pin = read_pin(&source).map_err(bad)?;
        Ok(Pkcs11Config {
            module: PathBuf::from(module),
            token_label: token,
            pin,
            pin_source: Some(source),
            destroy_retired_master_keys: destroy,
        })
    }
}

fn read_pin(source: &PinSource) -> std::result::Result<Zeroizing<String>, String> {
    match source {
        PinSource::File(path) => {
            let meta = std::fs::metadata(path).map_err(|e| format!("PIN file {}: {e}", path.display()))?;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "PIN file {} has mode {mode:04o}, readable or writable by others; run `chmod 600 {}`",
                    path.display(),
                    path.display()
                ));
            }
            let text =
                Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("PIN file {}: {e}", path.display()))?);
            let pin = text.lines().next().unwrap_or("").trim_end_matches('\r');
            if pin.is_empty() {
                return Err(format!("PIN file {} is empty", path.display()));
            }
            Ok(Zeroizing::new(pin.to_owned()))
        }
        PinSource::Env(var) => match std::env::var(var) {
            Ok(pin) if !pin.is_empty() => Ok(Zeroizing::new(pin)),
            _ => Err(format!("environment variable {var} (the PIN) is not set")),
        },
    }
}

impl fmt::Display for Pkcs11Config {
    /// The one-string form, with where the PIN comes from, never the PIN. A configuration whose PIN was
    /// given directly (no [`Pkcs11Config::pin_source`]) prints without one, which does not parse back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pkcs11:{}?token={}",
            percent_encode(&self.module.to_string_lossy()),
            percent_encode(&self.token_label)
        )?;
        match &self.pin_source {
            Some(PinSource::File(p)) => write!(f, "&pin-file={}", percent_encode(&p.to_string_lossy()))?,
            Some(PinSource::Env(v)) => write!(f, "&pin-env={}", percent_encode(v))?,
            None => {}
        }
        if self.destroy_retired_master_keys {
            f.write_str("&destroy-retired=true")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reads_the_pin_and_prints_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("pin file");
        std::fs::write(&pin, "1234\n").unwrap();
        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
        let spec = format!("pkcs11:/usr/lib/softhsm/libsofthsm2.so?token=my%20token&pin-file={}", pin.display());
        let c = Pkcs11Config::parse(&spec).unwrap();
        assert_eq!(c.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!((c.token_label.as_str(), c.pin.as_str()), ("my token", "1234"));
        let shown = c.to_string();
        assert!(!shown.contains("1234") && !format!("{c:?}").contains("1234"), "{shown}");
        let again = Pkcs11Config::parse(&shown).unwrap();
        assert_eq!((again.module, again.token_label, again.pin_source), (c.module, c.token_label, c.pin_source));

        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Pkcs11Config::parse(&spec).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (spec, needle) in [
            ("file:/x", "expected pkcs11:"),
            ("pkcs11:lib.so?token=t&pin-env=HOME", "absolute"),
            ("pkcs11:/m.so?pin-env=HOME", "missing token="),
            ("pkcs11:/m.so?token=t", "missing pin-file= or pin-env="),
            ("pkcs11:/m.so?token=t&pin=1234", "never written"),
            ("pkcs11:/m.so?token=t&pin-env=HOME&pin-file=/p", "one way"),
            ("pkcs11:/m.so?token=t&pin-env=ATREST_SURELY_UNSET_VARIABLE", "not set"),
            ("pkcs11:/m.so?token=t&pin-file=/nonexistent/pin", "PIN file"),
            ("pkcs11:/m.so?token=t&pin-env=HOME&slot=1", "unknown parameter"),
            ("pkcs11:/m.so?token=t&token=u&pin-env=HOME", "twice"),
        ] {
            match Pkcs11Config::parse(spec) {
                Err(KeyError::ProviderConfig { reason, config }) => {
                    assert!(reason.contains(needle), "{spec}: {reason}");
                    assert_eq!(config, spec);
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
    }
}
