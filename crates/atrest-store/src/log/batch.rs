//! Packing a commit batch: whole pages, their bodies written in place (records of a collection back to
//! back in one payload stream, attachment chunks one per page), then sealed once the batch is placed.

use crate::keys::KeyScope;
use crate::log::aligned::AlignedBuf;
use crate::pages::{BATCH_END, BODY_HEADER, BodyHeader, CONTINUES, PageCodec};
use atrest_core::page::{HEADER_LEN, PageKind};

/// A run of pages of one scope and kind inside a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRun {
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
    pub(crate) runs: Vec<PageRun>,
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
        self.runs.push(PageRun { scope, kind, first: self.used.len(), count: 0 });
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

    /// The kind of the run page `i` belongs to.
    fn kind_of(&self, i: usize) -> PageKind {
        self.runs.iter().rev().find(|r| r.first <= i).map_or(PageKind::Data, |r| r.kind)
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
            let kind = self.kind_of(i);
            BodyHeader { used: self.used[i], flags, kind, batch, synced }
                .write(&mut self.buf.as_mut_slice()[start..start + BODY_HEADER]);
        }
    }
}
