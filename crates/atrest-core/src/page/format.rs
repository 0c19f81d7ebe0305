//! The on-disk layout of a sealed page: constants, the header codec and the associated data.
//!
//! ```text
//!  offset  size  field            constant / rule
//!  ------  ----  ---------------  ---------------------------------------------------------------
//!       0     4  magic            MAGIC = "ATRP"                           (BadMagic)
//!       4     1  format version   FORMAT_VERSION = 1                       (UnsupportedVersion)
//!       5     1  algorithm id     ALGORITHM_XAES_256_GCM = 1               (UnknownAlgorithm)
//!       6     1  page kind        PageKind as u8, 1..=5                    (UnknownKind)
//!       7     1  size code        log2(page size), MIN_SIZE_LOG2..=MAX_SIZE_LOG2 (UnsupportedPageSize)
//!       8     4  key id           u32 little-endian; looked up by the opener (UnknownKey)
//!      12    24  nonce            XAES-256-GCM nonce = epoch prefix (12) || counter (12, big-endian)
//!      36     N  body             ciphertext, N = page size - HEADER_LEN - TAG_LEN = capacity
//!  36 + N    16  tag              GCM tag over AAD and body
//! ```
//!
//! All offsets are `HEADER_LEN` = 36 and `TAG_LEN` = 16 apart from the ends, so a 4 KiB page carries 4044
//! body bytes and a 64 KiB page 65484. The associated data is the 36 header bytes followed by the caller's
//! [`PageContext`]: `file_id` (u64 LE), `page_no` (u64 LE) and the engine's `extra` bytes.
//! GCM authenticates the AAD length, so `extra` needs no length prefix.
//!
//! Changing anything here changes the format: bump [`FORMAT_VERSION`] and keep the golden files of the old
//! version decoding (`crates/atrest-core/tests/golden/`).

use super::PageContext;
use super::error::PageError;
use crate::gcm::TAG_LEN;
use crate::xaes::XAES_NONCE_LEN;

/// The first four bytes of every sealed page.
pub const MAGIC: [u8; 4] = *b"ATRP";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Algorithm id of XAES-256-GCM, the only page AEAD so far.
pub const ALGORITHM_XAES_256_GCM: u8 = 1;
/// log2 of the smallest page size (4 KiB).
pub const MIN_SIZE_LOG2: u8 = 12;
/// log2 of the largest page size (64 KiB).
pub const MAX_SIZE_LOG2: u8 = 16;
/// Length of the header that starts every page; all of it is authenticated as associated data.
pub const HEADER_LEN: usize = 36;
/// Length of the tag that ends every page.
pub const PAGE_TAG_LEN: usize = TAG_LEN;
/// Bytes of a page that are not body: header and tag.
pub const OVERHEAD: usize = HEADER_LEN + PAGE_TAG_LEN;

const VERSION_OFFSET: usize = 4;
const ALGORITHM_OFFSET: usize = 5;
const KIND_OFFSET: usize = 6;
const SIZE_OFFSET: usize = 7;
const KEY_ID_OFFSET: usize = 8;
const NONCE_OFFSET: usize = 12;

/// The physical size of a sealed page: a power of two from 4 KiB to 64 KiB, fixed per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageSize {
    log2: u8,
}

impl PageSize {
    /// 4 KiB.
    pub const KIB_4: PageSize = PageSize { log2: 12 };
    /// 8 KiB.
    pub const KIB_8: PageSize = PageSize { log2: 13 };
    /// 16 KiB.
    pub const KIB_16: PageSize = PageSize { log2: 14 };
    /// 32 KiB.
    pub const KIB_32: PageSize = PageSize { log2: 15 };
    /// 64 KiB.
    pub const KIB_64: PageSize = PageSize { log2: 16 };
    /// Every page size, smallest first.
    pub const ALL: [PageSize; 5] = [Self::KIB_4, Self::KIB_8, Self::KIB_16, Self::KIB_32, Self::KIB_64];

