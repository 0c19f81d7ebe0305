//! Creating and opening a store: take the owner lock, read the format file and the manifest (not the
//! index: runs are opened when first used), migrate a format-version-1 store, then replay the log written
//! after the checkpoint, batch by batch, into the collections' buffers. The first page that is missing,
//! torn or does not authenticate ends the log, unless a later page proves its batch had been made durable
//! (then the damage is in the middle of the log and the store refuses to open rather than drop acknowledged
//! writes). The incomplete tail is truncated before any new write. Only the owner of the lock ever
//! truncates, removes or writes a file.

use crate::apply::{CollInfo, Target};
use crate::collection::{Collection, Lsm};
use crate::commit::{Applied, Mode};
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::files::{FORMAT_FILE, FileKind, classify, seg_name};
use crate::index::cache::PageCache;
use crate::index::reader::Run;
use crate::log::record::{Loc, Record, split_records};
use crate::log::scan::{ScanEnd, Scanned, scan_segment};
use crate::log::writer::LogWriter;
use crate::manifest::{FormatInfo, Manifest, STORE_FORMAT_VERSION, SegmentMeta, integrity};
use crate::pages::{BATCH_END, CONTINUES, PageCodec};
use crate::storage::{LockAttempt, OwnerLock, Storage, read_exact_at};
use crate::store::{Ckpt, Inner, State, Store};
use atrest_core::page::PageKind;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// Takes the data directory's owner lock, or says who holds it.
fn take_lock(cfg: &StoreConfig) -> Result<Box<dyn OwnerLock>> {
    let storage = &*cfg.storage;
    let holder = format!("pid {}: {}", std::process::id(), cfg.owner);
    match storage.try_lock(&holder).map_err(StoreError::io("locking", storage.describe(crate::files::LOCK_FILE)))? {
        LockAttempt::Acquired(lock) => Ok(lock),
        LockAttempt::Held(holder) => {
            Err(StoreError::InUse { dir: storage.describe("").trim_end_matches('/').to_owned(), holder })
        }
    }
}

fn new_pool(threads: usize) -> Result<Option<Arc<rayon::ThreadPool>>> {
    match threads {
        0 => Ok(None),
        n => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|p| Some(Arc::new(p)))
            .map_err(|e| StoreError::Config(format!("thread pool: {e}"))),
    }
}

impl Store {
    /// Creates a new, empty store. Fails if one exists there, or if another process holds the directory.
    pub fn create(cfg: StoreConfig) -> Result<Store> {
        cfg.check()?;
        let lock = take_lock(&cfg)?;
        let storage = cfg.storage.clone();
        let desc = storage.describe("");
        if storage.exists(FORMAT_FILE).map_err(StoreError::io("checking", storage.describe(FORMAT_FILE)))? {
            return Err(StoreError::AlreadyExists { dir: desc });
        }
        let store_id = match cfg.store_id {
            Some(id) => id,
            None => {
                let mut id = [0u8; 16];
                getrandom::fill(&mut id).map_err(|e| atrest_keys::KeyError::Random(e.to_string()))?;
                id
            }
        };
        let format = FormatInfo { version: STORE_FORMAT_VERSION, page_size: cfg.page_size, store_id };
        let codec = PageCodec::new(cfg.page_size, store_id, cfg.keys.clone(), None);
        let first_seg = 1;
        let io = |op, f: &str| StoreError::io(op, storage.describe(f));
        let seg = storage.open(&seg_name(first_seg), true).map_err(io("creating", &seg_name(first_seg)))?;
        seg.sync_data().map_err(io("syncing", &seg_name(first_seg)))?;
        cfg.keys.active_key(crate::keys::KeyScope::Store)?;
        let manifest = Manifest {
            generation: 1,
            next_file: 2,
            next_coll: 1,
            next_batch: 1,
            ckpt_seg: first_seg,
            ckpt_page: 0,
            segments: vec![SegmentMeta { id: first_seg, keys: BTreeSet::new() }],
            rotated_at: cfg.clock.now_unix(),
            ..Manifest::default()
        };
        manifest.store(&*storage, &codec)?;
        // The format file goes last: a directory without it is not a store, so a crash above leaves no
        // half-made store behind.
        let f = storage.open(FORMAT_FILE, true).map_err(io("creating", FORMAT_FILE))?;
        f.write_at(&format.encode(), 0).map_err(io("writing", FORMAT_FILE))?;
        f.sync_data().map_err(io("syncing", FORMAT_FILE))?;
        storage.sync_dir().map_err(io("syncing directory of", FORMAT_FILE))?;
        Store::open_locked(cfg, lock, true)
    }

