//! Checkpoints, key rotation, rekeying, dropping collections.

use crate::error::{Result, StoreError};
use crate::keys::{KeyInfo, KeyScope};
use crate::log::{LogWriter, seg_name};
use crate::manifest::{CatalogEntry, SegmentMeta, encode_stream, idx_name};
use crate::store::{State, Store};
use atrest_core::page::PageKind;
use std::collections::BTreeSet;

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

impl Store {
    /// Writes the index of every changed collection and a new manifest; afterwards opening the store replays
    /// only the log written after this point.
    pub fn checkpoint(&self) -> Result<()> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let r = self.checkpoint_locked(&mut state, &writer);
        self.poison_on_err(r)
    }

    /// Checkpoint with the writer and state locks held.
    pub(crate) fn checkpoint_locked(&self, state: &mut State, writer: &LogWriter) -> Result<()> {
        let storage = &*self.storage;
        let mut old_files = Vec::new();
        for c in state.colls.values_mut().filter(|c| c.dirty) {
            let id = self.alloc_file_id();
            let name = idx_name(id);
            let mut pages = encode_stream(&self.codec, &c.encode());
            self.codec.seal_run(KeyScope::Collection(c.number), PageKind::Index, id, 0, &mut pages)?;
            let io = |op| StoreError::io(op, storage.describe(&name));
            let f = storage.open(&name, true).map_err(io("creating"))?;
            f.write_at(&pages, 0).map_err(io("writing"))?;
            f.sync_data().map_err(io("syncing"))?;
            if c.index_file != 0 {
                old_files.push(idx_name(c.index_file));
            }
            c.index_file = id;
            c.index_pages = (pages.len() / self.codec.size.bytes()) as u64;
        }
        // The writer's file is durable up to its position: every batch before a checkpoint was synced.
        writer.file.sync_data().map_err(StoreError::io("syncing", storage.describe(&seg_name(writer.seg))))?;
        let mut m = state.manifest.clone();
        m.generation += 1;
        m.next_file = self.next_file.load(std::sync::atomic::Ordering::Relaxed);
        m.next_batch = self.next_batch.load(std::sync::atomic::Ordering::Relaxed);
        m.ckpt_seg = writer.seg;
        m.ckpt_page = writer.next_page;
        m.segments = state.seg_keys.iter().map(|(&id, keys)| SegmentMeta { id, keys: keys.clone() }).collect();
        m.catalog = state
            .colls
            .values()
            .map(|c| CatalogEntry {
                number: c.number,
                name: c.name.clone(),
                policy: c.policy.clone(),
                index_file: c.index_file,
                index_pages: c.index_pages,
            })
            .collect();
        m.store(storage, &self.codec)?;
        for n in old_files {
            storage.remove(&n).map_err(StoreError::io("removing", storage.describe(&n)))?;
        }
        for c in state.colls.values_mut() {
            c.dirty = false;
        }
        state.manifest = m;
        state.since_checkpoint = 0;
        Ok(())
    }

    /// Makes a new active data key for the store and for every collection. Pages sealed before stay
    /// readable under their old keys; `rekey` rewrites them.
    pub fn rotate(&self) -> Result<Vec<u32>> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        self.rotate_locked(&mut state, &writer)
    }

    /// Rotation with the writer and state locks held.
    pub(crate) fn rotate_locked(&self, state: &mut State, writer: &LogWriter) -> Result<Vec<u32>> {
        let mut new = vec![self.keys.rotate(KeyScope::Store)?];
        for &n in state.colls.keys() {
            new.push(self.keys.rotate(KeyScope::Collection(n))?);
        }
        self.codec.reset_sealers();
        state.manifest.rotated_at = self.cfg.clock.now_unix();
        let r = self.checkpoint_locked(state, writer);
        self.poison_on_err(r)?;
        Ok(new)
    }

    /// Rotates when `rotate_every` has passed since the last rotation (or since the store was created).
    pub(crate) fn maybe_rotate(&self, writer: &LogWriter) -> Result<()> {
        let Some(every) = self.cfg.rotate_every else { return Ok(()) };
        let now = self.cfg.clock.now_unix();
        let last = self.state.read().unwrap_or_else(|p| p.into_inner()).manifest.rotated_at;
        if now.saturating_sub(last) < every.as_secs() {
            return Ok(());
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        self.rotate_locked(&mut state, writer).map(drop)
    }

    /// Drops a collection and destroys its data keys (crypto-shredding whatever of it remains on disk).
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        let _m = self.maint_shared();
        self.check_poison()?;
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let number = state.coll(name)?.number;
        let c = state.colls.remove(&number).expect("looked up above");
        state.names.remove(name);
        let doomed: Vec<u32> = self
            .keys
            .list()?
            .into_iter()
            .filter(|k| k.scope == KeyScope::Collection(number) && !k.destroyed)
            .map(|k| k.id)
            .collect();
        state.manifest.shredded.extend(&doomed);
        let r = self.checkpoint_locked(&mut state, &writer);
        self.poison_on_err(r)?;
        if c.index_file != 0 {
            let n = idx_name(c.index_file);
            self.storage.remove(&n).map_err(StoreError::io("removing", self.storage.describe(&n)))?;
        }
        for id in doomed {
            self.keys.destroy(id)?;
            self.codec.forget_key(id);
        }
        Ok(())
    }

    /// Rewrites every live document and attachment under the current keys into new segments, removes the old
    /// segments, and destroys retired data keys that nothing references any more. Other operations wait
    /// while it runs. `progress(done, total)` is called as documents are rewritten.
    pub fn rekey(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<RekeyReport> {
        let _m = self.maint.write().unwrap_or_else(|p| p.into_inner());
        self.check_poison()?;
        let first_new = {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let id = self.alloc_file_id();
            let r = w.roll(&*self.storage, id);
            self.poison_on_err(r)?;
            self.state.write().unwrap_or_else(|p| p.into_inner()).seg_keys.entry(id).or_default();
            id
        };
        let colls: Vec<(String, u64, usize)> = {
            let s = self.state.read().unwrap_or_else(|p| p.into_inner());
            s.colls.values().map(|c| (c.name.clone(), c.number, c.docs.len())).collect()
        };
        let total: u64 = colls.iter().map(|c| c.2 as u64).sum();
        let mut report = RekeyReport::default();
        for (name, number, _) in &colls {
            let mut start = String::new();
            loop {
                let locs = self.locs(name, &start, 512)?;
                let Some(last) = locs.last() else { break };
                start = format!("{}\0", last.0);
                let docs = self.read_docs(name, &locs.iter().map(|l| l.1).collect::<Vec<_>>())?;
                let mut ops = Vec::new();
                let mut atts = Vec::new();
                for ((id, _), doc) in locs.iter().zip(docs) {
                    let (keys, a) = {
                        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
                        let d = &s.colls[number].docs[id];
                        (
                            d.keys.iter().map(|k| (**k).clone()).collect(),
                            d.attachments.keys().cloned().collect::<Vec<_>>(),
                        )
                    };
                    ops.push(crate::commit::Op::Rec(
                        crate::record::Record::Put { coll: *number, id: id.clone(), doc },
                        keys,
                    ));
                    atts.extend(a.into_iter().map(|n| (id.clone(), n)));
                }
                self.submit(ops, false)?;
                for (id, att) in atts {
                    let reader = self.attachment_reader_unlocked(name, &id, &att)?;
                    self.attach_unlocked(name, &id, &att, reader, false)?;
                    report.attachments += 1;
                }
                report.documents += locs.len() as u64;
                progress(report.documents, total);
            }
        }
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let r = writer.sync(&*self.storage);
        self.poison_on_err(r)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for c in state.colls.values_mut() {
            c.dirty = true;
        }
        let old: Vec<u64> = state.seg_keys.range(..first_new).map(|(&k, _)| k).collect();
        for s in &old {
            state.seg_keys.remove(s);
        }
        let r = self.checkpoint_locked(&mut state, &writer);
        self.poison_on_err(r)?;
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
        let referenced: BTreeSet<u32> = state.seg_keys.values().flatten().copied().collect();
        for k in self.keys.list()? {
            if !k.active && !k.destroyed && !referenced.contains(&k.id) && !self.index_uses(&k) {
                self.keys.destroy(k.id)?;
                self.codec.forget_key(k.id);
                report.keys_destroyed.push(k.id);
            }
        }
        Ok(report)
    }

    /// Index files and the manifest are always sealed under active keys after a checkpoint.
    fn index_uses(&self, k: &KeyInfo) -> bool {
        k.active
    }
}
