//! Where ingest time goes, what limits the store, and how many cores an NVMe drive would need.
//!
//! Ingest CPU (all threads, user + system) is split into parts: the kernel's share is the system time of the
//! ingest itself (write path, syncs, page faults); validating the JSON (the same atrest-json pass the store
//! makes when indexing is off), sealing the pages that were written and one copy of the document bytes are
//! measured on their own, single-threaded with thread CPU clocks. What is left is the store's own work
//! (record framing, page assembly, locks, thread hand-offs, including rayon workers spinning before they
//! sleep). Indexing is the extra CPU of the run with the default policy.
//!
//! Whether ingest is CPU-bound is judged from CPU time per byte (what the store's threads could do with the
//! machine to themselves), not from wall time, so a machine busy with other work does not pass for a slow
//! store; wall-time rates are reported as measured.

use atrest_core::page::PageSize;
use serde::Serialize;

use crate::crypto::BackendRates;
use crate::disk::DiskRates;
use crate::error::BenchError;
use crate::store_run::{DocPool, IngestResult};

/// The goal: durable ingest (indexing off) at this fraction of the disk's sequential write rate.
pub const INGEST_GOAL: f64 = 0.9;
/// The goal: sealing takes less than this share of ingest CPU.
pub const SEALING_SHARE_GOAL: f64 = 0.10;
/// NVMe sequential write rates compared with: PCIe 4 and PCIe 5 x4 drives, bytes per second.
pub const NVME_RATES: [(&str, f64); 2] = [("pcie4", 7e9), ("pcie5", 14e9)];

/// CPU milliseconds per MB (10^6 bytes) of documents ingested.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// Everything, ingest with indexing off.
    pub total: f64,
    /// Validating the JSON.
    pub json: f64,
    /// Sealing the pages written.
    pub seal: f64,
    /// One copy of the document bytes.
    pub copy: f64,
    /// In the kernel (system time of the ingest: write path, syncs, page faults).
    pub kernel: f64,
    /// The rest: the store's own work.
    pub other: f64,
    /// Extra with the default indexing (every scalar), if measured.
    pub indexing: Option<f64>,
}

/// The findings of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Durable ingest (indexing off, bytes written) over the disk's sequential write.
    pub ingest_vs_disk_write: f64,
    /// Whether it reached [`INGEST_GOAL`].
    pub ingest_goal_met: bool,
    /// Share of ingest CPU spent sealing.
    pub sealing_share: f64,
    /// Whether it is under [`SEALING_SHARE_GOAL`].
    pub sealing_share_goal_met: bool,
    /// CPU per MB of documents, by part.
    pub cpu_ms_per_doc_mb: Breakdown,
    /// What limits the store, most important first (empty when the goal is met and nothing stands out).
    pub limits: Vec<String>,
}

/// Cores needed to keep up with NVMe drives, for one backend.
#[derive(Debug, Clone, Serialize)]
pub struct NvmeRow {
    /// The backend.
    pub backend: String,
    /// Single-core sealing at the store's page size, GB/s.
    pub seal_gb_s_per_core: f64,
    /// Cores that only seal, to keep up with a PCIe 4 drive (7 GB/s).
    pub seal_cores_pcie4: f64,
    /// The same for PCIe 5 (14 GB/s).
    pub seal_cores_pcie5: f64,
    /// Store ingest per core with this backend, MB/s of bytes written (measured CPU with the measured
    /// backend's sealing swapped for this one's).
    pub store_mb_s_per_core: f64,
    /// Cores of the whole store (indexing off) for a PCIe 4 drive.
    pub store_cores_pcie4: f64,
    /// The same for PCIe 5.
    pub store_cores_pcie5: f64,
}

/// Single-thread CPU parts per MB of documents, measured on the pool.
#[derive(Debug, Clone, Copy)]
pub struct PartRates {
    /// JSON validation, ms per MB.
    pub json: f64,
    /// One copy, ms per MB.
    pub copy: f64,
}

