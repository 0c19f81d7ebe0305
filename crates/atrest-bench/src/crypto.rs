//! Page sealing and opening per backend: single-thread rates at 4, 16 and 64 KiB, and batched sealing across
//! all threads.
//!
//! This measures the page path the store uses (XAES-256-GCM under a writer epoch, header and tag included),
//! not the bare AEAD: a page's cost is what bounds the store. Opening includes copying the sealed page into
//! the work buffer, as a reader does after reading it from disk. Single-thread rates are per second of the
//! measuring thread's CPU time (GB per core-second), so other processes on a shared machine do not lower
//! them; batched rates are per second of wall time, since they measure how well threads scale.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use atrest_core::page::{Opener, PageContext, PageKind, PageSize, SealJob, Sealer};
use atrest_core::{Backend, Xaes256Gcm};
use serde::Serialize;

use crate::cpu::{Clock, rate_gb_s};
use crate::error::BenchError;

/// The page sizes measured single-threaded.
pub const PAGE_SIZES: [PageSize; 3] = [PageSize::KIB_4, PageSize::KIB_16, PageSize::KIB_64];

/// Bytes sealed per batch in the multi-thread measurement (one store group commit's worth).
pub const BATCH_BYTES: usize = 8 << 20;

/// One page size on one thread.
#[derive(Debug, Clone, Serialize)]
pub struct PageRate {
    /// Physical page size in bytes.
    pub page_bytes: usize,
    /// Sealing, GB per CPU-second of page bytes.
    pub seal_gb_s: f64,
    /// Opening (copy + authenticate + decrypt), GB per CPU-second of page bytes.
    pub open_gb_s: f64,
}

/// One backend's rates.
#[derive(Debug, Clone, Serialize)]
pub struct BackendRates {
    /// The backend's name.
    pub backend: String,
    /// Whether keys built without naming a backend get this one.
    pub selected: bool,
    /// Single-thread rates per page size.
    pub single_thread: Vec<PageRate>,
    /// Batched sealing of `batch_page_bytes` pages with `batch_threads` threads, GB/s of wall time.
    pub batch_seal_gb_s: f64,
    /// Threads used by the batch.
    pub batch_threads: usize,
    /// Page size used by the batch (the store's).
    pub batch_page_bytes: usize,
}

impl BackendRates {
    /// The single-thread seal rate at `page_bytes`, if measured.
    pub fn seal_gb_s(&self, page_bytes: usize) -> Option<f64> {
        self.single_thread.iter().find(|r| r.page_bytes == page_bytes).map(|r| r.seal_gb_s)
    }
}

const KEY: [u8; 32] = [0x42; 32];

fn key_for(backend: Backend) -> Result<Arc<Xaes256Gcm>, BenchError> {
    Ok(Arc::new(Xaes256Gcm::with_backend(&KEY, backend).map_err(|e| BenchError::Crypto(e.to_string()))?))
}

fn sealer_for(backend: Backend) -> Result<Sealer, BenchError> {
    Sealer::with_key(key_for(backend)?, 1).map_err(|e| BenchError::Crypto(e.to_string()))
}

/// Measures `backend` for about `budget` per number; batches use `pool`, with the store's page size.
///
/// # Errors
/// [`BenchError::Crypto`] if the backend cannot build a key or a page fails to seal or open.
pub fn measure(
    backend: Backend,
    selected: bool,
    budget: Duration,
    pool: &rayon::ThreadPool,
    batch_page: PageSize,
) -> Result<BackendRates, BenchError> {
    let mut single_thread = Vec::new();
    for size in PAGE_SIZES {
        single_thread.push(single(backend, size, budget)?);
    }
    let batch_seal_gb_s = batch(backend, batch_page, budget, pool)?;
    Ok(BackendRates {
        backend: backend.name().to_owned(),
        selected,
        single_thread,
        batch_seal_gb_s,
        batch_threads: pool.current_num_threads(),
        batch_page_bytes: batch_page.bytes(),
    })
}

