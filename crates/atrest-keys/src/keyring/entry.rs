//! Keyring entries: what each wrapped data key is for, and the bytes that bind that metadata to the key.
//!
//! Two bindings protect an entry. The provider wraps the data key with the entry's fixed metadata as
//! associated data (where its mechanism allows), and the keyring adds a *binding tag*: an XAES-256-GCM tag under
//! the data key itself over all metadata, the state included, and the wrapped bytes. A changed field therefore
//! fails either the unwrap or the binding check, with every provider, and a state change (active to
//! decrypt-only) needs the data key but no new wrap.

use atrest_core::{TAG_LEN, XAES_NONCE_LEN, XAES_PREFIX_LEN, Xaes256Gcm};
use serde::{Deserialize, Serialize};

use crate::error::{KeyError, Result, random};
use crate::secret::{DataKey, MasterKeyId, label_problem};

/// What a data key protects. Collections are named by an opaque number, never by their (secret) name: the
/// keyring lies in the data directory and is readable by anyone who can read the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Store-wide data: manifest, catalog, anything not in a collection.
    Store,
    /// One collection, by its number in the store's catalog.
    Collection(u64),
    /// A scope an engine defines for itself: a table, a tenant, a database file. Like collection numbers, the
    /// name is stored in the clear, so it must not be secret (use a number rendered as text if it would be).
    /// A keyring holding a named scope is written as format version 2.
    Named(ScopeName),
}

/// The name of an engine-defined [`Scope::Named`]: 1 to [`ScopeName::MAX_LEN`] bytes of printable ASCII
/// without spaces. Fixed-size, so a [`Scope`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeName {
    len: u8,
    bytes: [u8; ScopeName::MAX_LEN],
}

impl ScopeName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 48;

    /// Checks and stores a name.
    ///
    /// # Errors
    /// [`KeyError::InvalidScopeName`] when it is empty, longer than [`Self::MAX_LEN`], or holds anything but
    /// printable ASCII without spaces.
    pub fn new(name: &str) -> Result<ScopeName> {
        if let Some(reason) = label_problem(name, Self::MAX_LEN) {
            return Err(KeyError::InvalidScopeName { name: name.to_owned(), reason });
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(ScopeName { len: name.len() as u8, bytes })
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("checked ASCII on construction")
    }
}

impl std::fmt::Debug for ScopeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScopeName({:?})", self.as_str())
    }
}

impl std::fmt::Display for ScopeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ScopeName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ScopeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ScopeName::new(&name).map_err(serde::de::Error::custom)
    }
}

/// Where a data key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// New data in its scope is sealed under it (one per scope).
    Active,
    /// Still opens old data; nothing new is sealed under it.
    DecryptOnly,
    /// Gone for good: the keyring keeps the id (so it is never reused) but no wrapped copy.
    Destroyed,
}

impl KeyState {
    fn code(self) -> u8 {
        match self {
            KeyState::Active => 1,
            KeyState::DecryptOnly => 2,
            KeyState::Destroyed => 3,
        }
    }
}

/// The metadata of a keyring entry, without key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Data key id, unique in the keyring and never reused; page headers carry it.
    pub id: u32,
    /// What the key protects.
    pub scope: Scope,
    /// The master key it is wrapped under.
    pub master_key: MasterKeyId,
    /// The kind of provider that holds the master key.
    pub provider: String,
    /// Its state.
    pub state: KeyState,
    /// When it was made (Unix seconds).
    pub created: u64,
    /// When its state or wrapping last changed (Unix seconds).
    pub changed: u64,
}

/// Length of a binding: the random nonce suffix and the tag.
pub(crate) const BINDING_LEN: usize = XAES_NONCE_LEN - XAES_PREFIX_LEN + TAG_LEN;

/// Nonce prefix reserved for bindings; page writers draw random prefixes, so theirs differ from it.
const BINDING_PREFIX: &[u8; XAES_PREFIX_LEN] = b"atrest-bind:";

