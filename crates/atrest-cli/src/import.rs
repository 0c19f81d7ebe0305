//! `atrest import`: a JSON Lines file into a collection, in group-committed batches.
//!
//! What a failed import leaves is always said exactly. Every line before the failing one is committed (the batch
//! in progress is committed up to it), so the error names the committed lines and the line to continue from with
//! `--resume-from`; when the store refuses a document of a batch, none of that batch is written and the error
//! says so. Lines are read with the document size limit enforced while reading: an overlong line is refused after
//! reading just past the limit, never held whole in memory. A CRLF line's `\r` is not part of its document.
//!
//! Ids: the id field holds a string, or an integer written as plain digits (any length, kept exactly as written,
//! so `12345678901234567890123` and `…124` are two ids). The store's ids are strings, and an integer names the
//! id spelled by its digits: `{"id":1}` and `{"id":"1"}` are the same document. Numbers that are not written as
//! plain integers (`1.0`, `1e2`, `-0`) are refused by line, since more than one spelling would name one number.

use atrest_json::{Kind, Limits as JsonLimits};
use atrest_store::{Limits, Store, StoreError};
use std::collections::HashMap;
use std::io::{BufRead, Read};
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

/// Lines of a batch not yet committed.
struct Pending {
    /// The line of each document.
    lines: Vec<u64>,
    docs: Vec<(String, Vec<u8>)>,
    /// Ids in this batch, with their line: a repeat is reported (the later line wins).
    ids: HashMap<String, u64>,
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
    let limits = Limits::default();
    let json_limits = JsonLimits { max_len: limits.max_doc_len, ..JsonLimits::default() };
    let mut pending = Pending { lines: Vec::new(), docs: Vec::with_capacity(args.batch), ids: HashMap::new() };
    let mut committed: Option<(u64, u64)> = None;
    let mut imported = 0u64;
    let mut repeats = 0u64;
    let mut line = Vec::new();
    let mut lineno = 0u64;
    // The error of a failed import: what is wrong, what was committed, and where to continue.
    let fail = |committed: Option<(u64, u64)>, f: Failed| {
        let done = match committed {
            Some((a, b)) => format!("committed lines {a}-{b}; nothing after"),
            None => "nothing committed".to_owned(),
        };
        let (line, what, resume) = (f.line, f.what, f.resume);
        format!("{file}: line {line}: {what}\n{done}; fix line {line} and continue with --resume-from {resume}")
    };
    loop {
        lineno += 1;
        let read = read_line(&mut reader, &mut line, limits.max_doc_len).map_err(|e| format!("{file}: {e}"))?;
        let doc = match read {
            Line::End => break,
            Line::TooLong if lineno < args.resume_from => {
                skip_line(&mut reader).map_err(|e| format!("{file}: {e}"))?;
                continue;
            }
            _ if lineno < args.resume_from => continue,
            Line::TooLong => {
                let what = format!(
                    "document is more than {} bytes (the limit; the line was not read further)",
                    limits.max_doc_len
                );
                commit(&s, args, &mut pending, &mut committed, &mut imported).map_err(|f| fail(committed, f))?;
                return Err(fail(committed, Failed { line: lineno, what, resume: lineno }));
            }
            Line::Read => line.trim_ascii(),
        };
        if doc.is_empty() {
            continue;
        }
        let id = match document_id(doc, args.id_field, &json_limits) {
            Ok(id) => id,
            Err(what) => {
                commit(&s, args, &mut pending, &mut committed, &mut imported).map_err(|f| fail(committed, f))?;
                return Err(fail(committed, Failed { line: lineno, what, resume: lineno }));
            }
        };
        pending.lines.push(lineno);
        if let Some(earlier) = pending.ids.insert(id.clone(), lineno) {
            repeats += 1;
            if repeats <= 10 {
                eprintln!("{file}: line {lineno}: id {id:?} repeats line {earlier}; the later line wins");
            }
        }
        pending.docs.push((id, doc.to_vec()));
        if pending.docs.len() >= args.batch {
            commit(&s, args, &mut pending, &mut committed, &mut imported).map_err(|f| fail(committed, f))?;
        }
    }
    commit(&s, args, &mut pending, &mut committed, &mut imported).map_err(|f| fail(committed, f))?;
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

/// A line that stopped the import.
struct Failed {
    line: u64,
    what: String,
    /// Where to continue once it is fixed.
    resume: u64,
}

/// Commits the pending lines. When the store refuses one, nothing of the batch is written: the import goes on
/// from the batch's first line.
fn commit(
    s: &Store,
    args: &ImportArgs<'_>,
    pending: &mut Pending,
    committed: &mut Option<(u64, u64)>,
    imported: &mut u64,
) -> Result<(), Failed> {
    let (Some(&first), Some(&last)) = (pending.lines.first(), pending.lines.last()) else { return Ok(()) };
    let docs = std::mem::take(&mut pending.docs);
    let lines = std::mem::take(&mut pending.lines);
    pending.ids.clear();
    let n = docs.len() as u64;
    s.put_many(args.collection, docs).map_err(|e| {
        let (line, source) = match e {
            StoreError::InBatch { index, source, .. } => (lines.get(index).copied().unwrap_or(first), *source),
            e => (first, e),
        };
        Failed { line, what: format!("{source} (nothing of lines {first}-{last} was written)"), resume: first }
    })?;
    *imported += n;
    *committed = Some((committed.map_or(first, |c| c.0), last));
    Ok(())
}

/// The id of a document: its `field`, a string or a plain integer. Checks the whole document on the way.
fn document_id(doc: &[u8], field: &str, limits: &JsonLimits) -> Result<String, String> {
    let v = atrest_json::top_level_field(doc, field, limits).map_err(|e| format!("invalid JSON: {e}"))?;
    let Some(v) = v else { return Err(format!("no string or integer field {field:?} (the document's id)")) };
    match v.kind() {
        Kind::String => Ok(v.as_str().unwrap_or_default().to_owned()),
        Kind::Number => v.as_plain_integer().map(str::to_owned).ok_or_else(|| {
            format!(
                "id {} in field {field:?} is not a plain integer: numeric ids are digits only, without fraction, \
                 exponent or -0 (write it as a string to keep it as written)",
                String::from_utf8_lossy(v.raw)
            )
        }),
        _ => Err(format!("field {field:?} is {}, not a string or integer id", String::from_utf8_lossy(v.raw))),
    }
}

/// What [`read_line`] found.
enum Line {
    /// A line (without its `\n`) is in the buffer.
    Read,
    /// The line is longer than the limit; what was read of it is dropped.
    TooLong,
    /// The end of the input.
    End,
}

/// Reads one line into `buf`, holding at most `max` bytes of it (plus the `\r\n` and some whitespace slack).
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    buf.clear();
    let cap = max.saturating_add(64);
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if any { Line::Read } else { Line::End });
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(p) => (p, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > cap {
            buf.clear();
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&chunk[..take]);
        r.consume(take + usize::from(done));
        if done {
            return Ok(Line::Read);
        }
    }
}

/// Reads past the rest of a line.
fn skip_line(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(p) = chunk.iter().position(|&b| b == b'\n') {
            r.consume(p + 1);
            return Ok(());
        }
        let n = chunk.len();
        r.consume(n);
    }
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