    /// Reads a store's plaintext format file.
    pub fn read_format(storage: &dyn Storage) -> Result<FormatInfo> {
        let f = match storage.open(FORMAT_FILE, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotAStore { dir: storage.describe(""), file: FORMAT_FILE });
            }
            Err(e) => return Err(StoreError::io("opening", storage.describe(FORMAT_FILE))(e)),
        };
        let mut b = vec![0u8; 64];
        let n = read_exact_at(&*f, &mut b, 0).map_err(StoreError::io("reading", storage.describe(FORMAT_FILE)))?;
        FormatInfo::decode(&b[..n], &storage.describe(FORMAT_FILE))
    }

    /// Opens an existing store, recovering from a crash if needed (and migrating a format-version-1 store,
    /// with `progress(done, total)` counting its documents). Fails at once with [`StoreError::InUse`],
    /// changing nothing, if another process (or another open in this one) owns the directory.
    pub fn open(cfg: StoreConfig) -> Result<Store> {
        Store::open_with_progress(cfg, &mut |_, _| {})
    }

    /// [`Store::open`] with progress of a migration.
    pub fn open_with_progress(cfg: StoreConfig, progress: &mut dyn FnMut(u64, u64)) -> Result<Store> {
        cfg.check()?;
        let lock = take_lock(&cfg)?;
        let format = Store::read_format(&*cfg.storage)?;
        if format.version < STORE_FORMAT_VERSION {
            crate::migrate::migrate_v1(&cfg, &format, progress)?;
        }
        Store::open_locked(cfg, lock, false)
    }

    fn open_locked(cfg: StoreConfig, lock: Box<dyn OwnerLock>, fresh: bool) -> Result<Store> {
        let storage = cfg.storage.clone();
        let keys = cfg.keys.clone();
        let format = Store::read_format(&*storage)?;
        let pool = new_pool(cfg.threads)?;
        let codec = PageCodec::new(format.page_size, format.store_id, cfg.keys.clone(), pool.clone());
        let manifest = Manifest::load(&*storage, &codec)?;
        let mut state = State::default();
        for e in &manifest.catalog {
            let mut lsm = Lsm::default();
            for r in &e.runs {
                let run = Run::new(*r, storage.clone());
                match r.kind {
                    crate::index::run::RunKind::Ids => lsm.ids.runs.push(run),
                    crate::index::run::RunKind::Index => lsm.index.runs.push(run),
                }
            }
            let c = Collection {
                number: e.number,
                name: e.name.clone(),
                policy: e.policy.clone(),
                hash_key: e.hash_key,
                docs: e.docs,
                ckpt_docs: e.docs,
                lsm,
            };
            state.names.insert(c.name.clone(), c.number);
            state.colls.insert(c.number, c);
        }
        for s in &manifest.segments {
            state.seg_keys.insert(s.id, s.keys.clone());
        }
        state.ckpt = Ckpt { seg: manifest.ckpt_seg, page: manifest.ckpt_page, next_batch: manifest.next_batch };
        let page = format.page_size.bytes() as u64;
        let placeholder = storage.open(&seg_name(manifest.ckpt_seg), false).map_err(|e| {
            integrity(None, &*storage, &seg_name(manifest.ckpt_seg), 0, format!("segment named by the manifest: {e}"))
        })?;
        let inner = Inner {
            writer: Mutex::new(LogWriter {
                seg: manifest.ckpt_seg,
                file: Arc::from(placeholder),
                next_page: manifest.ckpt_page,
                max_pages: (cfg.segment_bytes / page).max(4),
                appended: manifest.next_batch.saturating_sub(1),
                synced: manifest.next_batch.saturating_sub(1),
                spare: Vec::new(),
                pipe: None,
            }),
            next_file: AtomicU64::new(manifest.next_file),
            next_batch: AtomicU64::new(manifest.next_batch),
            state: RwLock::new(State { manifest, ..state }),
            cache: PageCache::new(cfg.cache_bytes),
            cfg,
            storage,
            keys,
            codec,
            format,
            queue: Mutex::new(Default::default()),
            queue_cv: Condvar::new(),
            poison: Mutex::new(None),
            maint: RwLock::new(()),
            manifest_lock: Mutex::new(()),
            files: Mutex::new(HashMap::new()),
            pool,
            wake: Default::default(),
            ckpt_lock: Mutex::default(),
            commit_times: Default::default(),
            stuck: Mutex::default(),
            anchor: crate::anchor::Anchor::new(),
            _owner: lock,
        };
        // Before replay removes or truncates anything: a rolled-back directory is refused unchanged.
        inner.check_record(fresh)?;
        // On this thread, not in the pool: replay takes the writer lock (see `Inner::in_pool`).
        inner.replay()?;
        inner.anchor_opened()?;
        let store = Store::start(inner)?;
        store.inner.wake_merger();
        Ok(store)
    }
}

