//! The background merger: after checkpoints add runs, it merges the newest runs of a tree whose sizes call
//! for it (`index::merge::plan`), so a lookup touches a bounded number of runs, and drops deleted entries
//! when a merge reaches a tree's oldest run. A merge writes a new run, then installs it with a new manifest;
//! the inputs' files go once no reader holds them. A tree whose merge failed (a damaged run) is left alone
//! until `reindex` rebuilds it; other collections are not affected.

use crate::collection::DELETED;
use crate::error::Result;
use crate::index::merge::{MergeIter, Source, plan};
use crate::index::reader::Run;
use crate::index::run::RunKind;
use crate::store::Inner;
use std::sync::Arc;

/// At close, merges whose inputs total at most this many bytes still run, so that a short-lived process
/// (one `atrest put`) does not leave runs piling up, without ever paying for a large merge.
const SMALL_MERGE_BYTES: u64 = 32 << 20;

/// How many entries a background merge writes between looks at whether the store is closing.
const INTERRUPT_CHECK: usize = 4096;

/// One merge to do.
struct MergeJob {
    coll: u64,
    name: String,
    kind: RunKind,
    inputs: Vec<Arc<Run>>,
    /// The inputs include the tree's oldest run: deletions can be dropped.
    bottom: bool,
}

impl Inner {
    /// The merger thread's body: waits to be woken, then merges until nothing is due.
    pub(crate) fn merge_loop(&self) {
        loop {
            {
                let mut w = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
                while !w.work && !w.stop {
                    w = self.wake.1.wait(w).unwrap_or_else(|p| p.into_inner());
                }
                if w.stop {
                    return;
                }
                w.work = false;
            }
            let r = self.merge_due(false);
            let _ = self.poison_on_err(r);
        }
    }

    fn stopping(&self) -> bool {
        self.wake.0.lock().unwrap_or_else(|p| p.into_inner()).stop
    }

    /// Runs the merges that are due (with `small_only`, only small ones: see [`SMALL_MERGE_BYTES`]).
    pub(crate) fn merge_due(&self, small_only: bool) -> Result<()> {
        loop {
            if !small_only && self.stopping() {
                return Ok(());
            }
            let _m = self.maint_shared();
            if self.check_poison().is_err() {
                return Ok(());
            }
            let Some(job) = self.pick_merge(small_only) else { return Ok(()) };
            let key = (job.coll, job.kind);
            match self.run_merge(job, !small_only) {
                // A key that cannot be had now: the runs are fine, try again at the next wake-up.
                Err(crate::StoreError::Keys(_)) => return Ok(()),
                Err(e) => {
                    self.stuck.lock().unwrap_or_else(|p| p.into_inner()).insert(key);
                    if matches!(e, crate::StoreError::Io { .. }) {
                        return Err(e);
                    }
                }
                Ok(()) => {}
            }
        }
    }

    fn pick_merge(&self, small_only: bool) -> Option<MergeJob> {
        let stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let page = self.codec.size.bytes() as u64;
        let s = self.read_state();
        for c in s.colls.values() {
            for kind in [RunKind::Ids, RunKind::Index] {
                if stuck.contains(&(c.number, kind)) {
                    continue;
                }
                let runs = c.lsm.runs(kind);
                let sizes: Vec<u64> = runs.iter().map(|r| r.meta.pages).collect();
                let Some(k) = plan(&sizes) else { continue };
                if small_only && sizes[..k].iter().sum::<u64>() * page > SMALL_MERGE_BYTES {
                    continue;
                }
                return Some(MergeJob {
                    coll: c.number,
                    name: c.name.clone(),
                    kind,
                    inputs: runs[..k].to_vec(),
                    bottom: k == runs.len(),
                });
            }
        }
        None
    }

    /// Merges the job's runs into one and installs it in their place. With `interruptible`, a store that is
    /// closing stops the merge within a few thousand entries: its partial output is removed and the inputs
    /// stay, to be merged by a later open (so closing never waits for a large merge).
    fn run_merge(&self, job: MergeJob, interruptible: bool) -> Result<()> {
        let ctx = self.ctx(Some(&job.name));
        let sources: Vec<Source<'_>> =
            job.inputs.iter().map(|r| Box::new(r.iter(&ctx, &[], false)) as Source<'_>).collect();
        let merged = MergeIter::new(sources);
        let mut interrupted = false;
        let out = self.write_run(job.coll, job.kind, |w| {
            for (n, e) in merged.enumerate() {
                if interruptible && n % INTERRUPT_CHECK == INTERRUPT_CHECK - 1 && self.stopping() {
                    interrupted = true;
                    break;
                }
                let (k, v) = e?;
                if job.bottom && v == DELETED {
                    continue;
                }
                w.add(&k, &v)?;
            }
            Ok(())
        })?;
        if interrupted {
            out.iter().for_each(|r| r.retire());
            return Ok(());
        }
        self.install(|s| {
            let runs = s.colls.get_mut(&job.coll).map(|c| c.lsm.runs_mut(job.kind));
            let at = runs.as_ref().and_then(|t| t.iter().position(|r| Arc::ptr_eq(r, &job.inputs[0])));
            let (Some(runs), Some(at)) = (runs, at) else {
                // The collection was dropped (or rebuilt) meanwhile: the output was never named anywhere.
                out.iter().for_each(|r| r.retire());
                return Ok(Vec::new());
            };
            let k = job.inputs.len();
            let same = runs.get(at..at + k).is_some_and(|w| w.iter().zip(&job.inputs).all(|(a, b)| Arc::ptr_eq(a, b)));
            if !same {
                out.iter().for_each(|r| r.retire());
                return Ok(Vec::new());
            }
            Ok(runs.splice(at..at + k, out.clone()).collect())
        })
    }

    /// Merges every tree into a single run under the current keys, deletions dropped (`rekey`).
    pub(crate) fn compact_all(&self) -> Result<()> {
        let jobs: Vec<MergeJob> = {
            let s = self.read_state();
            s.colls
                .values()
                .flat_map(|c| {
                    [RunKind::Ids, RunKind::Index].into_iter().filter(|&k| !c.lsm.runs(k).is_empty()).map(|kind| {
                        MergeJob {
                            coll: c.number,
                            name: c.name.clone(),
                            kind,
                            inputs: c.lsm.runs(kind).clone(),
                            bottom: true,
                        }
                    })
                })
                .collect()
        };
        for job in jobs {
            self.run_merge(job, false)?;
        }
        Ok(())
    }
}
