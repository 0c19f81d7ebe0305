//! Differential test against serde_json on random documents and random mutations of them: the same texts are
//! accepted and refused (apart from what this crate refuses on purpose: repeated keys, exponents beyond 18
//! digits; and what serde_json refuses beyond f64's range), and the leaves are the same.

use atrest_json::{ErrorKind, Filter, Limits, index_keys, validate};
use proptest::prelude::*;
use serde_json::Value;

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "[a-z~/\"\\\\\u{0}-\u{1f}\u{e9}\u{1F600}]{0,6}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z~/\u{e9}\"]{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z~/]{0,5}", value(), 0..8).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// The leaves of a serde_json value: pointer and (type tag, value as text or f64).
fn leaves(v: &Value, path: &mut String, out: &mut Vec<(String, String)>) {
    let len = path.len();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                path.push('/');
                atrest_json::escape_token_into(k, path);
                leaves(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push_str(&format!("/{i}"));
                leaves(v, path, out);
                path.truncate(len);
            }
        }
        Value::Null => out.push((path.clone(), "n".into())),
        Value::Bool(b) => out.push((path.clone(), if *b { "t" } else { "f" }.into())),
        // serde_json keeps -0.0; the canonical form has one zero.
        Value::Number(n) => out.push((path.clone(), format!("#{:e}", n.as_f64().unwrap() + 0.0))),
        Value::String(s) => out.push((path.clone(), format!("s{s}"))),
    }
}

/// Equal leaves; numbers within 2 ulp, because serde_json's default float parsing is not always correctly
/// rounded (its `float_roundtrip` feature is off) while Rust's `str::parse` is.
fn same(ours: &[(String, String)], theirs: &[(String, String)]) -> bool {
    let num = |s: &str| s.strip_prefix('#').and_then(|n| n.parse::<f64>().ok());
    ours.len() == theirs.len()
        && ours.iter().zip(theirs).all(|(a, b)| {
            a.0 == b.0
                && match (num(&a.1), num(&b.1)) {
                    (Some(x), Some(y)) => {
                        x == y || (x.signum() == y.signum() && x.to_bits().abs_diff(y.to_bits()) <= 2)
                    }
                    _ => a.1 == b.1,
                }
        })
}

/// Our leaves in the same form (numbers through f64, which is what serde_json keeps).
fn our_leaves(doc: &[u8]) -> Vec<(String, String)> {
    let keys = index_keys(doc, &Limits::default(), Filter::All).unwrap();
    let mut v: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let text = String::from_utf8(k.value).unwrap();
            let text = match text.strip_prefix('#') {
                Some(n) => format!("#{:e}", n.parse::<f64>().unwrap()),
                None => text,
            };
            (k.pointer, text)
        })
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn same_leaves_as_serde_json(doc in document(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_vec_pretty(&doc) } else { serde_json::to_vec(&doc) }.unwrap();
        validate(&text, &Limits::default()).unwrap();
        let mut want = Vec::new();
        leaves(&doc, &mut String::new(), &mut want);
        want.sort();
        let ours = our_leaves(&text);
        prop_assert!(same(&ours, &want), "ours {:?}\nserde_json {:?}", ours, want);
    }

    #[test]
    fn same_verdict_as_serde_json_on_mutations(
        doc in document(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
            b"{}[]:,\"\\ 0123456789-+.eEtrufalsn\t\n\x00\x1f\xc3\xa9\xff\xed\xa0ud8".to_vec())), 1..4),
    ) {
        let mut text = serde_json::to_vec(&doc).unwrap();
        for (at, op, byte) in edits {
            let i = at.index(text.len() + 1);
            match op {
                0 => text.insert(i, byte),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = byte,
                _ => {}
            }
        }
        let ours = validate(&text, &Limits::default());
        let theirs = serde_json::from_slice::<Value>(&text);
        let kind = ours.as_ref().err().map(|e| e.kind.clone());
        let on_purpose = matches!(kind, Some(ErrorKind::DuplicateKey { .. } | ErrorKind::ExponentTooLarge));
        let f64_range = theirs.as_ref().is_err_and(|e| e.to_string().contains("out of range"));
        if !on_purpose && !f64_range {
            let ours_ok = ours.is_ok() || kind == Some(ErrorKind::NotAnObject);
            prop_assert_eq!(ours_ok, theirs.is_ok(), "{:?}: ours {:?}, serde_json {:?}",
                String::from_utf8_lossy(&text), ours, theirs.err());
            if let (Ok(()), Ok(v)) = (&ours, &theirs) {
                let mut want = Vec::new();
                leaves(v, &mut String::new(), &mut want);
                want.sort();
                let ours = our_leaves(&text);
                prop_assert!(same(&ours, &want), "ours {:?}\nserde_json {:?}", ours, want);
            }
        }
    }
}
