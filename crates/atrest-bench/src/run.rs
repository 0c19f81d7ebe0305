//! One `atrest bench` run, stage by stage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atrest_core::backend;
use atrest_core::page::PageSize;
use atrest_store::IndexPolicy;

use crate::analysis::{self, Inputs};
use crate::error::BenchError;
use crate::progress::Progress;
use crate::report::{Ceiling, Machine, Ratios, Report, RunInfo, StoreRates};
use crate::store_run::{self, BenchStore, DocPool, IngestResult, RunSetup};
use crate::{crypto, disk};

/// Options of a run; [`BenchOptions::default`] is what `atrest bench` does without flags.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Parent directory for the run's data (a fresh subdirectory is made and removed); the system temporary
    /// directory if `None`.
    pub data: Option<PathBuf>,
    /// Document bytes ingested per store run; the disk passes use the bytes the store wrote.
    pub size: u64,
    /// Threads for sealing and parsing; 0 for one per core.
    pub threads: usize,
    /// Draw progress on stderr.
    pub progress: bool,
    /// Wall time per crypto number.
    pub crypto_budget: Duration,
    /// A RAM file system for the CPU-bound ceiling; `None` skips it.
    pub ram_dir: Option<PathBuf>,
    /// The store's page size.
    pub page_size: PageSize,
    /// Seed of the generated documents.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> BenchOptions {
        BenchOptions {
            data: None,
            size: 256 << 20,
            threads: 0,
            progress: true,
            crypto_budget: Duration::from_millis(150),
            ram_dir: Some(PathBuf::from("/dev/shm")),
            page_size: PageSize::KIB_16,
            seed: 0xA7E5_7BE7,
        }
    }
}

/// Most document bytes kept in the pre-generated pool (larger runs cycle it with fresh ids).
const POOL_BYTES: u64 = 64 << 20;
/// Largest number of random gets, and their time budget.
const GETS: u64 = 20_000;
const GETS_BUDGET: Duration = Duration::from_secs(2);
/// Pages sealed to time the sealing share.
const SEAL_SAMPLE_PAGES: u64 = 4096;

/// Runs every stage and returns the report. The run's files are removed afterwards, also on error.
///
/// # Errors
/// [`BenchError`] naming the stage or file that failed.
pub fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    if opts.size == 0 {
        return Err(BenchError::Option { option: "--size", detail: "must be at least 1 byte".into() });
    }
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let base = opts.data.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new().prefix("atrest-bench-").tempdir_in(&base).map_err(|source| BenchError::Io {
        what: "create the run directory",
        path: base.clone(),
        source,
    })?;
    let progress = Progress::new(opts.progress);
    let mut notes = vec![load_note("start")];
    let default = backend::default_backend().map_err(|e| BenchError::Crypto(e.to_string()))?;
    let machine = machine(default.name());
    let pool_threads = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| BenchError::Option { option: "--threads", detail: e.to_string() })?;

    let mut backends = Vec::new();
    for b in backend::supported() {
        let pb = progress.spinner(&format!("sealing pages with {b}"));
        backends.push(crypto::measure(b, b == default, opts.crypto_budget, &pool_threads, opts.page_size)?);
        pb.finish_and_clear();
    }

    let pb = progress.spinner("generating documents");
    let docs = DocPool::with_bytes(opts.seed, opts.size.min(POOL_BYTES));
    pb.finish_and_clear();
    let setup = |name: &str, dir: &Path| RunSetup {
        data_dir: dir.join(name),
        key_dir: root.path().join(format!("{name}-keys")),
        threads,
        page_size: opts.page_size,
    };

    // Store with indexing off: ingest, cold scan, random gets. The log is written with O_DIRECT, so its
    // pages are not in the OS cache after ingest; the scan reads every file through it, so the gets that
    // follow are warm (OS cache and the store's page cache), as their goal is stated.
    let plain = store_run::create(&setup("store-noindex", root.path()), IndexPolicy::None)?;
    let ingest = ingest_stage(&progress, &plain, &docs, opts.size, "none", threads)?;
    let pb = progress.spinner("full scan (cold cache)");
    let scan = store_run::full_scan(&plain, ingest.docs)?;
    pb.finish_and_clear();
    let pb = progress.spinner("random gets");
    let gets = store_run::random_gets(&plain, &docs, ingest.docs, GETS, GETS_BUDGET)?;
    pb.finish_and_clear();
    finish(plain)?;

    let pb = progress.spinner("disk: O_DIRECT write, fdatasync write, read");
    let disk = disk::measure(root.path(), ingest.bytes_written, store_run::BATCH_DOC_BYTES)?;
    pb.finish_and_clear();

    let indexed_store = store_run::create(&setup("store-index", root.path()), IndexPolicy::All)?;
    let indexed = ingest_stage(&progress, &indexed_store, &docs, opts.size, "all", threads)?;
    finish(indexed_store)?;

    let pb = progress.spinner("timing the sealing share");
    let pages_of = |x: &IngestResult| x.bytes_written / opts.page_size.bytes() as u64;
    let seal_cpu = crypto::seal_cpu_seconds(default, opts.page_size, pages_of(&ingest), SEAL_SAMPLE_PAGES)?;
    let parts = analysis::part_rates(&docs, 16 << 20)?;
    pb.finish_and_clear();

    let cpu_ceiling = match &opts.ram_dir {
        Some(ram) if ram.is_dir() => Some(ceiling(&progress, ram, root.path(), threads, opts, &docs, default)?),
        Some(ram) => {
            notes.push(format!("no CPU-bound ceiling: {} is not a directory", ram.display()));
            None
        }
        None => None,
    };

    let analysis = analysis::analyse(&Inputs {
        ingest: &ingest,
        indexed: Some(&indexed),
        ceiling: cpu_ceiling.as_ref().map(|c| &c.ingest),
        disk: &disk,
        seal_cpu_seconds: seal_cpu,
        parts,
        threads,
    });
    let nvme = match &cpu_ceiling {
        Some(c) => {
            let seal = crypto::seal_cpu_seconds(default, opts.page_size, pages_of(&c.ingest), SEAL_SAMPLE_PAGES)?;
            analysis::nvme(&c.ingest, seal, &backends, opts.page_size)
        }
        None => analysis::nvme(&ingest, seal_cpu, &backends, opts.page_size),
    };
    let disk_write = disk.write_reference_mb_s();
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let ratios = Ratios {
        ingest_vs_disk_write: ratio(ingest.written_mb_s, disk_write),
        ingest_docs_vs_disk_write: ratio(ingest.doc_mb_s, disk_write),
        ingest_vs_disk_fdatasync_write: ratio(ingest.written_mb_s, disk.write_fdatasync_mb_s),
        indexed_ingest_vs_disk_write: ratio(indexed.written_mb_s, disk_write),
        scan_vs_disk_read: ratio(scan.stored_mb_s, disk.read_mb_s),
        cpu_bound_ingest_vs_disk_write: ratio(
            cpu_ceiling.as_ref().map_or(ingest.cpu_bound_mb_s, |c| c.ingest.cpu_bound_mb_s),
            disk_write,
        ),
    };
    notes.extend(disk.notes.iter().cloned());
    notes.push(load_note("end"));
    notes.push("ingest CPU is process CPU (user + system, all threads) less the clients' own batch preparation".into());
    let run = RunInfo {
        data_dir: base.display().to_string(),
        size: opts.size,
        threads,
        page_bytes: opts.page_size.bytes(),
        docs: ingest.docs,
    };
    let ingest_summary = crate::report::IngestSummary {
        cores_busy: ingest.cpu_seconds / ingest.seconds.max(1e-9),
        doc_mb_s: ingest.doc_mb_s,
        indexed_doc_mb_s: indexed.doc_mb_s,
    };
    let gets_summary =
        crate::report::GetsSummary { per_s: gets.gets_per_s, p99_us: gets.p99_us, threads: store_run::GET_THREADS };
    Ok(Report {
        machine,
        run,
        ingest: ingest_summary,
        gets: gets_summary,
        backends,
        store: StoreRates { ingest_no_index: ingest, ingest_default_index: indexed, gets, scan },
        disk,
        ratios,
        cpu_ceiling,
        analysis,
        nvme,
        notes,
    })
}

