//! Scans arbitrary bytes as a JSON document. It must never panic; every way of scanning (validation only, all
//! index keys, one pointer, a top-level field) must give the same verdict; each leaf must be found again at its
//! pointer and as a query value; and the verdict must agree with serde_json except where atrest-json refuses on
//! purpose (repeated keys, exponents beyond 18 digits, nesting beyond the limit) or serde_json refuses a number
//! beyond f64's range.

#![no_main]

use atrest_json::{ErrorKind, Filter, Limits, canonical_query, index_keys, top_level_field, validate, value_at};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_len: 1 << 20, max_depth: 64 };
    let verdict = validate(data, &limits);
    let keys = index_keys(data, &limits, Filter::All);
    assert_eq!(verdict.as_ref().err(), keys.as_ref().err(), "validation and index keys disagree");
    let field = top_level_field(data, "id", &limits);
    assert_eq!(verdict.as_ref().err(), field.as_ref().err(), "a field lookup disagrees");

    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match &verdict {
        Ok(()) => {
            let range = theirs.as_ref().is_err_and(|e| e.to_string().contains("out of range"));
            assert!(theirs.is_ok() || range, "accepted what serde_json refuses: {:?}", theirs.err());
            for k in keys.as_ref().expect("accepted") {
                assert_eq!(value_at(data, &k.pointer).expect("accepted"), Some(k.value.clone()), "{}", k.pointer);
                let one = [k.pointer.clone()];
                let found = index_keys(data, &limits, Filter::Pointers(&one)).expect("accepted");
                assert_eq!(found.len(), 1, "{}", k.pointer);
            }
            if let Ok(Some(id)) = field {
                assert_eq!(canonical_query(id.raw).expect("a leaf is a query value"), id.canonical);
            }
        }
        Err(e) => {
            let on_purpose = matches!(
                e.kind,
                ErrorKind::DuplicateKey { .. } | ErrorKind::ExponentTooLarge | ErrorKind::TooDeep { .. }
            );
            let object = matches!(theirs, Ok(serde_json::Value::Object(_)));
            assert!(!object || on_purpose, "refused what serde_json accepts: {e}");
            assert!(e.offset <= data.len());
        }
    }
});
