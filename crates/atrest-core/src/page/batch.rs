//! Sealing and opening many pages at once, across the current rayon thread pool.
//!
//! The sealer assigns every nonce on the calling thread before any work is fanned out, so which thread seals
//! which page never influences a nonce. A batch too small to repay the hand-off (fewer than two pages or
//! under [`MIN_PARALLEL_BYTES`]) stays on the calling thread. Callers choose the pool: run inside
//! `rayon::ThreadPool::install` to bound or isolate the threads used.

use rayon::prelude::*;

use super::PageContext;
use super::error::PageError;
use super::format::PageKind;
use super::opener::{OpenedPage, Prepared, open_prepared};
use super::sealer::{Assigned, seal_assigned};

/// Batches with fewer page bytes than this are sealed or opened on the calling thread.
pub const MIN_PARALLEL_BYTES: usize = 64 * 1024;

/// Bytes each rayon task should at least get, so tiny pages are not scheduled one by one.
const MIN_TASK_BYTES: usize = 32 * 1024;

/// One page to seal in a batch. `Debug` shows lengths, never the plaintext.
pub struct SealJob<'a> {
    /// The page kind to record.
    pub kind: PageKind,
    /// Where the page will live.
    pub ctx: PageContext<'a>,
    /// The plaintext body to copy in (exactly the capacity), or `None` if it is already at
    /// [`PageSize::body_range`](super::PageSize::body_range) of `page`.
    pub body: Option<&'a [u8]>,
    /// The page buffer (a valid page size) that receives the sealed page.
    pub page: &'a mut [u8],
}

impl<'a> SealJob<'a> {
    /// A job that copies `body` into `page` and seals it.
    pub fn new(kind: PageKind, ctx: PageContext<'a>, body: &'a [u8], page: &'a mut [u8]) -> SealJob<'a> {
        SealJob { kind, ctx, body: Some(body), page }
    }

    /// A job that seals the body already written into `page`.
    pub fn in_place(kind: PageKind, ctx: PageContext<'a>, page: &'a mut [u8]) -> SealJob<'a> {
        SealJob { kind, ctx, body: None, page }
    }
}

/// One page to open in a batch. `Debug` shows lengths, never the (possibly decrypted) page.
pub struct OpenJob<'a> {
    /// The sealed page; its body is decrypted in place (or zeroed if it does not authenticate).
    pub page: &'a mut [u8],
    /// Where the page was read from.
    pub ctx: PageContext<'a>,
}

impl<'a> OpenJob<'a> {
    /// A job that opens `page` as read from `ctx`.
    pub fn new(page: &'a mut [u8], ctx: PageContext<'a>) -> OpenJob<'a> {
        OpenJob { page, ctx }
    }
}

impl std::fmt::Debug for SealJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealJob")
            .field("kind", &self.kind)
            .field("ctx", &self.ctx)
            .field("body_len", &self.body.map(<[u8]>::len))
            .field("page_len", &self.page.len())
            .finish()
    }
}

impl std::fmt::Debug for OpenJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenJob").field("page_len", &self.page.len()).field("ctx", &self.ctx).finish()
    }
}

/// Whether a batch of `jobs` pages totalling `bytes` is worth spreading over threads.
fn use_threads(jobs: usize, bytes: usize) -> bool {
    jobs >= 2 && bytes >= MIN_PARALLEL_BYTES && rayon::current_num_threads() > 1
}

/// How many consecutive jobs one rayon task takes at least.
fn min_jobs_per_task(jobs: usize, bytes: usize) -> usize {
    let avg = (bytes / jobs.max(1)).max(1);
    MIN_TASK_BYTES.div_ceil(avg).max(1)
}

/// Seals checked jobs with their assigned nonces (`assigned[i]` belongs to `jobs[i]`).
pub(crate) fn seal_all(jobs: &mut [SealJob<'_>], assigned: &[Assigned], key_id: u32) -> Result<(), (usize, PageError)> {
    debug_assert_eq!(jobs.len(), assigned.len());
    let seal = |(index, (job, nonce)): (usize, (&mut SealJob<'_>, &Assigned))| {
        seal_assigned(nonce, key_id, job.kind, &job.ctx, job.body, job.page).map_err(|e| (index, e))
    };
    let bytes: usize = jobs.iter().map(|j| j.page.len()).sum();
    if use_threads(jobs.len(), bytes) {
        let min = min_jobs_per_task(jobs.len(), bytes);
        jobs.par_iter_mut().zip(assigned.par_iter()).enumerate().with_min_len(min).try_for_each(seal)
    } else {
        jobs.iter_mut().zip(assigned.iter()).enumerate().try_for_each(seal)
    }
}

/// Opens jobs whose headers were prepared (`prepared[i]` belongs to `jobs[i]`).
pub(crate) fn open_all<'p>(
    jobs: &'p mut [OpenJob<'_>],
    prepared: Vec<Result<Prepared, PageError>>,
) -> Vec<Result<OpenedPage<'p>, PageError>> {
    debug_assert_eq!(jobs.len(), prepared.len());
    fn open_one<'p>(
        job: &'p mut OpenJob<'_>,
        prepared: Result<Prepared, PageError>,
    ) -> Result<OpenedPage<'p>, PageError> {
        let ctx = job.ctx;
        open_prepared(&prepared?, &mut *job.page, &ctx)
    }
    let bytes: usize = jobs.iter().map(|j| j.page.len()).sum();
    if use_threads(jobs.len(), bytes) {
        let min = min_jobs_per_task(jobs.len(), bytes);
        jobs.par_iter_mut().zip(prepared.into_par_iter()).with_min_len(min).map(|(j, p)| open_one(j, p)).collect()
    } else {
        jobs.iter_mut().zip(prepared).map(|(j, p)| open_one(j, p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_batches_and_single_thread_pools_stay_on_the_calling_thread() {
        let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        two.install(|| {
            assert!(!use_threads(1, 1 << 20), "one page");
            assert!(!use_threads(8, MIN_PARALLEL_BYTES - 1), "too few bytes");
            assert!(use_threads(4, MIN_PARALLEL_BYTES));
        });
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        one.install(|| assert!(!use_threads(256, 4 << 20), "a one-thread pool gains nothing"));
    }

    #[test]
    fn tasks_get_at_least_min_task_bytes() {
        assert_eq!(min_jobs_per_task(256, 256 * 4096), 8);
        assert_eq!(min_jobs_per_task(256, 256 * 65536), 1);
        assert_eq!(min_jobs_per_task(0, 0), MIN_TASK_BYTES);
    }
}
