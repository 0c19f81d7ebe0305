//! What the store accepts as a document and an id, and how index values compare (atrest-json underneath).

mod common;

use atrest_store::{IndexPolicy, Store, StoreError};
use common::{mem, small_cfg};
use serde_json::json;
use std::sync::Arc;

fn store() -> Store {
    let (fs, keys) = mem();
    let s = Store::create(small_cfg(Arc::new(fs), keys)).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.create_collection("plain", IndexPolicy::None).unwrap();
    s
}

#[test]
fn repeated_keys_and_lone_surrogates_are_refused_whatever_the_policy() {
    let s = store();
    for coll in ["c", "plain"] {
        let e = s.put(coll, "d", br#"{"a":1,"a":2}"#.to_vec()).unwrap_err();
        assert!(
            matches!(&e, StoreError::InvalidJson(j) if matches!(j.kind, atrest_json::ErrorKind::DuplicateKey { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
        let e = s.put(coll, "d", br#"{"a":"\ud800"}"#.to_vec()).unwrap_err();
        assert!(e.to_string().contains("lone surrogate \\ud800"), "{e}");
        assert_eq!(s.get(coll, "d").unwrap(), None);
    }
    // In a batch: nothing of it is written, and the error names the document.
    let batch = vec![("ok".to_owned(), br#"{"a":1}"#.to_vec()), ("bad".to_owned(), br#"{"b":{"x":1,"x":1}}"#.to_vec())];
    let e = s.put_many("c", batch).unwrap_err();
    assert!(matches!(&e, StoreError::InBatch { index: 1, .. }), "{e}");
    assert_eq!(s.get("c", "ok").unwrap(), None);
}

#[test]
fn control_characters_in_ids_are_refused() {
    let s = store();
    for id in ["a\tb", "line\n", "nul\0", "\u{1b}[31mred", "del\u{7f}"] {
        let e = s.put("c", id, br#"{"a":1}"#.to_vec()).unwrap_err();
        assert!(matches!(e, StoreError::IdControlCharacter { .. }), "{id:?}: {e}");
        assert!(e.to_string().contains("control character"), "{e}");
    }
    s.put("c", "naïve 東京", br#"{"a":1}"#.to_vec()).unwrap();
}

#[test]
fn equal_values_find_each_other_and_types_stay_apart() {
    let s = store();
    s.put("c", "float", br#"{"n":1.0,"s":"\u0041"}"#.to_vec()).unwrap();
    s.put("c", "exp", br#"{"n":10e-1}"#.to_vec()).unwrap();
    s.put("c", "string", br#"{"n":"1","s":"B"}"#.to_vec()).unwrap();
    let ids = |hits: Vec<(String, Vec<u8>)>| hits.into_iter().map(|h| h.0).collect::<Vec<_>>();
    assert_eq!(ids(s.find("c", "/n", &json!(1)).unwrap()), ["exp", "float"]);
    assert_eq!(ids(s.find("c", "/n", &json!("1")).unwrap()), ["string"]);
    assert_eq!(ids(s.find("c", "/s", &json!("A")).unwrap()), ["float"]);
}
