//! JSONTestSuite (tests/data/README.md): every `y_` text is valid JSON (refused only for not being an object
//! when its top level is something else), every `n_` text is refused as invalid, and each `i_` text gets the
//! outcome decided below.

use atrest_json::{ErrorKind, Limits, canonical_query, validate};
use std::path::PathBuf;

fn cases() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/jsontestsuite/test_parsing");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("test data")
        .map(|e| {
            let p = e.expect("dir entry").path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("read case"))
        })
        .collect();
    v.sort();
    assert_eq!(v.len(), 318, "the whole suite is there");
    v
}

fn first_byte(text: &[u8]) -> Option<u8> {
    text.iter().copied().find(|b| !b" \t\r\n".contains(b))
}

#[test]
fn y_cases_are_accepted() {
    let mut n = 0;
    for (name, text) in cases().into_iter().filter(|c| c.0.starts_with("y_")) {
        n += 1;
        let result = validate(&text, &Limits::default());
        // RFC 8259 §4 only says keys SHOULD be unique; a document store refuses repeats, which would make a
        // document mean two things (which value does a query see?).
        if name.starts_with("y_object_duplicated_key") {
            assert!(matches!(result, Err(ref e) if matches!(e.kind, ErrorKind::DuplicateKey { .. })), "{name}");
            continue;
        }
        match result {
            Ok(()) => assert_eq!(first_byte(&text), Some(b'{'), "{name}"),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::NotAnObject, "{name}: {e}");
                assert_ne!(first_byte(&text), Some(b'{'), "{name}");
                if first_byte(&text) != Some(b'[') {
                    canonical_query(&text).unwrap_or_else(|e| panic!("{name} as a query value: {e}"));
                }
            }
        }
    }
    assert_eq!(n, 95);
}

#[test]
fn n_cases_are_refused_as_invalid() {
    let mut n = 0;
    for (name, text) in cases().into_iter().filter(|c| c.0.starts_with("n_")) {
        n += 1;
        let e = validate(&text, &Limits::default()).expect_err(&name);
        assert_ne!(e.kind, ErrorKind::NotAnObject, "{name} passed as valid JSON");
        assert!(e.offset <= text.len(), "{name}: {e}");
        assert!(canonical_query(&text).is_err(), "{name} as a query value");
    }
    assert_eq!(n, 188);
}

/// Decided outcomes of the implementation-defined cases: `None` means valid JSON (refused only for not being an
/// object, as every one of them is an array or scalar).
fn decision(name: &str) -> Option<fn(&ErrorKind) -> bool> {
    let utf8: fn(&ErrorKind) -> bool = |k| *k == ErrorKind::InvalidUtf8;
    let surrogate: fn(&ErrorKind) -> bool = |k| matches!(k, ErrorKind::LoneSurrogate { .. });
    Some(match name {
        // Numbers are kept exactly, however long; only exponents beyond 18 digits are refused (RFC 8259 §9).
        "i_number_huge_exp.json" => |k| *k == ErrorKind::ExponentTooLarge,
        n if n.starts_with("i_number_") => return None,
        // A lone surrogate names no character: refused, saying so.
        "i_object_key_lone_2nd_surrogate.json"
        | "i_string_1st_surrogate_but_2nd_missing.json"
        | "i_string_1st_valid_surrogate_2nd_invalid.json"
        | "i_string_incomplete_surrogate_and_escape_valid.json"
        | "i_string_incomplete_surrogate_pair.json"
        | "i_string_incomplete_surrogates_escape_valid.json"
        | "i_string_invalid_lonely_surrogate.json"
        | "i_string_invalid_surrogate.json"
        | "i_string_inverted_surrogates_U+1D11E.json"
        | "i_string_lone_second_surrogate.json" => surrogate,
        // Text must be UTF-8 (RFC 8259 §8.1): other encodings, a UTF-8-encoded surrogate, overlong forms and
        // code points beyond U+10FFFF are refused.
        "i_string_UTF-16LE_with_BOM.json"
        | "i_string_UTF-8_invalid_sequence.json"
        | "i_string_UTF8_surrogate_U+D800.json"
        | "i_string_invalid_utf-8.json"
        | "i_string_iso_latin_1.json"
        | "i_string_lone_utf8_continuation_byte.json"
        | "i_string_not_in_unicode_range.json"
        | "i_string_overlong_sequence_2_bytes.json"
        | "i_string_overlong_sequence_6_bytes.json"
        | "i_string_overlong_sequence_6_bytes_null.json"
        | "i_string_truncated-utf-8.json"
        | "i_string_utf16BE_no_BOM.json"
        | "i_string_utf16LE_no_BOM.json" => utf8,
        // Deeper than the default limit of 128.
        "i_structure_500_nested_arrays.json" => |k| matches!(k, ErrorKind::TooDeep { max: 128 }),
        // A byte order mark is not JSON text; RFC 8259 §8.1 lets a parser refuse it.
        "i_structure_UTF-8_BOM_empty_object.json" => |k| matches!(k, ErrorKind::Unexpected { found: '\u{feff}', .. }),
        other => panic!("no decision for {other}"),
    })
}

#[test]
fn i_cases_have_the_decided_outcome() {
    let mut n = 0;
    for (name, text) in cases().into_iter().filter(|c| c.0.starts_with("i_")) {
        n += 1;
        let e = validate(&text, &Limits::default()).expect_err(&name);
        match decision(&name) {
            None => assert_eq!(e.kind, ErrorKind::NotAnObject, "{name}: {e}"),
            Some(expected) => assert!(expected(&e.kind), "{name}: {e}"),
        }
    }
    assert_eq!(n, 35);
}
