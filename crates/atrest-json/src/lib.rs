//! One pass over a JSON document that validates it strictly and yields its index keys.
//!
//! A document is accepted when it is exactly one JSON value per RFC 8259 and that value is an object; UTF-8 is
//! checked everywhere (inside strings too); an object may not repeat a key (compared after unescaping, so
//! `{"a":1,"\u0061":2}` is refused); nesting and size are limited; a lone UTF-16 surrogate escape is refused
//! because it names no character. Every refusal is a [`JsonError`] saying what and where.
//!
//! While validating, the scan names every scalar leaf by its JSON Pointer (RFC 6901) and encodes its value in
//! the canonical, type-tagged form of [`canonical`] in which equal JSON values are equal
//! bytes (`"\u0041"` is `"A"`; `1`, `1.0` and `10e-1` are one number; big integers stay exact). A [`Filter`]
//! chooses which leaves are wanted; with [`Filter::None`] the pass only validates and builds no paths.
//!
//! The same scanner also encodes a query value ([`canonical_query`]), extracts a top-level field
//! ([`top_level_field`], for ids) and re-checks one leaf of a stored document ([`value_at`]), so a query, an id
//! and an index key can never disagree about what a value is.
//!
//! Speed: UTF-8 is checked for the whole text at once by `simdutf8`; strings, which are most of the bytes of
//! real documents, are searched 16 bytes per step for their end; nothing is allocated per value. The crate has
//! no `unsafe` code. Measurements against other validators: docs/benchmarks.md, "JSON validation".

pub mod canonical;
mod error;
mod keys;
mod number;
mod pointer;
mod scan;
mod string;

pub use canonical::{Kind, Scalar, kind_of};
pub use error::{ErrorKind, JsonError};
pub use number::is_plain_integer;
pub use pointer::{Filter, escape_token_into, field_pointer, is_pointer};

use scan::Top;
use std::ops::ControlFlow;

/// Limits on a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest text in bytes.
    pub max_len: usize,
    /// Deepest nesting of objects and arrays (the top-level object is level 1).
    pub max_depth: usize,
}

impl Limits {
    /// Default nesting limit: deep enough for any real document, shallow enough to bound the scanner's stack.
    pub const DEFAULT_MAX_DEPTH: usize = 128;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_len: 16 << 20, max_depth: Limits::DEFAULT_MAX_DEPTH }
    }
}

/// A scalar leaf of a document, as handed to a scan's callback (borrowed from the scanner's buffers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf<'a> {
    /// Its JSON Pointer (`/address/city`, `/tags/0`).
    pub pointer: &'a str,
    /// Its JSON text as written.
    pub raw: &'a [u8],
    /// Its canonical encoding.
    pub canonical: &'a [u8],
}

/// Validates `doc` (one JSON object) and calls `each` for every leaf that `filter` wants, in document order.
/// Leaves are handed out as they are met, so a document refused later may already have yielded some.
pub fn scan_document(
    doc: &[u8],
    limits: &Limits,
    filter: Filter<'_>,
    mut each: impl FnMut(Leaf<'_>),
) -> Result<(), JsonError> {
    scan::run(doc, limits, filter, Top::Object, |leaf| {
        each(leaf);
        ControlFlow::Continue(())
    })
}

/// Validates `doc` (one JSON object) without building any index key.
pub fn validate(doc: &[u8], limits: &Limits) -> Result<(), JsonError> {
    scan_document(doc, limits, Filter::None, |_| {})
}

/// One index key: a leaf's pointer and canonical value, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexKey {
    /// JSON Pointer.
    pub pointer: String,
    /// Canonical encoding of the value.
    pub value: Vec<u8>,
}

/// Validates `doc` and returns the index keys `filter` wants, in document order. No two have the same pointer
/// (keys are unique per object and array indices are distinct), so there is nothing to sort out.
pub fn index_keys(doc: &[u8], limits: &Limits, filter: Filter<'_>) -> Result<Vec<IndexKey>, JsonError> {
    let mut keys = Vec::new();
    scan_document(doc, limits, filter, |l| {
        keys.push(IndexKey { pointer: l.pointer.to_owned(), value: l.canonical.to_vec() })
    })?;
    Ok(keys)
}

/// The canonical encoding of a query value given as JSON text (one scalar, surrounding whitespace allowed):
/// the bytes an index key holds for an equal value.
pub fn canonical_query(text: &[u8]) -> Result<Vec<u8>, JsonError> {
    let mut out = Vec::new();
    scan::run(text, &Limits::default(), Filter::All, Top::Scalar, |l| {
        out = l.canonical.to_vec();
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Validates `doc` (one JSON object) and returns the scalar of its top-level field `field`, if it has one
/// (`None` when the field is missing or is an object or array).
pub fn top_level_field<'d>(doc: &'d [u8], field: &str, limits: &Limits) -> Result<Option<Scalar<'d>>, JsonError> {
    let wanted = [field_pointer(field)];
    let mut found: Option<(usize, usize, Vec<u8>)> = None;
    let base = doc.as_ptr() as usize;
    scan::run(doc, limits, Filter::Pointers(&wanted), Top::Object, |l| {
        // The raw text is a slice of `doc`: keep its place, so the result borrows `doc`, not the scanner.
        found = Some((l.raw.as_ptr() as usize - base, l.raw.len(), l.canonical.to_vec()));
        ControlFlow::Continue(())
    })?;
    Ok(found.and_then(|(at, len, canonical)| Some(Scalar { raw: doc.get(at..at + len)?, canonical })))
}

/// The canonical value of the scalar at `pointer` in `doc`, or `None` if there is none there: a cheap re-check
/// of an index candidate against the document. The scan stops at the leaf, so it is meant for documents that
/// were validated when they were stored; faults met before the leaf are still reported.
pub fn value_at(doc: &[u8], pointer: &str) -> Result<Option<Vec<u8>>, JsonError> {
    let wanted = [pointer.to_owned()];
    let mut found = None;
    let limits = Limits { max_len: usize::MAX, max_depth: usize::MAX };
    scan::run(doc, &limits, Filter::Pointers(&wanted), Top::Object, |l| {
        found = Some(l.canonical.to_vec());
        ControlFlow::Break(())
    })?;
    Ok(found)
}
