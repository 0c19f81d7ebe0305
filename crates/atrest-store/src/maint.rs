//! Checkpoints, the manifest that records them, collections, key rotation, rekeying.

use crate::collection::{Collection, Lsm};
use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::index::memtable::Buffer;
use crate::index::reader::Run;
use crate::index::run::{RunKind, RunWriter};
use crate::json::{self, IndexPolicy};
use crate::keys::KeyScope;
use crate::log::writer::LogWriter;
use crate::manifest::{CatalogEntry, Manifest, SegmentMeta};
use crate::store::{Ckpt, Frozen, Inner, State};
use atrest_keys::KeyState;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a rekey did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Documents rewritten.
    pub documents: u64,
    /// Attachments rewritten.
    pub attachments: u64,
    /// Segment files removed.
    pub segments_removed: usize,
    /// Retired data keys destroyed because nothing references them any more.
    pub keys_destroyed: Vec<u32>,
}

impl Inner {
    /// Writes entries (added in key order by `fill`) as a new run of collection `coll` under its active key;
    /// `None` if `fill` added nothing. The run is durable but not yet named by the manifest.
    pub(crate) fn write_run(
        &self,
        coll: u64,
        kind: RunKind,
        fill: impl FnOnce(&mut RunWriter<'_>) -> Result<()>,
    ) -> Result<Option<Arc<Run>>> {
        let id = self.alloc_file_id();
        let mut w = RunWriter::create(&self.codec, &*self.storage, KeyScope::Collection(coll), id, kind)?;
        if let Err(e) = fill(&mut w) {
            w.abandon();
            return Err(e);
        }
        if w.entries() == 0 {
            w.abandon();
            return Ok(None);
        }
        let meta = w.finish()?;
        Ok(Some(Run::new(meta, self.storage.clone())))
    }

    /// The manifest that describes `state`, which becomes the state's manifest.
    fn describe(&self, state: &mut State) -> Manifest {
        let mut m = state.manifest.clone();
        m.generation += 1;
        m.next_file = self.next_file.load(std::sync::atomic::Ordering::Relaxed);
        m.next_batch = state.ckpt.next_batch;
        m.ckpt_seg = state.ckpt.seg;
        m.ckpt_page = state.ckpt.page;
        m.segments = state.seg_keys.iter().map(|(&id, keys)| SegmentMeta { id, keys: keys.clone() }).collect();
        m.catalog = state
            .colls
            .values()
            .map(|c| CatalogEntry {
                number: c.number,
                name: c.name.clone(),
                policy: c.policy.clone(),
                hash_key: c.hash_key,
                docs: c.ckpt_docs,
                runs: c.lsm.all_runs().map(|r| r.meta).collect(),
            })
            .collect();
        state.manifest = m.clone();
        m
    }

    /// Changes the state with `change` and writes the manifest describing the result, in the order other
    /// manifest writers (checkpoints, merges) see. `change` returns runs it took out of the state: their
    /// files are removed once the new manifest is durable and no reader holds them.
    pub(crate) fn install(&self, change: impl FnOnce(&mut State) -> Result<Vec<Arc<Run>>>) -> Result<()> {
        let _m = self.manifest_lock.lock().unwrap_or_else(|p| p.into_inner());
        let (manifest, retired) = {
            let mut s = self.write_state();
            let retired = change(&mut s)?;
            (self.describe(&mut s), retired)
        };
        // If this fails the state is ahead of the disk: poison, and the next open starts from the old
        // manifest (whose runs are all still there) and the log.
        let r = manifest.store(&*self.storage, &self.codec);
        self.poison_on_err(r)?;
        for r in retired {
            r.retire();
        }
        self.anchor.manifest_durable(manifest.generation);
        Ok(())
    }

    /// Checkpoints: the buffers become runs and the manifest moves the replay start to the log's end.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let mut writer = self.lock_writer();
        let r = self.checkpoint_locked(&mut writer);
        self.poison_on_err(r)
    }

    /// Checkpoint with the writer lock held: on return, everything written before is in runs named by a
    /// durable manifest. Waits for a background checkpoint in flight, and finishes one that failed.
    pub(crate) fn checkpoint_locked(&self, writer: &mut LogWriter) -> Result<()> {
        let mut frozen = self.ckpt_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.write_frozen(&mut frozen)?;
        self.freeze(writer, &mut frozen)?;
        self.write_frozen(&mut frozen)
    }