/// An entry as the keyring holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) info: EntryInfo,
    /// What the provider returned from `wrap`; `None` once destroyed.
    pub(crate) wrapped: Option<Vec<u8>>,
    /// The binding tag; `None` once destroyed.
    pub(crate) binding: Option<[u8; BINDING_LEN]>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The fixed metadata, given to the provider as associated data when wrapping:
/// `"atrest-keyring-entry-v1" || id || scope || provider kind || master-key id || created`, where the scope is
/// `0` and 8 zero bytes (store), `1` and the number (collection), or `2` and the length-prefixed name (named).
/// The first two encodings are those of format version 1, so its entries still verify.
pub(crate) fn wrap_aad(info: &EntryInfo) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"atrest-keyring-entry-v1");
    out.extend_from_slice(&info.id.to_be_bytes());
    match info.scope {
        Scope::Store => out.extend_from_slice(&[0; 9]),
        Scope::Collection(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Scope::Named(name) => {
            out.push(2);
            put_str(&mut out, name.as_str());
        }
    }
    put_str(&mut out, &info.provider);
    put_str(&mut out, info.master_key.as_str());
    out.extend_from_slice(&info.created.to_be_bytes());
    out
}

/// Everything the binding tag covers: the fixed metadata, the state, the change time and the wrapped bytes.
fn binding_aad(info: &EntryInfo, wrapped: &[u8]) -> Vec<u8> {
    let mut out = b"atrest-keyring-binding-v1".to_vec();
    out.extend_from_slice(&wrap_aad(info));
    out.push(info.state.code());
    out.extend_from_slice(&info.changed.to_be_bytes());
    out.extend_from_slice(&(wrapped.len() as u32).to_be_bytes());
    out.extend_from_slice(wrapped);
    out
}

fn binding_cipher(key: &DataKey) -> Result<Xaes256Gcm> {
    Xaes256Gcm::try_new(key.expose_secret())
        .map_err(|e| KeyError::Provider { provider: "atrest-core".to_owned(), reason: e.to_string() })
}

/// Computes a fresh binding of `info` and `wrapped` under `key`.
pub(crate) fn bind(key: &DataKey, info: &EntryInfo, wrapped: &[u8]) -> Result<[u8; BINDING_LEN]> {
    let mut suffix = [0u8; XAES_NONCE_LEN - XAES_PREFIX_LEN];
    random(&mut suffix)?;
    let mut nonce = [0u8; XAES_NONCE_LEN];
    nonce[..XAES_PREFIX_LEN].copy_from_slice(BINDING_PREFIX);
    nonce[XAES_PREFIX_LEN..].copy_from_slice(&suffix);
    let tag = binding_cipher(key)?
        .seal_in_place(&nonce, &binding_aad(info, wrapped), &mut [])
        .map_err(|e| KeyError::Provider { provider: "atrest-core".to_owned(), reason: e.to_string() })?;
    let mut out = [0u8; BINDING_LEN];
    out[..suffix.len()].copy_from_slice(&suffix);
    out[suffix.len()..].copy_from_slice(&tag);
    Ok(out)
}

/// Whether `binding` authenticates `info` and `wrapped` under `key`.
pub(crate) fn verify(key: &DataKey, info: &EntryInfo, wrapped: &[u8], binding: &[u8; BINDING_LEN]) -> Result<bool> {
    let (suffix, tag) = binding.split_at(XAES_NONCE_LEN - XAES_PREFIX_LEN);
    let mut nonce = [0u8; XAES_NONCE_LEN];
    nonce[..XAES_PREFIX_LEN].copy_from_slice(BINDING_PREFIX);
    nonce[XAES_PREFIX_LEN..].copy_from_slice(suffix);
    let tag: &[u8; TAG_LEN] = tag.try_into().expect("binding holds a 16-byte tag");
    Ok(binding_cipher(key)?.open_in_place(&nonce, &binding_aad(info, wrapped), &mut [], tag).is_ok())
}
