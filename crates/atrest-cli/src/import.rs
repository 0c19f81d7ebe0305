//! `atrest import`: a JSON Lines file into a collection, in group-committed batches, with a progress bar. The
//! import itself (lines read under the size limit, ids, batches, exactly what a failure leaves committed) is
//! `atrest_server::import`, which `POST /v1/collections/{c}/import` runs on a streamed body too.

use atrest_server::import::{ImportError, ImportEvent, ImportOptions};
use atrest_store::Store;
use std::io::Read;
use std::path::Path;

/// What `atrest import` was asked to do.
pub struct ImportArgs<'a> {
    pub collection: &'a str,
    pub file: &'a Path,
    pub id_field: &'a str,
    pub batch: usize,
    /// First line to import (1: all); earlier lines are read past, not checked.
    pub resume_from: u64,
}

/// Runs the import; the message of an error says what was committed.
pub fn import(s: Store, args: &ImportArgs<'_>) -> Result<(), String> {
    let file = args.file.display();
    let f = std::fs::File::open(args.file).map_err(|e| format!("{file}: {e}"))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    s.ensure_collection(args.collection).map_err(|e| e.to_string())?;
    let before = s.count(args.collection).map_err(|e| e.to_string())?;
    let bar = crate::bar(len, "importing");
    let mut reader = std::io::BufReader::with_capacity(1 << 20, bar.wrap_read(f));
    let opts = ImportOptions { id_field: args.id_field.to_owned(), batch: args.batch, resume_from: args.resume_from };
    let mut repeats = 0u64;
    let result = atrest_server::import::import(&s, args.collection, &mut reader, &opts, &mut |e| {
        if let ImportEvent::RepeatedId { line, earlier, id } = e {
            repeats += 1;
            if repeats <= 10 {
                eprintln!("{file}: line {line}: id {id:?} repeats line {earlier}; the later line wins");
            }
        }
    });
    let imported = match result {
        Ok(done) => done.documents,
        Err(ImportError::Input { error, .. }) => return Err(format!("{file}: {error}")),
        Err(ImportError::Line { line, what, resume_from, committed, .. }) => {
            let done = committed.describe();
            return Err(format!(
                "{file}: line {line}: {what}\n{done}; fix line {line} and continue with --resume-from {resume_from}"
            ));
        }
    };
    bar.finish_and_clear();
    let after = s.count(args.collection).map_err(|e| e.to_string())?;
    let new = after.saturating_sub(before);
    let mut report = format!(
        "imported {imported} documents into {:?}: {new} new, {} replaced a document with the same id",
        args.collection,
        imported.saturating_sub(new)
    );
    if repeats > 0 {
        report.push_str(&format!(" ({repeats} repeated an id of an earlier line of the same batch)"));
    }
    eprintln!("{report}");
    s.close().map_err(|e| e.to_string())
}

/// Reads a whole document (a file, or stdin) of at most `max` bytes without surrounding whitespace, refusing a
/// larger one after reading just past the limit.
pub fn read_document(input: impl Read, what: &str, max: usize) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    let cap = max.saturating_add(64);
    input.take(cap as u64 + 1).read_to_end(&mut v).map_err(|e| format!("{what}: {e}"))?;
    if v.len() > cap {
        return Err(format!("{what}: document is more than {max} bytes (the limit; not read further)"));
    }
    Ok(v.trim_ascii().to_vec())
}
