//! What a document scan accepts, refuses (with which error, where) and yields.

use atrest_json::{ErrorKind, Filter, Kind, Limits, canonical_query, index_keys, top_level_field, validate, value_at};

fn keys(doc: &str, filter: Filter<'_>) -> Vec<(String, String)> {
    let mut k: Vec<_> = index_keys(doc.as_bytes(), &Limits::default(), filter)
        .unwrap_or_else(|e| panic!("{doc}: {e}"))
        .into_iter()
        .map(|k| (k.pointer, String::from_utf8(k.value).unwrap()))
        .collect();
    let n = k.len();
    k.sort();
    k.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(k.len(), n, "one key per pointer");
    k
}

fn err(doc: &[u8]) -> atrest_json::JsonError {
    validate(doc, &Limits::default()).expect_err(&String::from_utf8_lossy(doc))
}

#[test]
fn leaves_have_escaped_pointers_and_canonical_values() {
    let k = keys(r#"{"a/b":{"c~d":1.50},"t":["x",null,true,false,[]],"s":"\u0041\n","e":{}}"#, Filter::All);
    let want = [("/a~1b/c~0d", "#1.5e0"), ("/s", "sA\n"), ("/t/0", "sx"), ("/t/1", "n"), ("/t/2", "t"), ("/t/3", "f")];
    assert_eq!(k, want.map(|(p, v)| (p.to_owned(), v.to_owned())));
    let only = ["/t/0".to_owned(), "/a~1b".to_owned()];
    assert_eq!(keys(r#"{"a/b":{"c":1},"t":["x"]}"#, Filter::Pointers(&only)), [("/t/0".into(), "sx".into())]);
    assert!(keys(r#"{"a":1}"#, Filter::None).is_empty());
    // Keys with escapes name the same pointer as without.
    assert_eq!(keys(r#"{"\u0061\/":1}"#, Filter::All), [("/a~1".into(), "#1e0".into())]);
    // Deep arrays: indices in decimal at every level.
    let deep = keys(r#"{"m":[[0,1,2,3,4,5,6,7,8,9,10,11]]}"#, Filter::All);
    assert_eq!(deep[2], ("/m/0/10".into(), "#1e1".into()));
}

#[test]
fn equal_values_are_equal_bytes() {
    let q = |s: &str| canonical_query(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(q(r#""\u0041""#), q(r#""A""#));
    assert_eq!(q(r#""\ud83d\ude00""#), q("\"\u{1F600}\""));
    for same in ["1", "1.0", "1e0", "10e-1", " 1 "] {
        assert_eq!(q(same), q("1"), "{same}");
    }
    assert_eq!(q("-0"), q("0"));
    assert_ne!(q("12345678901234567890123"), q("12345678901234567890124"));
    assert_ne!(q("1"), q(r#""1""#));
    assert_ne!(q("true"), q(r#""true""#));
    assert_ne!(q("null"), q("false"));
    // A query value and a document leaf agree.
    let doc = br#"{"n":100,"s":"caf\u00e9"}"#;
    assert_eq!(value_at(doc, "/n").unwrap(), Some(q("1e2")));
    assert_eq!(value_at(doc, "/s").unwrap(), Some(q("\"café\"")));
    assert_eq!(value_at(doc, "/x").unwrap(), None);
    assert_eq!(canonical_query(b"[1]").unwrap_err().kind, ErrorKind::NotAScalar);
    assert_eq!(canonical_query(b"{}").unwrap_err().kind, ErrorKind::NotAScalar);
    assert!(matches!(canonical_query(b"1 2").unwrap_err().kind, ErrorKind::TrailingData));
}

#[test]
fn duplicate_keys_are_refused_after_unescaping() {
    let e = err(br#"{"a":1,"a":2}"#);
    assert_eq!(e.kind, ErrorKind::DuplicateKey { key: "a".into(), first: 1 });
    assert_eq!(e.offset, 7);
    assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
    assert!(matches!(err(br#"{"a":1,"\u0061":2}"#).kind, ErrorKind::DuplicateKey { .. }));
    assert!(matches!(err(br#"{"x":{"b":1,"c":{"b":2},"b":3}}"#).kind, ErrorKind::DuplicateKey { .. }));
    // Same key in sibling and nested objects is fine.
    validate(br#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#, &Limits::default()).unwrap();
    // Large objects (sorted, not pairwise), duplicate anywhere; and the earliest repeat is named.
    let mut big: Vec<String> = (0..1000).map(|i| format!("\"k{i}\":{i}")).collect();
    validate(format!("{{{}}}", big.join(",")).as_bytes(), &Limits::default()).unwrap();
    big.push("\"k500\":0".into());
    big.push("\"k7\":0".into());
    let e = err(format!("{{{}}}", big.join(",")).as_bytes());
    assert!(matches!(e.kind, ErrorKind::DuplicateKey { ref key, .. } if key == "k500"), "{e}");
}

#[test]
fn depth_and_size_limits() {
    let nest = |n: usize| format!("{}{}{}", "{\"a\":".repeat(n), "1", "}".repeat(n));
    let limits = Limits { max_len: 1 << 20, max_depth: 10 };
    validate(nest(10).as_bytes(), &limits).unwrap();
    let e = validate(nest(11).as_bytes(), &limits).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooDeep { max: 10 });
    assert_eq!(e.offset, 50);
    let arrays = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
    assert_eq!(err(arrays.as_bytes()).kind, ErrorKind::TooDeep { max: 128 });
    // Far past any stack: still an error, not a crash.
    let deep = "[".repeat(1_000_000);
    let many = Limits { max_len: 1 << 21, max_depth: usize::MAX };
    assert!(matches!(validate(deep.as_bytes(), &many).unwrap_err().kind, ErrorKind::UnexpectedEnd { .. }));
    let small = Limits { max_len: 8, max_depth: 4 };
    assert_eq!(validate(b"{\"a\":\"long\"}", &small).unwrap_err().kind, ErrorKind::TooLarge { len: 12, max: 8 });
}

#[test]
fn lone_surrogates_say_so() {
    let e = err(br#"{"a":"x\ud800"}"#);
    assert_eq!(e.kind, ErrorKind::LoneSurrogate { code: 0xd800 });
    assert_eq!(e.offset, 7);
    assert!(e.to_string().contains("lone surrogate \\ud800"), "{e}");
    assert_eq!(err(br#"{"a":"\udfff"}"#).kind, ErrorKind::LoneSurrogate { code: 0xdfff });
    assert_eq!(err(br#"{"\ud800x":1}"#).kind, ErrorKind::LoneSurrogate { code: 0xd800 });
    validate(br#"{"a":"\ud800\udc00"}"#, &Limits::default()).unwrap();
}

#[test]
fn invalid_utf8_anywhere_is_refused_with_its_offset() {
    for (doc, at) in [
        (&b"{\"a\":\"\xff\"}"[..], 6),
        (b"{\"a\":\"ok\xc3\"}", 8),
        (b"{\"\xed\xa0\x80\":1}", 2),
        (b"{\"a\":1}\xff", 7),
        (b"{\"a\":\"\xe2\x82\"}", 6),
    ] {
        let e = err(doc);
        assert_eq!((e.kind, e.offset), (ErrorKind::InvalidUtf8, at), "{doc:?}");
    }
    validate("{\"a\":\"naïve 東京 \u{1F600}\"}".as_bytes(), &Limits::default()).unwrap();
}

#[test]
fn errors_name_what_and_where() {
    let e = err(b"{\n  \"a\": 1,\n  \"b\" 2\n}");
    assert_eq!((e.line, e.column, e.offset), (3, 7, 18));
    assert_eq!(e.kind, ErrorKind::Unexpected { found: '2', expected: "':' after the key" });
    assert_eq!(err(b"[1]").kind, ErrorKind::NotAnObject);
    assert!(matches!(err(b"[1,]").kind, ErrorKind::Unexpected { found: ']', .. }), "invalid before not-an-object");
    assert!(matches!(err(b"").kind, ErrorKind::UnexpectedEnd { .. }));
    assert!(matches!(err(b"{\"a\":1} x").kind, ErrorKind::TrailingData));
    assert!(matches!(err(b"{\"a\":01}").kind, ErrorKind::LeadingZero));
    assert!(matches!(err(b"{\"a\":\"\t\"}").kind, ErrorKind::ControlCharacter { byte: 9 }));
    assert!(matches!(err(b"{\"a\":tru}").kind, ErrorKind::Unexpected { found: '}', .. }));
    assert!(matches!(err(b"{\"a\":1e99999999999999999999}").kind, ErrorKind::ExponentTooLarge));
    let e = err(b"{\"a\":\"\\q\"}");
    assert_eq!((e.kind.clone(), e.offset), (ErrorKind::BadEscape { found: 'q' }, 6));
    // CRLF line ends are whitespace.
    validate(b"{\r\n\"a\": 1\r\n}\r\n", &Limits::default()).unwrap();
}

#[test]
fn top_level_fields_for_ids() {
    let l = Limits::default();
    let doc = br#"{"x":{"id":9},"id":12345678901234567890123,"s":"a\tb","f":1.0,"o":{}}"#;
    let id = top_level_field(doc, "id", &l).unwrap().unwrap();
    assert_eq!(id.kind(), Kind::Number);
    assert_eq!(id.as_plain_integer(), Some("12345678901234567890123"));
    assert_eq!(id.raw, b"12345678901234567890123");
    let s = top_level_field(doc, "s", &l).unwrap().unwrap();
    assert_eq!((s.as_str(), s.raw), (Some("a\tb"), &br#""a\tb""#[..]));
    assert_eq!(top_level_field(doc, "f", &l).unwrap().unwrap().as_plain_integer(), None);
    assert_eq!(top_level_field(doc, "o", &l).unwrap(), None);
    assert_eq!(top_level_field(doc, "missing", &l).unwrap(), None);
    // The whole document is still validated.
    assert!(top_level_field(br#"{"id":1,"id":2}"#, "id", &l).is_err());
    assert!(top_level_field(br#"{"id":1,"z":[}"#, "id", &l).is_err());
}