/// A complete batch found by [`Inner::walk_log`]: its records with their locations, and the keys its pages
/// use.
pub(crate) struct Batch {
    pub(crate) seg: u64,
    pub(crate) records: Vec<(Loc, Record)>,
    pub(crate) keys: Vec<u32>,
}

/// Where a walk of the log ended.
pub(crate) struct WalkEnd {
    /// The last complete batch's number.
    pub(crate) last_seq: u64,
    /// The position after the last complete batch.
    pub(crate) committed: (u64, u64),
    /// The first page that ended the log early (segment, page), if any.
    pub(crate) tail: Option<(u64, u64)>,
}

/// Walk progress.
struct Walk {
    last_seq: u64,
    committed: (u64, u64),
    cur: Option<u64>,
    records: Vec<(Loc, Record)>,
    keys: Vec<u32>,
    stream: Vec<u8>,
    stream_first: u64,
}

impl Inner {
    /// Walks the log from `start` over segments `segs` (ascending), handing each complete batch (numbers
    /// above `last_seq`, increasing) to `on_batch`; stops at the first page that is bad or out of sequence.
    pub(crate) fn walk_log(
        &self,
        segs: &[u64],
        start: (u64, u64),
        last_seq: u64,
        on_batch: &mut dyn FnMut(Batch) -> Result<()>,
    ) -> Result<WalkEnd> {
        let mut w = Walk {
            last_seq,
            committed: start,
            cur: None,
            records: Vec::new(),
            keys: Vec::new(),
            stream: Vec::new(),
            stream_first: 0,
        };
        for &seg in segs.iter().filter(|&&s| s >= start.0) {
            let first = if seg == start.0 { start.1 } else { 0 };
            let mut failed: Option<StoreError> = None;
            let end = scan_segment(&*self.storage, &self.codec, seg, first, &mut |p| match self
                .walk_page(seg, p, &mut w, on_batch)
            {
                Ok(go) => Ok(go),
                Err(e) => {
                    failed = Some(e);
                    Ok(false)
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            match end {
                ScanEnd::Stopped(no) | ScanEnd::PartialPage(no) => {
                    return Ok(WalkEnd { last_seq: w.last_seq, committed: w.committed, tail: Some((seg, no)) });
                }
                // A batch never spans segments: one that runs off the end of its segment is torn.
                ScanEnd::Complete if w.cur.is_some() => {
                    return Ok(WalkEnd { last_seq: w.last_seq, committed: w.committed, tail: Some((seg, u64::MAX)) });
                }
                ScanEnd::Complete => {}
            }
        }
        Ok(WalkEnd { last_seq: w.last_seq, committed: w.committed, tail: None })
    }

    /// One page of a walk; `false` ends the log there.
    fn walk_page(
        &self,
        seg: u64,
        p: Scanned<'_>,
        w: &mut Walk,
        on_batch: &mut dyn FnMut(Batch) -> Result<()>,
    ) -> Result<bool> {
        let Scanned::Page { no, key_id, head, payload } = p else { return Ok(false) };
        match w.cur {
            None if head.batch > w.last_seq => w.cur = Some(head.batch),
            Some(s) if s == head.batch => {}
            _ => return Ok(false),
        }
        w.keys.push(key_id);
        match head.kind {
            PageKind::Data => {
                if w.stream.is_empty() {
                    w.stream_first = no;
                }
                w.stream.extend_from_slice(payload);
                if head.flags & CONTINUES == 0 {
                    self.parse_stream(seg, w)?;
                }
            }
            PageKind::Attachment if head.flags & CONTINUES == 0 && w.stream.is_empty() => {}
            _ => return Ok(false),
        }
        if head.flags & BATCH_END != 0 {
            if !w.stream.is_empty() {
                return Ok(false);
            }
            on_batch(Batch { seg, records: std::mem::take(&mut w.records), keys: std::mem::take(&mut w.keys) })?;
            w.last_seq = head.batch;
            w.cur = None;
            w.committed = (seg, no + 1);
        }
        Ok(true)
    }

    /// Decodes a finished payload stream into records of the current batch.
    fn parse_stream(&self, seg: u64, w: &mut Walk) -> Result<()> {
        let stream = std::mem::take(&mut w.stream);
        let recs = self.stream_records(seg, w.stream_first, &stream)?;
        w.records.extend(recs);
        Ok(())
    }

    /// The records of a payload stream that starts at page `first` of segment `seg`, with their locations.
    pub(crate) fn stream_records(&self, seg: u64, first: u64, stream: &[u8]) -> Result<Vec<(Loc, Record)>> {
        let cap = self.codec.payload_cap();
        let size = self.codec.size.bytes() as u64;
        let name = seg_name(seg);
        let mut out = Vec::new();
        for r in split_records(stream) {
            let (o, body) = r.map_err(|(o, d)| {
                integrity(None, &*self.storage, &name, (first + (o / cap) as u64) * size, d.into())
            })?;
            let page = first + (o / cap) as u64;
            let rec =
                Record::decode(body).map_err(|e| integrity(None, &*self.storage, &name, page * size, e.to_string()))?;
            out.push((Loc { seg, page, offset: (o % cap) as u32, len: (body.len() + 4) as u32 }, rec));
        }
        Ok(out)
    }

    /// Computes the index hashes of a batch's puts (in the pool) and applies the batch to `target`'s trees.
    pub(crate) fn apply_records(
        &self,
        records: Vec<(Loc, Record)>,
        target: &Target<'_>,
        infos: &HashMap<u64, CollInfo>,
    ) -> Result<std::collections::BTreeMap<u64, crate::apply::Changes>> {
        use rayon::prelude::*;
        let applied = self.in_pool(|| {
            records
                .into_par_iter()
                .map(|(loc, rec)| {
                    let hashes = match (&rec, infos.get(&rec.coll())) {
                        (Record::Put { doc, .. }, Some(info)) => info.hashes_of(doc),
                        _ => Vec::new(),
                    };
                    Ok(Applied { loc, rec, hashes, mode: Mode::Normal })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        self.plan_changes(applied, target, true)
    }

    /// The facts of every live collection.
    pub(crate) fn all_infos(&self) -> HashMap<u64, CollInfo> {
        self.read_state()
            .colls
            .values()
            .map(|c| (c.number, CollInfo { name: c.name.clone(), policy: c.policy.clone(), hash_key: c.hash_key }))
            .collect()
    }

    /// Removes files nobody names, replays the log after the checkpoint and truncates its incomplete tail.
    fn replay(&self) -> Result<()> {
        let storage = &*self.storage;
        let names = storage.list().map_err(StoreError::io("listing", storage.describe("")))?;
        let (ckpt, listed, runs): (Ckpt, BTreeSet<u64>, BTreeSet<u64>) = {
            let s = self.read_state();
            let runs = s.colls.values().flat_map(|c| c.lsm.all_runs().map(|r| r.meta.id)).collect();
            (s.ckpt, s.manifest.segments.iter().map(|x| x.id).collect(), runs)
        };
        let mut segs = Vec::new();
        let mut max_file = 0;
        let io = |op, n: &str| StoreError::io(op, storage.describe(n));
        for n in &names {
            match classify(n) {
                FileKind::Segment(id) => {
                    max_file = max_file.max(id);
                    if id >= ckpt.seg {
                        segs.push(id);
                    } else if !listed.contains(&id) {
                        // Left over from a rekey interrupted after its manifest was written.
                        storage.remove(n).map_err(io("removing", n))?;
                    }
                }
                FileKind::Run(id) => {
                    max_file = max_file.max(id);
                    if !runs.contains(&id) {
                        // A checkpoint or merge interrupted before its manifest, or a run retired by one.
                        storage.remove(n).map_err(io("removing", n))?;
                    }
                }
                FileKind::V1Index(_) | FileKind::ManifestTmp => storage.remove(n).map_err(io("removing", n))?,
                _ => {}
            }
        }
        segs.sort_unstable();
        self.next_file.fetch_max(max_file + 1, std::sync::atomic::Ordering::Relaxed);
        let infos = self.all_infos();
        let end = self.walk_log(&segs, (ckpt.seg, ckpt.page), ckpt.next_batch.saturating_sub(1), &mut |b| {
            let changes = self.apply_records(b.records, &Target::Live, &infos)?;
            let mut s = self.write_state();
            s.seg_keys.entry(b.seg).or_default().extend(b.keys);
            for (n, ch) in changes {
                if let Some(c) = s.colls.get_mut(&n) {
                    ch.apply_to(&mut c.lsm, &mut c.docs);
                }
            }
            Ok(())
        })?;
        if let Some((seg, page)) = end.tail {
            self.probe_after_tail(&segs, (seg, page), end.last_seq + 1)?;
        }
        self.check_durable(end.last_seq)?;
        // Truncate to the end of the last complete batch and drop later segments.
        let (cseg, cpage) = end.committed;
        let size = self.codec.size.bytes() as u64;
        let mut writer = self.lock_writer();
        let mut removed = false;
        for &seg in segs.iter().filter(|&&s| s > cseg) {
            storage.remove(&seg_name(seg)).map_err(io("removing", &seg_name(seg)))?;
            removed = true;
        }
        let name = seg_name(cseg);
        let file: Arc<dyn crate::storage::StorageFile> =
            Arc::from(storage.open_log(&name, false).map_err(io("opening", &name))?);
        if file.len().map_err(io("reading length of", &name))? != cpage * size {
            file.set_len(cpage * size).map_err(io("truncating", &name))?;
            file.sync_data().map_err(io("syncing", &name))?;
        }
        if removed {
            storage.sync_dir().map_err(io("syncing directory of", &name))?;
        }
        writer.seg = cseg;
        writer.file = file.clone();
        writer.next_page = cpage;
        writer.appended = end.last_seq;
        writer.synced = end.last_seq;
        self.next_batch.store(end.last_seq + 1, std::sync::atomic::Ordering::Relaxed);
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(cseg, file);
        let mut s = self.write_state();
        for seg in segs.iter().filter(|&&s| s <= cseg) {
            s.seg_keys.entry(*seg).or_default();
        }
        Ok(())
    }

    /// After the log ended at `tail`, checks that no later page claims the damaged batch was durable.
    fn probe_after_tail(&self, segs: &[u64], tail: (u64, u64), damaged: u64) -> Result<()> {
        let size = self.codec.size.bytes() as u64;
        for &seg in segs.iter().filter(|&&s| s >= tail.0) {
            let from = if seg == tail.0 { tail.1.saturating_add(1) } else { 0 };
            let mut proof = false;
            scan_segment(&*self.storage, &self.codec, seg, from, &mut |p| {
                if let Scanned::Page { head, .. } = p
                    && head.synced >= damaged
                {
                    proof = true;
                    return Ok(false);
                }
                Ok(true)
            })?;
            if proof {
                return Err(integrity(
                    None,
                    &*self.storage,
                    &seg_name(tail.0),
                    tail.1.saturating_mul(size),
                    format!(
                        "damaged page in the middle of the log (batch {damaged} was durable); refusing to truncate"
                    ),
                ));
            }
        }
        Ok(())
    }
}
