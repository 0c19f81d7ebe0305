//! `atrest`: the always-encrypted document store from the shell. Thin: every operation is one call into
//! atrest-store; this file parses arguments, shows progress and prints results.

mod backup;
mod collections;
mod find;
mod import;
mod keys;
mod output;
mod remote;
mod rollback;
mod serve;
mod token;

use atrest_store::{IndexPolicy, Store, StoreConfig};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use output::outln;

/// An encrypted document store: JSON documents, their index and attachments are sealed at rest, always.
#[derive(Parser, Debug)]
#[command(name = "atrest", version, about)]
struct Cli {
    /// The data directory.
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(flatten)]
    keys: keys::KeyArgs,
    /// Run the command through the `atrest serve` at this URL instead of opening --data (get, put, delete,
    /// create, drop, find, import, export, attach, attachment, collections, info, rotate, token).
    #[arg(long, global = true, value_name = "https://HOST:PORT")]
    url: Option<String>,
    /// With --url: the file holding the access token (from `atrest token create`).
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// With --url: the server's certificate, or the CA that issued it (PEM).
    #[arg(long, global = true, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Threads for sealing and opening pages (0: one per core; at most 1024).
    #[arg(long, global = true, default_value_t = 0, value_parser = parse_threads)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Creates a new store, and its master key where the key service does not hold it yet.
    Init {
        /// Page size in KiB (4, 8, 16, 32 or 64).
        #[arg(long, default_value_t = 16)]
        page_kib: usize,
        /// The master key's id in the key service (default master-1); made there if missing.
        #[arg(long, value_name = "ID")]
        master_key: Option<String>,
    },
    /// Creates a collection with an indexing policy (put and import create missing ones with `all`).
    Create {
        /// Collection name.
        collection: String,
        /// `all`, `none`, or comma-separated JSON Pointers (e.g. /address/city,/name).
        #[arg(long, default_value = "all")]
        index: String,
    },
    /// Stores a JSON document (from FILE, or stdin without it), replacing any with the same id.
    Put {
        /// Collection name.
        collection: String,
        /// Document id.
        id: String,
        /// File holding the document.
        file: Option<PathBuf>,
    },
    /// Prints a document.
    Get {
        /// Collection name.
        collection: String,
        /// Document id.
        id: String,
    },
    /// Deletes a document and its attachments.
    Delete {
        /// Collection name.
        collection: String,
        /// Document id.
        id: String,
    },
    /// Imports a JSON Lines file, one document per line, in group-committed batches. If a line is refused, the
    /// lines before it are committed and the error says which; fix the line and continue with --resume-from.
    Import {
        /// Collection name.
        collection: String,
        /// The .jsonl file.
        file: PathBuf,
        /// The field holding each document's id: a string, or an integer written as plain digits (any length;
        /// {"id":1} and {"id":"1"} are the same document, id "1"; 1.0, 1e2 and -0 are refused).
        #[arg(long, default_value = "id")]
        id_field: String,
        /// Documents per commit batch.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Start at this line (1-based), skipping the lines before it: to continue a failed import.
        #[arg(long, value_name = "LINE", default_value_t = 1)]
        resume_from: u64,
    },
    /// Prints documents whose value at a JSON Pointer equals VALUE: the id, a tab, the document (or JSON Lines).
    Find {
        /// Collection name.
        collection: String,
        /// JSON Pointer, e.g. /address/city.
        pointer: String,
        /// The value: JSON (42, true, "x") or else taken as a string.
        value: String,
        /// Output: tsv (the id, a tab, the document) or jsonl ({"id":…,"doc":…} per line, for scripts).
        #[arg(long, value_enum, default_value = "tsv")]
        format: find::FindFormat,
    },
    /// Stores FILE as attachment NAME of a document, streamed.
    Attach {
        /// Collection name.
        collection: String,
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
        /// File to attach.
        file: PathBuf,
    },
    /// Writes an attachment's bytes to stdout.
    Attachment {
        /// Collection name.
        collection: String,
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
    },
    /// Drops a collection and destroys its keys.
    Drop {
        /// Collection name.
        collection: String,
    },
    /// Opens every page, the index and the catalog; lists failures and exits non-zero if there are any.
    Verify,
    /// Makes new active data keys (old pages stay readable).
    Rotate,
    /// Rewrites all data under the current keys and destroys the old data keys.
    Rekey,
    /// Rebuilds a collection's id map and index from its documents in the log (after damage to its index
    /// files, or to check them).
    Reindex {
        /// Collection name.
        collection: String,
    },
    /// Measures the crypto backends, the full store (durable ingest, gets, scan) and the disk in one run, in a
    /// temporary directory under --data (or the system temp dir), with a temporary key file.
    Bench {
        /// Document bytes ingested per store run (e.g. 268435456, 256MiB, 1GB).
        #[arg(long, default_value = "256MiB", value_parser = atrest_bench::parse_size)]
        size: u64,
        /// Print the report as JSON (progress still goes to stderr).
        #[arg(long)]
        json: bool,
        /// Instead: the scale section. Import this many small documents (about 200 bytes, every scalar
        /// indexed) with `atrest import`, then time whole `atrest` processes (get, put, find, a cold export,
        /// reindex) and their peak memory.
        #[arg(long)]
        docs: Option<u64>,
    },
    /// Writes every document of a collection to stdout as JSON Lines, in id order (a full scan).
    Export {
        /// Collection name.
        collection: String,
    },
    /// Shows the backend, CPU features, store statistics and key ids (never key bytes).
    Info,
    /// Accepts a data directory that is older than the key service's record of the store (a copy put back on
    /// purpose): says what is older and by how much; with --yes, moves the record back to this directory.
    AcceptRollback {
        /// Accept (without it, only say what would be accepted).
        #[arg(long)]
        yes: bool,
    },
    /// Lists the collections: name, index policy and document count, tab separated.
    Collections,
    /// Backs the store up to TARGET (a directory or an object-store URL), incrementally; --every: periodically.
    Backup(backup::BackupArgs),
    /// Restores a backup (default: the newest) into the empty or new --data directory, verifying every page.
    Restore(backup::ReadArgs),
    /// Checks every file of a backup against its digest and opens every page; lists problems, non-zero if any.
    VerifyBackup(backup::ReadArgs),
    /// Serves the store over HTTPS (see docs/api.md) until SIGTERM; prints `listening on https://HOST:PORT`.
    Serve(serve::ServeArgs),
    /// Access tokens of `atrest serve`: create, list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Test aid: writes documents until killed, printing `acked ID` after each write is durable.
    #[command(hide = true)]
    Soak {
        /// Collection name.
        collection: String,
        /// Id prefix.
        prefix: String,
        /// Go on after a failed write (printing `failed I: ERROR`), and read an early document back after
        /// each write (printing `read-failed: ERROR` when that fails): for key-service outage tests.
        #[arg(long)]
        keep_going: bool,
    },
}

