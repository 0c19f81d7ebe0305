//! # atrest-keys
//!
//! The key hierarchy of atrest. A **master key** (KEK) lives in a key service that is separate from the
//! storage and need never leave it; **data keys** (DEKs), which seal the pages, are kept in the data directory
//! only wrapped under a master key, in the **keyring**.
//!
//! ```text
//!  key service (KeyProvider)             data directory
//!  ┌──────────────────────────┐          ┌───────────────────────────────────────────┐
//!  │ master key "m1" (KEK)    │──wraps──▶│ keyring: entry 1 store      active        │
//!  │  local key file / HSM    │          │          entry 2 coll. 7    decrypt-only  │
//!  └──────────────────────────┘          │          entry 3 coll. 7    active        │
//!                                        │ pages: header names data key id, sealed   │
//!                                        │        with XAES-256-GCM under that DEK   │
//!                                        └───────────────────────────────────────────┘
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use atrest_keys::{InsecureMemoryProvider, Keyring, MasterKeyId, Scope, SystemClock};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let master = MasterKeyId::new("m1").unwrap();
//! let provider = Arc::new(InsecureMemoryProvider::with_master_key(&master).unwrap());
//! let keyring = Keyring::create(dir.path(), provider.clone(), &master, Arc::new(SystemClock)).unwrap();
//! let (id, key) = keyring.active_key(Scope::Collection(7)).unwrap();
//! drop(keyring);
//!
//! let keyring = Keyring::open(dir.path(), provider, Arc::new(SystemClock)).unwrap();
//! assert_eq!(keyring.key(id).unwrap().expose_secret(), key.expose_secret());
//! ```
//!
//! Providers: [`LocalKeyFileProvider`] (the embedded default), a PKCS#11 provider for HSMs, a KMIP provider
//! ([`KmipProvider`], built from a `kmip://` string by [`KmipProvider::from_url`]) for key servers, and
//! [`InsecureMemoryProvider`] for tests. See `docs/keys.md` for the keyring format and rotation procedure.

mod atomic;
mod clock;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keyring;
mod open;
mod provider;
mod record;
mod secret;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{KeyError, Result};
pub use keyring::{
    EntryInfo, KEYRING_FILE, KeyState, Keyring, KeyringOptions, MasterKeyRotation, ReferenceCheck, Scope, ScopeName,
};
pub use open::{KeysConfig, ProviderSpec, open_keyring, parse_duration};
pub use provider::{
    InsecureMemoryProvider, KeyProvider, LocalKeyFileProvider, ProviderHealth, RetryPolicy, Retrying, SimulatedFault,
    Sleeper, ThreadSleeper, default_key_file_path,
};
#[cfg(feature = "kmip")]
pub use provider::{KmipConfig, KmipProvider, KmipWrapMethod, KmipWrapping};
#[cfg(feature = "pkcs11")]
pub use provider::{PinSource, Pkcs11Config, Pkcs11Provider};
pub use record::StateRecord;
pub use secret::{DataKey, KEY_LEN, MasterKeyId, MasterKeyMaterial};

/// The README's Rust examples (the AEAD, and keys to pages), compiled and run as doctests here, where both
/// atrest-core and this crate are in scope, so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
