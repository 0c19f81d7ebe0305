//! `atrest bench --docs N`: the store at scale, measured the way a user meets it — through whole `atrest`
//! processes. N small documents (about 200 bytes, every scalar indexed) are imported with `atrest import`,
//! then each command is timed as a whole process (start, open, work, exit) with its peak resident memory
//! (the CLI reports `VmHWM` when `ATREST_REPORT_PEAK_RSS` is set): `get`, `put`, `find`, a cold `export`
//! (the full scan) and `reindex`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use crate::docgen::Rng;
use crate::error::BenchError;
use crate::report::Machine;

/// The environment variable that makes `atrest` print its peak RSS on exit.
pub const PEAK_RSS_ENV: &str = "ATREST_REPORT_PEAK_RSS";
/// The line prefix it prints, followed by KiB.
pub const PEAK_RSS_PREFIX: &str = "atrest: peak RSS KiB ";
const COLLECTION: &str = "people";
const CITIES: [&str; 16] = [
    "Oslo", "Bergen", "Lisbon", "Porto", "Lyon", "Nantes", "Turin", "Genoa", "Leeds", "Cork", "Ghent", "Graz", "Brno",
    "Lodz", "Malmo", "Aarhus",
];

/// What `--docs` runs.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Parent directory of the run (a fresh subdirectory is made and removed).
    pub data: Option<PathBuf>,
    /// Documents to import.
    pub docs: u64,
    /// The `atrest` binary to run.
    pub atrest: PathBuf,
    /// Seed of the documents.
    pub seed: u64,
}

/// One timed process.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Wall time of the whole process, milliseconds (median of `runs`).
    pub ms: f64,
    /// The slowest run, milliseconds.
    pub max_ms: f64,
    /// Peak resident memory of the process, MiB (largest of the runs).
    pub peak_rss_mib: f64,
    /// Processes run.
    pub runs: usize,
}

/// The scale report.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// The machine.
    pub machine: Machine,
    /// Documents imported.
    pub docs: u64,
    /// Their JSON bytes.
    pub doc_bytes: u64,
    /// `atrest import` of all of them (durable, every scalar indexed).
    pub ingest: Step,
    /// Documents per second of the import.
    pub ingest_docs_per_s: f64,
    /// `atrest get` of a random id.
    pub get: Step,
    /// `atrest put` of one new document.
    pub put: Step,
    /// `atrest find` of a value about 1/16 of the documents hold (output discarded).
    pub find: Step,
    /// Documents `find` returned.
    pub find_hits: u64,
    /// `atrest export` of the whole collection from a cold page cache (output discarded).
    pub scan: Step,
    /// `atrest reindex` of the collection.
    pub reindex: Step,
    /// Bytes of the data directory after the import.
    pub store_bytes: u64,
    /// Notes (load average).
    pub notes: Vec<String>,
}

impl ScaleReport {
    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn io<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> BenchError + 'p {
    move |source| BenchError::Io { what, path: path.to_owned(), source }
}

/// A document of about 200 bytes.
fn document(rng: &mut Rng, n: u64) -> String {
    let city = CITIES[(n % CITIES.len() as u64) as usize];
    let age = 18 + rng.below(70);
    let score = rng.below(100_000) as f64 / 100.0;
    let active = rng.below(2) == 1;
    format!(
        r#"{{"id":"u{n:010}","name":"user {n}","email":"user{n}@example.org","city":"{city}","age":{age},"score":{score},"active":{active},"tags":["t{}","t{}"],"joined":"2026-{:02}-{:02}","plan":"standard monthly"}}"#,
        rng.below(50),
        rng.below(50),
        1 + rng.below(12),
        1 + rng.below(28)
    )
}

/// Runs `atrest ARGS` with the store's options; returns (wall ms, peak RSS MiB, stdout lines).
fn timed(
    opts: &ScaleOptions,
    dir: &Path,
    key: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<(f64, f64, u64), BenchError> {
    let mut c = Command::new(&opts.atrest);
    c.arg("--data").arg(dir).arg("--key-file").arg(key).args(args).env(PEAK_RSS_ENV, "1");
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = c.spawn().map_err(io("run", &opts.atrest))?;
    if let (Some(b), Some(mut i)) = (stdin, child.stdin.take()) {
        i.write_all(b).map_err(io("write to", &opts.atrest))?;
    }
    // Output is counted as it arrives, never held: an export prints every document.
    let mut stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut e = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut e);
        }
        e
    });
    let mut lines = 0u64;
    if let Some(mut o) = child.stdout.take() {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = std::io::Read::read(&mut o, &mut buf).map_err(io("read the output of", &opts.atrest))?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    let status = child.wait().map_err(io("wait for", &opts.atrest))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let err_bytes = err_reader.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&err_bytes);
    if !status.success() {
        return Err(BenchError::Worker(format!("atrest {}: {}", args.join(" "), err.trim())));
    }
    let kib: f64 =
        err.lines().find_map(|l| l.strip_prefix(PEAK_RSS_PREFIX)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0);
    Ok((ms, kib / 1024.0, lines))
}

