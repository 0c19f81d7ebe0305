//! The keyring file: `<data dir>/keyring`.
//!
//! Two lines of text. The first is the body, one line of JSON; the second is `sha3-256 <hex>`, the SHA3-256 of
//! the first line's bytes (without its newline). The checksum finds torn or damaged files; it is no defence
//! against a deliberate edit (anyone can recompute it), which the per-entry bindings catch instead.
//!
//! ```text
//! {"format":"atrest-keyring","version":1,"provider":"local-file","master_key":"m1","next_id":3,
//!  "checks":[{"master_key":"m1","value":"<hex>"}],
//!  "entries":[{"id":1,"scope":"store","master_key":"m1","provider":"local-file","state":"decrypt_only",
//!              "created":1700000000,"changed":1700000100,"wrapped":"<hex>","binding":"<hex>"},
//!             {"id":2,"scope":{"collection":7},...,"state":"destroyed","wrapped":null,"binding":null}]}
//! sha3-256 <64 hex digits>
//! ```
//!
//! `provider_locator` (format version 3, written only when present) names the provider in the one-string form
//! of [`crate::ProviderSpec`] (`file:…`, `pkcs11:…`, `kmip://…`): paths and names, no secret. It tells `open`,
//! `restore` and `verify-backup` where the master key is; it is a hint, checked by the check values below.
//!
//! `checks` holds one *check value* per master key in use: an all-zero key wrapped under that master key, which
//! tells a wrong master key apart from a tampered entry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha3::{Digest, Sha3_256};

use super::entry::{BINDING_LEN, Entry, EntryInfo, KeyState, Scope};
use crate::error::{KeyError, Result};
use crate::secret::MasterKeyId;

const FORMAT: &str = "atrest-keyring";
/// Version 1: store and collection scopes. Version 2 adds named scopes; a keyring is written as version 1
/// while it holds none, so older readers keep reading it, and version 1 files are always read.
const VERSION: u32 = 1;
const VERSION_NAMED_SCOPES: u32 = 2;
/// Version 3 adds the provider locator; written only when the keyring records one.
const VERSION_LOCATOR: u32 = 3;
const CHECKSUM_TAG: &str = "sha3-256 ";

/// The decoded keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyringData {
    /// Provider kind the keyring was made with.
    pub(crate) provider: String,
    /// The provider in its one-string form, when known.
    pub(crate) locator: Option<String>,
    /// The master key new data keys are wrapped under.
    pub(crate) master_key: MasterKeyId,
    /// The next data key id to hand out; ids start at 1 and are never reused.
    pub(crate) next_id: u32,
    /// Check values per master key.
    pub(crate) checks: BTreeMap<MasterKeyId, Vec<u8>>,
    /// Entries in id order.
    pub(crate) entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    format: String,
    version: u32,
    provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_locator: Option<String>,
    master_key: String,
    next_id: u32,
    checks: Vec<CheckJson>,
    entries: Vec<EntryJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckJson {
    master_key: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    id: u32,
    scope: Scope,
    master_key: String,
    provider: String,
    state: KeyState,
    created: u64,
    changed: u64,
    wrapped: Option<String>,
    binding: Option<String>,
}

/// Encodes the keyring as the file's bytes.
pub(crate) fn encode(data: &KeyringData) -> Vec<u8> {
    let body = Body {
        format: FORMAT.to_owned(),
        version: if data.locator.is_some() {
            VERSION_LOCATOR
        } else if data.entries.iter().any(|e| matches!(e.info.scope, Scope::Named(_))) {
            VERSION_NAMED_SCOPES
        } else {
            VERSION
        },
        provider: data.provider.clone(),
        provider_locator: data.locator.clone(),
        master_key: data.master_key.to_string(),
        next_id: data.next_id,
        checks: data
            .checks
            .iter()
            .map(|(id, v)| CheckJson { master_key: id.to_string(), value: hex::encode(v) })
            .collect(),
        entries: data
            .entries
            .iter()
            .map(|e| EntryJson {
                id: e.info.id,
                scope: e.info.scope,
                master_key: e.info.master_key.to_string(),
                provider: e.info.provider.clone(),
                state: e.info.state,
                created: e.info.created,
                changed: e.info.changed,
                wrapped: e.wrapped.as_ref().map(hex::encode),
                binding: e.binding.as_ref().map(hex::encode),
            })
            .collect(),
    };
    with_checksum(&serde_json::to_vec(&body).expect("the keyring body always serializes"))
}

