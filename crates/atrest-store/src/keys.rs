//! The store's keys come from the keyring of `atrest-keys`, the one data-key layer: scopes, lookup by key id,
//! the active key of each scope and the one cache of unwrapped keys under a lease all live there. The store
//! seals its manifest and catalog under the store scope, and each collection's documents, index and
//! attachments under the collection's scope (numbered, since collection names are user data), so a dropped
//! collection's keys can be destroyed on their own.

/// The scope of a data key, under the name the store's modules use.
pub(crate) use atrest_keys::Scope as KeyScope;
