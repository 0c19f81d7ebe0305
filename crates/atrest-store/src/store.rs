//! The store: collections of JSON documents, always encrypted. [`Store`] is the public face; the machinery
//! lives in [`Inner`], which the background merger shares.

use crate::collection::Collection;
use crate::commit::Queue;
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::index::Ctx;
use crate::index::cache::PageCache;
use crate::log::writer::LogWriter;
use crate::manifest::{FormatInfo, Manifest};
use crate::pages::PageCodec;
use crate::storage::{OwnerLock, Storage, StorageFile};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// Log bytes since the last checkpoint that `close` leaves to be replayed by the next open.
const CLOSE_REPLAY_BYTES: u64 = 1 << 20;

/// Where replay starts: the log position every run of the catalog covers, and the first batch after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ckpt {
    pub(crate) seg: u64,
    pub(crate) page: u64,
    pub(crate) next_batch: u64,
}

/// The mutable state, behind one lock (held briefly: disk reads happen outside it).
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The manifest as last written (its store-wide fields are kept up to date here).
    pub(crate) manifest: Manifest,
    pub(crate) ckpt: Ckpt,
    pub(crate) colls: BTreeMap<u64, Collection>,
    pub(crate) names: HashMap<String, u64>,
    /// Every live segment and the key ids its pages use.
    pub(crate) seg_keys: BTreeMap<u64, BTreeSet<u32>>,
    /// Log bytes written since the checkpoint.
    pub(crate) since_checkpoint: u64,
    /// Of those, the bytes a frozen checkpoint covers (zero when none is in flight).
    pub(crate) since_frozen: u64,
}

impl State {
    pub(crate) fn coll(&self, name: &str) -> Result<&Collection> {
        self.names
            .get(name)
            .and_then(|n| self.colls.get(n))
            .ok_or_else(|| StoreError::NoSuchCollection { name: name.to_owned() })
    }

    /// Bytes held by every collection's buffers.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.colls.values().map(|c| c.lsm.mem_bytes()).sum()
    }

    /// Bytes held by the buffers that take writes (not those a checkpoint is writing out).
    pub(crate) fn live_bytes(&self) -> usize {
        self.colls.values().map(|c| c.lsm.live_bytes()).sum()
    }
}

/// Signals to the background merger and checkpointer.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    /// Merges may be due.
    pub(crate) work: bool,
    /// A checkpoint is due.
    pub(crate) checkpoint: bool,
    pub(crate) stop: bool,
}

/// Running sums behind [`crate::CommitTimes`].
#[derive(Debug, Default)]
pub(crate) struct CommitTimers {
    commits: AtomicU64,
    pack_seal_us: AtomicU64,
    write_wait_us: AtomicU64,
    sync_us: AtomicU64,
    apply_us: AtomicU64,
}

impl CommitTimers {
    /// Adds one commit's steps.
    pub(crate) fn add(
        &self,
        pack_seal: std::time::Duration,
        write_wait: std::time::Duration,
        sync: std::time::Duration,
        apply: std::time::Duration,
    ) {
        let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.pack_seal_us.fetch_add(us(pack_seal), Ordering::Relaxed);
        self.write_wait_us.fetch_add(us(write_wait), Ordering::Relaxed);
        self.sync_us.fetch_add(us(sync), Ordering::Relaxed);
        self.apply_us.fetch_add(us(apply), Ordering::Relaxed);
    }

    /// The sums so far.
    pub(crate) fn get(&self) -> crate::CommitTimes {
        crate::CommitTimes {
            commits: self.commits.load(Ordering::Relaxed),
            pack_seal_us: self.pack_seal_us.load(Ordering::Relaxed),
            write_wait_us: self.write_wait_us.load(Ordering::Relaxed),
            sync_us: self.sync_us.load(Ordering::Relaxed),
            apply_us: self.apply_us.load(Ordering::Relaxed),
        }
    }
}

/// A checkpoint whose buffers are frozen but not yet installed as runs: where the log stood when they were
/// frozen, each collection's document count then, and the log bytes they cover.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) ckpt: Ckpt,
    pub(crate) docs: HashMap<u64, u64>,
    pub(crate) since: u64,
}

