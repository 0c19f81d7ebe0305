//! JSON Lines into a collection, in group-committed batches: what `atrest import` runs on a file and
//! `POST /v1/collections/{c}/import` on a streamed body.
//!
//! What a failed import leaves is always said exactly. Every line before the failing one is committed (the
//! batch in progress is committed up to it), so the error names the committed lines and the line to continue
//! from; when the store refuses a document of a batch, none of that batch is written and the error says so.
//! Lines are read with the document size limit enforced while reading: an overlong line is refused after
//! reading just past the limit, never held whole in memory. A CRLF line's `\r` is not part of its document.
//!
//! Ids: the id field holds a string, or an integer written as plain digits (any length, kept exactly as
//! written, so `12345678901234567890123` and `…124` are two ids). The store's ids are strings, and an integer
//! names the id spelled by its digits: `{"id":1}` and `{"id":"1"}` are the same document. Numbers that are not
//! written as plain integers (`1.0`, `1e2`, `-0`) are refused by line, since more than one spelling would name
//! one number.

use std::collections::HashMap;
use std::io::BufRead;

use atrest_json::{Kind, Limits as JsonLimits};
use atrest_store::{Limits, Store, StoreError};

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The field holding each document's id.
    pub id_field: String,
    /// Documents per commit.
    pub batch: usize,
    /// First line to import (1: all); earlier lines are read past, not checked.
    pub resume_from: u64,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions { id_field: "id".to_owned(), batch: 10_000, resume_from: 1 }
    }
}

/// What happened along the way, for progress and warnings.
#[derive(Debug)]
pub enum ImportEvent<'a> {
    /// A batch of this many documents was committed.
    Committed(usize),
    /// Line `line` repeats the id of line `earlier` of the same batch; the later line wins.
    RepeatedId {
        /// The line.
        line: u64,
        /// The earlier line with the same id.
        earlier: u64,
        /// The id.
        id: &'a str,
    },
}

/// What was committed: how many documents, from which lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// Documents committed.
    pub documents: u64,
    /// The first and last line committed, if any.
    pub lines: Option<(u64, u64)>,
}

impl Committed {
    /// "committed lines A-B; nothing after" or "nothing committed".
    pub fn describe(&self) -> String {
        match self.lines {
            Some((a, b)) => format!("committed lines {a}-{b}; nothing after"),
            None => "nothing committed".to_owned(),
        }
    }
}

/// Why an import stopped, and what it had committed by then.
#[derive(Debug)]
pub enum ImportError {
    /// A line was refused: bad JSON, no id, too long, or the store refused its batch.
    Line {
        /// The line (1-based).
        line: u64,
        /// What is wrong.
        what: String,
        /// Where to continue once it is fixed.
        resume_from: u64,
        /// What was committed.
        committed: Committed,
        /// The store's error, when the store refused the line's batch.
        source: Option<Box<StoreError>>,
    },
    /// Reading the input failed.
    Input {
        /// The read error.
        error: std::io::Error,
        /// What was committed.
        committed: Committed,
    },
}

impl ImportError {
    /// What was committed before the import stopped.
    pub fn committed(&self) -> Committed {
        match self {
            ImportError::Line { committed, .. } | ImportError::Input { committed, .. } => *committed,
        }
    }
}

/// Lines of a batch not yet committed.
struct Pending {
    /// The line of each document.
    lines: Vec<u64>,
    docs: Vec<(String, Vec<u8>)>,
    /// Ids in this batch, with their line: a repeat is reported (the later line wins).
    ids: HashMap<String, u64>,
}

/// Imports `input` into `collection` (which must exist); returns what was committed.
///
/// Reading and checking lines overlaps with committing: a second thread commits each full batch in order
/// while this one reads the next (at most one batch waits between them). What was committed is what any
/// error reports, exactly as if the batches were committed one after another.
///
/// # Errors
/// [`ImportError`], saying what was committed.
pub fn import(
    store: &Store,
    collection: &str,
    input: &mut dyn BufRead,
    opts: &ImportOptions,
    events: &mut dyn FnMut(ImportEvent<'_>),
) -> Result<Committed, ImportError> {
    let (to_committer, batches) = std::sync::mpsc::sync_channel::<Pending>(1);
    let (report, results) = std::sync::mpsc::channel::<Result<(usize, Committed), ImportError>>();
    std::thread::scope(|scope| {
        let committer = scope.spawn(move || {
            let mut done = Committed::default();
            for mut pending in batches {
                let r = commit(store, collection, &mut pending, &mut done);
                let failed = r.is_err();
                if report.send(r.map(|n| (n, done))).is_err() || failed {
                    break;
                }
            }
        });
        let mut feed = Feed { to_committer: Some(to_committer), results: &results, done: Committed::default() };
        let r = read_batches(input, opts, events, &mut feed);
        // Whatever stopped the reading, the batches handed over are committed (or refused) first, in order.
        drop(feed.to_committer.take());
        let committer_ok = committer.join().is_ok();
        let drained = feed.drain(events, true);
        match (r, drained) {
            (_, Err(e)) => Err(e),
            _ if !committer_ok => Err(ImportError::Input {
                error: std::io::Error::other("the import's commit thread panicked"),
                committed: feed.done,
            }),
            (Ok(()), Ok(())) => Ok(feed.done),
            (Err(stop), Ok(())) => Err(stop.into_error(feed.done)),
        }
    })
}

/// The reading side's link to the committing thread.
struct Feed<'r> {
    to_committer: Option<std::sync::mpsc::SyncSender<Pending>>,
    results: &'r std::sync::mpsc::Receiver<Result<(usize, Committed), ImportError>>,
    /// What the committing thread reported committed so far.
    done: Committed,
}

