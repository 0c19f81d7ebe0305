//! Group commit: callers queue their operations; one of them becomes the leader, packs everything queued
//! into page runs, seals them as batches across threads, writes each batch with one large write, syncs once,
//! applies the operations to the collections' buffers and only then wakes the callers. No caller is told
//! "done" before its bytes are durable; after a failed write, or a panic of the leader, the store is
//! poisoned (fjall's `Poisoned`) and refuses writes until it is reopened.

use crate::error::{Result, StoreError};
use crate::keys::KeyScope;
use crate::log::batch::BatchBuf;
use crate::log::record::{Extent, Loc, Record};
use crate::log::writer::LogWriter;
use crate::store::Inner;
use atrest_core::page::PageKind;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One operation to commit.
#[derive(Debug)]
pub(crate) enum Op {
    /// A record, with the index hashes of a Put (sorted, distinct).
    Rec(Record, Vec<u64>),
    /// Attachment bytes of a collection, stored as chunk pages; their extents are returned.
    Chunks(u64, Vec<u8>),
}

/// How the records of a commit change the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Ordinary writes.
    Normal,
    /// `rekey` rewriting documents as they are: only their locations change.
    Rewrite,
}

/// Why a job failed: its commit poisoned the store (the cause), or a key it needed could not be had before
/// anything was written (the store is not poisoned).
enum Failed {
    Poisoned(String),
    Keys(atrest_keys::KeyError),
}

type Slot = Arc<Mutex<Option<Result<Vec<Extent>, Failed>>>>;

pub(crate) struct Job {
    ops: Vec<Op>,
    sync: bool,
    mode: Mode,
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
    Rec { page: usize, offset: usize, len: usize, rec: Record, hashes: Vec<u64> },
    Chunk { job: usize, first: usize, pages: usize },
}

/// A durable record with where it lies, ready to be applied.
pub(crate) struct Applied {
    pub(crate) loc: Loc,
    pub(crate) rec: Record,
    pub(crate) hashes: Vec<u64>,
    pub(crate) mode: Mode,
}