/// The most threads `--threads` accepts: far beyond any core count that helps, short of what exhausts a
/// process's memory or thread limit before anything runs.
const MAX_THREADS: usize = 1024;

fn parse_threads(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|_| format!("{text:?} is not a number of threads"))?;
    if n > MAX_THREADS {
        return Err(format!("{n} threads is more than the {MAX_THREADS} allowed (0 means one per core)"));
    }
    Ok(n)
}

/// `atrest bench`: the whole report lives in atrest-bench.
/// `atrest bench --docs N`: the scale section, run through this binary.
fn scale(data: Option<PathBuf>, docs: u64, json: bool) -> Result<(), String> {
    let atrest = std::env::current_exe().map_err(|e| format!("cannot find the atrest binary: {e}"))?;
    let opts = atrest_bench::scale::ScaleOptions { data, docs, atrest, seed: 0x5ca1e };
    let report =
        atrest_bench::scale::run_scale(&opts, &mut |m| eprintln!("atrest bench: {m}")).map_err(|e| e.to_string())?;
    if json {
        outln!("{}", report.to_json());
    } else {
        outln!("{}", report.text());
    }
    Ok(())
}

fn bench(data: Option<PathBuf>, threads: usize, size: u64, json: bool) -> Result<(), String> {
    let opts = atrest_bench::BenchOptions { data, size, threads, ..Default::default() };
    let report = atrest_bench::run(&opts).map_err(|e| e.to_string())?;
    if json {
        outln!("{}", report.to_json())
    } else {
        output::write(report.render().as_bytes())
    }
    Ok(())
}