/// The store's machinery.
pub(crate) struct Inner {
    pub(crate) cfg: StoreConfig,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) keys: Arc<atrest_keys::Keyring>,
    pub(crate) codec: PageCodec,
    pub(crate) cache: PageCache,
    pub(crate) format: FormatInfo,
    pub(crate) state: RwLock<State>,
    pub(crate) writer: Mutex<LogWriter>,
    pub(crate) queue: Mutex<Queue>,
    pub(crate) queue_cv: Condvar,
    pub(crate) poison: Mutex<Option<String>>,
    /// Held shared by every operation and by merges, exclusively by `rekey` and `reindex`.
    pub(crate) maint: RwLock<()>,
    /// Serializes manifest writes (checkpoints, merges, metadata).
    pub(crate) manifest_lock: Mutex<()>,
    pub(crate) files: Mutex<HashMap<u64, Arc<dyn StorageFile>>>,
    pub(crate) next_file: AtomicU64,
    pub(crate) next_batch: AtomicU64,
    /// The pool of `StoreConfig::threads`, or `None` for rayon's global pool.
    pub(crate) pool: Option<Arc<rayon::ThreadPool>>,
    pub(crate) wake: (Mutex<Wake>, Condvar),
    /// Held by whoever checkpoints (taken with the writer lock held, kept while the runs are written); holds
    /// the frozen checkpoint not yet installed, if any (one whose run writing failed is retried).
    pub(crate) ckpt_lock: Mutex<Option<Frozen>>,
    /// Where the commit leader's time goes.
    pub(crate) commit_times: CommitTimers,
    /// Trees whose last merge failed (a damaged run): not merged again until `reindex`.
    pub(crate) stuck: Mutex<std::collections::HashSet<(u64, crate::index::run::RunKind)>>,
    /// Rollback protection: the store's record in the key service.
    pub(crate) anchor: crate::anchor::Anchor,
    /// The data directory's owner lock, held for the store's life.
    pub(crate) _owner: Box<dyn OwnerLock>,
}

/// An open store. All methods take `&self`; it is `Send + Sync`, and concurrent writers share group commits.
/// The process that opens a store owns its data directory until the store is closed or dropped: a second
/// open, from this process or another, fails with [`StoreError::InUse`].
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    merger: Option<std::thread::JoinHandle<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// The thread that advances the key service's record (see `anchor.rs`), where the store has one.
    anchorer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("store_id", &self.inner.format.store_id_hex()).finish_non_exhaustive()
    }
}

/// A document id with its document.
pub type Document = (String, Vec<u8>);

impl Store {
    /// Wraps opened machinery and starts the background merger, checkpointer and (with rollback protection)
    /// record keeper. A thread that cannot start stops those already started (the store is dropped).
    pub(crate) fn start(inner: Inner) -> Result<Store> {
        let mut store = Store { inner: Arc::new(inner), merger: None, checkpointer: None, anchorer: None };
        store.merger = Some(spawn(&store.inner, "atrest-merge", "the background merger", Inner::merge_loop)?);
        store.checkpointer =
            Some(spawn(&store.inner, "atrest-checkpoint", "the background checkpointer", Inner::checkpoint_loop)?);
        if store.inner.anchor.enabled() {
            store.anchorer = Some(spawn(&store.inner, "atrest-anchor", "the record keeper", Inner::anchor_loop)?);
        }
        Ok(store)
    }

    fn stop_merger(&mut self) {
        {
            let mut w = self.inner.wake.0.lock().unwrap_or_else(|p| p.into_inner());
            w.stop = true;
        }
        self.inner.wake.1.notify_all();
        for h in [self.merger.take(), self.checkpointer.take()].into_iter().flatten() {
            let _ = h.join();
        }
        self.inner.anchor.stop();
        if let Some(h) = self.anchorer.take() {
            let _ = h.join();
        }
    }

    /// The store's format facts (page size, store id).
    pub fn format(&self) -> FormatInfo {
        self.inner.format
    }

    /// The keyring.
    pub fn keys(&self) -> &Arc<atrest_keys::Keyring> {
        &self.inner.keys
    }

