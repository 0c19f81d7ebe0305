//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use atrest_core::page::PageSize;
use atrest_store::{FaultStorage, Storage, StoreConfig};
use std::sync::Arc;

/// A small-page, small-segment configuration over `storage` so tests cross page and segment boundaries.
pub fn small_cfg(storage: Arc<dyn Storage>, keys: Arc<atrest_keys::Keyring>) -> StoreConfig {
    let mut cfg = StoreConfig::new(storage, keys);
    cfg.page_size = PageSize::KIB_4;
    cfg.segment_bytes = 64 * 1024;
    cfg.batch_bytes = 16 * 1024;
    cfg.checkpoint_bytes = 1 << 20;
    cfg
}

pub fn mem() -> (FaultStorage, Arc<atrest_keys::Keyring>) {
    (FaultStorage::new(), Arc::new(atrest_keys::Keyring::ephemeral().unwrap()))
}