/// Prints this process's peak resident memory if the benchmark asked for it (`atrest bench --docs`).
fn report_peak_rss() {
    if std::env::var_os(atrest_bench::scale::PEAK_RSS_ENV).is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
        eprintln!("{}{}", atrest_bench::scale::PEAK_RSS_PREFIX, kib.trim().trim_end_matches(" kB"));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = run(cli);
    report_peak_rss();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atrest: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bar(total: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(total);
    b.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(what.to_owned());
    b
}

fn policy(s: &str) -> IndexPolicy {
    match s {
        "all" => IndexPolicy::All,
        "none" => IndexPolicy::None,
        paths => IndexPolicy::Paths(paths.split(',').map(str::to_owned).collect()),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    if let Command::VerifyBackup(args) = &cli.command {
        return backup::verify(&cli.keys, args);
    }
    // `bench` needs no store: without --data it runs in the system temp dir.
    if let Command::Bench { size, json, docs } = cli.command {
        return match docs {
            Some(docs) => scale(cli.data, docs, json),
            None => bench(cli.data, cli.threads, size, json),
        };
    }
    if let Some(url) = &cli.url {
        if cli.data.is_some() {
            return Err("--url and --data name two stores: give one of them".to_owned());
        }
        let remote = remote::Remote::new(url, cli.token_file.as_deref(), cli.ca_file.as_deref())?;
        return remote::run(&remote, cli.command);
    }
    let data = cli.data.clone().ok_or("no data directory: pass --data DIR (or --url of a server)")?;
    let key_args = &cli.keys;
    let threads = cli.threads;
    // The lock file records who owns the directory, so a second command can say who it is waiting for.
    // Only the subcommand's name: the lock file is plaintext, and arguments can be user data.
    let owner = {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_owned()).collect();
        let sub = std::env::args().skip(1).find(|a| names.contains(a)).unwrap_or_default();
        format!("atrest {sub}")
    };
    let tune = |c: &mut StoreConfig| {
        c.threads = threads;
        c.owner = owner.clone();
    };
    let open = || keys::open(&data, key_args, tune);
    let e = |e: atrest_store::StoreError| e.to_string();
    match cli.command {
        Command::Init { page_kib, master_key } => {
            let size = atrest_core::page::PageSize::new(page_kib * 1024).map_err(|e| e.to_string())?;
            let made = keys::init(&data, key_args, master_key.as_deref(), |c| {
                c.threads = threads;
                c.page_size = size;
            })?;
            let id = made.store.format().store_id_hex();
            made.store.close().map_err(e)?;
            outln!("created store {id} in {}", data.display());
            match made.key_file {
                Some(path) => {
                    outln!("key file: {} (keep it, and a backup of it, outside the data directory)", path.display())
                }
                None => outln!(
                    "master key: {} {}",
                    made.provider,
                    if made.new_master_key { "(made now)" } else { "(found there)" }
                ),
            }
            Ok(())
        }
        Command::Create { collection, index } => {
            let s = open()?;
            s.create_collection(&collection, policy(&index)).map_err(e)?;
            s.close().map_err(e)
        }
        Command::Put { collection, id, file } => {
            let doc = read_input(file.as_deref())?;
            let s = open()?;
            s.ensure_collection(&collection).map_err(e)?;
            s.put(&collection, &id, doc).map_err(e)?;
            s.close().map_err(e)
        }
        Command::Get { collection, id } => {
            let s = open()?;
            let mut doc = s.get(&collection, &id).map_err(e)?.ok_or(format!("no document {id:?} in {collection:?}"))?;
            doc.push(b'\n');
            output::write(&doc);
            Ok(())
        }
        Command::Delete { collection, id } => {
            let s = open()?;
            if !s.delete(&collection, &id).map_err(e)? {
                return Err(format!("no document {id:?} in {collection:?}"));
            }
            s.close().map_err(e)
        }
        Command::Import { collection, file, id_field, batch, resume_from } => {
            let args =
                import::ImportArgs { collection: &collection, file: &file, id_field: &id_field, batch, resume_from };
            import::import(open()?, &args)
        }
        Command::Find { collection, pointer, value, format } => {
            let v = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            let s = open()?;
            let mut out = std::io::BufWriter::new(output::Stdout);
            for item in s.find_iter(&collection, &pointer, &v).map_err(e)? {
                let (id, doc) = item.map_err(e)?;
                out.write_all(&find::line(format, &id, &one_line(doc))).map_err(|e| format!("stdout: {e}"))?;
            }
            out.flush().map_err(|e| format!("stdout: {e}"))
        }
        Command::Attach { collection, id, name, file } => {
            let f = std::fs::File::open(&file).map_err(|err| format!("{}: {err}", file.display()))?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let s = open()?;
            let b = bar(len, "attaching");
            let n = s.attach(&collection, &id, &name, b.wrap_read(f)).map_err(e)?;
            b.finish_and_clear();
            eprintln!("attached {n} bytes");
            s.close().map_err(e)
        }
        Command::Attachment { collection, id, name } => {
            let s = open()?;
            let mut r = s
                .attachment_reader(&collection, &id, &name)
                .map_err(e)?
                .ok_or(format!("no attachment {name:?} on {id:?} in {collection:?}"))?;
            std::io::copy(&mut r, &mut output::Stdout).map_err(|e| format!("attachment: {e}"))?;
            Ok(())
        }
        Command::Drop { collection } => {
            let s = open()?;
            s.drop_collection(&collection).map_err(e)?;
            s.close().map_err(e)
        }
        Command::Verify => {
            let s = open()?;
            let b = bar(0, "verifying pages");
            let r = s
                .verify(&mut |done, total| {
                    b.set_length(total);
                    b.set_position(done);
                })
                .map_err(e)?;
            b.finish_and_clear();
            for f in &r.failures {
                outln!("FAIL {} at offset {}: {}", f.file, f.offset, f.detail);
            }
            outln!("{} pages ok, {} shredded, {} failures", r.pages_ok, r.pages_shredded, r.failures.len());
            if r.is_ok() { Ok(()) } else { Err(format!("verify found {} failures", r.failures.len())) }
        }
        Command::Rotate => {
            let s = open()?;
            let ids = s.rotate().map_err(e)?;
            s.close().map_err(e)?;
            outln!("new active data keys: {ids:?}");
            Ok(())
        }
        Command::Rekey => {
            let s = open()?;
            let b = bar(0, "rewriting documents");
            let r = s
                .rekey(&mut |done, total| {
                    b.set_length(total);
                    b.set_position(done);
                })
                .map_err(e)?;
            b.finish_and_clear();
            let keys = s.stats().map_err(e)?.keys;
            s.close().map_err(e)?;
            outln!(
                "rewrote {} documents and {} attachments, removed {} segments, destroyed keys {:?}",
                r.documents,
                r.attachments,
                r.segments_removed,
                r.keys_destroyed
            );
            if r.keys_destroyed.is_empty() {
                outln!("{}", nothing_destroyed(&keys));
            }
            Ok(())
        }
        Command::Reindex { collection } => {
            let s = open()?;
            let b = bar(0, "reading the log");
            let docs = s
                .reindex(&collection, &mut |done, total| {
                    b.set_length(total);
                    b.set_position(done);
                })
                .map_err(e)?;
            b.finish_and_clear();
            s.close().map_err(e)?;
            outln!("rebuilt the index of {collection:?}: {docs} documents");
            Ok(())
        }
        Command::Info => info(open()?),
        Command::AcceptRollback { yes } => rollback::accept_rollback(&data, key_args, tune, yes),
        Command::Collections => collections::list(&open()?),
        Command::Backup(args) => backup::backup(open()?, &data, args),
        Command::Restore(args) => backup::restore(&data, key_args, args),
        Command::VerifyBackup(args) => backup::verify(key_args, &args),
        Command::Bench { .. } => unreachable!("handled before the store is opened"),
        Command::Export { collection } => {
            let s = open()?;
            // `output::Stdout` ends the process on a write error, so these writes cannot fail here.
            let mut out = std::io::BufWriter::with_capacity(1 << 20, output::Stdout);
            for d in s.scan(&collection) {
                let (_, doc) = d.map_err(e)?;
                let _ = out.write_all(&one_line(doc)).and_then(|()| out.write_all(b"\n"));
            }
            let _ = out.flush();
            Ok(())
        }
        Command::Soak { collection, prefix, keep_going } => soak(open()?, &collection, &prefix, keep_going),
        Command::Serve(args) => serve::serve(&data, key_args, |c| c.threads = threads, args),
        Command::Token(cmd) => token::run(open()?, cmd),
    }
}

/// Reads a document, without surrounding whitespace (so `echo '{..}' | atrest put` stores no newline), refusing
/// one over the size limit before reading it whole.
fn read_input(file: Option<&Path>) -> Result<Vec<u8>, String> {
    let max = atrest_store::Limits::default().max_doc_len;
    match file {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
            import::read_document(f, &p.display().to_string(), max)
        }
        None => import::read_document(std::io::stdin().lock(), "stdin", max),
    }
}

