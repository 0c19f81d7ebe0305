//! Group commit: callers queue their operations; one of them becomes the leader, packs everything queued
//! into page runs, seals them as batches across threads, writes each batch with one large write, syncs once,
//! applies the operations to the in-memory state and only then wakes the callers. No caller is told "done"
//! before its bytes are durable; after a failed write the store is poisoned (fjall's `Poisoned`).

use crate::error::{Result, StoreError};
use crate::index::AttEntry;
use crate::json::IndexKey;
use crate::keys::KeyScope;
use crate::log::BatchBuf;
use crate::record::{Extent, Loc, Record};
use crate::store::{State, Store};
use atrest_core::page::PageKind;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One operation to commit.
#[derive(Debug)]
pub(crate) enum Op {
    /// A record, with the index keys of a Put.
    Rec(Record, Vec<IndexKey>),
    /// Attachment bytes of a collection, stored as chunk pages; their extents are returned.
    Chunks(u64, Vec<u8>),
}

type Slot = Arc<Mutex<Option<Result<Vec<Extent>, String>>>>;

pub(crate) struct Job {
    ops: Vec<Op>,
    sync: bool,
    slot: Slot,
}

/// The queue the leader drains.
#[derive(Default)]
pub(crate) struct Queue {
    pending: Vec<Job>,
    leader: bool,
}

/// Where an op's output lands once its batch is placed.
enum Placed {
    Rec { page: usize, offset: usize, len: usize, rec: Record, keys: Vec<IndexKey> },
    Chunk { job: usize, first: usize, pages: usize },
}