impl Feed<'_> {
    /// Takes the committing thread's reports (all of them, waiting, with `wait`), telling `events`; the first
    /// refused batch is the error.
    fn drain(&mut self, events: &mut dyn FnMut(ImportEvent<'_>), wait: bool) -> Result<(), ImportError> {
        loop {
            let r = if wait {
                match self.results.recv() {
                    Ok(r) => r,
                    Err(_) => return Ok(()),
                }
            } else {
                match self.results.try_recv() {
                    Ok(r) => r,
                    Err(_) => return Ok(()),
                }
            };
            let (n, done) = r?;
            self.done = done;
            events(ImportEvent::Committed(n));
        }
    }

    /// Hands a full batch to the committing thread (waiting while one is already waiting there).
    fn send(&mut self, pending: &mut Pending, events: &mut dyn FnMut(ImportEvent<'_>)) -> Result<(), Stop> {
        self.drain(events, false).map_err(Stop::Failed)?;
        if pending.docs.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(
            pending,
            Pending { lines: Vec::new(), docs: Vec::with_capacity(pending.docs.capacity()), ids: HashMap::new() },
        );
        match self.to_committer.as_ref().map(|t| t.send(batch)) {
            Some(Ok(())) => Ok(()),
            // The committing thread stopped: a batch was refused; its report says which.
            _ => Err(Stop::Committer),
        }
    }
}

/// Why reading stopped before the end.
enum Stop {
    /// A line was refused (the lines before it were handed over).
    Line { line: u64, what: String },
    /// The input could not be read.
    Input(std::io::Error),
    /// A batch was refused by the store.
    Failed(ImportError),
    /// The committing thread stopped (a refused batch, reported by [`Feed::drain`]).
    Committer,
}

impl Stop {
    fn into_error(self, committed: Committed) -> ImportError {
        match self {
            Stop::Line { line, what } => ImportError::Line { line, what, resume_from: line, committed, source: None },
            Stop::Input(error) => ImportError::Input { error, committed },
            Stop::Failed(e) => e,
            Stop::Committer => ImportError::Input {
                error: std::io::Error::other("the import's commit thread stopped without saying why"),
                committed,
            },
        }
    }
}

/// The reading side: reads and checks lines, and hands each full batch (and the last one) to the committer.
fn read_batches(
    input: &mut dyn BufRead,
    opts: &ImportOptions,
    events: &mut dyn FnMut(ImportEvent<'_>),
    feed: &mut Feed<'_>,
) -> Result<(), Stop> {
    let limits = Limits::default();
    let json_limits = JsonLimits { max_len: limits.max_doc_len, ..JsonLimits::default() };
    let batch = opts.batch.max(1);
    let mut pending = Pending { lines: Vec::new(), docs: Vec::with_capacity(batch.min(100_000)), ids: HashMap::new() };
    let mut line = Vec::new();
    let mut lineno = 0u64;
    loop {
        lineno += 1;
        let read = read_line(input, &mut line, limits.max_doc_len).map_err(Stop::Input)?;
        let doc = match read {
            Line::End => break,
            Line::TooLong if lineno < opts.resume_from => {
                skip_line(input).map_err(Stop::Input)?;
                continue;
            }
            _ if lineno < opts.resume_from => continue,
            Line::TooLong => {
                let what = format!(
                    "document is more than {} bytes (the limit; the line was not read further)",
                    limits.max_doc_len
                );
                feed.send(&mut pending, events)?;
                return Err(Stop::Line { line: lineno, what });
            }
            Line::Read => line.trim_ascii(),
        };
        if doc.is_empty() {
            continue;
        }
        let id = match document_id(doc, &opts.id_field, &json_limits) {
            Ok(id) => id,
            Err(what) => {
                feed.send(&mut pending, events)?;
                return Err(Stop::Line { line: lineno, what });
            }
        };
        pending.lines.push(lineno);
        if let Some(earlier) = pending.ids.insert(id.clone(), lineno) {
            events(ImportEvent::RepeatedId { line: lineno, earlier, id: &id });
        }
        pending.docs.push((id, doc.to_vec()));
        if pending.docs.len() >= batch {
            feed.send(&mut pending, events)?;
        }
    }
    feed.send(&mut pending, events)
}

/// Commits the pending lines; returns how many documents. When the store refuses one, nothing of the batch is
/// written: the import goes on from the batch's first line.
fn commit(store: &Store, collection: &str, pending: &mut Pending, done: &mut Committed) -> Result<usize, ImportError> {
    let (Some(&first), Some(&last)) = (pending.lines.first(), pending.lines.last()) else { return Ok(0) };
    let docs = std::mem::take(&mut pending.docs);
    let lines = std::mem::take(&mut pending.lines);
    pending.ids.clear();
    let n = docs.len();
    store.put_many(collection, docs).map_err(|e| {
        let (line, source) = match e {
            StoreError::InBatch { index, source, .. } => (lines.get(index).copied().unwrap_or(first), *source),
            e => (first, e),
        };
        ImportError::Line {
            line,
            what: format!("{source} (nothing of lines {first}-{last} was written)"),
            resume_from: first,
            committed: *done,
            source: Some(Box::new(source)),
        }
    })?;
    done.documents += n as u64;
    done.lines = Some((done.lines.map_or(first, |c| c.0), last));
    Ok(n)
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
fn read_line(r: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
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
fn skip_line(r: &mut dyn BufRead) -> std::io::Result<()> {
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