/// Measures JSON validation and copying on up to `sample_bytes` of the pool, on this thread.
///
/// # Errors
/// [`BenchError::Mismatch`] if a pool document is not valid JSON (the generator is broken).
pub fn part_rates(pool: &DocPool, sample_bytes: u64) -> Result<PartRates, BenchError> {
    let mut sample = Vec::new();
    let mut bytes = 0u64;
    for d in pool.docs() {
        if bytes >= sample_bytes.max(1) {
            break;
        }
        bytes += d.len() as u64;
        sample.push(d.as_slice());
    }
    let mb = bytes as f64 / 1e6;
    let t = crate::cpu::thread_cpu();
    let limits = atrest_json::Limits::default();
    for d in &sample {
        atrest_json::validate(d, &limits)
            .map_err(|e| BenchError::Mismatch(format!("generated document is not a valid document: {e}")))?;
    }
    let json = (crate::cpu::thread_cpu() - t).as_secs_f64() * 1e3 / mb;
    let t = crate::cpu::thread_cpu();
    let copies: Vec<Vec<u8>> = sample.iter().map(|d| d.to_vec()).collect();
    std::hint::black_box(&copies);
    let copy = (crate::cpu::thread_cpu() - t).as_secs_f64() * 1e3 / mb;
    Ok(PartRates { json, copy })
}

/// Everything [`analyse`] works from.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// Ingest with indexing off, on the disk under test.
    pub ingest: &'a IngestResult,
    /// Ingest with the default indexing, if run.
    pub indexed: Option<&'a IngestResult>,
    /// Ingest with indexing off on a RAM file system, if run.
    pub ceiling: Option<&'a IngestResult>,
    /// The disk.
    pub disk: &'a DiskRates,
    /// Single-thread CPU seconds to seal the pages `ingest` wrote.
    pub seal_cpu_seconds: f64,
    /// JSON and copy costs.
    pub parts: PartRates,
    /// Threads the store used.
    pub threads: usize,
}

/// Splits the ingest CPU, checks the goals and names what limits the store.
pub fn analyse(i: &Inputs<'_>) -> Analysis {
    let doc_mb = i.ingest.doc_bytes as f64 / 1e6;
    let per_mb = |cpu_s: f64| if doc_mb > 0.0 { cpu_s * 1e3 / doc_mb } else { 0.0 };
    let total = per_mb(i.ingest.cpu_seconds);
    let seal = per_mb(i.seal_cpu_seconds);
    let kernel = per_mb(i.ingest.system_cpu_seconds.unwrap_or(0.0));
    let (json, copy) = (i.parts.json, i.parts.copy);
    let other = (total - json - seal - copy - kernel).max(0.0);
    let indexing = i.indexed.map(|x| (x.cpu_seconds * 1e3 / (x.doc_bytes as f64 / 1e6).max(1e-9) - total).max(0.0));
    let breakdown = Breakdown { total, json, seal, copy, kernel, other, indexing };
    let disk_write = i.disk.write_reference_mb_s();
    let ratio = if disk_write > 0.0 { i.ingest.written_mb_s / disk_write } else { 0.0 };
    let sealing_share = if total > 0.0 { seal / total } else { 0.0 };
    let mut limits = Vec::new();
    if ratio < INGEST_GOAL {
        limits.push(explain_shortfall(i, &breakdown, disk_write, ratio));
    }
    if sealing_share >= SEALING_SHARE_GOAL {
        limits.push(format!(
            "sealing takes {:.0}% of ingest CPU (goal: under {:.0}%)",
            sealing_share * 100.0,
            SEALING_SHARE_GOAL * 100.0
        ));
    }
    if let (Some(x), Some(extra)) = (i.indexed, breakdown.indexing) {
        limits.push(format!(
            "default indexing (every scalar) adds {extra:.1} ms CPU per MB of documents ({:.0}% more than indexing off) and ingests at {:.0} MB/s of documents vs {:.0} MB/s with indexing off",
            if total > 0.0 { extra / total * 100.0 } else { 0.0 },
            x.doc_mb_s,
            i.ingest.doc_mb_s
        ));
    }
    Analysis {
        ingest_vs_disk_write: ratio,
        ingest_goal_met: ratio >= INGEST_GOAL,
        sealing_share,
        sealing_share_goal_met: sealing_share < SEALING_SHARE_GOAL,
        cpu_ms_per_doc_mb: breakdown,
        limits,
    }
}

