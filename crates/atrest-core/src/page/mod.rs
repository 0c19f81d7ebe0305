//! Sealed pages: the on-disk unit of atrest.
//!
//! A page has a fixed physical size per file ([`PageSize`], 4 KiB to 64 KiB) and holds a header, a body of
//! exactly [`PageSize::capacity`] bytes of ciphertext, and a 16-byte tag ([`mod@format`] has the byte diagram).
//! The header and a caller-supplied [`PageContext`] (file id, page number, engine extras) are authenticated
//! as associated data, so a page copied to another place fails to open.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use atrest_core::Xaes256Gcm;
//! use atrest_core::page::{Opener, PageContext, PageKind, PageSize, Sealer};
//!
//! let key = Arc::new(Xaes256Gcm::try_new(&[9u8; 32]).unwrap());
//! let sealer = Sealer::with_key(Arc::clone(&key), 7).unwrap();
//! let size = PageSize::KIB_4;
//! let body = vec![0x5a; size.capacity()];
//! let mut page = vec![0u8; size.bytes()];
//! let ctx = PageContext::new(1, 42);
//! sealer.seal(PageKind::Data, &ctx, &body, &mut page).unwrap();
//!
//! let opener = Opener::new(HashMap::from([(7, key)]));
//! let opened = opener.open(&mut page, &ctx).unwrap();
//! assert_eq!(opened.kind, PageKind::Data);
//! assert_eq!(&opened.body[..], &body[..]);
//! ```
//!
//! Writers use a [`Sealer`] (random nonce prefix per writer epoch, counter per page); readers use an
//! [`Opener`] (keys looked up by id through a [`KeyLookup`], derived subkeys cached by key id and prefix).
//! Both have batch forms that spread work over rayon threads: the current pool, or one given explicitly
//! ([`Sealer::seal_batch_in`], [`Opener::open_batch_in`]); engines with their own executor reserve nonces with
//! [`Sealer::reserve`] and seal each page wherever they like. `atrest-keys` provides the keyring-backed lookup
//! and sealers (`Keyring` implements [`KeyLookup`]).

mod batch;
mod error;
pub mod format;
mod lookup;
mod opener;
mod sealer;

pub use batch::{MIN_PARALLEL_BYTES, OpenJob, SealJob};
pub use error::{BatchError, PageError};
pub use format::{HEADER_LEN, OVERHEAD, PAGE_TAG_LEN, PageHeader, PageKind, PageSize};
pub use lookup::{KeyLookup, KeySourceError, LookupError, LookupFn, lookup_fn};
pub use opener::{OPENER_CACHE_CAPACITY, OpenedPage, Opener};
pub use sealer::{MAX_EPOCH_PAGES, PageNonce, Sealer, seal_with_nonce};

/// Where a page lives, bound into its authentication: a page moved to another file or page number, or
/// written under another `extra` (e.g. a write generation), fails to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageContext<'a> {
    /// The file the page belongs to.
    pub file_id: u64,
    /// The page's number (or offset) within the file.
    pub page_no: u64,
    /// Further bytes the engine binds in, e.g. a write generation; empty if none.
    pub extra: &'a [u8],
}

impl PageContext<'static> {
    /// A context of a file id and page number, with no extra bytes.
    pub const fn new(file_id: u64, page_no: u64) -> PageContext<'static> {
        PageContext { file_id, page_no, extra: &[] }
    }
}

impl<'a> PageContext<'a> {
    /// The same place with `extra` bound in too.
    pub const fn with_extra<'b>(self, extra: &'b [u8]) -> PageContext<'b> {
        PageContext { file_id: self.file_id, page_no: self.page_no, extra }
    }
}