    /// Closes the store, releasing the data directory. Everything acknowledged is durable already; a
    /// checkpoint (the buffers become runs) happens first unless little was written since the last one, which
    /// the next open replays in a moment (so a one-document command stays quick). Last, the key service's
    /// record of the store is advanced to it; [`StoreError::RecordNotAdvanced`] if the service does not
    /// answer (the data is durable; the record catches up at the next open).
    pub fn close(mut self) -> Result<()> {
        self.stop_merger();
        let since = self.inner.read_state().since_checkpoint;
        if since > CLOSE_REPLAY_BYTES {
            self.inner.checkpoint()?;
        }
        self.inner.merge_due(true)?;
        self.inner.anchor_close()
    }

    /// What was older than the key service's record and accepted when the store was opened with
    /// [`crate::RollbackCheck::Accept`] (empty if nothing was).
    pub fn accepted_rollback(&self) -> Vec<String> {
        self.inner.anchor.accepted()
    }

    /// Advances the key service's record of the store to it now (the store otherwise does this in the
    /// background after each manifest write and every `anchor_every`, and at close).
    ///
    /// # Errors
    /// [`StoreError::RecordNotAdvanced`] when the key service does not answer.
    pub fn advance_record(&self) -> Result<()> {
        self.inner.anchor_close()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_merger();
    }
}

impl Inner {
    /// Runs `f` in the store's pool. `f` must be work on data it was given: it may take leaf locks (nonce
    /// counters, key caches) but never the writer, state, queue or maintenance lock, nor wait for another
    /// caller. Threads holding those locks wait for the pool (sealing a checkpoint's runs under the writer
    /// lock, verify's page opens), so a pool thread waiting for such a lock could leave no thread to do that
    /// work. So commits, checkpoints and recovery run on their caller's thread and send only sealing, opening
    /// and document checks here (see `PageCodec`).
    pub(crate) fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    pub(crate) fn alloc_file_id(&self) -> u64 {
        self.next_file.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_writer(&self) -> std::sync::MutexGuard<'_, LogWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn maint_shared(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.maint.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn maint_exclusive(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.maint.write().unwrap_or_else(|p| p.into_inner())
    }

    /// What reading a collection's runs needs.
    pub(crate) fn ctx<'a>(&'a self, coll: Option<&'a str>) -> Ctx<'a> {
        Ctx { codec: &self.codec, cache: &self.cache, storage: &*self.storage, coll }
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        match &*self.poison.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(cause) => Err(StoreError::Poisoned { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    /// Poisons the store with `cause` (the first cause wins).
    pub(crate) fn set_poison(&self, cause: String) {
        self.poison.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(cause);
    }

    /// Poisons the store if `r` is an I/O failure: the disk may now differ from what the store believes.
    pub(crate) fn poison_on_err<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e @ StoreError::Io { .. }) = &r {
            self.set_poison(e.to_string());
        }
        r
    }

    /// An open handle of segment `seg`.
    pub(crate) fn file(&self, seg: u64) -> Result<Arc<dyn StorageFile>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = files.get(&seg) {
            return Ok(f.clone());
        }
        let name = seg_name(seg);
        let f: Arc<dyn StorageFile> = Arc::from(
            self.storage.open(&name, false).map_err(StoreError::io("opening", self.storage.describe(&name)))?,
        );
        files.insert(seg, f.clone());
        Ok(f)
    }

    /// Asks the background checkpointer to checkpoint.
    pub(crate) fn wake_checkpointer(&self) {
        self.wake.0.lock().unwrap_or_else(|p| p.into_inner()).checkpoint = true;
        self.wake.1.notify_all();
    }

    /// Asks the background merger to look for work.
    pub(crate) fn wake_merger(&self) {
        self.wake.0.lock().unwrap_or_else(|p| p.into_inner()).work = true;
        self.wake.1.notify_all();
    }
}

/// Starts a background thread named `name` running `body` on the store's machinery; `what` names it in the
/// error if it cannot start.
fn spawn(inner: &Arc<Inner>, name: &str, what: &str, body: fn(&Inner)) -> Result<std::thread::JoinHandle<()>> {
    let worker = inner.clone();
    std::thread::Builder::new().name(name.into()).spawn(move || body(&worker)).map_err(|e| StoreError::Io {
        op: "starting",
        file: what.into(),
        source: e,
    })
}