/// The file's bytes for a body line: the body, a newline, the checksum line.
pub(crate) fn with_checksum(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.push(b'\n');
    out.extend_from_slice(CHECKSUM_TAG.as_bytes());
    out.extend_from_slice(hex::encode(Sha3_256::digest(body)).as_bytes());
    out.push(b'\n');
    out
}

/// Decodes and checks the file's bytes.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<KeyringData> {
    let corrupt = |reason: String| KeyError::KeyringCorrupt { path: path.to_owned(), reason };
    let Some(body_end) = bytes.iter().position(|&b| b == b'\n') else {
        return Err(corrupt("no checksum line: the file is truncated".to_owned()));
    };
    let (body, trailer) = (&bytes[..body_end], &bytes[body_end + 1..]);
    let trailer = std::str::from_utf8(trailer).map_err(|_| corrupt("the checksum line is not text".to_owned()))?;
    let Some(hex_sum) = trailer.strip_prefix(CHECKSUM_TAG).and_then(|t| t.strip_suffix('\n')) else {
        return Err(corrupt("the checksum line is missing or truncated".to_owned()));
    };
    let mut sum = [0u8; 32];
    hex::decode_to_slice(hex_sum, &mut sum).map_err(|_| corrupt("the checksum is not 64 hex digits".to_owned()))?;
    if Sha3_256::digest(body).as_slice() != sum {
        return Err(corrupt("checksum mismatch: the file was damaged or partly written".to_owned()));
    }
    let body: Body = serde_json::from_slice(body).map_err(|e| corrupt(format!("undecodable body: {e}")))?;
    if body.format != FORMAT || !(VERSION..=VERSION_LOCATOR).contains(&body.version) {
        return Err(corrupt(format!("unknown format {:?} version {}", body.format, body.version)));
    }
    if body.provider_locator.is_some() && body.version < VERSION_LOCATOR {
        return Err(corrupt(format!("a provider locator in a version {} keyring", body.version)));
    }
    let master_id = |s: &str| MasterKeyId::new(s).map_err(|e| corrupt(e.to_string()));
    let master_key = master_id(&body.master_key)?;
    let mut checks = BTreeMap::new();
    for c in body.checks {
        let value = hex::decode(&c.value).map_err(|_| corrupt("a check value is not hex".to_owned()))?;
        if checks.insert(master_id(&c.master_key)?, value).is_some() {
            return Err(corrupt(format!("two check values for master key {:?}", c.master_key)));
        }
    }
    let mut entries = Vec::with_capacity(body.entries.len());
    let mut ids = BTreeSet::new();
    let mut active = BTreeSet::new();
    for e in body.entries {
        let id = e.id;
        let bad = |what: &str| corrupt(format!("entry {id}: {what}"));
        if id == 0 || id >= body.next_id || !ids.insert(id) {
            return Err(bad("id is zero, repeated, or not below next_id"));
        }
        if body.version < VERSION_NAMED_SCOPES && matches!(e.scope, Scope::Named(_)) {
            return Err(bad("a named scope in a version 1 keyring"));
        }
        if e.state == KeyState::Active && !active.insert(e.scope) {
            return Err(bad("a second active key for the same scope"));
        }
        let wrapped = e.wrapped.map(|w| hex::decode(w).map_err(|_| bad("wrapped key is not hex"))).transpose()?;
        let binding = match e.binding {
            None => None,
            Some(b) => {
                let mut out = [0u8; BINDING_LEN];
                hex::decode_to_slice(b, &mut out).map_err(|_| bad("binding is not the right length of hex"))?;
                Some(out)
            }
        };
        let destroyed = e.state == KeyState::Destroyed;
        if destroyed != wrapped.is_none() || destroyed != binding.is_none() {
            return Err(bad("a destroyed key must have no wrapped copy, and a live key must have one"));
        }
        let info = EntryInfo {
            id,
            scope: e.scope,
            master_key: master_id(&e.master_key)?,
            provider: e.provider,
            state: e.state,
            created: e.created,
            changed: e.changed,
        };
        entries.push(Entry { info, wrapped, binding });
    }
    entries.sort_by_key(|e| e.info.id);
    Ok(KeyringData {
        provider: body.provider,
        locator: body.provider_locator,
        master_key,
        next_id: body.next_id,
        checks,
        entries,
    })
}
