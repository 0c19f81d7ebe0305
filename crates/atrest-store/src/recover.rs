//! Creating and opening a store, and recovery: load the checkpoint (manifest, catalog, index files), then
//! replay the log written after it, batch by batch. The first page that is missing, torn or does not
//! authenticate ends the log, unless a later page proves its batch had been made durable (then the damage is
//! in the middle of the log and the store refuses to open rather than drop acknowledged writes). The
//! incomplete tail is truncated before any new write.

use crate::commit::apply;
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::index::Collection;
use crate::json;
use crate::keys::KeyScope;
use crate::log::{LogWriter, seg_name};
use crate::manifest::{
    FORMAT_FILE, FormatInfo, Manifest, STORE_FORMAT_VERSION, SegmentMeta, idx_name, integrity, read_stream,
};
use crate::pages::{BATCH_END, BODY_HEADER, BodyHeader, CONTINUES, PageCodec};
use crate::record::{Loc, Record};
use crate::storage::{Storage, read_exact_at};
use crate::store::{State, Store};
use atrest_core::page::PageKind;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// Pages read and opened per I/O during replay and verify.
pub(crate) const SCAN_PAGES: usize = 256;

fn parse_id(name: &str, prefix: &str) -> Option<u64> {
    let hex = name.strip_prefix(prefix)?.strip_suffix(".atr")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

impl Store {
    /// Creates a new, empty store. Fails if one exists there.
    pub fn create(cfg: StoreConfig) -> Result<Store> {
        cfg.check()?;
        let storage = cfg.storage.clone();
        let desc = storage.describe("");
        if storage.exists(FORMAT_FILE).map_err(StoreError::io("checking", storage.describe(FORMAT_FILE)))? {
            return Err(StoreError::AlreadyExists { dir: desc });
        }
        let store_id = match cfg.store_id {
            Some(id) => id,
            None => {
                let mut id = [0u8; 16];
                getrandom::fill(&mut id).map_err(|e| StoreError::Keys(format!("OS RNG: {e}")))?;
                id
            }
        };
        let format = FormatInfo { version: STORE_FORMAT_VERSION, page_size: cfg.page_size, store_id };
        let codec = PageCodec::new(cfg.page_size, store_id, cfg.keys.clone(), None);
        let first_seg = 1;
        let io = |op, f: &str| StoreError::io(op, storage.describe(f));
        let seg = storage.open(&seg_name(first_seg), true).map_err(io("creating", &seg_name(first_seg)))?;
        seg.sync_data().map_err(io("syncing", &seg_name(first_seg)))?;
        cfg.keys.active(KeyScope::Store)?;
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
        Store::open(cfg)
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

    /// Opens an existing store, recovering from a crash if needed.
    pub fn open(cfg: StoreConfig) -> Result<Store> {
        cfg.check()?;
        let storage = cfg.storage.clone();
        let keys = cfg.keys.clone();
        let format = Store::read_format(&*storage)?;
        let pool = match cfg.threads {
            0 => None,
            n => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map(Arc::new)
                    .map_err(|e| StoreError::Config(format!("thread pool: {e}")))?,
            ),
        };
        let codec = PageCodec::new(format.page_size, format.store_id, cfg.keys.clone(), pool.clone());
        let manifest = Manifest::load(&*storage, &codec)?;
        let mut state = State::default();
        for entry in &manifest.catalog {
            let mut c = Collection::new(entry.number, entry.name.clone(), entry.policy.clone());
            if entry.index_file != 0 {
                let name = idx_name(entry.index_file);
                let (buf, _) =
                    read_stream(&*storage, &codec, &name, entry.index_file, 0, PageKind::Index, Some(&entry.name))?;
                c.decode_into(&buf).map_err(|e| integrity(Some(&entry.name), &*storage, &name, 0, e.to_string()))?;
            }
            c.dirty = false;
            c.index_file = entry.index_file;
            c.index_pages = entry.index_pages;
            state.names.insert(c.name.clone(), c.number);
            state.colls.insert(c.number, c);
        }
        for s in &manifest.segments {
            state.seg_keys.insert(s.id, s.keys.clone());
        }
        let page = format.page_size.bytes() as u64;
        let placeholder = storage.open(&seg_name(manifest.ckpt_seg), false).map_err(|e| {
            integrity(None, &*storage, &seg_name(manifest.ckpt_seg), 0, format!("segment named by the manifest: {e}"))
        })?;
        let store = Store {
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
            cfg,
            storage,
            keys,
            codec,
            format,
            queue: Mutex::new(Default::default()),
            queue_cv: Condvar::new(),
            poison: Mutex::new(None),
            maint: RwLock::new(()),
            files: Mutex::new(HashMap::new()),
            pool,
        };
        // On this thread, not in the pool: replay takes the writer lock (see `Store::in_pool`).
        store.replay()?;
        Ok(store)
    }

    /// Replays the log after the checkpoint and truncates its incomplete tail.
    fn replay(&self) -> Result<()> {
        let storage = &*self.storage;
        let names = storage.list().map_err(StoreError::io("listing", storage.describe("")))?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let (ckpt_seg, ckpt_page) = (state.manifest.ckpt_seg, state.manifest.ckpt_page);
        let listed: BTreeSet<u64> = state.manifest.segments.iter().map(|s| s.id).collect();
        let referenced_idx: BTreeSet<u64> = state.colls.values().map(|c| c.index_file).collect();
        let mut segs = Vec::new();
        let mut max_file = 0;
        for n in &names {
            if let Some(id) = parse_id(n, "seg-") {
                max_file = max_file.max(id);
                if id >= ckpt_seg {
                    segs.push(id);
                } else if !listed.contains(&id) {
                    // Left over from a rewrite that was interrupted after its manifest was written.
                    storage.remove(n).map_err(StoreError::io("removing", storage.describe(n)))?;
                }
            } else if let Some(id) = parse_id(n, "idx-") {
                max_file = max_file.max(id);
                if !referenced_idx.contains(&id) {
                    storage.remove(n).map_err(StoreError::io("removing", storage.describe(n)))?;
                }
            }
        }
        segs.sort_unstable();
        self.next_file.fetch_max(max_file + 1, std::sync::atomic::Ordering::Relaxed);
        let mut scan = Scan {
            last_seq: state.manifest.next_batch.saturating_sub(1),
            committed: (ckpt_seg, ckpt_page),
            pending: Vec::new(),
            stream: Vec::new(),
            stream_first: 0,
            batch_keys: Vec::new(),
            cur_seq: None,
        };
        let mut tail: Option<(u64, u64)> = None;
        for &seg in &segs {
            if let Some((tseg, tpage)) = tail {
                self.probe_after_tail(seg, 0, &scan, (tseg, tpage))?;
                continue;
            }
            let start = if seg == ckpt_seg { ckpt_page } else { 0 };
            if let Some(bad) = self.scan_segment(seg, start, &mut scan, &mut state)? {
                tail = Some((seg, bad));
                self.probe_after_tail(seg, bad + 1, &scan, (seg, bad))?;
            } else if scan.cur_seq.is_some() {
                // A batch never spans segments: one that runs off the end of its segment is torn.
                tail = Some((seg, u64::MAX));
            }
        }
        // Truncate to the end of the last complete batch and drop later segments.
        let (cseg, cpage) = scan.committed;
        let page = self.codec.size.bytes() as u64;
        let io = |op, n: &str| StoreError::io(op, storage.describe(n));
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = false;
        for &seg in segs.iter().filter(|&&s| s > cseg) {
            storage.remove(&seg_name(seg)).map_err(io("removing", &seg_name(seg)))?;
            removed = true;
        }
        let name = seg_name(cseg);
        let file: Arc<dyn crate::storage::StorageFile> =
            Arc::from(storage.open_log(&name, false).map_err(io("opening", &name))?);
        if file.len().map_err(io("reading length of", &name))? != cpage * page {
            file.set_len(cpage * page).map_err(io("truncating", &name))?;
            file.sync_data().map_err(io("syncing", &name))?;
        }
        if removed {
            storage.sync_dir().map_err(io("syncing directory of", &name))?;
        }
        writer.seg = cseg;
        writer.file = file.clone();
        writer.next_page = cpage;
        writer.appended = scan.last_seq;
        writer.synced = scan.last_seq;
        self.next_batch.store(scan.last_seq + 1, std::sync::atomic::Ordering::Relaxed);
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(cseg, file);
        for s in segs.iter().filter(|&&s| s <= cseg) {
            state.seg_keys.entry(*s).or_default();
        }
        Ok(())
    }

    /// Scans one segment from `start`, applying complete batches. Returns the first bad page, if any.
    fn scan_segment(&self, seg: u64, start: u64, scan: &mut Scan, state: &mut State) -> Result<Option<u64>> {
        let storage = &*self.storage;
        let name = seg_name(seg);
        let file = storage.open(&name, false).map_err(StoreError::io("opening", storage.describe(&name)))?;
        let size = self.codec.size.bytes();
        let len = file.len().map_err(StoreError::io("reading length of", storage.describe(&name)))?;
        let pages = len / size as u64;
        let mut no = start;
        let mut buf = vec![0u8; SCAN_PAGES * size];
        while no < pages {
            let n = ((pages - no) as usize).min(SCAN_PAGES);
            let chunk = &mut buf[..n * size];
            let got = read_exact_at(&*file, chunk, no * size as u64)
                .map_err(StoreError::io("reading", storage.describe(&name)))?;
            let results = self.codec.open_run(seg, no, &mut chunk[..got / size * size]);
            for (i, r) in results.into_iter().enumerate() {
                let page_no = no + i as u64;
                let Ok((kind, key)) = r else { return Ok(Some(page_no)) };
                let body = &chunk[i * size..(i + 1) * size][self.codec.size.body_range()];
                let Ok(h) = BodyHeader::read(body) else { return Ok(Some(page_no)) };
                match scan.cur_seq {
                    None if h.batch > scan.last_seq => scan.cur_seq = Some(h.batch),
                    Some(s) if s == h.batch => {}
                    _ => return Ok(Some(page_no)),
                }
                scan.batch_keys.push(key);
                match kind {
                    PageKind::Data => {
                        if scan.stream.is_empty() {
                            scan.stream_first = page_no;
                        }
                        scan.stream.extend_from_slice(&body[BODY_HEADER..BODY_HEADER + h.used]);
                        if h.flags & CONTINUES == 0 {
                            self.parse_stream(seg, scan, state, &name)?;
                        }
                    }
                    PageKind::Attachment if h.flags & CONTINUES == 0 && scan.stream.is_empty() => {}
                    _ => return Ok(Some(page_no)),
                }
                if h.flags & BATCH_END != 0 {
                    if !scan.stream.is_empty() {
                        return Ok(Some(page_no));
                    }
                    for (loc, rec, keys) in scan.pending.drain(..) {
                        apply(state, loc, rec, keys);
                    }
                    let keys = state.seg_keys.entry(seg).or_default();
                    keys.extend(scan.batch_keys.drain(..));
                    scan.last_seq = h.batch;
                    scan.cur_seq = None;
                    scan.committed = (seg, page_no + 1);
                }
            }
            if got < n * size {
                return Ok(Some(no + (got / size) as u64));
            }
            no += n as u64;
        }
        if len % size as u64 != 0 {
            return Ok(Some(pages));
        }
        Ok(None)
    }

    /// Decodes the finished payload stream into pending records of the current batch.
    fn parse_stream(&self, seg: u64, scan: &mut Scan, state: &State, name: &str) -> Result<()> {
        let cap = self.codec.payload_cap();
        let stream = std::mem::take(&mut scan.stream);
        let mut o = 0;
        let size = self.codec.size.bytes() as u64;
        while o < stream.len() {
            let page = scan.stream_first + (o / cap) as u64;
            let fail = |d: String| integrity(None, &*self.storage, name, page * size, d);
            let Some(lb) = stream.get(o..o + 4) else { return Err(fail("truncated record length".into())) };
            let len = u32::from_le_bytes([lb[0], lb[1], lb[2], lb[3]]) as usize;
            let Some(body) = stream.get(o + 4..o + 4 + len) else {
                return Err(fail("record overruns its stream".into()));
            };
            let rec = Record::decode(body).map_err(|e| fail(e.to_string()))?;
            let keys = match (&rec, state.colls.get(&rec.coll())) {
                (Record::Put { doc, .. }, Some(c)) => json::parse_document(
                    doc,
                    &json::Limits { max_id_len: usize::MAX, max_doc_len: usize::MAX },
                    &c.policy,
                )
                .map_err(|e| fail(format!("stored document: {e}")))?,
                _ => Vec::new(),
            };
            let loc = Loc { seg, page, offset: (o % cap) as u32, len: (len + 4) as u32 };
            scan.pending.push((loc, rec, keys));
            o += 4 + len;
        }
        Ok(())
    }

    /// After the log ended at `tail`, checks that no later page claims the damaged batch was durable.
    fn probe_after_tail(&self, seg: u64, from: u64, scan: &Scan, tail: (u64, u64)) -> Result<()> {
        let damaged = scan.cur_seq.unwrap_or(scan.last_seq + 1);
        let storage = &*self.storage;
        let name = seg_name(seg);
        let file = storage.open(&name, false).map_err(StoreError::io("opening", storage.describe(&name)))?;
        let size = self.codec.size.bytes();
        let pages = file.len().map_err(StoreError::io("reading length of", storage.describe(&name)))? / size as u64;
        let mut page = vec![0u8; size];
        for no in from..pages {
            if read_exact_at(&*file, &mut page, no * size as u64).ok() != Some(size) {
                break;
            }
            if self.codec.open(seg, no, &mut page).is_ok()
                && let Ok(h) = BodyHeader::read(&page[self.codec.size.body_range()])
                && h.synced >= damaged
            {
                let (tseg, tpage) = tail;
                return Err(integrity(
                    None,
                    storage,
                    &seg_name(tseg),
                    tpage.saturating_mul(size as u64),
                    format!(
                        "damaged page in the middle of the log (batch {damaged} was durable); refusing to truncate"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Replay progress.
struct Scan {
    last_seq: u64,
    committed: (u64, u64),
    pending: Vec<(Loc, Record, Vec<json::IndexKey>)>,
    stream: Vec<u8>,
    stream_first: u64,
    batch_keys: Vec<u32>,
    cur_seq: Option<u64>,
}
