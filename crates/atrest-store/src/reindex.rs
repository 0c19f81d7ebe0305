//! `reindex`: rebuilds one collection's id map and index from its records in the log, into new runs that
//! replace the old ones (damaged, missing or merely suspect) in one manifest write. Records are applied
//! exactly as replay applies them, into trees that are not yet installed, in bounded memory: the buffers are
//! written out as runs whenever they fill.

use crate::apply::Target;
use crate::collection::Lsm;
use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::index::run::RunKind;
use crate::index::run::RunWriter;
use crate::manifest::integrity;
use crate::store::Inner;
use std::sync::Arc;

impl Inner {
    /// Writes a tree set's buffers as runs (not installed anywhere yet).
    fn flush_shadow(&self, coll: u64, lsm: &mut Lsm) -> Result<()> {
        for (kind, tree) in [(RunKind::Ids, &mut lsm.ids), (RunKind::Index, &mut lsm.index)] {
            let mem = std::mem::take(&mut tree.mem);
            let run = self.write_run(coll, kind, |w: &mut RunWriter<'_>| mem.iter().try_for_each(|(k, v)| w.add(k, v)))?;
            tree.runs.splice(0..0, run);
        }
        Ok(())
    }

    /// Rebuilds collection `name`'s trees from the log; returns its live documents.
    pub(crate) fn reindex(&self, name: &str, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        let _m = self.maint_exclusive();
        self.check_poison()?;
        // Everything durable first: the log's end is then where the rebuilt trees end too.
        let end_pos = {
            let mut w = self.lock_writer();
            let r = self.checkpoint_locked(&mut w);
            self.poison_on_err(r)?;
            (w.seg, w.next_page)
        };
        let number = self.read_state().coll(name)?.number;
        let infos = self.all_infos();
        let segs: Vec<u64> = self.read_state().seg_keys.keys().copied().collect();
        let size = self.codec.size.bytes() as u64;
        let mut lens = Vec::with_capacity(segs.len());
        for &s in &segs {
            lens.push(self.file(s)?.len().map_err(StoreError::io("reading the length of", self.storage.describe(&seg_name(s))))? / size);
        }
        let total: u64 = lens.iter().sum();
        let before = |seg: u64| -> u64 { segs.iter().zip(&lens).take_while(|(s, _)| **s < seg).map(|(_, l)| l).sum() };
        let mut shadow = Lsm::default();
        let mut docs = 0u64;
        let first = segs.first().copied().unwrap_or(end_pos.0);
        let end = self.walk_log(&segs, (first, 0), 0, &mut |b| {
            let records: Vec<_> = b.records.into_iter().filter(|(_, r)| r.coll() == number).collect();
            if !records.is_empty() {
                let changes = self.apply_records(records, &Target::Shadow { coll: number, lsm: &shadow }, &infos)?;
                for (_, ch) in changes {
                    ch.apply_to(&mut shadow, &mut docs);
                }
                if shadow.mem_bytes() >= self.cfg.memtable_bytes {
                    self.flush_shadow(number, &mut shadow)?;
                }
            }
            progress(before(b.seg) + b.end, total);
            Ok(())
        })?;
        if end.tail.is_some() || end.committed != end_pos {
            let (seg, page) = end.tail.unwrap_or(end.committed);
            return Err(integrity(
                Some(name),
                &*self.storage,
                &seg_name(seg),
                page.saturating_mul(size),
                "the log is damaged here; reindex cannot read the records after it".into(),
            ));
        }
        self.flush_shadow(number, &mut shadow)?;
        progress(total, total);
        let _w = self.lock_writer();
        self.install(|s| {
            let c = s.colls.get_mut(&number).ok_or_else(|| StoreError::NoSuchCollection { name: name.to_owned() })?;
            let old = std::mem::replace(&mut c.lsm, shadow);
            c.docs = docs;
            Ok(old.ids.runs.into_iter().chain(old.index.runs).collect::<Vec<Arc<_>>>())
        })?;
        self.stuck.lock().unwrap_or_else(|p| p.into_inner()).retain(|k| k.0 != number);
        self.wake_merger();
        Ok(docs)
    }
}
