//! Reading runs: point lookups (filter, then one block), ordered iteration, and a full check for `verify`.
//!
//! A run is opened lazily: the first lookup reads its footer and block index (a small fraction of the run),
//! so opening a store reads no index data. Blocks and filter pages are read through the page cache. A page
//! that fails to open is an integrity error naming the file and offset, and fails only the lookups that
//! need that run.

use super::run::{FOOTER_LEN, RUN_FORMAT, RUN_MAGIC, RunKind, RunMeta};
use super::{Ctx, bloom};
use crate::codec::Dec;
use crate::error::{Result, StoreError};
use crate::files::run_name;
use crate::index::hash::filter_hash;
use crate::pages::CONTINUES;
use crate::storage::{Storage, StorageFile};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// A key and its value.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

#[derive(Debug)]
struct BlockRef {
    first_key: Box<[u8]>,
    page: u64,
    pages: u64,
    group: usize,
}

#[derive(Debug)]
struct GroupRef {
    filter_page: u64,
    filter_pages: u32,
    filter_blocks: u32,
}

struct Loaded {
    file: Arc<dyn StorageFile>,
    blocks: Vec<BlockRef>,
    groups: Vec<GroupRef>,
}

/// One run, as the catalog names it. Its file is removed when the run is obsolete (replaced by a merge,
/// dropped with its collection) and the last reader lets go of it.
pub(crate) struct Run {
    pub(crate) meta: RunMeta,
    name: String,
    storage: Arc<dyn Storage>,
    loaded: OnceLock<Loaded>,
    obsolete: AtomicBool,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("meta", &self.meta).finish_non_exhaustive()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // Best effort: a file left behind is removed when the store is next opened.
            let _ = self.storage.remove(&self.name);
        }
    }
}

impl Run {
    pub(crate) fn new(meta: RunMeta, storage: Arc<dyn Storage>) -> Arc<Run> {
        Arc::new(Run {
            name: run_name(meta.id),
            meta,
            storage,
            loaded: OnceLock::new(),
            obsolete: AtomicBool::new(false),
        })
    }

    /// Marks the run's file for removal once no reader holds it (call only after a durable manifest
    /// stopped naming it).
    pub(crate) fn retire(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn loaded(&self, ctx: &Ctx<'_>) -> Result<&Loaded> {
        if let Some(l) = self.loaded.get() {
            return Ok(l);
        }
        // No lock is held while loading: opening pages runs on the rayon pool, whose threads may pick up
        // another lookup of this same run while they wait (a lock here would deadlock them). Two threads may
        // load at once; the first to finish is kept, and the copies are the same.
        let l = self.load(ctx)?;
        let _ = self.loaded.set(l);
        Ok(self.loaded.get().expect("set above"))
    }

    fn load(&self, ctx: &Ctx<'_>) -> Result<Loaded> {
        let name = self.name();
        let file: Arc<dyn StorageFile> = match ctx.storage.open(name, false) {
            Ok(f) => Arc::from(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ctx.fail(name, 0, "the run file named by the catalog is missing".into()));
            }
            Err(e) => return Err(StoreError::io("opening", ctx.storage.describe(name))(e)),
        };
        let size = ctx.codec.size.bytes() as u64;
        let len = file.len().map_err(StoreError::io("reading the length of", ctx.storage.describe(name)))?;
        if len != self.meta.pages * size || self.meta.pages < 2 {
            let at = len.min(self.meta.pages * size);
            return Err(ctx.fail(
                name,
                at / size,
                format!("run is {len} bytes, the catalog says {} pages of {size}: cut short or grown", self.meta.pages),
            ));
        }
        let footer_no = self.meta.pages - 1;
        let footer = ctx.read_page(&*file, self.meta.id, name, footer_no, false)?;
        let (kind, entries, index_first, index_pages) =
            parse_footer(ctx.payload(&footer, name, footer_no)?).map_err(|d| ctx.fail(name, footer_no, d.into()))?;
        if kind != self.meta.kind || entries != self.meta.entries || index_first + index_pages != footer_no {
            return Err(ctx.fail(name, footer_no, "run footer does not match the catalog".into()));
        }
        let mut index = Vec::new();
        for no in index_first..footer_no {
            let p = ctx.read_page(&*file, self.meta.id, name, no, false)?;
            let (payload, flags) = ctx.payload_flags(&p, name, no)?;
            index.extend_from_slice(payload);
            if (flags & CONTINUES != 0) != (no + 1 < footer_no) {
                return Err(ctx.fail(name, no, "block index pages are not one stream".into()));
            }
        }
        let (blocks, groups) =
            parse_index(&index, index_first).map_err(|d| ctx.fail(name, index_first, d.to_owned()))?;
        Ok(Loaded { file, blocks, groups })
    }