/// Why ingest fell short of the disk: CPU (and which part), the I/O pattern, or waiting for a CPU.
fn explain_shortfall(i: &Inputs<'_>, b: &Breakdown, disk_write: f64, ratio: f64) -> String {
    let busy = i.ingest.cpu_seconds / i.ingest.seconds.max(1e-9);
    let cores = i.threads.max(1) as f64;
    let cpu_rate = i.ceiling.map_or(i.ingest.cpu_bound_mb_s, |c| c.cpu_bound_mb_s);
    let head = format!(
        "ingest reaches {:.2}x the disk's sequential write ({:.0} of {disk_write:.0} MB/s, {busy:.1} of {cores:.0} cores busy)",
        ratio, i.ingest.written_mb_s
    );
    if cpu_rate < disk_write * INGEST_GOAL {
        let mut parts = [
            ("JSON parsing", b.json),
            ("sealing", b.seal),
            ("copying", b.copy),
            ("the kernel (write path, syncs, page faults)", b.kernel),
            ("the store's own work (framing, page assembly, locks, thread hand-offs)", b.other),
        ];
        parts.sort_by(|x, y| y.1.total_cmp(&x.1));
        let split = parts
            .iter()
            .map(|(name, ms)| format!("{name} {:.0}%", if b.total > 0.0 { ms / b.total * 100.0 } else { 0.0 }))
            .collect::<Vec<_>>()
            .join(", ");
        return format!(
            "{head}: CPU-bound: by CPU time, {cores:.0} cores can ingest at most {cpu_rate:.0} MB/s. Ingest CPU by part: {split}; the largest, {}, limits it",
            parts[0].0
        );
    }
    if let Some(c) = i.ceiling
        && c.written_mb_s < disk_write * INGEST_GOAL
    {
        return format!(
            "{head}: waiting, not the CPU or the disk: by CPU time {cores:.0} cores could ingest {cpu_rate:.0} MB/s, yet even on a RAM disk ingest reached only {:.0} MB/s with {:.1} cores busy, so the store's threads spent the time waiting: for a CPU on a machine loaded by other work (see the load average), or on hand-offs between the client, the commit leader and the sealing threads",
            c.written_mb_s,
            c.cpu_seconds / c.seconds.max(1e-9)
        );
    }
    format!(
        "{head}: the I/O pattern limits it, not the CPU (by CPU time {cores:.0} cores could ingest {cpu_rate:.0} MB/s{}). Every {} MiB commit ends with fdatasync, and this disk does {:.0} MB/s that way through the page cache and {} MB/s with O_DIRECT plus a sync per block, against {disk_write:.0} MB/s for O_DIRECT with one sync at the end: the per-commit cache flush and the page-cache copy cost what is missing; larger commits (fewer flushes) or direct I/O would narrow it",
        i.ceiling.map_or_else(String::new, |c| format!("; {:.0} MB/s on a RAM disk", c.written_mb_s)),
        crate::store_run::BATCH_DOC_BYTES >> 20,
        i.disk.write_fdatasync_mb_s,
        i.disk.write_direct_sync_each_mb_s.map_or_else(|| "(not measured)".to_owned(), |d| format!("{d:.0}")),
    )
}