fn step(samples: &[(f64, f64, u64)]) -> Step {
    let mut ms: Vec<f64> = samples.iter().map(|s| s.0).collect();
    ms.sort_by(f64::total_cmp);
    Step {
        ms: ms[ms.len() / 2],
        max_ms: ms[ms.len() - 1],
        peak_rss_mib: samples.iter().map(|s| s.1).fold(0.0, f64::max),
        runs: samples.len(),
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// Evicts every file of `dir` from the page cache.
fn cold(dir: &Path) -> Result<(), BenchError> {
    for e in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let path = e.map_err(io("list", dir))?.path();
        let f = std::fs::File::open(&path).map_err(io("open", &path))?;
        f.sync_all().map_err(io("sync", &path))?;
        crate::disk::drop_cache(&f).map_err(io("drop the page cache of", &path))?;
    }
    Ok(())
}

/// Runs the scale section. Its files are removed afterwards, also on error.
///
/// # Errors
/// [`BenchError`] naming the step or file that failed.
pub fn run_scale(opts: &ScaleOptions, progress: &mut dyn FnMut(&str)) -> Result<ScaleReport, BenchError> {
    let default = atrest_core::backend::default_backend().map_err(|e| BenchError::Crypto(e.to_string()))?;
    let machine = crate::run::machine(default.name());
    if opts.docs == 0 {
        return Err(BenchError::Option { option: "--docs", detail: "must be at least 1".into() });
    }
    let base = opts.data.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("atrest-scale-")
        .tempdir_in(&base)
        .map_err(io("create the run directory", &base))?;
    let dir = root.path().join("data");
    let key = root.path().join("master.key");
    let file = root.path().join("docs.jsonl");
    let notes = vec![crate::run::load_note("start")];
    progress(&format!("generating {} documents", opts.docs));
    let mut rng = Rng::new(opts.seed);
    let mut doc_bytes = 0u64;
    {
        let f = std::fs::File::create(&file).map_err(io("create", &file))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        for n in 0..opts.docs {
            let d = document(&mut rng, n);
            doc_bytes += d.len() as u64;
            w.write_all(d.as_bytes()).and_then(|()| w.write_all(b"\n")).map_err(io("write", &file))?;
        }
        w.flush().map_err(io("write", &file))?;
    }
    std::fs::create_dir(&dir).map_err(io("create", &dir))?;
    timed(opts, &dir, &key, &["init"], None)?;
    timed(opts, &dir, &key, &["create", COLLECTION, "--index", "all"], None)?;
    progress("importing");
    let f = file.to_str().ok_or_else(|| BenchError::Option { option: "--data", detail: "not UTF-8".into() })?;
    let ingest = timed(opts, &dir, &key, &["import", COLLECTION, f, "--batch", "20000"], None)?;
    std::fs::remove_file(&file).map_err(io("remove", &file))?;
    let store_bytes = dir_bytes(&dir);
    progress("timing get, put, find, export, reindex");
    let mut rng = Rng::new(opts.seed ^ 0x6e7);
    let gets: Vec<_> = (0..11)
        .map(|_| {
            let id = format!("u{:010}", rng.below(opts.docs));
            timed(opts, &dir, &key, &["get", COLLECTION, &id], None)
        })
        .collect::<Result<_, _>>()?;
    let puts: Vec<_> = (0..5)
        .map(|i| {
            let id = format!("new{i}");
            timed(opts, &dir, &key, &["put", COLLECTION, &id], Some(br#"{"name":"new","city":"Oslo"}"#))
        })
        .collect::<Result<_, _>>()?;
    let find = timed(opts, &dir, &key, &["find", COLLECTION, "/city", "Lisbon"], None)?;
    cold(&dir)?;
    let scan = timed(opts, &dir, &key, &["export", COLLECTION], None)?;
    let reindex = timed(opts, &dir, &key, &["reindex", COLLECTION], None)?;
    let mut notes = notes;
    notes.push(crate::run::load_note("end"));
    Ok(ScaleReport {
        machine,
        docs: opts.docs,
        doc_bytes,
        ingest_docs_per_s: opts.docs as f64 / (ingest.0 / 1e3),
        ingest: step(&[ingest]),
        get: step(&gets),
        put: step(&puts),
        find_hits: find.2,
        find: step(&[find]),
        scan: step(&[scan]),
        reindex: step(&[reindex]),
        store_bytes,
        notes,
    })
}

impl ScaleReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let mb = self.doc_bytes as f64 / 1e6;
        s += &format!("Scale: {} documents ({:.0} MB of JSON, every scalar indexed)\n", self.docs, mb);
        s += &format!("cpu: {} ({} cores), backend {}\n", self.machine.cpu, self.machine.cores, self.machine.backend);
        let row = |name: &str, st: &Step| {
            format!(
                "{name:<28} {:>10.1} ms {:>10.1} ms max {:>8.1} MiB peak RSS ({} runs)\n",
                st.ms, st.max_ms, st.peak_rss_mib, st.runs
            )
        };
        s += &row("atrest import (whole)", &self.ingest);
        s += &format!(
            "  {:.0} docs/s, {:.1} MB/s of documents; store on disk {:.0} MB\n",
            self.ingest_docs_per_s,
            mb / (self.ingest.ms / 1e3),
            self.store_bytes as f64 / 1e6
        );
        s += &row("atrest get (open + get)", &self.get);
        s += &row("atrest put (one document)", &self.put);
        s += &row(&format!("atrest find ({} hits)", self.find_hits), &self.find);
        s += &row("atrest export (cold scan)", &self.scan);
        s += &format!("  {:.1} MB/s of documents\n", mb / (self.scan.ms / 1e3));
        s += &row("atrest reindex", &self.reindex);
        for n in &self.notes {
            s += &format!("note: {n}\n");
        }
        s
    }
}
