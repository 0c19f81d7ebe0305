//! # atrest-store
//!
//! A thin document store on atrest-core and atrest-keys, encrypted always: collections of JSON documents
//! keyed by string ids, equality queries on indexed JSON Pointers, named binary attachments, group-committed
//! durable writes, crash recovery, `verify`, key rotation and rekeying. Every byte it writes is a sealed page,
//! except the small format file (version, page size, store id) that is needed to find the keys.
//!
//! ```
//! use std::sync::Arc;
//! use atrest_keys::Keyring;
//! use atrest_store::{FaultStorage, IndexPolicy, Store, StoreConfig};
//!
//! let cfg = StoreConfig::new(Arc::new(FaultStorage::new()), Arc::new(Keyring::ephemeral().unwrap()));
//! let store = Store::create(cfg).unwrap();
//! store.create_collection("people", IndexPolicy::All).unwrap();
//! store.put("people", "ada", br#"{"address":{"city":"Oslo"}}"#.to_vec()).unwrap();
//! let hits = store.find("people", "/address/city", &serde_json::json!("Oslo")).unwrap();
//! assert_eq!(hits[0].0, "ada");
//! ```
//!
//! File layout, record framing and recovery are described in docs/design.md ("Store").

mod anchor;
mod api;
mod apply;
mod attach;
mod codec;
mod collection;
mod commit;
mod config;
#[cfg(test)]
mod decode_tests;
mod error;
pub mod files;
mod index;
mod json;
mod keys;
mod log;
mod maint;
mod manifest;
mod merger;
mod migrate;
mod open;
mod pages;
mod read;
mod reindex;
pub mod snapshot;
mod stats;
pub mod storage;
mod store;
mod verify;

pub use attach::{AttachmentReader, MAX_ATTACHMENT_NAME};
pub use codec::DecodeError;
pub use config::{RollbackCheck, StoreConfig};
pub use error::{Result, StoreError};
pub use files::{FORMAT_FILE, LOCK_FILE, MANIFEST_FILE};
pub use json::{IndexKey, IndexPolicy, Limits};
pub use maint::RekeyReport;
pub use manifest::{FormatInfo, STORE_FORMAT_VERSION};
pub use stats::{CollectionStats, CommitTimes, StoreStats};
pub use storage::{FaultPlan, FaultStorage, FsStorage, LockAttempt, OwnerLock, Storage, StorageFile};
pub use store::{Document, Store};
pub use verify::{VerifyFailure, VerifyReport};
