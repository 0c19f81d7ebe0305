//! Shared helpers for the atrest-core suites: one test body, run against every backend the host supports.
#![allow(dead_code)]

use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, OpenError, SealError, Tag};

/// Every backend this host can run. Each suite loops over all of them, so a new backend gets every test.
pub fn backends() -> Vec<Backend> {
    let list = atrest_core::backend::supported();
    assert!(list.contains(&Backend::Soft), "soft must always be supported");
    list
}

/// A known-answer vector.
#[derive(Debug, Clone)]
pub struct Vector {
    pub line: usize,
    pub key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub pt: Vec<u8>,
    pub aad: Vec<u8>,
    pub ct: Vec<u8>,
    pub tag: Vec<u8>,
}

/// Parses `KEY = hex` style vector files (blank-line separated, `#` comments).
pub fn parse_vectors(text: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut start = 0;
    let flush = |fields: &mut Vec<(String, Vec<u8>)>, out: &mut Vec<Vector>, line: usize| {
        if fields.is_empty() {
            return;
        }
        let get = |name: &str| {
            fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| {
                panic!("vector at line {line} lacks {name}");
            })
        };
        out.push(Vector {
            line,
            key: get("KEY"),
            nonce: get("NONCE"),
            pt: get("PT"),
            aad: get("AAD"),
            ct: get("CT"),
            tag: get("TAG"),
        });
        fields.clear();
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            flush(&mut fields, &mut out, start);
            continue;
        }
        if fields.is_empty() {
            start = i + 1;
        }
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("line {}: expected NAME = hex", i + 1));
        let v = hex::decode(v.trim()).unwrap_or_else(|e| panic!("line {}: bad hex: {e}", i + 1));
        fields.push((k.trim().to_owned(), v));
    }
    flush(&mut fields, &mut out, start);
    out
}

/// AES-GCM with either key size, so one test body covers both.
pub enum Gcm {
    A128(Aes128Gcm),
    A256(Aes256Gcm),
}

impl Gcm {
    pub fn new(key: &[u8], backend: Backend) -> Gcm {
        match key.len() {
            16 => Gcm::A128(Aes128Gcm::with_backend(key.try_into().unwrap(), backend).unwrap()),
            32 => Gcm::A256(Aes256Gcm::with_backend(key.try_into().unwrap(), backend).unwrap()),
            n => panic!("unsupported key length {n}"),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Gcm::A128(k) => k.backend(),
            Gcm::A256(k) => k.backend(),
        }
    }

    pub fn seal_in_place(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<Tag, SealError> {
        match self {
            Gcm::A128(k) => k.seal_in_place(nonce, aad, buf),
            Gcm::A256(k) => k.seal_in_place(nonce, aad, buf),
        }
    }

    pub fn seal_into(&self, nonce: &[u8; 12], aad: &[u8], pt: &[u8], out: &mut [u8]) -> Result<Tag, SealError> {
        match self {
            Gcm::A128(k) => k.seal_into(nonce, aad, pt, out),
            Gcm::A256(k) => k.seal_into(nonce, aad, pt, out),
        }
    }

    pub fn open_in_place(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &Tag) -> Result<(), OpenError> {
        match self {
            Gcm::A128(k) => k.open_in_place(nonce, aad, buf, tag),
            Gcm::A256(k) => k.open_in_place(nonce, aad, buf, tag),
        }
    }

    pub fn open_into(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        ct: &[u8],
        out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), OpenError> {
        match self {
            Gcm::A128(k) => k.open_into(nonce, aad, ct, out, tag),
            Gcm::A256(k) => k.open_into(nonce, aad, ct, out, tag),
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift), for inputs that need no cryptographic quality.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}
