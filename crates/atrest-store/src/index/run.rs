//! The run format, and writing a run.
//!
//! A run is an immutable file `run-<id>.atr` of sealed pages (under its collection's data key, bound to the
//! run's file id and page numbers) holding sorted key/value entries of one collection: its id map (id →
//! where the document is) or its index (keyed hash of a pointer and value, then id → live or deleted).
//! Every page carries the store's body header (docs/design.md) with kind `Index`; a run is written once, in
//! key order, and never changed: a checkpoint writes new runs and a merge writes one run from several.
//!
//! ```text
//! page 0 ..              group 0: data blocks, then (id maps only) the group's filter pages
//!                        group 1: …                       (a group is GROUP_BLOCKS data blocks)
//! index first ..         the block index: one stream (pages chained by CONTINUES)
//! last page              the footer
//!
//! data block   = one or more pages (CONTINUES on all but the last), payload:
//!                entry count u32 | (key length varint | value length varint | key | value)*
//!                keys strictly increasing within the run; an entry never spans blocks
//! filter page  = whole 64-byte filter blocks (bloom.rs), as many as fit in the payload
//! block index  = group count u32 | per group: filter first page u64 | filter pages u32 | filter blocks u32
//!                | block count u32 | per block: first key (varint length | bytes) | first page varint
//!                | pages varint
//! footer       = magic "ATRRUN\0\x01" | run format u32 (1) | kind u8 (1 id map, 2 index)
//!                | entries u64 | block index first page u64 | block index pages u64
//! ```
//!
//! Values: in an id map, `0` (deleted) or `1 | document location | attachments` (`DocEntry`); in an
//! index, `0` (deleted) or `1` (live). The footer is the last page, so a file cut short or grown fails to
//! open as a run: its length must be exactly the pages the catalog records.

use crate::error::{Result, StoreError};
use crate::index::bloom;
use crate::index::hash::filter_hash;
use crate::keys::KeyScope;
use crate::log::aligned::AlignedBuf;
use crate::pages::{BODY_HEADER, BodyHeader, CONTINUES, PageCodec};
use crate::storage::{Storage, StorageFile};
use atrest_core::page::{HEADER_LEN, PageKind};

/// Data blocks per filter group.
pub(crate) const GROUP_BLOCKS: usize = 32;
/// The footer's magic bytes.
pub(crate) const RUN_MAGIC: &[u8; 8] = b"ATRRUN\0\x01";
/// The run format version this code writes and reads.
pub(crate) const RUN_FORMAT: u32 = 1;
/// Bytes of the footer payload.
pub(crate) const FOOTER_LEN: usize = 8 + 4 + 1 + 8 + 8 + 8;
/// Unsealed pages gathered before they are sealed and written with one write.
const WRITE_CHUNK: usize = 1 << 20;

/// Bytes of `v` as a LEB128 varint.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `v` as a LEB128 varint (the encoding of `Enc::varint`).
fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// What a run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RunKind {
    /// Document id → location and attachments.
    Ids = 1,
    /// Keyed hash of (pointer, value) followed by the id → live or deleted.
    Index = 2,
}

impl RunKind {
    pub(crate) fn from_id(b: u8) -> Option<RunKind> {
        match b {
            1 => Some(RunKind::Ids),
            2 => Some(RunKind::Index),
            _ => None,
        }
    }
    /// Whether runs of this kind carry filters (point lookups by whole key).
    pub(crate) fn filtered(self) -> bool {
        self == RunKind::Ids
    }
}

/// What the catalog records about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunMeta {
    /// File id (names the file, binds its pages).
    pub(crate) id: u64,
    pub(crate) kind: RunKind,
    pub(crate) entries: u64,
    /// The file's length in pages.
    pub(crate) pages: u64,
    /// The data key its pages are sealed under.
    pub(crate) key_id: u32,
}

