//! `reindex`: rebuilds one collection's id map and index from its records in the log, into new runs that
//! replace the old ones (damaged, missing or merely suspect) in one manifest write. Records are applied
//! exactly as replay applies them, into trees that are not yet installed, in bounded memory: the buffers are
//! written out as runs whenever they fill.

use crate::apply::Target;
use crate::collection::Lsm;
use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::index::memtable::Buffer;
use crate::index::run::RunKind;
use crate::index::run::RunWriter;
use crate::log::record::{Loc, Record};
use crate::log::scan::{ScanEnd, Scanned, scan_segment};
use crate::manifest::integrity;
use crate::pages::CONTINUES;
use crate::store::Inner;
use atrest_core::page::PageKind;
use std::sync::Arc;

impl Inner {
    /// Writes a tree set's buffers as runs (not installed anywhere yet).
    fn flush_shadow(&self, coll: u64, lsm: &mut Lsm) -> Result<()> {
        let ids = std::mem::take(&mut lsm.ids.mem);
        let run =
            self.write_run(coll, RunKind::Ids, |w: &mut RunWriter<'_>| ids.for_each_sorted(&mut |k, v| w.add(k, v)))?;
        lsm.ids.runs.splice(0..0, run);
        let index = std::mem::take(&mut lsm.index.mem);
        let run = self
            .write_run(coll, RunKind::Index, |w: &mut RunWriter<'_>| index.for_each_sorted(&mut |k, v| w.add(k, v)))?;
        lsm.index.runs.splice(0..0, run);
        Ok(())
    }

    /// Applies records of collection `number` to the trees being rebuilt, writing their buffers out when full.
    fn reindex_apply(
        &self,
        number: u64,
        records: Vec<(Loc, Record)>,
        shadow: &mut Lsm,
        docs: &mut u64,
        infos: &std::collections::HashMap<u64, crate::apply::CollInfo>,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let changes = self.apply_records(records, &Target::Shadow { coll: number, lsm: shadow }, infos)?;
        for (_, ch) in changes {
            ch.apply_to(shadow, docs);
        }
        if shadow.mem_bytes() >= self.cfg.memtable_bytes {
            self.flush_shadow(number, shadow)?;
        }
        Ok(())
    }

    /// Rebuilds collection `name`'s trees from the log; returns its live documents.
    pub(crate) fn reindex(&self, name: &str, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        let _m = self.maint_exclusive();
        self.check_poison()?;
        // Everything durable first: the log's end is then where the rebuilt trees end too.
        {
            let mut w = self.lock_writer();
            let r = self.checkpoint_locked(&mut w);
            self.poison_on_err(r)?;
        }
        let number = self.read_state().coll(name)?.number;
        let infos = self.all_infos();
        let segs: Vec<u64> = self.read_state().seg_keys.keys().copied().collect();
        let size = self.codec.size.bytes() as u64;
        let mut lens = Vec::with_capacity(segs.len());
        for &s in &segs {
            lens.push(
                self.file(s)?
                    .len()
                    .map_err(StoreError::io("reading the length of", self.storage.describe(&seg_name(s))))?
                    / size,
            );
        }
        let total: u64 = lens.iter().sum();
        let shredded = self.read_state().manifest.shredded.clone();
        let mut shadow = Lsm::default();
        let mut docs = 0u64;
        let mut done = 0u64;
        // The log up to the checkpoint is complete, so batches need no checking here: streams are read in log
        // order, and pages of dropped collections (their keys destroyed) are passed over.
        for &seg in &segs {
            let mut stream: Vec<u8> = Vec::new();
            let mut stream_first = 0u64;
            let mut pending: Vec<(Loc, Record)> = Vec::new();
            let mut failed: Option<StoreError> = None;
            let end = scan_segment(&*self.storage, &self.codec, seg, 0, &mut |p| {
                done += 1;
                match p {
                    Scanned::Bad { key_id: Some(k), .. } if shredded.contains(&k) => Ok(true),
                    Scanned::Bad { no, detail, .. } => {
                        failed = Some(integrity(Some(name), &*self.storage, &seg_name(seg), no * size, detail));
                        Ok(false)
                    }
                    Scanned::Page { no, head, payload, .. } => {
                        if head.kind != PageKind::Data {
                            return Ok(true);
                        }
                        if stream.is_empty() {
                            stream_first = no;
                        }
                        stream.extend_from_slice(payload);
                        if head.flags & CONTINUES == 0 {
                            match self.stream_records(seg, stream_first, &std::mem::take(&mut stream)) {
                                Ok(recs) => pending.extend(recs.into_iter().filter(|(_, r)| r.coll() == number)),
                                Err(e) => {
                                    failed = Some(e);
                                    return Ok(false);
                                }
                            }
                        }
                        if pending.len() >= 4096 {
                            let batch = std::mem::take(&mut pending);
                            if let Err(e) = self.reindex_apply(number, batch, &mut shadow, &mut docs, &infos) {
                                failed = Some(e);
                                return Ok(false);
                            }
                        }
                        if done.is_multiple_of(1024) {
                            progress(done, total);
                        }
                        Ok(true)
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            if end != ScanEnd::Complete || !stream.is_empty() {
                return Err(integrity(
                    Some(name),
                    &*self.storage,
                    &seg_name(seg),
                    0,
                    "the segment ends inside a record; reindex cannot read it whole".into(),
                ));
            }
            self.reindex_apply(number, pending, &mut shadow, &mut docs, &infos)?;
        }
        self.flush_shadow(number, &mut shadow)?;
        progress(total, total);
        let _w = self.lock_writer();
        self.install(|s| {
            let c = s.colls.get_mut(&number).ok_or_else(|| StoreError::NoSuchCollection { name: name.to_owned() })?;
            let old = std::mem::replace(&mut c.lsm, shadow);
            c.docs = docs;
            c.ckpt_docs = docs;
            Ok(old.ids.runs.into_iter().chain(old.index.runs).collect::<Vec<Arc<_>>>())
        })?;
        self.stuck.lock().unwrap_or_else(|p| p.into_inner()).retain(|k| k.0 != number);
        self.wake_merger();
        Ok(docs)
    }
}
