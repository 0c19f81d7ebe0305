//! What the JSON validation benchmarks (`json`, `json_peak`) run: the document sets and the contenders.
//!
//! Document sets: the store's own documents (`atrest bench`'s generator: 1-4 KiB orders, profiles and sensor
//! readings, validated one at a time as the store does), and four stress shapes of about 1-3 MB each: one large
//! document (an array of those documents), deep nesting (100 levels), long strings full of escapes and non-ASCII
//! text, and arrays of numbers (all within 64 bits: simd-json refuses larger integers).
//!
//! Contenders: atrest-json validating only (`Filter::None`, the store's path with indexing off) and yielding every
//! index key (`Filter::All`, the default indexing); serde_json as the store used it before (UTF-8 check, then
//! `IgnoredAny`) and building a `Value`; simd-json's tape (it parses in place, so a copy of the input is part of
//! its cost, as it would be in the store); sonic-rs into `IgnoredAny`; and simdutf8 alone, the floor that any of
//! them pays to check UTF-8. Only atrest-json refuses duplicate keys, and only it yields index keys.

#![allow(dead_code)]

use atrest_bench::docgen::document;
use std::hint::black_box;

/// A named set of documents, each validated on its own.
pub struct DocSet {
    pub name: &'static str,
    pub docs: Vec<Vec<u8>>,
}

impl DocSet {
    pub fn bytes(&self) -> usize {
        self.docs.iter().map(Vec::len).sum()
    }
}

pub fn sets() -> Vec<DocSet> {
    let store_docs: Vec<Vec<u8>> = (0..1000).map(|n| document(7, n)).collect();
    let large = {
        let mut d = b"{\"docs\":[".to_vec();
        d.extend(store_docs.join(&b","[..]));
        d.extend_from_slice(b"]}");
        d
    };
    let deep = {
        let mut d = b"{".to_vec();
        for i in 0..400 {
            let mut one = String::new();
            for level in 0..50 {
                one.push_str(&format!("{{\"l{level}\":[{level},"));
            }
            one.push_str("\"leaf\"");
            one.push_str(&"]}".repeat(50));
            d.extend(format!("{}\"d{i}\":{one}", if i > 0 { "," } else { "" }).bytes());
        }
        d.push(b'}');
        d
    };
    let strings = {
        let piece = "Zürich \\\"quoted\\\" naïve 東京 tab\\there line\\nbreak \\u00e9\\ud83d\\ude00 plain ascii words ";
        let fields: Vec<String> = (0..400).map(|i| format!("\"s{i}\":\"{}\"", piece.repeat(1 + i % 40))).collect();
        format!("{{{}}}", fields.join(",")).into_bytes()
    };
    let numbers = {
        let fields: Vec<String> = (0..500)
            .map(|i| {
                let xs: Vec<String> = (0..200).map(|j| format!("{}", (i * 200 + j) as f64 * 1.000_37 - 5e4)).collect();
                format!("\"n{i}\":[{},{},-0,1e300,1234567890123456789]", xs.join(","), i)
            })
            .collect();
        format!("{{{}}}", fields.join(",")).into_bytes()
    };
    let sets = vec![
        DocSet { name: "store-docs", docs: store_docs },
        DocSet { name: "large", docs: vec![large] },
        DocSet { name: "deep", docs: vec![deep] },
        DocSet { name: "strings", docs: vec![strings] },
        DocSet { name: "numbers", docs: vec![numbers] },
    ];
    // Every contender must accept every document, or the comparison means nothing.
    for s in &sets {
        for d in &s.docs {
            for (name, f) in contenders() {
                assert!(f(d), "{name} refused a document of set {}", s.name);
            }
        }
    }
    sets
}

/// A contender: its name and a validation of one document (whether it was accepted).
pub type Contender = (&'static str, fn(&[u8]) -> bool);

pub fn contenders() -> Vec<Contender> {
    vec![
        ("atrest-json none", |d| atrest_json::validate(d, &LIMITS).is_ok()),
        ("atrest-json all", |d| {
            atrest_json::index_keys(d, &LIMITS, atrest_json::Filter::All).map(|k| !black_box(k).is_empty()).is_ok()
        }),
        ("serde_json ignored", |d| {
            std::str::from_utf8(d).is_ok_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok())
        }),
        ("serde_json value", |d| serde_json::from_slice::<serde_json::Value>(d).map(black_box).is_ok()),
        ("simd-json tape", |d| {
            let mut copy = d.to_vec();
            simd_json::to_tape(&mut copy).map(|t| black_box(t.0.len())).is_ok()
        }),
        ("sonic-rs ignored", |d| sonic_rs::from_slice::<serde::de::IgnoredAny>(d).is_ok()),
        ("simdutf8 only", |d| simdutf8::basic::from_utf8(d).is_ok()),
    ]
}

const LIMITS: atrest_json::Limits = atrest_json::Limits { max_len: 64 << 20, max_depth: 128 };