/// A document on one line: compact JSON if the stored text spans lines.
fn one_line(doc: Vec<u8>) -> Vec<u8> {
    if !doc.contains(&b'\n') {
        return doc;
    }
    serde_json::from_slice::<serde_json::Value>(&doc).map(|v| v.to_string().into_bytes()).unwrap_or(doc)
}

fn soak(s: Store, collection: &str, prefix: &str, keep_going: bool) -> Result<(), String> {
    s.ensure_collection(collection).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let doc = |i: u64| format!(r#"{{"p":"{prefix}","i":{i},"pad":"{}"}}"#, "s".repeat((i as usize * 37) % 3000));
    for i in 0u64.. {
        let written = if i % 5 == 0 {
            let batch: Vec<_> = (0..20).map(|j| (format!("{prefix}-{i}-{j}"), doc(i).into_bytes())).collect();
            let ids = batch.iter().map(|b| b.0.clone()).collect();
            s.put_many(collection, batch).map(|()| ids)
        } else {
            let id = format!("{prefix}-{i}");
            s.put(collection, &id, doc(i).into_bytes()).map(|()| vec![id])
        };
        if keep_going && let Err(e) = s.get(collection, &format!("{prefix}-1")) {
            writeln!(out, "read-failed: {e}").map_err(|e| e.to_string())?;
        }
        let ids = match written {
            Ok(ids) => ids,
            Err(e) if keep_going => {
                writeln!(out, "failed {i}: {e}").map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        for id in ids {
            writeln!(out, "acked {id} {i}").map_err(|e| e.to_string())?;
        }
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Why a `rekey` destroyed no key, and what to run: it destroys only retired keys, which `rotate` makes.
fn nothing_destroyed(keys: &[atrest_keys::EntryInfo]) -> String {
    let retired: Vec<u32> =
        keys.iter().filter(|k| k.state == atrest_keys::KeyState::DecryptOnly).map(|k| k.id).collect();
    if retired.is_empty() {
        "no key was destroyed because no data key is retired: every key is still active. `rekey` destroys the keys \
         that `rotate` retires, once their data is rewritten: run `atrest rotate`, then `atrest rekey`."
            .to_owned()
    } else {
        format!("no key was destroyed: retired keys {retired:?} are still referenced, so they were kept")
    }
}

fn info(s: Store) -> Result<(), String> {
    let st = s.stats().map_err(|e| e.to_string())?;
    let supported: Vec<&str> = atrest_core::backend::supported().into_iter().map(|b| b.name()).collect();
    outln!("backend: {} (supported: {})", st.backend, supported.join(", "));
    outln!("cpu features: {}", atrest_core::backend::CpuFeatures::get().names().join(" "));
    outln!("store id: {}", st.store_id);
    outln!("page size: {} bytes, segments: {}, bytes on disk: {}", st.page_size, st.segments, st.bytes_on_disk);
    outln!("manifest generation: {}", st.generation);
    for c in &st.collections {
        outln!(
            "collection {:?}: {} documents, {} index entries, runs: {} id map, {} index",
            c.name,
            c.documents,
            c.index_entries,
            c.id_runs,
            c.index_runs
        );
    }
    outln!("keys: {}", st.key_source);
    for k in &st.keys {
        let state = match k.state {
            atrest_keys::KeyState::Destroyed => "destroyed",
            atrest_keys::KeyState::Active => "active",
            atrest_keys::KeyState::DecryptOnly => "decrypt-only",
        };
        outln!("  key {} {:?} {state}", k.id, k.scope);
    }
    match (&st.anchored, &st.anchor_problem) {
        (Some(r), problem) => {
            outln!(
                "rollback protection: the key service's record says generation {}, commit batch {}, data keys \
                 through {}, {} destroyed",
                r.generation,
                r.durable_batch,
                r.keys_through,
                r.shredded.len()
            );
            if let Some(p) = problem {
                outln!("  the record could not be advanced: {p}");
            }
        }
        (None, why) => outln!("rollback protection: off ({})", why.as_deref().unwrap_or("unknown")),
    }
    Ok(())
}