    /// The value of `key`, if this run has it.
    pub(crate) fn get(&self, ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let l = self.loaded(ctx)?;
        let i = l.blocks.partition_point(|b| &*b.first_key <= key);
        if i == 0 {
            return Ok(None);
        }
        let b = &l.blocks[i - 1];
        let g = &l.groups[b.group];
        if g.filter_blocks > 0 {
            let h = filter_hash(key);
            let fb = bloom::block_of(h, g.filter_blocks as usize);
            let per_page = ctx.codec.payload_cap() / bloom::BLOCK_BYTES;
            let no = g.filter_page + (fb / per_page) as u64;
            let page = ctx.read_page(&*l.file, self.meta.id, &self.name, no, true)?;
            let payload = ctx.payload(&page, &self.name, no)?;
            let at = (fb % per_page) * bloom::BLOCK_BYTES;
            let Some(block) = payload.get(at..at + bloom::BLOCK_BYTES) else {
                return Err(ctx.fail(&self.name, no, "filter page is shorter than its group".into()));
            };
            if !bloom::may_contain(block, h) {
                return Ok(None);
            }
        }
        let payload = self.block_bytes(ctx, l, i - 1, true)?;
        let next = l.blocks.get(i).map(|n| &*n.first_key);
        find_in_block(payload.bytes(), &b.first_key, next, key)
            .map(|v| v.map(<[u8]>::to_vec))
            .map_err(|d| ctx.fail(&self.name, b.page, d.into()))
    }

    /// The payload of block `i`: its one page from the cache when it has one page, else its pages joined.
    fn block_bytes(&self, ctx: &Ctx<'_>, l: &Loaded, i: usize, cache: bool) -> Result<BlockBytes> {
        let b = &l.blocks[i];
        let name = &self.name;
        if b.pages == 1 {
            let page = ctx.read_page(&*l.file, self.meta.id, name, b.page, cache)?;
            let (p, flags) = ctx.payload_flags(&page, name, b.page)?;
            if flags & CONTINUES != 0 {
                return Err(ctx.fail(name, b.page, "data block pages are not one stream".into()));
            }
            let start = p.as_ptr() as usize - page.as_ptr() as usize;
            let range = start..start + p.len();
            return Ok(BlockBytes::Page(page, range));
        }
        let mut payload = Vec::new();
        for k in 0..b.pages {
            let no = b.page + k;
            let page = ctx.read_page(&*l.file, self.meta.id, name, no, cache)?;
            let (p, flags) = ctx.payload_flags(&page, name, no)?;
            if (flags & CONTINUES != 0) != (k + 1 < b.pages) {
                return Err(ctx.fail(name, no, "data block pages are not one stream".into()));
            }
            payload.extend_from_slice(p);
        }
        Ok(BlockBytes::Owned(payload))
    }

    /// The entries of block `i`, checked to be in order and inside the block's key range.
    fn block(&self, ctx: &Ctx<'_>, l: &Loaded, i: usize, cache: bool) -> Result<Vec<Entry>> {
        let payload = self.block_bytes(ctx, l, i, cache)?;
        let next = l.blocks.get(i + 1).map(|n| &*n.first_key);
        decode_block(payload.bytes(), &l.blocks[i].first_key, next)
            .map_err(|d| ctx.fail(&self.name, l.blocks[i].page, d.into()))
    }