    /// The background checkpointer's body: waits to be asked, then checkpoints without holding the writer
    /// lock while the runs are written, so commits go on meanwhile.
    pub(crate) fn checkpoint_loop(&self) {
        loop {
            let stop = {
                let mut w = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
                while !w.checkpoint && !w.stop {
                    w = self.wake.1.wait(w).unwrap_or_else(|p| p.into_inner());
                }
                if !std::mem::take(&mut w.checkpoint) {
                    return;
                }
                w.stop
            };
            // A checkpoint asked for before the store closes still happens: the next open replays less.
            {
                let _m = self.maint_shared();
                if self.check_poison().is_ok() {
                    let r = self.checkpoint_background();
                    let _ = self.poison_on_err(r);
                }
            }
            if stop {
                return;
            }
        }
    }

    /// One background checkpoint: freezes the buffers under the writer lock (a moment), then writes them as
    /// runs and installs them with only the checkpoint lock held. Nothing if another checkpoint is running.
    fn checkpoint_background(&self) -> Result<()> {
        let mut writer = self.lock_writer();
        let Ok(mut frozen) = self.ckpt_lock.try_lock() else { return Ok(()) };
        self.freeze(&mut writer, &mut frozen)?;
        drop(writer);
        self.write_frozen(&mut frozen)
    }

    /// Whether a checkpoint's buffers are frozen and not yet installed.
    pub(crate) fn checkpoint_in_flight(&self) -> bool {
        match self.ckpt_lock.try_lock() {
            Ok(f) => f.is_some(),
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().is_some(),
            Err(std::sync::TryLockError::WouldBlock) => true,
        }
    }

    /// Freezes every buffer as of the log's end (synced first), unless frozen buffers are still waiting to be
    /// written (a failed checkpoint), which then go first. Needs the writer lock: no commit is half-applied.
    fn freeze(&self, writer: &mut LogWriter, frozen: &mut Option<Frozen>) -> Result<()> {
        if frozen.is_some() {
            return Ok(());
        }
        writer.sync(&*self.storage)?;
        let ckpt = Ckpt {
            seg: writer.seg,
            page: writer.next_page,
            next_batch: self.next_batch.load(std::sync::atomic::Ordering::Relaxed),
        };
        // Lookups keep seeing frozen buffers while they are written out, without the lock.
        let mut s = self.write_state();
        let mut docs = std::collections::HashMap::new();
        for c in s.colls.values_mut() {
            docs.insert(c.number, c.docs);
            if !c.lsm.ids.mem.is_empty() {
                c.lsm.ids.frozen = Some(Arc::new(std::mem::take(&mut c.lsm.ids.mem)));
            }
            if !c.lsm.index.mem.is_empty() {
                c.lsm.index.frozen = Some(Arc::new(std::mem::take(&mut c.lsm.index.mem)));
            }
        }
        s.since_frozen = s.since_checkpoint;
        *frozen = Some(Frozen { ckpt, docs, since: s.since_checkpoint });
        Ok(())
    }

    /// Writes the frozen buffers as runs and installs them with the checkpoint's position. On failure the
    /// buffers stay frozen (lookups see them, the next checkpoint writes them again) and nothing on disk that
    /// a manifest names has changed.
    fn write_frozen(&self, frozen: &mut Option<Frozen>) -> Result<()> {
        if frozen.is_none() {
            return Ok(());
        }
        let bufs: Vec<(u64, Option<Arc<_>>, Option<Arc<_>>)> = {
            let s = self.read_state();
            s.colls.values().map(|c| (c.number, c.lsm.ids.frozen.clone(), c.lsm.index.frozen.clone())).collect()
        };
        let mut made = Vec::with_capacity(bufs.len());
        for (n, ids, index) in bufs {
            let write = || -> Result<_> {
                let a = match &ids {
                    Some(b) => self.write_run(n, RunKind::Ids, |w| b.for_each_sorted(&mut |k, v| w.add(k, v)))?,
                    None => None,
                };
                let b = match &index {
                    Some(b) => self.write_run(n, RunKind::Index, |w| b.for_each_sorted(&mut |k, v| w.add(k, v))),
                    None => Ok(None),
                };
                match b {
                    Ok(b) => Ok((a, b)),
                    Err(e) => {
                        a.iter().for_each(|r| r.retire());
                        Err(e)
                    }
                }
            };
            match write() {
                Ok((a, b)) => made.push((n, a, b)),
                // A collection dropped meanwhile (its keys are gone): its buffers went with it.
                Err(_) if !self.read_state().colls.contains_key(&n) => {}
                Err(e) => {
                    made.iter().flat_map(|(_, a, b)| a.iter().chain(b)).for_each(|r| r.retire());
                    return Err(e);
                }
            }
        }
        let Frozen { ckpt, docs, since } = frozen.take().expect("checked above");
        let r = self.install(|s| {
            let mut retired = Vec::new();
            for (n, a, b) in made {
                match s.colls.get_mut(&n) {
                    Some(c) => {
                        c.lsm.ids.runs.splice(0..0, a);
                        c.lsm.index.runs.splice(0..0, b);
                        c.lsm.ids.frozen = None;
                        c.lsm.index.frozen = None;
                    }
                    None => retired.extend(a.into_iter().chain(b)),
                }
            }
            for c in s.colls.values_mut() {
                // A collection created after the freeze has no documents at the checkpoint.
                c.ckpt_docs = docs.get(&c.number).copied().unwrap_or(0);
            }
            s.ckpt = ckpt;
            s.since_checkpoint = s.since_checkpoint.saturating_sub(since);
            s.since_frozen = 0;
            Ok(retired)
        });
        r?;
        self.wake_merger();
        Ok(())
    }

