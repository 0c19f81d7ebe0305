//! The append-only log: commit batches packed into page runs, sealed, and appended to segment files with one
//! large aligned write per batch.
//!
//! A segment file is a sequence of sealed pages (`seg-<id>.atr`, the id is its page-binding file id). Once
//! the writer moves to a new segment, the old one is synced and never written again, so a backup can copy it
//! as is. A batch never spans segments.

use crate::aligned::AlignedBuf;
use crate::error::{Result, StoreError};
use crate::keys::KeyScope;
use crate::pages::{BATCH_END, BODY_HEADER, BodyHeader, CONTINUES, PageCodec};
use crate::pipe::IoPipe;
use crate::storage::{Storage, StorageFile};
use atrest_core::page::{HEADER_LEN, PageKind};
use std::sync::Arc;

/// The file name of segment `id`.
pub(crate) fn seg_name(id: u64) -> String {
    format!("seg-{id:016x}.atr")
}

/// How many batch buffers the writer keeps for reuse.
const SPARES: usize = 2;

/// A run of pages of one scope and kind inside a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) scope: KeyScope,
    pub(crate) kind: PageKind,
    pub(crate) first: usize,
    pub(crate) count: usize,
}

/// An unsealed batch being packed: whole pages, bodies written in place, sealed once placed.
pub(crate) struct BatchBuf {
    page: usize,
    cap: usize,
    pub(crate) buf: AlignedBuf,
    used: Vec<usize>,
    cont: Vec<bool>,
    pub(crate) runs: Vec<Run>,
}

impl BatchBuf {
    /// An empty batch packed into `buf` (a buffer recycled from an earlier batch, or a new one with room for
    /// `cap` bytes, so that a batch of the configured size never reallocates).
    pub(crate) fn new(codec: &PageCodec, buf: Option<AlignedBuf>, cap: usize) -> BatchBuf {
        let mut buf = buf.unwrap_or_else(|| AlignedBuf::with_capacity(cap));
        buf.clear();
        BatchBuf {
            page: codec.size.bytes(),
            cap: codec.payload_cap(),
            buf,
            used: Vec::new(),
            cont: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub(crate) fn pages(&self) -> usize {
        self.used.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The buffer, for reuse by the next batch.
    pub(crate) fn into_buf(self) -> AlignedBuf {
        self.buf
    }

    fn add_page(&mut self) {
        self.buf.grow_zeroed(self.page);
        self.used.push(0);
        self.cont.push(false);
        if let Some(r) = self.runs.last_mut() {
            r.count += 1;
        }
    }

    /// Starts a run of pages for `scope` (a new page).
    pub(crate) fn begin(&mut self, scope: KeyScope, kind: PageKind) {
        self.runs.push(Run { scope, kind, first: self.used.len(), count: 0 });
        self.add_page();
    }

    /// Scope of the current run.
    pub(crate) fn current(&self) -> Option<(KeyScope, PageKind)> {
        self.runs.last().map(|r| (r.scope, r.kind))
    }

    /// Where the next byte of the stream goes: (page index in batch, payload offset).
    pub(crate) fn pos(&mut self) -> (usize, usize) {
        let last = self.used.len() - 1;
        if self.used[last] == self.cap {
            self.cont[last] = true;
            self.add_page();
            return (last + 1, 0);
        }
        (last, self.used[last])
    }

    fn payload_mut(&mut self, idx: usize) -> &mut [u8] {
        let start = idx * self.page + HEADER_LEN + BODY_HEADER;
        &mut self.buf.as_mut_slice()[start..start + self.cap]
    }

    /// Appends to the current run's payload stream, spilling into new pages.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (idx, off) = self.pos();
            let n = bytes.len().min(self.cap - off);
            self.payload_mut(idx)[off..off + n].copy_from_slice(&bytes[..n]);
            self.used[idx] += n;
            bytes = &bytes[n..];
        }
    }

    /// Adds one page holding `chunk` (at most a payload) to the current run, as its own stream.
    pub(crate) fn push_chunk(&mut self, chunk: &[u8]) -> usize {
        let last = self.used.len() - 1;
        let idx = if self.used[last] == 0 && self.runs.last().is_some_and(|r| r.first + r.count - 1 == last) {
            last
        } else {
            self.add_page();
            last + 1
        };
        self.payload_mut(idx)[..chunk.len()].copy_from_slice(chunk);
        self.used[idx] = chunk.len();
        idx
    }

    /// Writes every page's body header; the last page ends the batch.
    pub(crate) fn finish(&mut self, batch: u64, synced: u64) {
        let n = self.used.len();
        for i in 0..n {
            let mut flags = if self.cont[i] { CONTINUES } else { 0 };
            if i + 1 == n {
                flags |= BATCH_END;
            }
            let start = i * self.page + HEADER_LEN;
            BodyHeader { used: self.used[i], flags, batch, synced }
                .write(&mut self.buf.as_mut_slice()[start..start + BODY_HEADER]);
        }
    }
}

/// The writer's position: the active segment and its next page.
pub(crate) struct LogWriter {
    pub(crate) seg: u64,
    pub(crate) file: Arc<dyn StorageFile>,
    pub(crate) next_page: u64,
    pub(crate) max_pages: u64,
    /// Highest batch number appended so far, and the highest made durable.
    pub(crate) appended: u64,
    pub(crate) synced: u64,
    /// Buffers of earlier batches, reused by the next ones (at most [`SPARES`]: one being written, one being
    /// packed), so that steady ingest neither allocates nor page-faults its batch buffers.
    pub(crate) spare: Vec<AlignedBuf>,
    /// The background writer (started on the first commit of more than one batch).
    pub(crate) pipe: Option<IoPipe>,
}

impl LogWriter {
    /// Places, seals and writes a finished batch; returns (segment, first page, key ids used) and a buffer to
    /// reuse. With `overlap`, the write is handed to the background writer and may still be in flight on
    /// return (see [`LogWriter::wait`]). Not yet durable.
    pub(crate) fn append(
        &mut self,
        storage: &dyn Storage,
        codec: &PageCodec,
        mut batch: BatchBuf,
        new_seg: &mut dyn FnMut() -> u64,
        overlap: bool,
    ) -> Result<(u64, u64, Vec<u32>, Option<AlignedBuf>)> {
        let n = batch.pages() as u64;
        if self.next_page > 0 && self.next_page + n > self.max_pages {
            self.roll(storage, new_seg())?;
        }
        let page = codec.size.bytes();
        let mut keys = Vec::new();
        for run in batch.runs.clone() {
            let range = run.first * page..(run.first + run.count) * page;
            let first = self.next_page + run.first as u64;
            keys.push(codec.seal_run(run.scope, run.kind, self.seg, first, &mut batch.buf.as_mut_slice()[range])?);
        }
        let name = seg_name(self.seg);
        let io = StoreError::io("writing segment", storage.describe(&name));
        let offset = self.next_page * page as u64;
        let buf = batch.into_buf();
        let back = if overlap {
            if self.pipe.is_none() {
                self.pipe = Some(IoPipe::start().map_err(StoreError::io("starting the log writer for", name.clone()))?);
            }
            let pipe = self.pipe.as_mut().expect("started above");
            pipe.submit(self.file.clone(), buf, offset).map_err(io)?
        } else {
            self.wait(storage)?;
            self.file.write_at(buf.as_slice(), offset).map_err(io)?;
            Some(buf)
        };
        let at = (self.seg, self.next_page, keys, back);
        self.next_page += n;
        Ok(at)
    }