    /// The page size of `bytes` bytes.
    ///
    /// # Errors
    /// [`PageError::InvalidPageSize`] unless `bytes` is a power of two from 4096 to 65536.
    pub fn new(bytes: usize) -> Result<PageSize, PageError> {
        if bytes.is_power_of_two() {
            let log2 = bytes.trailing_zeros();
            if (u32::from(MIN_SIZE_LOG2)..=u32::from(MAX_SIZE_LOG2)).contains(&log2) {
                return Ok(PageSize { log2: log2 as u8 });
            }
        }
        Err(PageError::InvalidPageSize { bytes })
    }

    /// The page size whose header size code is `log2`.
    ///
    /// # Errors
    /// [`PageError::UnsupportedPageSize`] unless `MIN_SIZE_LOG2 <= log2 <= MAX_SIZE_LOG2`.
    pub fn from_log2(log2: u8) -> Result<PageSize, PageError> {
        if (MIN_SIZE_LOG2..=MAX_SIZE_LOG2).contains(&log2) {
            Ok(PageSize { log2 })
        } else {
            Err(PageError::UnsupportedPageSize { code: log2 })
        }
    }

    /// The physical size in bytes.
    pub const fn bytes(self) -> usize {
        1 << self.log2
    }

    /// log2 of the size, as stored in the header.
    pub const fn log2(self) -> u8 {
        self.log2
    }

    /// Body bytes a page of this size carries: the size less header and tag.
    pub const fn capacity(self) -> usize {
        self.bytes() - OVERHEAD
    }

    /// Where the body lies inside a page buffer of this size.
    pub const fn body_range(self) -> std::ops::Range<usize> {
        HEADER_LEN..self.bytes() - PAGE_TAG_LEN
    }
}

impl std::fmt::Display for PageSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} KiB", self.bytes() / 1024)
    }
}

/// What a page holds. Stored in the header (authenticated), so a page of one kind cannot be passed off as
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PageKind {
    /// Documents (records of a segment or log).
    Data = 1,
    /// Index data.
    Index = 2,
    /// The catalog of collections and index definitions.
    Catalog = 3,
    /// The store manifest.
    Manifest = 4,
    /// A chunk of a media attachment.
    Attachment = 5,
}

impl PageKind {
    /// Every kind, in id order.
    pub const ALL: [PageKind; 5] =
        [PageKind::Data, PageKind::Index, PageKind::Catalog, PageKind::Manifest, PageKind::Attachment];

    /// The kind's id as stored in the header.
    pub const fn id(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for PageKind {
    type Error = PageError;
    fn try_from(id: u8) -> Result<Self, PageError> {
        PageKind::ALL.into_iter().find(|k| k.id() == id).ok_or(PageError::UnknownKind { kind: id })
    }
}

/// A parsed page header. Parsing checks every field's syntax but NOT authenticity: until the page has been
/// opened, any of it may have been forged. Use it to route a page (which key, which kind) or in verify tools,
/// never to trust content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    /// Format version (always [`FORMAT_VERSION`] once parsed).
    pub version: u8,
    /// Algorithm id (always [`ALGORITHM_XAES_256_GCM`] once parsed).
    pub algorithm: u8,
    /// Page kind.
    pub kind: PageKind,
    /// Physical page size the header declares.
    pub size: PageSize,
    /// Id of the data key the page claims to be sealed under.
    pub key_id: u32,
    /// The XAES-256-GCM nonce.
    pub nonce: [u8; XAES_NONCE_LEN],
}

impl PageHeader {
    /// Parses the header at the start of `page` (UNAUTHENTICATED) and checks that `page` is exactly the
    /// declared size.
    ///
    /// # Errors
    /// [`PageError::Truncated`] if `page` is shorter than a header, then the first bad field in layout order:
    /// magic, version, algorithm, kind, size code; then [`PageError::BadSize`] if `page.len()` is not the size
    /// the header declares.
    pub fn parse(page: &[u8]) -> Result<PageHeader, PageError> {
        let header = Self::parse_prefix(page)?;
        if page.len() != header.size.bytes() {
            return Err(PageError::BadSize { expected: header.size.bytes(), actual: page.len() });
        }
        Ok(header)
    }

