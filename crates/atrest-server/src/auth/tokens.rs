//! Token records in the store's sealed catalog: making, listing and revoking tokens (what `atrest token`
//! runs, offline or through a server), and the server's table of them.
//!
//! The server owns its store for its whole life, so every change to the records while it runs goes through
//! it ([`TokenTable::create`], [`TokenTable::revoke`]); the table it loads at start therefore stays exact.

use std::collections::HashMap;
use std::sync::RwLock;

use atrest_store::{Store, StoreError};

use super::token::{self, DUMMY_HASH, META_PREFIX, Presented, Scope, TokenId, TokenInfo, TokenRecord};

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Reading or writing the catalog failed.
    #[error("token catalog: {0}")]
    Store(#[from] StoreError),
    /// The operating system's random number generator failed.
    #[error("OS random number generator: {0}")]
    Random(getrandom::Error),
    /// A stored token record does not decode (the catalog is sealed, so this is a bug or an old format).
    #[error("token record {name:?} in the catalog is not valid: {detail}")]
    BadRecord {
        /// Its metadata name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A collection name in a scope is empty or has control characters.
    #[error("bad collection name {name:?} in the token's scope")]
    BadCollection {
        /// The name.
        name: String,
    },
}

/// A token just made: its text (shown once, never stored) and what is listed about it.
#[derive(Debug)]
pub struct NewToken {
    /// The token to hand to the client.
    pub token: String,
    /// Its id, scope and creation time.
    pub info: TokenInfo,
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Makes a token with `scope` and stores its record (durable on return).
///
/// # Errors
/// A bad collection name, the RNG, or the store.
pub fn create_token(store: &Store, scope: Scope) -> Result<NewToken, TokenError> {
    Ok(create(store, scope)?.0)
}

fn create(store: &Store, scope: Scope) -> Result<(NewToken, TokenRecord), TokenError> {
    if let Some(bad) = scope.collections.iter().find(|c| c.is_empty() || c.chars().any(char::is_control)) {
        return Err(TokenError::BadCollection { name: bad.clone() });
    }
    let created = now();
    let (id, text, record) = token::generate(scope.clone(), created).map_err(TokenError::Random)?;
    let value = serde_json::to_vec(&record).map_err(|e| bad_record(&id.meta_name(), &e))?;
    store.set_meta(&id.meta_name(), Some(value))?;
    Ok((NewToken { token: text, info: TokenInfo { id, scope, created } }, record))
}

fn bad_record(name: &str, e: &dyn std::fmt::Display) -> TokenError {
    TokenError::BadRecord { name: name.to_owned(), detail: e.to_string() }
}

fn records(store: &Store) -> Result<Vec<(TokenId, TokenRecord)>, TokenError> {
    let mut out = Vec::new();
    for name in store.meta_names() {
        let Some(id) = name.strip_prefix(META_PREFIX) else { continue };
        let id = TokenId::parse(id).ok_or_else(|| bad_record(&name, &"the id is not 16 hex digits"))?;
        let Some(value) = store.meta(&name) else { continue };
        let record: TokenRecord = serde_json::from_slice(&value).map_err(|e| bad_record(&name, &e))?;
        out.push((id, record));
    }
    Ok(out)
}

/// Every token, by creation time then id.
///
/// # Errors
/// A record that does not decode.
pub fn list_tokens(store: &Store) -> Result<Vec<TokenInfo>, TokenError> {
    let mut list: Vec<TokenInfo> =
        records(store)?.into_iter().map(|(id, r)| TokenInfo { id, scope: r.scope, created: r.created }).collect();
    list.sort_by_key(|t| (t.created, t.id));
    Ok(list)
}

/// Removes token `id`'s record (durable on return); whether there was one.
///
/// # Errors
/// The store.
pub fn revoke_token(store: &Store, id: TokenId) -> Result<bool, TokenError> {
    let name = id.meta_name();
    if store.meta(&name).is_none() {
        return Ok(false);
    }
    store.set_meta(&name, None)?;
    Ok(true)
}

/// The server's view of the token records: loaded at start, changed only through it.
#[derive(Debug, Default)]
pub(crate) struct TokenTable {
    records: RwLock<HashMap<TokenId, TokenRecord>>,
}

impl TokenTable {
    pub(crate) fn load(store: &Store) -> Result<TokenTable, TokenError> {
        Ok(TokenTable { records: RwLock::new(records(store)?.into_iter().collect()) })
    }

    pub(crate) fn len(&self) -> usize {
        self.records.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The scope of the presented token, if it is one of ours. Unknown ids cost the same hash and comparison.
    pub(crate) fn check(&self, presented: &Presented<'_>) -> Option<Scope> {
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        let record = records.get(&presented.id);
        let matched = presented.matches(record.map_or(DUMMY_HASH, |r| r.hash.as_str()));
        record.filter(|_| matched).map(|r| r.scope.clone())
    }

    pub(crate) fn create(&self, store: &Store, scope: Scope) -> Result<NewToken, TokenError> {
        let (new, record) = create(store, scope)?;
        self.records.write().unwrap_or_else(|p| p.into_inner()).insert(new.info.id, record);
        Ok(new)
    }

    pub(crate) fn revoke(&self, store: &Store, id: TokenId) -> Result<bool, TokenError> {
        let existed = revoke_token(store, id)?;
        self.records.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
        Ok(existed)
    }
}