/// Writes one run in key order, in bounded memory: pages are sealed and written a megabyte at a time, and
/// only the current block, the current group's filter hashes and the (small) block index are held.
pub(crate) struct RunWriter<'a> {
    codec: &'a PageCodec,
    storage: &'a dyn Storage,
    sealer: std::sync::Arc<atrest_core::page::Sealer>,
    name: String,
    file: Box<dyn StorageFile>,
    meta: RunMeta,
    page: usize,
    cap: usize,
    /// Unsealed pages, in a 4096-aligned buffer so they can be written with `O_DIRECT`.
    pending: AlignedBuf,
    pending_first: u64,
    next_page: u64,
    block: Vec<u8>,
    block_entries: u32,
    last_key: Option<Vec<u8>>,
    block_first: Vec<u8>,
    group_hashes: Vec<u64>,
    group_blocks: Vec<(Vec<u8>, u64, u64)>,
    index: crate::codec::Enc,
    groups: u32,
}

impl<'a> RunWriter<'a> {
    /// Creates run file `id` of `kind`, sealed under `scope`'s active key.
    pub(crate) fn create(
        codec: &'a PageCodec,
        storage: &'a dyn Storage,
        scope: KeyScope,
        id: u64,
        kind: RunKind,
    ) -> Result<RunWriter<'a>> {
        let name = crate::files::run_name(id);
        let io = StoreError::io("creating", storage.describe(&name));
        // A log-style handle: whole aligned pages written past the page cache, which a run read later goes
        // through its own cache of opened pages anyway.
        let file = storage.open_log(&name, true).map_err(io)?;
        file.set_len(0).map_err(StoreError::io("creating", storage.describe(&name)))?;
        let mut index = crate::codec::Enc::new();
        index.u32(0);
        let sealer = codec.sealer(scope)?;
        Ok(RunWriter {
            codec,
            storage,
            meta: RunMeta { id, kind, entries: 0, pages: 0, key_id: sealer.key_id() },
            sealer,
            name,
            file,
            page: codec.size.bytes(),
            cap: codec.payload_cap(),
            pending: AlignedBuf::with_capacity(WRITE_CHUNK + codec.size.bytes()),
            pending_first: 0,
            next_page: 0,
            block: Vec::new(),
            block_entries: 0,
            last_key: None,
            block_first: Vec::new(),
            group_hashes: Vec::new(),
            group_blocks: Vec::new(),
            index,
            groups: 0,
        })
    }

    /// Entries added so far.
    pub(crate) fn entries(&self) -> u64 {
        self.meta.entries
    }

    /// Adds an entry; keys must be strictly increasing.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.last_key.as_deref().is_some_and(|last| last >= key) {
            return Err(StoreError::Integrity {
                collection: None,
                file: self.storage.describe(&self.name),
                offset: self.next_page * self.page as u64,
                detail: "run entries out of order while writing (a bug; nothing was installed)".into(),
            });
        }
        let size = varint_len(key.len() as u64) + varint_len(value.len() as u64) + key.len() + value.len();
        if self.block_entries > 0 && 4 + self.block.len() + size > self.cap {
            self.finish_block()?;
        }
        if self.block_entries == 0 {
            self.block_first.clear();
            self.block_first.extend_from_slice(key);
        }
        push_varint(&mut self.block, key.len() as u64);
        push_varint(&mut self.block, value.len() as u64);
        self.block.extend_from_slice(key);
        self.block.extend_from_slice(value);
        self.block_entries += 1;
        if self.meta.kind.filtered() {
            self.group_hashes.push(filter_hash(key));
        }
        let last = self.last_key.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(key);
        self.meta.entries += 1;
        Ok(())
    }

    /// Appends one page with `payload` (at most a page's payload) to the pending pages.
    fn emit_page(&mut self, payload: &[u8], flags: u8) -> Result<u64> {
        let start = self.pending.len();
        self.pending.grow_zeroed(self.page);
        let page = &mut self.pending.as_mut_slice()[start..start + self.page];
        let body = &mut page[HEADER_LEN..self.page - atrest_core::page::PAGE_TAG_LEN];
        BodyHeader { used: payload.len(), flags, kind: PageKind::Index, batch: 0, synced: 0 }.write(body);
        body[BODY_HEADER..BODY_HEADER + payload.len()].copy_from_slice(payload);
        let no = self.next_page;
        self.next_page += 1;
        if self.pending.len() >= WRITE_CHUNK {
            self.write_pending()?;
        }
        Ok(no)
    }

    /// Emits `bytes` as a chain of pages; returns (first page, pages).
    fn emit_stream(&mut self, bytes: &[u8]) -> Result<(u64, u64)> {
        let first = self.next_page;
        let cap = self.cap;
        let chunks: Vec<&[u8]> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(cap).collect() };
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            self.emit_page(c, if i + 1 < n { CONTINUES } else { 0 })?;
        }
        Ok((first, n as u64))
    }

    fn write_pending(&mut self) -> Result<()> {
        if self.pending.len() == 0 {
            return Ok(());
        }
        self.codec.seal_with(&self.sealer, self.meta.id, self.pending_first, self.pending.as_mut_slice())?;
        self.file
            .write_at(self.pending.as_slice(), self.pending_first * self.page as u64)
            .map_err(StoreError::io("writing", self.storage.describe(&self.name)))?;
        self.pending_first = self.next_page;
        self.pending.clear();
        Ok(())
    }

    fn finish_block(&mut self) -> Result<()> {
        if self.block_entries == 0 {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(4 + self.block.len());
        payload.extend_from_slice(&self.block_entries.to_le_bytes());
        payload.extend_from_slice(&self.block);
        let (first, pages) = self.emit_stream(&payload)?;
        let key = std::mem::take(&mut self.block_first);
        self.group_blocks.push((key, first, pages));
        self.block.clear();
        self.block_entries = 0;
        if self.group_blocks.len() == GROUP_BLOCKS {
            self.finish_group()?;
        }
        Ok(())
    }

    fn finish_group(&mut self) -> Result<()> {
        if self.group_blocks.is_empty() {
            return Ok(());
        }
        let (mut filter_page, mut filter_pages, mut filter_blocks) = (0u64, 0u32, 0u32);
        if self.meta.kind.filtered() {
            let blocks = bloom::blocks_for(self.group_hashes.len());
            let mut bits = vec![0u8; blocks * bloom::BLOCK_BYTES];
            for &h in &self.group_hashes {
                bloom::insert(&mut bits, blocks, h);
            }
            let per_page = (self.cap / bloom::BLOCK_BYTES) * bloom::BLOCK_BYTES;
            filter_page = self.next_page;
            for chunk in bits.chunks(per_page) {
                self.emit_page(chunk, 0)?;
                filter_pages += 1;
            }
            filter_blocks = blocks as u32;
        }
        let blocks = std::mem::take(&mut self.group_blocks);
        self.index.u64(filter_page).u32(filter_pages).u32(filter_blocks).u32(blocks.len() as u32);
        for (key, page, pages) in blocks {
            self.index.varint(key.len() as u64).raw(&key).varint(page).varint(pages);
        }
        self.group_hashes.clear();
        self.groups += 1;
        Ok(())
    }

    /// Writes the rest, the block index and the footer, and makes the file durable. Returns what the catalog
    /// records.
    pub(crate) fn finish(mut self) -> Result<RunMeta> {
        self.finish_block()?;
        self.finish_group()?;
        let mut index = std::mem::take(&mut self.index).finish();
        index[..4].copy_from_slice(&self.groups.to_le_bytes());
        let (index_first, index_pages) = self.emit_stream(&index)?;
        let mut footer = crate::codec::Enc::new();
        footer.raw(RUN_MAGIC).u32(RUN_FORMAT).u8(self.meta.kind as u8).u64(self.meta.entries);
        footer.u64(index_first).u64(index_pages);
        self.emit_page(&footer.finish(), 0)?;
        self.write_pending()?;
        self.file.sync_data().map_err(StoreError::io("syncing", self.storage.describe(&self.name)))?;
        self.meta.pages = self.next_page;
        Ok(self.meta)
    }

    /// Gives up: removes the partial file.
    pub(crate) fn abandon(self) {
        let _ = self.storage.remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_codec() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, 1 << 35, u64::MAX] {
            let mut e = crate::codec::Enc::new();
            e.varint(v);
            let mut mine = Vec::new();
            push_varint(&mut mine, v);
            assert_eq!(mine, e.finish(), "{v}");
            assert_eq!(varint_len(v), mine.len(), "{v}");
        }
    }
}
