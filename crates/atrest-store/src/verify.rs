//! `verify`: open every page of every file the manifest names — the manifest itself, every run of every
//! collection, every segment — check the structure of every run, and list each failure with its file and
//! offset (all of them, not the first). Bytes after the last whole page a file should have (a manifest,
//! run or segment that grew) are failures too. Pages under a destroyed key of a dropped collection are
//! counted as shredded, not as failures.

use crate::error::{Result, StoreError};
use crate::files::{MANIFEST_FILE, seg_name};
use crate::index::reader::Run;
use crate::log::scan::{ScanEnd, Scanned, scan_segment};
use crate::manifest::Manifest;
use crate::store::Inner;
use std::sync::Arc;

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

    /// Lists a failure; a key that cannot be had (the key service is away) is no damage and ends the
    /// verification with that error instead.
    fn fail(&mut self, e: StoreError) -> Result<()> {
        let (file, offset, detail) = match e {
            e @ StoreError::Keys(_) => return Err(e),
            StoreError::Integrity { file, offset, detail, .. } => (file, offset, detail),
            StoreError::Io { op, file, source } => (file, 0, format!("{op}: {source}")),
            e => (String::new(), 0, e.to_string()),
        };
        self.failures.push(VerifyFailure { file, offset, detail });
        Ok(())
    }
}

impl Inner {
    /// Verifies every page; `progress(done, total)` counts pages. Writes and merges wait while it runs.
    pub(crate) fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
        let _m = self.maint_shared();
        let _w = self.lock_writer();
        let _manifest = self.manifest_lock.lock().unwrap_or_else(|p| p.into_inner());
        let storage = &*self.storage;
        let size = self.codec.size.bytes() as u64;
        let mut report = VerifyReport::default();
        match Manifest::load_counted(storage, &self.codec) {
            Ok((_, pages)) => {
                report.pages_ok += pages;
                let len = storage.open(MANIFEST_FILE, false).and_then(|f| f.len());
                match len {
                    Ok(len) if len != pages * size => report.failures.push(VerifyFailure {
                        file: storage.describe(MANIFEST_FILE),
                        offset: pages * size,
                        detail: format!("{} bytes after the catalog's last page", len as i128 - (pages * size) as i128),
                    }),
                    Ok(_) => {}
                    Err(e) => {
                        report.fail(StoreError::io("reading the length of", storage.describe(MANIFEST_FILE))(e))?
                    }
                }
            }
            Err(e) => report.fail(e)?,
        }
        let (runs, segs, shredded): (Vec<(String, Arc<Run>)>, Vec<u64>, _) = {
            let s = self.read_state();
            let runs = s.colls.values().flat_map(|c| c.lsm.all_runs().map(|r| (c.name.clone(), r.clone()))).collect();
            (runs, s.seg_keys.keys().copied().collect(), s.manifest.shredded.clone())
        };
        let mut lens = Vec::new();
        for &seg in &segs {
            let len = self
                .file(seg)
                .and_then(|f| f.len().map_err(StoreError::io("reading length of", storage.describe(&seg_name(seg)))));
            lens.push(len);
        }
        let total: u64 = runs.iter().map(|r| r.1.meta.pages).sum::<u64>()
            + lens.iter().map(|l| l.as_ref().map_or(0, |l| l / size)).sum::<u64>();
        let mut done = 0;
        for (coll, run) in &runs {
            let ctx = self.ctx(Some(coll));
            let before = report.failures.len();
            // Page by page first, so every bad page is listed; the structure only if they all open.
            for r in self.open_every_page(&ctx, run) {
                match r {
                    Ok(()) => report.pages_ok += 1,
                    Err(e) => report.fail(e)?,
                }
            }
            if report.failures.len() == before
                && let Err(e) = run.check(&ctx)
            {
                report.fail(e)?;
            }
            done += run.meta.pages;
            progress(done, total);
        }
        for (&seg, len) in segs.iter().zip(lens) {
            if let Err(e) = len {
                report.fail(e)?;
                continue;
            }
            let name = storage.describe(&seg_name(seg));
            let r = scan_segment(storage, &self.codec, seg, 0, &mut |p| {
                match p {
                    Scanned::Page { .. } => report.pages_ok += 1,
                    Scanned::Bad { key_id: Some(k), .. } if shredded.contains(&k) => report.pages_shredded += 1,
                    Scanned::Bad { no, detail, .. } => {
                        report.failures.push(VerifyFailure { file: name.clone(), offset: no * size, detail })
                    }
                }
                done += 1;
                if done.is_multiple_of(256) {
                    progress(done, total);
                }
                Ok(true)
            });
            match r {
                Ok(ScanEnd::PartialPage(no)) => report.failures.push(VerifyFailure {
                    file: name.clone(),
                    offset: no * size,
                    detail: "partial page at the end of the segment".into(),
                }),
                Ok(_) => {}
                Err(e) => report.fail(e)?,
            }
        }
        progress(total, total);
        Ok(report)
    }

    /// Opens each page of a run (and checks its length); one result per page, or one for the whole file.
    fn open_every_page(&self, ctx: &crate::index::Ctx<'_>, run: &Run) -> Vec<Result<()>> {
        let name = run.name();
        let file = match self.storage.open(name, false) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return vec![Err(ctx.fail(name, 0, "the run file named by the catalog is missing".into()))];
            }
            Err(e) => return vec![Err(StoreError::io("opening", self.storage.describe(name))(e))],
        };
        let size = self.codec.size.bytes() as u64;
        let mut out = Vec::new();
        match file.len() {
            Ok(len) if len != run.meta.pages * size => out.push(Err(ctx.fail(
                name,
                (len / size).min(run.meta.pages),
                format!("run is {len} bytes, the catalog says {} pages: cut short or grown", run.meta.pages),
            ))),
            Ok(_) => {}
            Err(e) => return vec![Err(StoreError::io("reading the length of", self.storage.describe(name))(e))],
        }
        for no in 0..run.meta.pages {
            out.push(ctx.read_page(&*file, run.meta.id, name, no, false).map(drop));
        }
        out
    }
}