/// Cores needed per backend for NVMe rates, from the measured store CPU per byte written.
pub fn nvme(ingest: &IngestResult, seal_cpu_seconds: f64, backends: &[BackendRates], page: PageSize) -> Vec<NvmeRow> {
    let written = ingest.bytes_written.max(1) as f64;
    let non_seal = ((ingest.cpu_seconds - seal_cpu_seconds) / written).max(0.0);
    backends
        .iter()
        .filter_map(|b| {
            let gb_s = b.seal_gb_s(page.bytes())?;
            let seal_per_byte = 1.0 / (gb_s * 1e9);
            let store_per_byte = non_seal + seal_per_byte;
            Some(NvmeRow {
                backend: b.backend.clone(),
                seal_gb_s_per_core: gb_s,
                seal_cores_pcie4: NVME_RATES[0].1 * seal_per_byte,
                seal_cores_pcie5: NVME_RATES[1].1 * seal_per_byte,
                store_mb_s_per_core: 1.0 / store_per_byte / 1e6,
                store_cores_pcie4: NVME_RATES[0].1 * store_per_byte,
                store_cores_pcie5: NVME_RATES[1].1 * store_per_byte,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest(written_mb_s: f64, seconds: f64, cpu_seconds: f64, cpu_bound_mb_s: f64) -> IngestResult {
        IngestResult {
            indexing: "none".into(),
            docs: 1000,
            doc_bytes: 100_000_000,
            bytes_written: 104_000_000,
            seconds,
            cpu_seconds,
            system_cpu_seconds: Some(0.02),
            cpu_bound_mb_s,
            doc_mb_s: written_mb_s * 0.96,
            written_mb_s,
            batches: 12,
            writers: 2,
            leader: crate::store_run::LeaderTimes {
                commits: 12,
                pack_seal_s: seconds * 0.4,
                write_wait_s: 0.0,
                sync_s: seconds * 0.1,
                apply_s: seconds * 0.2,
                busy: 0.7,
            },
        }
    }

    fn disk(direct: f64, direct_each: f64, buffered: f64) -> DiskRates {
        DiskRates {
            bytes: 104_000_000,
            block_bytes: 8 << 20,
            write_direct_mb_s: Some(direct),
            write_direct_sync_each_mb_s: Some(direct_each),
            write_fdatasync_mb_s: buffered,
            read_mb_s: 2000.0,
            read_mode: "O_DIRECT".into(),
            notes: Vec::new(),
        }
    }

    fn inputs<'a>(i: &'a IngestResult, c: Option<&'a IngestResult>, d: &'a DiskRates, seal: f64) -> Inputs<'a> {
        Inputs {
            ingest: i,
            indexed: None,
            ceiling: c,
            disk: d,
            seal_cpu_seconds: seal,
            parts: PartRates { json: 0.8, copy: 0.3 },
            threads: 2,
        }
    }

    #[test]
    fn cpu_bound_names_the_largest_part() {
        let (i, d) = (ingest(500.0, 0.2, 0.4, 520.0), disk(2000.0, 1500.0, 900.0));
        let a = analyse(&inputs(&i, None, &d, 0.01));
        assert!(!a.ingest_goal_met && (a.ingest_vs_disk_write - 0.25).abs() < 1e-9);
        assert!(
            a.limits[0].contains("CPU-bound") && a.limits[0].contains("the largest, the store's own work"),
            "{:?}",
            a.limits
        );
        assert!(a.sealing_share_goal_met, "0.01 s of 0.4 s is a 2.5% share");
    }

    #[test]
    fn waiting_and_io_pattern_are_told_apart() {
        let d = disk(2000.0, 900.0, 600.0);
        let slow = ingest(500.0, 0.2, 0.05, 4000.0);
        let ram_slow = ingest(600.0, 0.17, 0.05, 4000.0);
        let a = analyse(&inputs(&slow, Some(&ram_slow), &d, 0.001));
        assert!(a.limits[0].contains("waiting"), "{:?}", a.limits);
        let ram_fast = ingest(3000.0, 0.03, 0.05, 4000.0);
        let a = analyse(&inputs(&slow, Some(&ram_fast), &d, 0.001));
        assert!(
            a.limits[0].contains("I/O pattern") && a.limits[0].contains("3000 MB/s on a RAM disk"),
            "{:?}",
            a.limits
        );
        let a = analyse(&inputs(&slow, None, &d, 0.001));
        assert!(a.limits[0].contains("I/O pattern") && !a.limits[0].contains("NaN"), "{:?}", a.limits);
    }

    #[test]
    fn goal_met_and_a_heavy_sealing_share_is_flagged() {
        let (i, d) = (ingest(1900.0, 0.05, 0.1, 4000.0), disk(2000.0, 1500.0, 900.0));
        let a = analyse(&inputs(&i, None, &d, 0.05));
        assert!(a.ingest_goal_met);
        assert!(!a.sealing_share_goal_met);
        assert_eq!(a.limits.len(), 1);
        assert!(a.limits[0].contains("sealing takes 50%"), "{:?}", a.limits);
    }

    #[test]
    fn nvme_cores_scale_with_the_seal_rate() {
        let i = ingest(500.0, 0.2, 0.4, 520.0);
        let rate = |name: &str, gb_s: f64| BackendRates {
            backend: name.into(),
            selected: false,
            single_thread: vec![crate::crypto::PageRate { page_bytes: 16384, seal_gb_s: gb_s, open_gb_s: gb_s }],
            batch_seal_gb_s: gb_s,
            batch_threads: 2,
            batch_page_bytes: 16384,
        };
        let rows = nvme(&i, 0.01, &[rate("fast", 7.0), rate("slow", 1.0)], PageSize::KIB_16);
        assert_eq!(rows.len(), 2);
        assert!((rows[0].seal_cores_pcie4 - 1.0).abs() < 1e-9 && (rows[1].seal_cores_pcie5 - 14.0).abs() < 1e-9);
        assert!(rows[0].store_cores_pcie4 < rows[1].store_cores_pcie4);
        assert!(rows[0].store_mb_s_per_core > rows[1].store_mb_s_per_core);
    }
}