    /// Waits for a background write in flight; its buffer becomes the spare.
    pub(crate) fn wait(&mut self, storage: &dyn Storage) -> Result<()> {
        if let Some(pipe) = &mut self.pipe
            && let Some(buf) =
                pipe.wait().map_err(StoreError::io("writing segment", storage.describe(&seg_name(self.seg))))?
        {
            self.keep(buf);
        }
        Ok(())
    }

    /// Keeps `buf` for reuse if fewer than [`SPARES`] are kept.
    pub(crate) fn keep(&mut self, buf: AlignedBuf) {
        if self.spare.len() < SPARES {
            self.spare.push(buf);
        }
    }

    /// Makes everything appended durable.
    pub(crate) fn sync(&mut self, storage: &dyn Storage) -> Result<()> {
        self.wait(storage)?;
        self.file.sync_data().map_err(StoreError::io("syncing segment", storage.describe(&seg_name(self.seg))))?;
        self.synced = self.appended;
        Ok(())
    }

    /// Syncs the active segment and starts segment `id` (durably created).
    pub(crate) fn roll(&mut self, storage: &dyn Storage, id: u64) -> Result<()> {
        self.sync(storage)?;
        let name = seg_name(id);
        let file =
            storage.open_log(&name, true).map_err(StoreError::io("creating segment", storage.describe(&name)))?;
        file.set_len(0).map_err(StoreError::io("creating segment", storage.describe(&name)))?;
        storage.sync_dir().map_err(StoreError::io("syncing directory for", storage.describe(&name)))?;
        self.file = Arc::from(file);
        self.seg = id;
        self.next_page = 0;
        Ok(())
    }
}