    /// Creates collection `name`. Durable on return.
    pub(crate) fn create_collection(&self, name: &str, policy: IndexPolicy) -> Result<()> {
        json::check_collection_name(name)?;
        policy.validate()?;
        let _m = self.maint_shared();
        self.check_poison()?;
        let _writer = self.lock_writer();
        let mut hash_key = [0u8; 16];
        getrandom::fill(&mut hash_key).map_err(|e| atrest_keys::KeyError::Random(e.to_string()))?;
        self.install(|s| {
            if s.names.contains_key(name) {
                return Err(StoreError::CollectionExists { name: name.to_owned() });
            }
            let number = s.manifest.next_coll;
            self.keys.active_key(KeyScope::Collection(number))?;
            s.manifest.next_coll += 1;
            let c = Collection {
                number,
                name: name.to_owned(),
                policy,
                hash_key,
                docs: 0,
                ckpt_docs: 0,
                lsm: Lsm::default(),
            };
            s.colls.insert(number, c);
            s.names.insert(name.to_owned(), number);
            Ok(Vec::new())
        })
    }

    /// Drops a collection and destroys its data keys (crypto-shredding whatever of it remains on disk).
    pub(crate) fn drop_collection(&self, name: &str) -> Result<()> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let mut writer = self.lock_writer();
        let number = self.read_state().coll(name)?.number;
        // Checkpoint first: replay then never meets the collection's pages, which no key will open.
        let r = self.checkpoint_locked(&mut writer);
        self.poison_on_err(r)?;
        let doomed: Vec<u32> = self
            .keys
            .entries()
            .into_iter()
            .filter(|k| k.scope == KeyScope::Collection(number) && k.state != KeyState::Destroyed)
            .map(|k| k.id)
            .collect();
        self.install(|s| {
            let c = s.colls.remove(&number).ok_or_else(|| StoreError::NoSuchCollection { name: name.to_owned() })?;
            s.names.remove(name);
            s.manifest.shredded.extend(&doomed);
            Ok(c.lsm.all_runs().cloned().collect())
        })?;
        for id in doomed {
            // Nothing references them: the collection's runs are retired and replay starts past its pages.
            self.keys.destroy(id, &0u64)?;
        }
        // The key service's record learns of the shredding at once, so an older keyring is refused.
        self.anchor.request();
        Ok(())
    }

    /// Makes a new active data key for the store and for every collection. Pages sealed before stay
    /// readable under their old keys; `rekey` rewrites them.
    pub(crate) fn rotate(&self) -> Result<Vec<u32>> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let mut writer = self.lock_writer();
        self.rotate_locked(&mut writer)
    }

    /// Rotation with the writer lock held.
    pub(crate) fn rotate_locked(&self, writer: &mut LogWriter) -> Result<Vec<u32>> {
        let colls: Vec<u64> = self.read_state().colls.keys().copied().collect();
        let mut new = vec![self.keys.rotate_data_key(KeyScope::Store)?.0];
        for n in colls {
            new.push(self.keys.rotate_data_key(KeyScope::Collection(n))?.0);
        }
        self.write_state().manifest.rotated_at = self.cfg.clock.now_unix();
        let r = self.checkpoint_locked(writer);
        self.poison_on_err(r)?;
        Ok(new)
    }

    /// Rotates when `rotate_every` has passed since the last rotation (or since the store was created).
    pub(crate) fn maybe_rotate(&self, writer: &mut LogWriter) -> Result<()> {
        let Some(every) = self.cfg.rotate_every else { return Ok(()) };
        let now = self.cfg.clock.now_unix();
        let last = self.read_state().manifest.rotated_at;
        if now.saturating_sub(last) < every.as_secs() {
            return Ok(());
        }
        self.rotate_locked(writer).map(drop)
    }

    /// Sets (or with `None` removes) a small sealed metadata value kept in the catalog. Durable on return.
    pub(crate) fn set_meta(&self, name: &str, value: Option<Vec<u8>>) -> Result<()> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let _writer = self.lock_writer();
        self.install(|s| {
            match value {
                Some(v) => s.manifest.meta.insert(name.to_owned(), v),
                None => s.manifest.meta.remove(name),
            };
            Ok(Vec::new())
        })
    }

    /// Rewrites every live document and attachment under the current keys into new segments, rewrites every
    /// run under the current keys, removes the old segments, and destroys retired data keys that nothing
    /// references any more. Other operations wait while it runs. `progress(done, total)` counts documents.
    pub(crate) fn rekey(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<RekeyReport> {
        let _m = self.maint_exclusive();
        self.check_poison()?;
        let first_new = {
            let mut w = self.lock_writer();
            let id = self.alloc_file_id();
            let r = w.roll(&*self.storage, id);
            self.poison_on_err(r)?;
            self.write_state().seg_keys.entry(id).or_default();
            id
        };
        let colls: Vec<(String, u64, u64)> =
            self.read_state().colls.values().map(|c| (c.name.clone(), c.number, c.docs)).collect();
        let total: u64 = colls.iter().map(|c| c.2).sum();
        let mut report = RekeyReport::default();
        for (name, number, _) in &colls {
            let mut start = String::new();
            loop {
                let entries = self.entries_from(name, &start, 512)?;
                let Some(last) = entries.last() else { break };
                start = format!("{}\0", last.0);
                let docs = self.read_docs(name, &entries.iter().map(|e| e.1.loc).collect::<Vec<_>>(), false)?;
                let info = crate::apply::CollInfo {
                    name: name.clone(),
                    policy: self.read_state().coll(name)?.policy.clone(),
                    hash_key: self.read_state().coll(name)?.hash_key,
                };
                let mut ops = Vec::with_capacity(entries.len());
                for ((id, _), doc) in entries.iter().zip(docs) {
                    let hashes = info.hashes_of(&doc);
                    ops.push(crate::commit::Op::Rec(
                        crate::log::record::Record::Put { coll: *number, id: id.clone(), doc },
                        hashes,
                    ));
                }
                self.submit(ops, false, crate::commit::Mode::Rewrite)?;
                for (id, e) in &entries {
                    for att in e.attachments.keys() {
                        let reader = self.attachment_reader_unlocked(name, id, att)?;
                        self.attach_unlocked(name, id, att, reader, false)?;
                        report.attachments += 1;
                    }
                }
                report.documents += entries.len() as u64;
                progress(report.documents, total);
            }
        }
        {
            let mut writer = self.lock_writer();
            let r = self.checkpoint_locked(&mut writer);
            self.poison_on_err(r)?;
        }
        // Every run rewritten under the current keys; entries of the old locations drop out.
        self.compact_all()?;
        let old: Vec<u64> = self.read_state().seg_keys.range(..first_new).map(|(&k, _)| k).collect();
        {
            let _writer = self.lock_writer();
            self.install(|s| {
                for seg in &old {
                    s.seg_keys.remove(seg);
                }
                Ok(Vec::new())
            })?;
        }
        {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            for s in &old {
                files.remove(s);
                let n = seg_name(*s);
                self.storage.remove(&n).map_err(StoreError::io("removing", self.storage.describe(&n)))?;
            }
        }
        self.storage.sync_dir().map_err(StoreError::io("syncing directory", self.storage.describe("")))?;
        report.segments_removed = old.len();
        let referenced = self.referenced_keys();
        for k in self.keys.entries() {
            // Only the store's own scopes: other engines sharing the keyring keep theirs.
            let ours = matches!(k.scope, KeyScope::Store | KeyScope::Collection(_));
            if ours && k.state == KeyState::DecryptOnly && !referenced.contains(&k.id) {
                self.keys.destroy(k.id, &0u64)?;
                report.keys_destroyed.push(k.id);
            }
        }
        Ok(report)
    }

    /// Key ids that some live segment or run uses.
    fn referenced_keys(&self) -> BTreeSet<u32> {
        let s = self.read_state();
        let mut keys: BTreeSet<u32> = s.seg_keys.values().flatten().copied().collect();
        for c in s.colls.values() {
            keys.extend(c.lsm.all_runs().map(|r| r.meta.key_id));
        }
        keys
    }
}
