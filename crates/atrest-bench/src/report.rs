//! The report of a run: one serialisable structure, printed as tables or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analysis::{Analysis, NvmeRow};
use crate::crypto::BackendRates;
use crate::disk::DiskRates;
use crate::store_run::{GetResult, IngestResult, ScanResult};

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model name, from /proc/cpuinfo where available.
    pub cpu: String,
    /// Logical cores available to this process.
    pub cores: usize,
    /// The CPU's crypto-relevant features.
    pub cpu_features: Vec<String>,
    /// The backend keys get by default (honours `ATREST_BACKEND`).
    pub backend: String,
}

/// The options the run used.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Where the store and the disk scratch file lived.
    pub data_dir: String,
    /// Document bytes ingested per run.
    pub size: u64,
    /// Threads for sealing and parsing.
    pub threads: usize,
    /// The store's page size.
    pub page_bytes: usize,
    /// Documents per run.
    pub docs: u64,
}

/// The store on the disk under test.
#[derive(Debug, Clone, Serialize)]
pub struct StoreRates {
    /// Durable ingest, indexing off.
    pub ingest_no_index: IngestResult,
    /// Durable ingest, default indexing (every scalar).
    pub ingest_default_index: IngestResult,
    /// Random gets on the store with indexing off.
    pub gets: GetResult,
    /// Cold full scan of the store with indexing off.
    pub scan: ScanResult,
}

/// Store over disk.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// Durable ingest with indexing off (bytes written per second) / disk sequential write (`O_DIRECT`,
    /// or the `fdatasync` pass where the file system refuses `O_DIRECT`).
    pub ingest_vs_disk_write: f64,
    /// The same with document bytes instead of bytes written.
    pub ingest_docs_vs_disk_write: f64,
    /// Durable ingest with indexing off / disk buffered write with `fdatasync` per block.
    pub ingest_vs_disk_fdatasync_write: f64,
    /// Durable ingest with default indexing (bytes written) / disk sequential write.
    pub indexed_ingest_vs_disk_write: f64,
    /// Cold full scan (stored bytes per second) / disk sequential read.
    pub scan_vs_disk_read: f64,
    /// What ingest with indexing off could do by CPU time (the RAM-disk run's where measured) over the disk
    /// sequential write: the ratio on a machine where the store's threads had their cores to themselves,
    /// when CPU is what limits it.
    pub cpu_bound_ingest_vs_disk_write: f64,
}

/// The store's CPU-bound ceiling: ingest with indexing off on a RAM file system.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    /// The directory used (e.g. /dev/shm).
    pub dir: String,
    /// The ingest.
    pub ingest: IngestResult,
    /// Share of that ingest's CPU spent sealing.
    pub sealing_share: f64,
}

/// Durable ingest at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    /// Cores the process kept busy during ingest with indexing off (CPU seconds over wall seconds).
    pub cores_busy: f64,
    /// Documents MB/s with indexing off.
    pub doc_mb_s: f64,
    /// Documents MB/s with the default indexing (every scalar).
    pub indexed_doc_mb_s: f64,
}