fn single(backend: Backend, size: PageSize, budget: Duration) -> Result<PageRate, BenchError> {
    let key = key_for(backend)?;
    let sealer = Sealer::with_key(Arc::clone(&key), 1).map_err(|e| BenchError::Crypto(e.to_string()))?;
    let ctx = PageContext::new(3, 9);
    let mut page = vec![0u8; size.bytes()];
    page[size.body_range()].fill(0x5A);
    let mut failed = None;
    let seal_gb_s = rate_gb_s(size.bytes(), budget, Clock::Thread, || {
        if let Err(e) = sealer.seal_in_place(PageKind::Data, &ctx, &mut page) {
            failed = Some(e.to_string());
        }
    });
    let opener = Opener::new(HashMap::from([(1u32, key)]));
    let sealed = page.clone();
    let open_gb_s = rate_gb_s(size.bytes(), budget, Clock::Thread, || {
        page.copy_from_slice(&sealed);
        if let Err(e) = opener.open(&mut page, &ctx) {
            failed = Some(e.to_string());
        }
    });
    match failed {
        Some(e) => Err(BenchError::Crypto(format!("{backend} at {} bytes: {e}", size.bytes()))),
        None => Ok(PageRate { page_bytes: size.bytes(), seal_gb_s, open_gb_s }),
    }
}

fn batch(backend: Backend, size: PageSize, budget: Duration, pool: &rayon::ThreadPool) -> Result<f64, BenchError> {
    let sealer = sealer_for(backend)?;
    let pages = (BATCH_BYTES / size.bytes()).max(2);
    let mut buf = vec![0x5Au8; pages * size.bytes()];
    let mut failed = None;
    let gb_s = pool.install(|| {
        rate_gb_s(buf.len(), budget, Clock::Wall, || {
            let mut jobs: Vec<SealJob<'_>> = buf
                .chunks_mut(size.bytes())
                .enumerate()
                .map(|(i, page)| SealJob::in_place(PageKind::Data, PageContext::new(1, i as u64), page))
                .collect();
            if let Err(e) = sealer.seal_batch(&mut jobs) {
                failed = Some(e.to_string());
            }
        })
    });
    match failed {
        Some(e) => Err(BenchError::Crypto(format!("{backend} batch: {e}"))),
        None => Ok(gb_s),
    }
}

/// Single-thread CPU seconds `backend` spends sealing `pages` pages of `size`, from a timed sample of at
/// most `sample` pages on the calling thread (thread CPU time, so other load does not count).
///
/// # Errors
/// As [`measure`].
pub fn seal_cpu_seconds(backend: Backend, size: PageSize, pages: u64, sample: u64) -> Result<f64, BenchError> {
    let sealer = sealer_for(backend)?;
    let ctx = PageContext::new(5, 0);
    let mut page = vec![0x5Au8; size.bytes()];
    let n = sample.clamp(1, pages.max(1));
    // Warm the key schedule and caches first.
    for _ in 0..8 {
        sealer.seal_in_place(PageKind::Data, &ctx, &mut page).map_err(|e| BenchError::Crypto(e.to_string()))?;
    }
    let start = crate::cpu::thread_cpu();
    for _ in 0..n {
        sealer.seal_in_place(PageKind::Data, &ctx, &mut page).map_err(|e| BenchError::Crypto(e.to_string()))?;
    }
    let per_page = (crate::cpu::thread_cpu() - start).as_secs_f64() / n as f64;
    Ok(per_page * pages as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_backend_gets_positive_rates() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
        for backend in atrest_core::backend::supported() {
            let r = measure(backend, false, Duration::from_millis(2), &pool, PageSize::KIB_16).expect("measure");
            assert_eq!(r.single_thread.len(), 3);
            for rate in &r.single_thread {
                assert!(rate.seal_gb_s > 0.0 && rate.open_gb_s > 0.0, "{backend}: {rate:?}");
            }
            assert!(r.batch_seal_gb_s > 0.0);
            assert_eq!(r.batch_threads, 2);
            assert!(r.seal_gb_s(16384).is_some() && r.seal_gb_s(8192).is_none());
            let cpu = seal_cpu_seconds(backend, PageSize::KIB_4, 1000, 10).expect("seal cpu");
            assert!(cpu.is_finite() && cpu > 0.0);
        }
    }
}
