//! Fixtures shared by the fuzz targets and the seed-corpus generator, so the seeds are pages the targets
//! can actually open.

use std::collections::HashMap;
use std::sync::Arc;

use atrest_core::Xaes256Gcm;
use atrest_core::page::{Opener, PageContext};

/// Key ids the decode target knows, with their keys.
pub const KEYS: [(u32, [u8; 32]); 2] = [(1, [0x11; 32]), (0xffff_fffe, [0xa5; 32])];

/// The place every page of the decode corpus is sealed for.
pub const CONTEXT: PageContext<'static> = PageContext { file_id: 7, page_no: 9, extra: b"fuzz" };

/// An opener that knows [`KEYS`], on the default backend.
pub fn opener() -> Opener<HashMap<u32, Arc<Xaes256Gcm>>> {
    Opener::new(KEYS.iter().map(|(id, key)| (*id, Arc::new(Xaes256Gcm::try_new(key).unwrap()))).collect())
}

/// The key with this id from [`KEYS`].
pub fn key(id: u32) -> Option<Arc<Xaes256Gcm>> {
    KEYS.iter().find(|(k, _)| *k == id).map(|(_, key)| Arc::new(Xaes256Gcm::try_new(key).unwrap()))
}