/// Random gets at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct GetsSummary {
    /// Gets per second from the get threads together.
    pub per_s: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Threads issuing gets.
    pub threads: usize,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The options.
    pub run: RunInfo,
    /// Page sealing per backend.
    pub backends: Vec<BackendRates>,
    /// The store on the disk under test.
    pub store: StoreRates,
    /// The disk itself, same directory, same bytes.
    pub disk: DiskRates,
    /// Store over disk.
    pub ratios: Ratios,
    /// The headline ingest figures.
    pub ingest: IngestSummary,
    /// The headline get figures.
    pub gets: GetsSummary,
    /// The CPU-bound ceiling, if a RAM file system was available.
    pub cpu_ceiling: Option<Ceiling>,
    /// Where the time goes and what limits the store.
    pub analysis: Analysis,
    /// Cores per backend for NVMe drives.
    pub nvme: Vec<NvmeRow>,
    /// Caveats.
    pub notes: Vec<String>,
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as human-readable tables.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(o, "machine   {} ({} cores)", m.cpu, m.cores);
        let _ = writeln!(o, "features  {}", m.cpu_features.join(" "));
        let _ = writeln!(o, "backend   {} (default)", m.backend);
        let r = &self.run;
        let _ = writeln!(
            o,
            "run       {} MB of documents ({} docs), {} threads, {} KiB pages, in {}",
            r.size / 1_000_000,
            r.docs,
            r.threads,
            r.page_bytes / 1024,
            r.data_dir
        );
        let _ = writeln!(o, "\nPage sealing, XAES-256-GCM pages (GB/s)");
        let _ = writeln!(o, "{:<11} {:>6} {:>8} {:>8}   batch seal", "backend", "page", "seal", "open");
        for b in &self.backends {
            for (k, p) in b.single_thread.iter().enumerate() {
                let batch = if k == 0 {
                    format!("{:.2} ({} threads, {} KiB)", b.batch_seal_gb_s, b.batch_threads, b.batch_page_bytes / 1024)
                } else {
                    String::new()
                };
                let name =
                    if k == 0 { format!("{}{}", b.backend, if b.selected { "*" } else { "" }) } else { String::new() };
                let _ = writeln!(
                    o,
                    "{name:<11} {:>5}K {:>8.2} {:>8.2}   {batch}",
                    p.page_bytes / 1024,
                    p.seal_gb_s,
                    p.open_gb_s
                );
            }
        }
        let s = &self.store;
        let _ = writeln!(o, "\nFull store vs disk (same directory, same bytes)");
        let _ = writeln!(
            o,
            "{:<34} {:>10} {:>12} {:>8} {:>14}",
            "", "docs MB/s", "written MB/s", "CPU s", "CPU-bound MB/s"
        );
        let mut rows = vec![("durable ingest, indexing none".to_owned(), &s.ingest_no_index)];
        rows.push(("durable ingest, indexing all".to_owned(), &s.ingest_default_index));
        if let Some(c) = &self.cpu_ceiling {
            rows.push((format!("  indexing none on {}", c.dir), &c.ingest));
        }
        for (name, x) in rows {
            let _ = writeln!(
                o,
                "{name:<34} {:>10.0} {:>12.0} {:>8.2} {:>14.0}",
                x.doc_mb_s, x.written_mb_s, x.cpu_seconds, x.cpu_bound_mb_s
            );
        }
        let _ = writeln!(
            o,
            "{:<34} {:>10.0} {:>12.0} {:>8.2}   {}",
            "full scan", s.scan.doc_mb_s, s.scan.stored_mb_s, s.scan.cpu_seconds, s.scan.cache
        );
        let _ = writeln!(
            o,
            "random gets                        {:.0}/s, mean {:.1} us, p50 {:.1} us, p99 {:.1} us ({})",
            s.gets.gets_per_s, s.gets.mean_us, s.gets.p50_us, s.gets.p99_us, s.gets.cache
        );
        let d = &self.disk;
        let direct = d.write_direct_mb_s.map_or_else(|| "refused".to_owned(), |v| format!("{v:.0}"));
        let each = d.write_direct_sync_each_mb_s.map_or_else(|| "refused".to_owned(), |v| format!("{v:.0}"));
        let _ = writeln!(o, "disk write O_DIRECT                {direct:>23} MB/s");
        let _ = writeln!(o, "disk write O_DIRECT + sync per blk {each:>23} MB/s");
        let _ = writeln!(
            o,
            "disk write + fdatasync per {:>2} MiB  {:>23.0} MB/s",
            d.block_bytes >> 20,
            d.write_fdatasync_mb_s
        );
        let _ = writeln!(o, "disk read ({})  {:>10.0} MB/s", d.read_mode, d.read_mb_s);
        let q = &self.ratios;
        let _ = writeln!(
            o,
            "ratios    ingest/disk write {:.2} (docs {:.2}, vs fdatasync {:.2}, indexed {:.2}, CPU-bound {:.2}), scan/disk read {:.2}",
            q.ingest_vs_disk_write,
            q.ingest_docs_vs_disk_write,
            q.ingest_vs_disk_fdatasync_write,
            q.indexed_ingest_vs_disk_write,
            q.cpu_bound_ingest_vs_disk_write,
            q.scan_vs_disk_read
        );
        let a = &self.analysis;
        let b = &a.cpu_ms_per_doc_mb;
        let _ = writeln!(o, "\nWhere the time goes (CPU ms per MB of documents, ingest with indexing off)");
        let _ = writeln!(
            o,
            "total {:.2}: json {:.2}, seal {:.2}, copy {:.2}, kernel {:.2}, store {:.2}{}",
            b.total,
            b.json,
            b.seal,
            b.copy,
            b.kernel,
            b.other,
            b.indexing.map_or_else(String::new, |i| format!("; default indexing adds {i:.2}"))
        );
        let _ = writeln!(
            o,
            "sealing share {:.1}% (goal < 10%: {}); ingest/disk {:.2} (goal >= 0.9: {})",
            a.sealing_share * 100.0,
            if a.sealing_share_goal_met { "met" } else { "missed" },
            a.ingest_vs_disk_write,
            if a.ingest_goal_met { "met" } else { "missed" }
        );
        for l in &a.limits {
            let _ = writeln!(o, "- {l}");
        }
        for x in [&self.store.ingest_no_index, &self.store.ingest_default_index] {
            let l = &x.leader;
            let _ = writeln!(
                o,
                "- commit leader, indexing {}: busy {:.0}% of the ingest's wall time ({} commits: packing and \
                 sealing {:.2} s, write wait {:.2} s, fdatasync {:.2} s, applying {:.2} s)",
                x.indexing,
                l.busy * 100.0,
                l.commits,
                l.pack_seal_s,
                l.write_wait_s,
                l.sync_s,
                l.apply_s
            );
        }
        let _ = writeln!(o, "\nCores to keep up with NVMe (indexing off)");
        let _ = writeln!(
            o,
            "{:<11} {:>9} {:>14} {:>14} {:>12} {:>14} {:>14}",
            "backend",
            "seal GB/s",
            "seal cores 7G",
            "seal cores 14G",
            "store MB/s",
            "store cores 7G",
            "store cores 14G"
        );
        for n in &self.nvme {
            let _ = writeln!(
                o,
                "{:<11} {:>9.2} {:>14.1} {:>14.1} {:>12.0} {:>14.1} {:>14.1}",
                n.backend,
                n.seal_gb_s_per_core,
                n.seal_cores_pcie4,
                n.seal_cores_pcie5,
                n.store_mb_s_per_core,
                n.store_cores_pcie4,
                n.store_cores_pcie5
            );
        }
        for note in &self.notes {
            let _ = writeln!(o, "note: {note}");
        }
        o
    }
}