    /// Entries with keys at or after `from`, in order.
    pub(crate) fn iter<'c>(self: &Arc<Self>, ctx: &'c Ctx<'c>, from: &[u8], cache: bool) -> RunIter<'c> {
        RunIter { run: self.clone(), ctx, from: from.to_vec(), block: None, buf: Vec::new().into_iter(), cache }
    }

    /// Reads every page and entry of the run; returns the entries it holds (for `verify`).
    pub(crate) fn check(self: &Arc<Self>, ctx: &Ctx<'_>) -> Result<u64> {
        let mut n = 0u64;
        let mut last: Option<Vec<u8>> = None;
        for e in self.iter(ctx, &[], false) {
            let (k, _) = e?;
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err(ctx.fail(self.name(), 0, "run keys are not in order across blocks".into()));
            }
            last = Some(k);
            n += 1;
        }
        let l = self.loaded(ctx)?;
        for g in &l.groups {
            for no in g.filter_page..g.filter_page + u64::from(g.filter_pages) {
                ctx.read_page(&*l.file, self.meta.id, self.name(), no, false)?;
            }
        }
        if n != self.meta.entries {
            return Err(ctx.fail(
                self.name(),
                0,
                format!("run holds {n} entries, its footer says {}", self.meta.entries),
            ));
        }
        Ok(self.meta.pages)
    }
}

/// Iterates a run from a key.
pub(crate) struct RunIter<'c> {
    run: Arc<Run>,
    ctx: &'c Ctx<'c>,
    from: Vec<u8>,
    block: Option<usize>,
    buf: std::vec::IntoIter<Entry>,
    cache: bool,
}

impl Iterator for RunIter<'_> {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            if let Some(e) = self.buf.next() {
                return Some(Ok(e));
            }
            let l = match self.run.loaded(self.ctx) {
                Ok(l) => l,
                Err(e) => {
                    self.block = Some(usize::MAX);
                    return Some(Err(e));
                }
            };
            let next = match self.block {
                None => l.blocks.partition_point(|b| *b.first_key <= *self.from).saturating_sub(1),
                Some(usize::MAX) => return None,
                Some(i) => i + 1,
            };
            if next >= l.blocks.len() {
                self.block = Some(usize::MAX);
                return None;
            }
            self.block = Some(next);
            match self.run.block(self.ctx, l, next, self.cache) {
                Ok(entries) => {
                    let from = &self.from;
                    let v: Vec<Entry> = entries.into_iter().filter(|(k, _)| k >= from).collect();
                    self.buf = v.into_iter();
                }
                Err(e) => {
                    self.block = Some(usize::MAX);
                    return Some(Err(e));
                }
            }
        }
    }
}

fn parse_footer(p: &[u8]) -> Result<(RunKind, u64, u64, u64), &'static str> {
    if p.len() != FOOTER_LEN || &p[..8] != RUN_MAGIC {
        return Err("not a run footer");
    }
    let mut d = Dec::new(&p[8..], "run footer");
    let bad = |_| "run footer is truncated";
    if d.u32().map_err(bad)? != RUN_FORMAT {
        return Err("unknown run format version");
    }
    let kind = RunKind::from_id(d.u8().map_err(bad)?).ok_or("unknown run kind")?;
    Ok((kind, d.u64().map_err(bad)?, d.u64().map_err(bad)?, d.u64().map_err(bad)?))
}