impl Inner {
    /// Commits `ops` durably (if `sync`) and returns the extents of any chunk ops.
    pub(crate) fn submit(&self, ops: Vec<Op>, sync: bool, mode: Mode) -> Result<Vec<Extent>> {
        self.check_poison()?;
        let slot: Slot = Arc::new(Mutex::new(None));
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.pending.push(Job { ops, sync, mode, slot: slot.clone() });
        loop {
            if let Some(r) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return r.map_err(|f| match f {
                    Failed::Poisoned(cause) => StoreError::Poisoned { cause },
                    Failed::Keys(e) => StoreError::Keys(e),
                });
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

    fn lead(&self, jobs: Vec<Job>) {
        let slots: Vec<Slot> = jobs.iter().map(|j| j.slot.clone()).collect();
        // On the leader's own thread, never in the pool: `write_jobs` waits for the writer lock, and whoever
        // holds it may be waiting for the pool (see `Inner::in_pool`). The leader also seals its pages and looks
        // up what its records replace on this thread: in the pool they would queue behind the next batch's
        // document checks, and every writer waits for the leader.
        // A panic must not leave the leader flag set with every later writer waiting for it: it poisons the
        // store instead, and every caller of this commit gets the error.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match self.check_poison().and_then(|()| self.prepare(&jobs)) {
                Err(StoreError::Keys(e)) => Ok(Err(e)),
                Err(e) => Err(e),
                Ok(()) => self.write_jobs(jobs).map(Ok),
            }
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(StoreError::Poisoned { cause: format!("the commit leader panicked: {what}") })
        });
        match result {
            Ok(Err(keys)) => {
                for slot in &slots {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Err(Failed::Keys(keys.clone())));
                }
            }
            Ok(Ok(extents)) => {
                for (slot, ext) in slots.iter().zip(extents) {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Ok(ext));
                }
            }
            Err(e) => {
                let cause = match e {
                    StoreError::Poisoned { cause } => cause,
                    e => e.to_string(),
                };
                self.set_poison(cause.clone());
                for slot in &slots {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Err(Failed::Poisoned(cause.clone())));
                }
            }
        }
    }

    /// What a commit needs before anything is written: a rotation that is due, and the sealer of every
    /// collection it writes. A key service away past a key's lease fails the commit here, typed, with nothing
    /// written and the store not poisoned, so writes resume by themselves when the service answers.
    fn prepare(&self, jobs: &[Job]) -> Result<()> {
        self.maybe_rotate(&mut self.lock_writer())?;
        let live: std::collections::BTreeSet<u64> = self.read_state().colls.keys().copied().collect();
        let colls: std::collections::BTreeSet<u64> =
            jobs.iter().flat_map(|j| &j.ops).map(op_coll).filter(|c| live.contains(c)).collect();
        for c in colls {
            self.codec.sealer(KeyScope::Collection(c))?;
        }
        Ok(())
    }

    /// Packs, seals, writes and syncs the jobs, then applies them. Returns each job's chunk extents.
    fn write_jobs(&self, jobs: Vec<Job>) -> Result<Vec<Vec<Extent>>> {
        let mut writer = self.lock_writer();
        let started = std::time::Instant::now();
        let sync = jobs.iter().any(|j| j.sync);
        let mut out: Vec<Vec<Extent>> = vec![Vec::new(); jobs.len()];
        // Group by collection, keeping each collection's order, so each collection gets one run of pages.
        // Operations on a collection dropped since they were queued are dropped too (as if they had run just
        // before the drop), so no page is ever sealed for a collection whose keys are gone.
        let live: std::collections::BTreeSet<u64> = self.read_state().colls.keys().copied().collect();
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for op in jobs.iter().flat_map(|j| &j.ops) {
            *counts.entry(op_coll(op)).or_default() += 1;
        }
        let ops_total: usize = counts.values().sum();
        let mut by_coll: BTreeMap<u64, Vec<(usize, Mode, Op)>> =
            counts.into_iter().filter(|(c, _)| live.contains(c)).map(|(c, n)| (c, Vec::with_capacity(n))).collect();
        for (j, job) in jobs.into_iter().enumerate() {
            for op in job.ops {
                if let Some(list) = by_coll.get_mut(&op_coll(&op)) {
                    list.push((j, job.mode, op));
                }
            }
        }
        let total: usize = by_coll.values().flatten().map(|(_, _, op)| op_bytes(op)).sum();
        // Overlap writing with sealing only when the commit spans several batches.
        let overlap = total > self.cfg.batch_bytes;
        let mut applied: Vec<Applied> = Vec::with_capacity(ops_total);
        // Room for a full batch plus one page, so a batch never grows its buffer.
        let cap = self.cfg.batch_bytes + self.codec.size.bytes();
        let mut batch = BatchBuf::new(&self.codec, writer.spare.pop(), cap);
        let mut placed: Vec<(Mode, Placed)> = Vec::with_capacity(ops_total);
        let mut seg_keys: Vec<(u64, u32)> = Vec::new();
        let mut written = 0u64;
        let mut flush = |batch: &mut BatchBuf, placed: &mut Vec<(Mode, Placed)>, w: &mut LogWriter| -> Result<()> {
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
            for (mode, p) in placed.drain(..) {
                match p {
                    Placed::Rec { page, offset, len, rec, hashes } => {
                        let loc = Loc { seg, page: base + page as u64, offset: offset as u32, len: len as u32 };
                        applied.push(Applied { loc, rec, hashes, mode });
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
            for (job, mode, op) in ops {
                match op {
                    Op::Rec(rec, hashes) => {
                        let tail = rec.parts_into(&mut head);
                        let len = head.len() + tail.len();
                        if batch.current() != Some((KeyScope::Collection(coll), PageKind::Data)) {
                            batch.begin(KeyScope::Collection(coll), PageKind::Data);
                        }
                        let (page, offset) = batch.pos();
                        batch.push(&head);
                        batch.push(tail);
                        placed.push((mode, Placed::Rec { page, offset, len, rec, hashes }));
                    }
                    Op::Chunks(_, data) => {
                        let cap = self.codec.payload_cap();
                        for chunk in data.chunks(cap) {
                            if batch.current() != Some((KeyScope::Collection(coll), PageKind::Attachment)) {
                                batch.begin(KeyScope::Collection(coll), PageKind::Attachment);
                            }
                            let first = batch.push_chunk(chunk);
                            placed.push((mode, Placed::Chunk { job, first, pages: 1 }));
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
        let packed = std::time::Instant::now();
        // No write stays in flight past a commit: checkpoints and readers rely on it.
        writer.wait(&*self.storage)?;
        let waited = std::time::Instant::now();
        if sync {
            writer.sync(&*self.storage)?;
        }
        let synced = std::time::Instant::now();
        self.apply_batch(applied, &seg_keys, written)?;
        self.commit_times.add(packed - started, waited - packed, synced - waited, synced.elapsed());
        // The writes are durable and applied whatever happens to a checkpoint now: acknowledge them, and let a
        // failed checkpoint poison the store for the writes that follow.
        if let Some(live) = self.checkpoint_due() {
            if self.checkpoint_in_flight() || live >= 2 * self.cfg.memtable_bytes {
                // The buffers filled again before the last checkpoint's runs were written (or before the
                // checkpointer started): wait for it and checkpoint here. So the buffers taking writes stay
                // under twice `memtable_bytes` plus one commit, and at most one set is frozen.
                let r = self.checkpoint_locked(&mut writer);
                let _ = self.poison_on_err(r);
            } else {
                self.wake_checkpointer();
            }
        }
        Ok(out)
    }

    /// Applies durable records (in log order) to the live collections: looks up what each replaces, then
    /// changes the buffers under the state lock, briefly.
    pub(crate) fn apply_batch(&self, applied: Vec<Applied>, seg_keys: &[(u64, u32)], written: u64) -> Result<()> {
        let changes = self.plan_changes(applied, &crate::apply::Target::Live, false)?;
        let mut state = self.write_state();
        for &(seg, key) in seg_keys {
            state.seg_keys.entry(seg).or_default().insert(key);
        }
        for (coll, ch) in changes {
            if let Some(c) = state.colls.get_mut(&coll) {
                ch.apply_to(&mut c.lsm, &mut c.docs);
            }
        }
        state.since_checkpoint += written;
        Ok(())
    }

    /// Whether the buffers that take writes, or the log since the checkpoint, have grown enough to checkpoint.
    /// Returns the bytes of those buffers when it is due.
    fn checkpoint_due(&self) -> Option<usize> {
        let s = self.read_state();
        let live = s.live_bytes();
        (live >= self.cfg.memtable_bytes
            || s.since_checkpoint - s.since_frozen.min(s.since_checkpoint) >= self.cfg.checkpoint_bytes)
            .then_some(live)
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
pub(crate) fn merge_extent(list: &mut Vec<Extent>, ext: Extent) {
    if let Some(last) = list.last_mut()
        && last.seg == ext.seg
        && last.first + u64::from(last.pages) == ext.first
    {
        last.pages += ext.pages;
        return;
    }
    list.push(ext);
}
