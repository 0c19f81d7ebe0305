//! Document validation and index-key extraction, both one pass of atrest-json over the caller's bytes.
//!
//! Documents are kept as the bytes the caller gave (after checking they are one JSON object: strict RFC 8259,
//! UTF-8 everywhere, no repeated key, nesting at most 128 deep), so ingest does not pay for re-serialising.
//! Index keys are `(JSON Pointer, canonical value)` pairs in atrest-json's type-tagged encoding, where equal JSON
//! values are equal bytes (`1`, `1.0` and `10e-1` are one number, `"\u0041"` is `"A"`) and types differ (`"1"`
//! is not `1`).

use crate::error::StoreError;
use atrest_json::Filter;
use serde_json::Value;

pub use atrest_json::IndexKey;

/// Which JSON paths of a collection's documents are indexed for equality queries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum IndexPolicy {
    /// Every scalar value at every path (the default).
    #[default]
    All,
    /// Only these JSON Pointers (e.g. `/address/city`).
    Paths(Vec<String>),
    /// Nothing: fastest ingest; queries are refused.
    None,
}

impl IndexPolicy {
    /// Whether equality queries on `pointer` can be answered from the index.
    pub fn covers(&self, pointer: &str) -> bool {
        match self {
            IndexPolicy::All => true,
            IndexPolicy::Paths(p) => p.iter().any(|x| x == pointer),
            IndexPolicy::None => false,
        }
    }

    /// Checks that every listed path is a JSON Pointer.
    pub fn validate(&self) -> Result<(), StoreError> {
        if let IndexPolicy::Paths(paths) = self {
            for p in paths {
                check_pointer(p)?;
            }
        }
        Ok(())
    }
}

/// Limits on what a document and its id may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest id in bytes.
    pub max_id_len: usize,
    /// Largest document in bytes.
    pub max_doc_len: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_id_len: 1024, max_doc_len: 16 << 20 }
    }
}

/// Checks an id against the limits. Control characters (tab, newline, NUL, ESC...) are refused, as in collection
/// names: they would make listings ambiguous and could carry terminal escapes to whoever prints an id.
pub fn check_id(id: &str, limits: &Limits) -> Result<(), StoreError> {
    if id.is_empty() {
        return Err(StoreError::EmptyId);
    }
    if id.len() > limits.max_id_len {
        return Err(StoreError::IdTooLong { len: id.len(), max: limits.max_id_len });
    }
    if let Some((offset, c)) = id.char_indices().find(|(_, c)| c.is_control()) {
        return Err(StoreError::IdControlCharacter { id: id.to_owned(), offset, code: u32::from(c) });
    }
    Ok(())
}

/// Checks a collection name: non-empty, at most 255 bytes, no control characters.
pub fn check_collection_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(StoreError::BadCollectionName { name: name.to_owned() });
    }
    Ok(())
}

/// Checks that `pointer` is a JSON Pointer (empty, or `/`-prefixed with valid `~` escapes).
pub fn check_pointer(pointer: &str) -> Result<(), StoreError> {
    if atrest_json::is_pointer(pointer) { Ok(()) } else { Err(StoreError::BadPointer { pointer: pointer.to_owned() }) }
}

/// Validates a document and, if `policy` indexes anything, returns its index keys (in document order, one per
/// pointer). With [`IndexPolicy::None`] it only validates.
#[cfg(test)]
pub fn parse_document(doc: &[u8], limits: &Limits, policy: &IndexPolicy) -> Result<Vec<IndexKey>, StoreError> {
    let filter = match policy {
        IndexPolicy::All => Filter::All,
        IndexPolicy::Paths(paths) => Filter::Pointers(paths),
        IndexPolicy::None => Filter::None,
    };
    let limits = atrest_json::Limits { max_len: limits.max_doc_len, max_depth: atrest_json::Limits::DEFAULT_MAX_DEPTH };
    Ok(atrest_json::index_keys(doc, &limits, filter)?)
}

/// Validates a document and hashes each of its index keys with `hash(pointer, canonical value)`, without
/// building the keys (the leaves are borrowed from the scanner). Sorted, distinct.
pub fn index_hashes(
    doc: &[u8],
    limits: &Limits,
    policy: &IndexPolicy,
    hash: impl Fn(&str, &[u8]) -> u64,
) -> Result<Vec<u64>, StoreError> {
    let filter = match policy {
        IndexPolicy::All => Filter::All,
        IndexPolicy::Paths(paths) => Filter::Pointers(paths),
        IndexPolicy::None => Filter::None,
    };
    let limits = atrest_json::Limits { max_len: limits.max_doc_len, max_depth: atrest_json::Limits::DEFAULT_MAX_DEPTH };
    let mut out = Vec::new();
    atrest_json::scan_document(doc, &limits, filter, |leaf| out.push(hash(leaf.pointer, leaf.canonical)))?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The canonical index value of a query value, which must be a JSON scalar. A `Value` holds numbers as 64-bit
/// integers or floats, so an integer beyond 64 bits has already been rounded when it gets here; the exact form
/// is [`canonical_query`] on the value's JSON text.
pub fn canonical_scalar(value: &Value) -> Result<Vec<u8>, StoreError> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(StoreError::NotAScalar),
        v => canonical_query(&v.to_string()),
    }
}

/// The canonical index value of the scalar at `pointer` in `doc`, if there is one: to check an index candidate
/// against its document. The scan stops at that leaf (the document was validated when it was stored); a
/// document that does not scan up to there has no value there.
pub fn canonical_at(doc: &[u8], pointer: &str) -> Option<Vec<u8>> {
    atrest_json::value_at(doc, pointer).ok().flatten()
}

