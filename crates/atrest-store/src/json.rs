//! Document validation and index-key extraction.
//!
//! Documents are kept as the bytes the caller gave (after checking they are one JSON object), so ingest does
//! not pay for re-serialising. Index keys are `(JSON Pointer, canonical scalar)` pairs: the scalar is the
//! compact JSON text of the value, so `"1"` (a string) and `1` (a number) are different keys.

use crate::error::StoreError;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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

/// One entry of the secondary index: a path and the canonical JSON text of the scalar found there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexKey {
    /// JSON Pointer.
    pub pointer: String,
    /// Compact JSON text of the scalar (`"Oslo"`, `42`, `true`, `null`).
    pub value: String,
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

/// Checks an id against the limits.
pub fn check_id(id: &str, limits: &Limits) -> Result<(), StoreError> {
    if id.is_empty() {
        return Err(StoreError::EmptyId);
    }
    if id.len() > limits.max_id_len {
        return Err(StoreError::IdTooLong { len: id.len(), max: limits.max_id_len });
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
    let bad = || StoreError::BadPointer { pointer: pointer.to_owned() };
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(bad());
    }
    let b = pointer.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'~' && !matches!(b.get(i + 1), Some(b'0' | b'1')) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Validates a document and, if `policy` indexes anything, returns its index keys (sorted, deduplicated).
pub fn parse_document(doc: &[u8], limits: &Limits, policy: &IndexPolicy) -> Result<Vec<IndexKey>, StoreError> {
    if doc.len() > limits.max_doc_len {
        return Err(StoreError::DocumentTooLarge { len: doc.len(), max: limits.max_doc_len });
    }
    if matches!(policy, IndexPolicy::None) {
        // Still reject what is not a JSON object, without building a tree. Skipping a string does not check
        // its UTF-8 (serde_json only checks the strings it hands out), so the whole text is checked first: a
        // stored document is always valid JSON text.
        let first = doc.iter().find(|b| !b.is_ascii_whitespace());
        let text = std::str::from_utf8(doc)
            .map_err(|e| StoreError::InvalidJson(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| StoreError::InvalidJson(e.to_string()))?;
        if first != Some(&b'{') {
            return Err(StoreError::NotAnObject);
        }
        return Ok(Vec::new());
    }
    if doc.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Report invalid JSON as such before complaining that it is not an object.
        serde_json::from_slice::<serde::de::IgnoredAny>(doc).map_err(|e| StoreError::InvalidJson(e.to_string()))?;
        return Err(StoreError::NotAnObject);
    }
    // Walk the document as it is parsed, without building a tree: fewer allocations on the ingest path.
    let mut keys = Vec::new();
    let mut path = String::new();
    let mut de = serde_json::Deserializer::from_slice(doc);
    Walker { path: &mut path, policy, out: &mut keys }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| StoreError::InvalidJson(e.to_string()))?;
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The canonical index text of a query value, which must be a JSON scalar.
pub fn canonical_scalar(value: &Value) -> Result<String, StoreError> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(StoreError::NotAScalar),
        v => Ok(v.to_string()),
    }
}

/// The canonical index text of the scalar at `pointer` in `doc`, if there is one (to check an index
/// candidate against its document).
pub fn canonical_at(doc: &[u8], pointer: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(doc).ok()?;
    canonical_scalar(v.pointer(pointer)?).ok()
}

/// Emits the index keys of a value while it is deserialised.
struct Walker<'a> {
    path: &'a mut String,
    policy: &'a IndexPolicy,
    out: &'a mut Vec<IndexKey>,
}