fn parse_index(b: &[u8], limit_page: u64) -> Result<(Vec<BlockRef>, Vec<GroupRef>), &'static str> {
    let mut d = Dec::new(b, "run block index");
    let bad = |_| "run block index is malformed";
    let groups_n = d.count(20).map_err(bad)?;
    let mut blocks = Vec::new();
    let mut groups = Vec::with_capacity(groups_n);
    let mut expect_page = 0u64;
    for g in 0..groups_n {
        let filter_page = d.u64().map_err(bad)?;
        let filter_pages = d.u32().map_err(bad)?;
        let filter_blocks = d.u32().map_err(bad)?;
        let n = d.count(3).map_err(bad)?;
        for _ in 0..n {
            let key = d.var_bytes().map_err(bad)?;
            let page = d.varint().map_err(bad)?;
            let pages = d.varint().map_err(bad)?;
            if page != expect_page || pages == 0 || page.saturating_add(pages) > limit_page {
                return Err("block index points outside the run's data pages");
            }
            if blocks.last().is_some_and(|l: &BlockRef| *l.first_key >= *key) {
                return Err("block index keys are not in order");
            }
            expect_page = page + pages;
            blocks.push(BlockRef { first_key: key.into(), page, pages, group: g });
        }
        if filter_pages > 0 {
            if filter_page != expect_page || u64::from(filter_blocks) == 0 {
                return Err("filter pages are not where the block index says");
            }
            expect_page += u64::from(filter_pages);
        }
        groups.push(GroupRef { filter_page, filter_pages, filter_blocks });
    }
    if !d.is_empty() || expect_page != limit_page {
        return Err("block index does not cover the run exactly");
    }
    Ok((blocks, groups))
}

/// A block's payload.
enum BlockBytes {
    Page(Arc<[u8]>, std::ops::Range<usize>),
    Owned(Vec<u8>),
}

impl BlockBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            BlockBytes::Page(p, r) => &p[r.clone()],
            BlockBytes::Owned(v) => v,
        }
    }
}

/// Looks `key` up in a data block without decoding the rest: walks the entries in place, checking them as
/// [`decode_block`] does as far as it goes.
pub(crate) fn find_in_block<'p>(
    p: &'p [u8],
    first: &[u8],
    next: Option<&[u8]>,
    key: &[u8],
) -> Result<Option<&'p [u8]>, &'static str> {
    let mut d = Dec::new(p, "run block");
    let bad = |_| "data block is malformed";
    let n = d.count(2).map_err(bad)?;
    let mut last: Option<&[u8]> = None;
    for i in 0..n {
        let kl = d.varint().map_err(bad)? as usize;
        let vl = d.varint().map_err(bad)? as usize;
        let k = d.take(kl).map_err(bad)?;
        let v = d.take(vl).map_err(bad)?;
        if (i == 0 && k != first) || last.is_some_and(|l| l >= k) || next.is_some_and(|nk| k >= nk) {
            return Err("data block keys do not match the block index");
        }
        match k.cmp(key) {
            std::cmp::Ordering::Equal => return Ok(Some(v)),
            std::cmp::Ordering::Greater => return Ok(None),
            std::cmp::Ordering::Less => last = Some(k),
        }
    }
    Ok(None)
}

/// Decodes a data block; its keys must increase, start at `first` and stay below `next`.
pub(crate) fn decode_block(p: &[u8], first: &[u8], next: Option<&[u8]>) -> Result<Vec<Entry>, &'static str> {
    let mut d = Dec::new(p, "run block");
    let bad = |_| "data block is malformed";
    let n = d.count(2).map_err(bad)?;
    let mut out: Vec<Entry> = Vec::with_capacity(n);
    for _ in 0..n {
        let kl = d.varint().map_err(bad)? as usize;
        let vl = d.varint().map_err(bad)? as usize;
        let k = d.take(kl).map_err(bad)?;
        let v = d.take(vl).map_err(bad)?;
        if out.last().is_some_and(|(l, _)| l.as_slice() >= k) {
            return Err("data block keys are not in order");
        }
        out.push((k.to_vec(), v.to_vec()));
    }
    if !d.is_empty() {
        return Err("data block has trailing bytes");
    }
    if out.first().is_none_or(|(k, _)| k.as_slice() != first)
        || next.is_some_and(|n| out.last().is_some_and(|(k, _)| k.as_slice() >= n))
    {
        return Err("data block keys do not match the block index");
    }
    Ok(out)
}
