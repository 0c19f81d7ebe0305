//! # atrest-core
//!
//! Authenticated encryption for storage pages: AES-128/256-GCM and XAES-256-GCM with hardware backends
//! chosen at run time, behind one API that also implements the RustCrypto [`aead`] traits.
//!
//! ```
//! use atrest_core::Xaes256Gcm;
//!
//! let key = Xaes256Gcm::try_new(&[7u8; 32]).unwrap();
//! let nonce = [1u8; 24];
//! let mut page = *b"a page of data";
//! let tag = key.seal_in_place(&nonce, b"file 1, page 9", &mut page).unwrap();
//! key.open_in_place(&nonce, b"file 1, page 9", &mut page, &tag).unwrap();
//! assert_eq!(&page, b"a page of data");
//! ```
//!
//! `unsafe` is denied everywhere except in the architecture leaf modules under `backend/`, which hold the
//! intrinsics and document every block's contract.

mod aes_gcm;
pub mod backend;
mod error;
mod gcm;
pub mod page;
mod xaes;

pub use aead;
pub use aes_gcm::{Aes128Gcm, Aes256Gcm};
pub use backend::{Backend, CpuFeatures};
pub use error::{BackendError, KeyLengthError, OpenError, SealError};
pub use gcm::{MAX_AAD_LEN, MAX_MESSAGE_LEN, TAG_LEN, Tag};
/// The rayon this crate runs batches on, so an engine can build pools for `seal_batch_in` / `open_batch_in`
/// without depending on a matching rayon version itself.
pub use rayon;
pub use xaes::{SUBKEY_CACHE_CAPACITY, XAES_NONCE_LEN, XAES_PREFIX_LEN, Xaes256Gcm};