impl Store {
    /// Commits `ops` durably (if `sync`) and returns the extents of any chunk ops.
    pub(crate) fn submit(&self, ops: Vec<Op>, sync: bool) -> Result<Vec<Extent>> {
        self.check_poison()?;
        let slot: Slot = Arc::new(Mutex::new(None));
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.pending.push(Job { ops, sync, slot: slot.clone() });
        loop {
            if let Some(r) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return r.map_err(|cause| StoreError::Poisoned { cause });
            }
            if !q.leader {
                q.leader = true;
                let jobs = std::mem::take(&mut q.pending);
                drop(q);
                self.lead(jobs);
                q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                q.leader = false;
                self.queue_cv.notify_all();
                continue;
            }
            q = self.queue_cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        match &*self.poison.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(cause) => Err(StoreError::Poisoned { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    fn lead(&self, jobs: Vec<Job>) {
        let slots: Vec<Slot> = jobs.iter().map(|j| j.slot.clone()).collect();
        // On the leader's own thread, never in the pool: `write_jobs` waits for the writer lock, and whoever
        // holds it may be waiting for the pool (see `Store::in_pool`). Sealing goes to the pool by itself.
        let result = self.check_poison().and_then(|()| self.write_jobs(jobs));
        match result {
            Ok(extents) => {
                for (slot, ext) in slots.iter().zip(extents) {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Ok(ext));
                }
            }
            Err(e) => {
                let cause = match e {
                    StoreError::Poisoned { cause } => cause,
                    e => e.to_string(),
                };
                let mut p = self.poison.lock().unwrap_or_else(|p| p.into_inner());
                p.get_or_insert_with(|| cause.clone());
                for slot in &slots {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Err(cause.clone()));
                }
            }
        }
    }

    /// Packs, seals, writes and syncs the jobs, then applies them. Returns each job's chunk extents.
    fn write_jobs(&self, jobs: Vec<Job>) -> Result<Vec<Vec<Extent>>> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.maybe_rotate(&writer)?;
        let sync = jobs.iter().any(|j| j.sync);
        let mut out: Vec<Vec<Extent>> = vec![Vec::new(); jobs.len()];
        // Group by collection, keeping each collection's order, so each collection gets one run of pages.
        // Operations on a collection dropped since they were queued are dropped too (as if they had run just
        // before the drop), so no page is ever sealed for a collection whose keys are gone.
        let live: std::collections::BTreeSet<u64> =
            self.state.read().unwrap_or_else(|p| p.into_inner()).colls.keys().copied().collect();
        // Counted first, so each collection's list is allocated once rather than regrown (and its
        // operations moved) as it fills.
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for op in jobs.iter().flat_map(|j| &j.ops) {
            *counts.entry(op_coll(op)).or_default() += 1;
        }
        let ops_total: usize = counts.values().sum();
        let mut by_coll: BTreeMap<u64, Vec<(usize, Op)>> =
            counts.into_iter().filter(|(c, _)| live.contains(c)).map(|(c, n)| (c, Vec::with_capacity(n))).collect();
        for (j, job) in jobs.into_iter().enumerate() {
            for op in job.ops {
                if let Some(list) = by_coll.get_mut(&op_coll(&op)) {
                    list.push((j, op));
                }
            }
        }
        let total: usize = by_coll.values().flatten().map(|(_, op)| op_bytes(op)).sum();
        // Overlap writing with sealing only when the commit spans several batches.
        let overlap = total > self.cfg.batch_bytes;
        let mut applied: Vec<(Loc, Record, Vec<IndexKey>)> = Vec::with_capacity(ops_total);
        // Room for a full batch plus one page, so a batch never grows its buffer.
        let cap = self.cfg.batch_bytes + self.codec.size.bytes();
        let mut batch = BatchBuf::new(&self.codec, writer.spare.pop(), cap);
        let mut placed: Vec<Placed> = Vec::with_capacity(ops_total);
        let mut seg_keys: Vec<(u64, u32)> = Vec::new();
        let mut written = 0u64;
        let mut flush = |batch: &mut BatchBuf, placed: &mut Vec<Placed>, w: &mut crate::log::LogWriter| -> Result<()> {
            if batch.pages() == 0 {
                return Ok(());
            }
            let seq = self.next_batch.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            batch.finish(seq, w.synced);
            written += batch.bytes() as u64;
            let full = std::mem::replace(batch, BatchBuf::new(&self.codec, Some(Default::default()), 0));
            let (seg, base, keys, back) =
                w.append(&*self.storage, &self.codec, full, &mut || self.alloc_file_id(), overlap)?;
            *batch = BatchBuf::new(&self.codec, back.or_else(|| w.spare.pop()), cap);
            w.appended = seq;
            seg_keys.extend(keys.into_iter().map(|k| (seg, k)));
            for p in placed.drain(..) {
                match p {
                    Placed::Rec { page, offset, len, rec, keys, .. } => {
                        let loc = Loc { seg, page: base + page as u64, offset: offset as u32, len: len as u32 };
                        applied.push((loc, rec, keys));
                    }
                    Placed::Chunk { job, first, pages } => {
                        let ext = Extent { seg, first: base + first as u64, pages: pages as u32 };
                        merge_extent(&mut out[job], ext);
                    }
                }
            }
            Ok(())
        };
        // One head buffer for every record: no allocation per document.
        let mut head = Vec::new();
        for (coll, ops) in by_coll {
            for (job, op) in ops {
                match op {
                    Op::Rec(rec, keys) => {
                        let tail = rec.parts_into(&mut head);
                        let len = head.len() + tail.len();
                        if batch.current() != Some((KeyScope::Collection(coll), PageKind::Data)) {
                            batch.begin(KeyScope::Collection(coll), PageKind::Data);
                        }
                        let (page, offset) = batch.pos();
                        batch.push(&head);
                        batch.push(tail);
                        placed.push(Placed::Rec { page, offset, len, rec, keys });
                    }
                    Op::Chunks(_, data) => {
                        let cap = self.codec.payload_cap();
                        for chunk in data.chunks(cap) {
                            if batch.current() != Some((KeyScope::Collection(coll), PageKind::Attachment)) {
                                batch.begin(KeyScope::Collection(coll), PageKind::Attachment);
                            }
                            let first = batch.push_chunk(chunk);
                            placed.push(Placed::Chunk { job, first, pages: 1 });
                            if batch.bytes() >= self.cfg.batch_bytes {
                                flush(&mut batch, &mut placed, &mut writer)?;
                            }
                        }
                    }
                }
                if batch.bytes() >= self.cfg.batch_bytes {
                    flush(&mut batch, &mut placed, &mut writer)?;
                }
            }
        }
        flush(&mut batch, &mut placed, &mut writer)?;
        writer.keep(batch.into_buf());
        // No write stays in flight past a commit: checkpoints and readers rely on it.
        writer.wait(&*self.storage)?;
        if sync {
            writer.sync(&*self.storage)?;
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (seg, key) in seg_keys {
            state.seg_keys.entry(seg).or_default().insert(key);
        }
        for (loc, rec, keys) in applied {
            apply(&mut state, loc, rec, keys);
        }
        state.since_checkpoint += written;
        // A checkpoint rewrites the index of every changed collection, so wait for at least a few times the
        // index's size in new log: the cost of checkpoints then stays a fixed share of the bytes ingested,
        // however large the store grows.
        let index_bytes: u64 =
            state.colls.values().map(|c| c.index_pages).sum::<u64>() * self.codec.size.bytes() as u64;
        if state.since_checkpoint >= self.cfg.checkpoint_bytes.max(index_bytes.saturating_mul(4)) {
            // These writes are durable and applied whatever happens to the checkpoint: acknowledge them, and
            // let a failed checkpoint poison the store for the writes that follow.
            let r = self.checkpoint_locked(&mut state, &writer);
            let _ = self.poison_on_err(r);
        }
        Ok(out)
    }
}

/// The collection an op belongs to.
fn op_coll(op: &Op) -> u64 {
    match op {
        Op::Rec(r, _) => r.coll(),
        Op::Chunks(c, _) => *c,
    }
}

/// Bytes an op adds to the log, roughly (to decide whether a commit spans several batches).
fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Rec(Record::Put { doc, id, .. }, _) => doc.len() + id.len() + 24,
        Op::Rec(..) => 64,
        Op::Chunks(_, data) => data.len(),
    }
}

/// Appends `ext` to `list`, merging it into the last extent when they are adjacent.
fn merge_extent(list: &mut Vec<Extent>, ext: Extent) {
    if let Some(last) = list.last_mut()
        && last.seg == ext.seg
        && last.first + u64::from(last.pages) == ext.first
    {
        last.pages += ext.pages;
        return;
    }
    list.push(ext);
}

/// Applies one durable record to the in-memory state (also used by recovery).
pub(crate) fn apply(state: &mut State, loc: Loc, rec: Record, keys: Vec<IndexKey>) {
    let Some(c) = state.colls.get_mut(&rec.coll()) else { return };
    match rec {
        Record::Put { id, .. } => c.put(id, loc, keys),
        Record::Delete { id, .. } => {
            c.delete(&id);
        }
        Record::Attach { id, name, len, extents, .. } => c.attach(&id, name, AttEntry { len, extents }),
        Record::Detach { id, name, .. } => c.detach(&id, &name),
    }
}