/// Runs and prints the report to stdout: JSON if `json`, else tables.
///
/// # Errors
/// As [`run`].
pub fn run_and_print(opts: &BenchOptions, json: bool) -> Result<Report, BenchError> {
    let report = run(opts)?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    Ok(report)
}

fn ingest_stage(
    progress: &Progress,
    store: &BenchStore,
    docs: &DocPool,
    size: u64,
    indexing: &str,
    threads: usize,
) -> Result<IngestResult, BenchError> {
    let pb = progress.bytes(&format!("ingest, indexing {indexing}"), size);
    let r = store_run::ingest(store, docs, size, indexing, threads, &|done| pb.set_position(done));
    pb.finish_and_clear();
    r
}

fn ceiling(
    progress: &Progress,
    ram: &Path,
    root: &Path,
    threads: usize,
    opts: &BenchOptions,
    docs: &DocPool,
    backend: atrest_core::Backend,
) -> Result<Ceiling, BenchError> {
    let dir = tempfile::Builder::new().prefix("atrest-bench-").tempdir_in(ram).map_err(|source| BenchError::Io {
        what: "create the RAM run directory",
        path: ram.to_owned(),
        source,
    })?;
    let setup = RunSetup {
        data_dir: dir.path().join("store"),
        key_dir: root.join("ceiling-keys"),
        threads,
        page_size: opts.page_size,
    };
    let store = store_run::create(&setup, IndexPolicy::None)?;
    let ingest = ingest_stage(progress, &store, docs, opts.size, "none (RAM)", threads)?;
    finish(store)?;
    let seal = crypto::seal_cpu_seconds(
        backend,
        opts.page_size,
        ingest.bytes_written / opts.page_size.bytes() as u64,
        SEAL_SAMPLE_PAGES,
    )?;
    let share = if ingest.cpu_seconds > 0.0 { seal / ingest.cpu_seconds } else { 0.0 };
    Ok(Ceiling { dir: ram.display().to_string(), ingest, sealing_share: share })
}

/// Closes a run's store and removes its data directory.
fn finish(bench: BenchStore) -> Result<(), BenchError> {
    bench.store.close().map_err(|source| BenchError::Store { stage: "closing".into(), source })?;
    std::fs::remove_dir_all(&bench.data_dir).map_err(|source| BenchError::Io {
        what: "remove the run's data directory",
        path: bench.data_dir,
        source,
    })
}

/// The machine a run measures.
pub(crate) fn machine(backend: &str) -> Machine {
    Machine {
        cpu: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        cpu_features: atrest_core::CpuFeatures::get().names().into_iter().map(str::to_owned).collect(),
        backend: backend.to_owned(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// The load average, so a reader can tell a quiet machine from a busy one.
pub(crate) fn load_note(when: &str) -> String {
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(l) => format!("load average at {when}: {}", l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
        Err(_) => format!("load average at {when}: unknown"),
    }
}