impl Walker<'_> {
    fn emit(self, text: impl FnOnce() -> String) {
        if self.policy.covers(self.path) {
            self.out.push(IndexKey { pointer: self.path.clone(), value: text() });
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.emit(|| v.to_string());
        Ok(())
    }
    // Numbers and strings are rendered exactly as `serde_json::Value` renders them, so a query value parsed
    // into a `Value` finds them (see `canonical_scalar`).
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.emit(|| serde_json::Number::from(v).to_string());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.emit(|| serde_json::Number::from(v).to_string());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.emit(|| Value::from(v).to_string());
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        // The same escaping as `Value::String`'s rendering, without first copying the string into a `Value`.
        self.emit(|| serde_json::to_string(v).unwrap_or_default());
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.emit(|| "null".to_owned());
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let len = self.path.len();
            self.path.push('/');
            escape_into(&key, self.path);
            map.next_value_seed(Walker { path: &mut *self.path, policy: self.policy, out: &mut *self.out })?;
            self.path.truncate(len);
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let len = self.path.len();
            self.path.push('/');
            self.path.push_str(&i.to_string());
            let more =
                seq.next_element_seed(Walker { path: &mut *self.path, policy: self.policy, out: &mut *self.out })?;
            self.path.truncate(len);
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

fn escape_into(key: &str, path: &mut String) {
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(doc: &str, policy: &IndexPolicy) -> Vec<(String, String)> {
        parse_document(doc.as_bytes(), &Limits::default(), policy)
            .unwrap()
            .into_iter()
            .map(|k| (k.pointer, k.value))
            .collect()
    }

    #[test]
    fn all_scalars_are_indexed_with_escaped_pointers() {
        let k = keys(r#"{"a/b":{"c~d":1},"t":["x",null],"s":"Oslo"}"#, &IndexPolicy::All);
        assert_eq!(
            k,
            vec![
                ("/a~1b/c~0d".into(), "1".into()),
                ("/s".into(), "\"Oslo\"".into()),
                ("/t/0".into(), "\"x\"".into()),
                ("/t/1".into(), "null".into()),
            ]
        );
    }

    #[test]
    fn streamed_keys_match_the_value_rendering_of_queries() {
        let doc = r#"{"n":-3,"u":18446744073709551615,"f":1.5e300,"g":0.1,"s":"a\"\u00e9\n","b":false,"z":null}"#;
        let got = keys(doc, &IndexPolicy::All);
        let v: Value = serde_json::from_str(doc).unwrap();
        for (pointer, value) in got {
            let q = v.pointer(&pointer).unwrap();
            assert_eq!(canonical_scalar(q).unwrap(), value, "{pointer}");
        }
        assert!(parse_document(b"{\"a\":1} x", &Limits::default(), &IndexPolicy::All).is_err(), "trailing bytes");
    }

    #[test]
    fn path_policy_and_none() {
        let p = IndexPolicy::Paths(vec!["/address/city".into()]);
        let k = keys(r#"{"address":{"city":"Oslo","zip":"0150"},"n":1}"#, &p);
        assert_eq!(k, vec![("/address/city".into(), "\"Oslo\"".into())]);
        assert!(keys(r#"{"n":1}"#, &IndexPolicy::None).is_empty());
    }

    #[test]
    fn errors_say_which() {
        let l = Limits { max_id_len: 4, max_doc_len: 10 };
        assert!(matches!(check_id("", &l), Err(StoreError::EmptyId)));
        assert!(matches!(check_id("12345", &l), Err(StoreError::IdTooLong { len: 5, max: 4 })));
        for policy in [IndexPolicy::All, IndexPolicy::None] {
            assert!(matches!(parse_document(b"{\"a\":", &l, &policy), Err(StoreError::InvalidJson(_))));
            assert!(matches!(parse_document(b"[1]", &l, &policy), Err(StoreError::NotAnObject)));
            assert!(matches!(
                parse_document(b"{\"a\":\"long\"}", &l, &policy),
                Err(StoreError::DocumentTooLarge { .. })
            ));
        }
        let bad_utf8: &[u8] = b"{\"a\":\"\xff\"}";
        for policy in [IndexPolicy::All, IndexPolicy::None, IndexPolicy::Paths(vec!["/b".into()])] {
            assert!(
                matches!(parse_document(bad_utf8, &Limits::default(), &policy), Err(StoreError::InvalidJson(_))),
                "{policy:?} accepted invalid UTF-8"
            );
        }
        assert!(check_pointer("a/b").is_err());
        assert!(check_pointer("/a~2").is_err());
        assert!(check_pointer("/a~1b").is_ok());
    }
}