/// The canonical index value of a query value given as JSON text (`42`, `"Oslo"`, `true`): exact for numbers of
/// any length. The same encoding as the index keys of [`parse_document`].
pub fn canonical_query(text: &str) -> Result<Vec<u8>, StoreError> {
    Ok(atrest_json::canonical_query(text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(doc: &str, policy: &IndexPolicy) -> Vec<(String, Vec<u8>)> {
        let mut k: Vec<_> = parse_document(doc.as_bytes(), &Limits::default(), policy)
            .unwrap()
            .into_iter()
            .map(|k| (k.pointer, k.value))
            .collect();
        k.sort();
        k
    }

    fn q(text: &str) -> Vec<u8> {
        canonical_query(text).unwrap()
    }

    #[test]
    fn all_scalars_are_indexed_with_escaped_pointers() {
        let k = keys(r#"{"a/b":{"c~d":1},"t":["x",null],"s":"Oslo"}"#, &IndexPolicy::All);
        let want = [("/a~1b/c~0d", "1"), ("/s", "\"Oslo\""), ("/t/0", "\"x\""), ("/t/1", "null")];
        assert_eq!(k, want.map(|(p, v)| (p.to_owned(), q(v))));
    }

    #[test]
    fn keys_match_query_values() {
        let doc = r#"{"n":-3,"u":18446744073709551615,"f":1.5e300,"g":0.1,"s":"a\"\u00e9\n","b":false,"z":null}"#;
        let got = keys(doc, &IndexPolicy::All);
        let v: Value = serde_json::from_str(doc).unwrap();
        for (pointer, value) in got {
            let query = v.pointer(&pointer).unwrap();
            assert_eq!(canonical_scalar(query).unwrap(), value, "{pointer}");
        }
        // Equal values are one key; a string is not a number; integers stay exact.
        assert_eq!(keys(r#"{"a":1.0}"#, &IndexPolicy::All), keys(r#"{"a":10e-1}"#, &IndexPolicy::All));
        assert_ne!(q("1"), q("\"1\""));
        assert_ne!(q("12345678901234567890123"), q("12345678901234567890124"));
        assert!(parse_document(b"{\"a\":1} x", &Limits::default(), &IndexPolicy::All).is_err(), "trailing bytes");
        let doc = br#"{"a":{"b":[1,"x"]},"c":1.50}"#;
        assert_eq!(canonical_at(doc, "/a/b/1"), Some(q("\"x\"")));
        assert_eq!(canonical_at(doc, "/c"), Some(q("1.5")));
        assert_eq!(canonical_at(doc, "/a/b"), None, "not a scalar");
        assert_eq!(canonical_at(doc, "/d"), None);
    }

    #[test]
    fn path_policy_and_none() {
        let p = IndexPolicy::Paths(vec!["/address/city".into()]);
        let k = keys(r#"{"address":{"city":"Oslo","zip":"0150"},"n":1}"#, &p);
        assert_eq!(k, vec![("/address/city".into(), q("\"Oslo\""))]);
        assert!(keys(r#"{"n":1}"#, &IndexPolicy::None).is_empty());
    }

    #[test]
    fn errors_say_which() {
        let l = Limits { max_id_len: 4, max_doc_len: 10 };
        assert!(matches!(check_id("", &l), Err(StoreError::EmptyId)));
        assert!(matches!(check_id("12345", &l), Err(StoreError::IdTooLong { len: 5, max: 4 })));
        for (id, offset, code) in [("a\tb", 1, 9), ("\n", 0, 10), ("x\0", 1, 0), ("\u{1b}[", 0, 0x1b)] {
            let e = check_id(id, &Limits::default()).unwrap_err();
            assert!(
                matches!(e, StoreError::IdControlCharacter { offset: o, code: c, .. } if o == offset && c == code),
                "{id:?}: {e}"
            );
        }
        check_id("naïve-東京", &Limits::default()).unwrap();
        let invalid = |e: &StoreError, kind: fn(&atrest_json::ErrorKind) -> bool| matches!(e, StoreError::InvalidJson(j) if kind(&j.kind));
        for policy in [IndexPolicy::All, IndexPolicy::None, IndexPolicy::Paths(vec!["/b".into()])] {
            let e = parse_document(b"{\"a\":", &l, &policy).unwrap_err();
            assert!(invalid(&e, |k| matches!(k, atrest_json::ErrorKind::UnexpectedEnd { .. })), "{e}");
            assert!(matches!(parse_document(b"[1]", &l, &policy), Err(StoreError::NotAnObject)));
            assert!(matches!(
                parse_document(b"{\"a\":\"long\"}", &l, &policy),
                Err(StoreError::DocumentTooLarge { len: 12, max: 10 })
            ));
            let big = Limits::default();
            let e = parse_document(b"{\"a\":\"\xff\"}", &big, &policy).unwrap_err();
            assert!(invalid(&e, |k| *k == atrest_json::ErrorKind::InvalidUtf8), "{policy:?}: {e}");
            let e = parse_document(br#"{"a":1,"a":2}"#, &big, &policy).unwrap_err();
            assert!(invalid(&e, |k| matches!(k, atrest_json::ErrorKind::DuplicateKey { .. })), "{policy:?}: {e}");
            let e = parse_document(br#"{"a":"\ud800"}"#, &big, &policy).unwrap_err();
            assert!(e.to_string().contains("lone surrogate \\ud800"), "{e}");
        }
        assert!(check_pointer("a/b").is_err());
        assert!(check_pointer("/a~2").is_err());
        assert!(check_pointer("/a~1b").is_ok());
    }
}
