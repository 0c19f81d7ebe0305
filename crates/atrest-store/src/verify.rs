//! `verify`: open every page of every file the manifest names, decode the catalog and every index, and list
//! each failure with its file and offset. Pages under a destroyed key of a dropped collection are counted as
//! shredded, not as failures.

use crate::error::{Result, StoreError};
use crate::log::seg_name;
use crate::manifest::{MANIFEST_FILE, Manifest, idx_name, read_stream};
use crate::recover::SCAN_PAGES;
use crate::storage::read_exact_at;
use crate::store::Store;
use atrest_core::page::{PageHeader, PageKind};

/// One page or structure that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The file.
    pub file: String,
    /// Byte offset of the page.
    pub offset: u64,
    /// What failed.
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Pages that opened.
    pub pages_ok: u64,
    /// Pages sealed under destroyed keys of dropped collections.
    pub pages_shredded: u64,
    /// Everything that failed.
    pub failures: Vec<VerifyFailure>,
}

impl VerifyReport {
    /// Whether nothing failed.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Store {
    /// Verifies every page; `progress(done, total)` counts pages. Writes wait while it runs.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
        let _m = self.maint_shared();
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let storage = &*self.storage;
        let size = self.codec.size.bytes() as u64;
        let mut report = VerifyReport::default();
        let fail = |r: &mut VerifyReport, e: StoreError| {
            let (file, offset, detail) = match e {
                StoreError::Integrity { file, offset, detail, .. } => (file, offset, detail),
                e => (String::new(), 0, e.to_string()),
            };
            r.failures.push(VerifyFailure { file, offset, detail });
        };
        match Manifest::load(storage, &self.codec) {
            Ok(m) => {
                let f = storage.open(MANIFEST_FILE, false).and_then(|f| f.len());
                report.pages_ok += f.map(|l| l / size).unwrap_or(0);
                let _ = m;
            }
            Err(e) => fail(&mut report, e),
        }
        for c in state.colls.values().filter(|c| c.index_file != 0) {
            let name = idx_name(c.index_file);
            match read_stream(storage, &self.codec, &name, c.index_file, 0, PageKind::Index, Some(&c.name)) {
                Ok((buf, pages)) => {
                    let mut probe = crate::index::Collection::new(c.number, c.name.clone(), c.policy.clone());
                    match probe.decode_into(&buf) {
                        Ok(()) => report.pages_ok += pages,
                        Err(e) => report.failures.push(VerifyFailure {
                            file: storage.describe(&name),
                            offset: 0,
                            detail: e.to_string(),
                        }),
                    }
                }
                Err(e) => fail(&mut report, e),
            }
        }
        let segs: Vec<u64> = state.seg_keys.keys().copied().collect();
        let mut lens = Vec::new();
        for &seg in &segs {
            let len = self
                .file(seg)
                .and_then(|f| f.len().map_err(StoreError::io("reading length of", storage.describe(&seg_name(seg)))))?;
            lens.push(len);
        }
        let total: u64 = lens.iter().map(|l| l / size).sum();
        let mut done = 0;
        let shredded = &state.manifest.shredded;
        for (&seg, &len) in segs.iter().zip(&lens) {
            let file = self.file(seg)?;
            let name = storage.describe(&seg_name(seg));
            let pages = len / size;
            if len % size != 0 {
                report.failures.push(VerifyFailure {
                    file: name.clone(),
                    offset: pages * size,
                    detail: "partial page at the end of the segment".into(),
                });
            }
            let mut buf = vec![0u8; SCAN_PAGES * size as usize];
            let mut no = 0;
            while no < pages {
                let n = ((pages - no) as usize).min(SCAN_PAGES);
                let chunk = &mut buf[..n * size as usize];
                read_exact_at(&*file, chunk, no * size).map_err(StoreError::io("reading", name.clone()))?;
                let keys: Vec<Option<u32>> = chunk
                    .chunks_exact(size as usize)
                    .map(|p| PageHeader::parse_prefix(p).ok().map(|h| h.key_id))
                    .collect();
                let results = self.codec.open_run(seg, no, chunk);
                for (i, r) in results.into_iter().enumerate() {
                    match r {
                        Ok(_) => report.pages_ok += 1,
                        Err(_) if keys[i].is_some_and(|k| shredded.contains(&k)) => report.pages_shredded += 1,
                        Err(e) => report.failures.push(VerifyFailure {
                            file: name.clone(),
                            offset: (no + i as u64) * size,
                            detail: e.to_string(),
                        }),
                    }
                }
                no += n as u64;
                done += n as u64;
                progress(done, total);
            }
        }
        Ok(report)
    }
}