    /// Parses the header fields from the first [`HEADER_LEN`] bytes of `bytes` (UNAUTHENTICATED), without
    /// checking the length of the rest; for tools that read a header before the whole page.
    ///
    /// # Errors
    /// As [`PageHeader::parse`], without the length check.
    pub fn parse_prefix(bytes: &[u8]) -> Result<PageHeader, PageError> {
        let Some(h) = bytes.get(..HEADER_LEN) else {
            return Err(PageError::Truncated { len: bytes.len(), min: HEADER_LEN });
        };
        if h[..4] != MAGIC {
            let mut found = [0u8; 4];
            found.copy_from_slice(&h[..4]);
            return Err(PageError::BadMagic { found });
        }
        let version = h[VERSION_OFFSET];
        if version != FORMAT_VERSION {
            return Err(PageError::UnsupportedVersion { version });
        }
        let algorithm = h[ALGORITHM_OFFSET];
        if algorithm != ALGORITHM_XAES_256_GCM {
            return Err(PageError::UnknownAlgorithm { id: algorithm });
        }
        let kind = PageKind::try_from(h[KIND_OFFSET])?;
        let size = PageSize::from_log2(h[SIZE_OFFSET])?;
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&h[KEY_ID_OFFSET..NONCE_OFFSET]);
        let mut nonce = [0u8; XAES_NONCE_LEN];
        nonce.copy_from_slice(&h[NONCE_OFFSET..HEADER_LEN]);
        Ok(PageHeader { version, algorithm, kind, size, key_id: u32::from_le_bytes(key_id), nonce })
    }

    /// The header for a new page of this format version.
    pub fn new(kind: PageKind, size: PageSize, key_id: u32, nonce: [u8; XAES_NONCE_LEN]) -> PageHeader {
        PageHeader { version: FORMAT_VERSION, algorithm: ALGORITHM_XAES_256_GCM, kind, size, key_id, nonce }
    }

    /// The header's [`HEADER_LEN`] bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(&MAGIC);
        h[VERSION_OFFSET] = self.version;
        h[ALGORITHM_OFFSET] = self.algorithm;
        h[KIND_OFFSET] = self.kind.id();
        h[SIZE_OFFSET] = self.size.log2();
        h[KEY_ID_OFFSET..NONCE_OFFSET].copy_from_slice(&self.key_id.to_le_bytes());
        h[NONCE_OFFSET..].copy_from_slice(&self.nonce);
        h
    }
}

/// Fixed part of the associated data: header, file id, page number.
const AAD_FIXED: usize = HEADER_LEN + 16;
/// Contexts whose `extra` fits here build their AAD on the stack.
const AAD_INLINE_EXTRA: usize = 64;

/// The associated data of a page: `header || file_id (u64 LE) || page_no (u64 LE) || extra`.
pub(crate) enum Aad {
    Inline([u8; AAD_FIXED + AAD_INLINE_EXTRA], usize),
    Heap(Vec<u8>),
}

impl Aad {
    pub(crate) fn new(header: &[u8; HEADER_LEN], ctx: &PageContext<'_>) -> Aad {
        let len = AAD_FIXED + ctx.extra.len();
        let fill = |buf: &mut [u8]| {
            buf[..HEADER_LEN].copy_from_slice(header);
            buf[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&ctx.file_id.to_le_bytes());
            buf[HEADER_LEN + 8..AAD_FIXED].copy_from_slice(&ctx.page_no.to_le_bytes());
            buf[AAD_FIXED..].copy_from_slice(ctx.extra);
        };
        if ctx.extra.len() <= AAD_INLINE_EXTRA {
            let mut buf = [0u8; AAD_FIXED + AAD_INLINE_EXTRA];
            fill(&mut buf[..len]);
            Aad::Inline(buf, len)
        } else {
            let mut buf = vec![0u8; len];
            fill(&mut buf);
            Aad::Heap(buf)
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Aad::Inline(buf, len) => &buf[..*len],
            Aad::Heap(buf) => buf,
        }
    }
}
