//! Known-answer records: the protected records of RFC 8448 §3 (TLS_AES_128_GCM_SHA256), sealed and opened by
//! this provider on every atrest-core backend the host supports. The vectors and their source are in
//! tests/data/rfc8448_section3_records.txt.

mod common;

use atrest_core::backend::supported;
use common::records::{find, open, seal, tls13, traffic_key, unhex};
use rustls::{CipherSuite, ContentType, Error, ProtocolVersion};

struct Vector {
    name: String,
    secret: Vec<u8>,
    key: Vec<u8>,
    iv: Vec<u8>,
    seq: u64,
    typ: ContentType,
    payload: Vec<u8>,
    record: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("data/rfc8448_section3_records.txt");
    let mut blocks: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        if let Some(name) = line.strip_prefix('[') {
            blocks.push((name.trim_end_matches(']').to_owned(), Vec::new()));
        } else if line.starts_with(' ') {
            let (_, fields) = blocks.last_mut().expect("continuation before any block");
            fields.last_mut().expect("continuation before any field").1.push_str(line);
        } else {
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("not `field = value`: {line:?}"));
            blocks.last_mut().expect("field before any block").1.push((key.trim().to_owned(), value.to_owned()));
        }
    }
    blocks
        .into_iter()
        .map(|(name, fields)| {
            let get = |k: &str| {
                fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{name}: no {k}"))
            };
            Vector {
                secret: unhex(get("secret")),
                key: unhex(get("key")),
                iv: unhex(get("iv")),
                seq: get("seq").trim().parse().unwrap(),
                typ: ContentType::from(unhex(get("type"))[0]),
                payload: unhex(get("payload")),
                record: unhex(get("record")),
                name,
            }
        })
        .collect()
}

#[test]
fn the_vector_file_holds_the_six_records_of_section_3() {
    let v = vectors();
    assert_eq!(v.len(), 6);
    // The lengths the RFC states for each record ("complete record (N octets)").
    let lengths: Vec<usize> = v.iter().map(|v| v.record.len()).collect();
    assert_eq!(lengths, [679, 58, 72, 72, 24, 24]);
    assert_eq!(v[0].payload.len(), 657);
}

#[test]
fn records_seal_to_the_rfc_bytes_on_every_backend() {
    for backend in supported() {
        let suite = tls13(find(atrest_rustls::cipher_suites(backend).unwrap(), CipherSuite::TLS13_AES_128_GCM_SHA256));
        for v in vectors() {
            let (key, iv) = traffic_key(suite, &v.secret);
            assert_eq!(key.as_ref(), v.key, "{backend} {}: write key", v.name);
            assert_eq!(iv.as_ref(), v.iv, "{backend} {}: write iv", v.name);
            let mut enc = suite.aead_alg.encrypter(key, iv);
            let record = seal(&mut *enc, v.typ, ProtocolVersion::TLSv1_3, &v.payload, v.seq).unwrap();
            assert_eq!(hex::encode(&record), hex::encode(&v.record), "{backend} {}", v.name);
        }
    }
}

#[test]
fn records_open_to_the_rfc_payload_on_every_backend() {
    for backend in supported() {
        let suite = tls13(find(atrest_rustls::cipher_suites(backend).unwrap(), CipherSuite::TLS13_AES_128_GCM_SHA256));
        for v in vectors() {
            let (key, iv) = traffic_key(suite, &v.secret);
            let mut dec = suite.aead_alg.decrypter(key, iv);
            let (typ, payload) = open(&mut *dec, &v.record, v.seq).result.unwrap();
            assert_eq!((typ, payload), (v.typ, v.payload.clone()), "{backend} {}", v.name);
        }
    }
}

/// The failing cases: a wrong sequence number, a changed header byte, a flipped ciphertext or tag bit, a
/// truncated record. Each is the opaque decrypt error, and the ciphertext area of the buffer is zeroed.
#[test]
fn altered_records_fail_opaquely_and_release_no_plaintext() {
    for backend in supported() {
        let suite = tls13(find(atrest_rustls::cipher_suites(backend).unwrap(), CipherSuite::TLS13_AES_128_GCM_SHA256));
        for v in vectors() {
            let body = v.record.len() - 5 - 16;
            let mut cases: Vec<(String, Vec<u8>, u64)> =
                vec![("sequence number + 1".into(), v.record.clone(), v.seq + 1)];
            for (what, at) in
                [("outer content type", 0), ("record version", 2), ("ciphertext", 5), ("tag", v.record.len() - 1)]
            {
                let mut bad = v.record.clone();
                bad[at] ^= 0x01;
                cases.push((what.into(), bad, v.seq));
            }
            for (what, record, seq) in cases {
                let (key, iv) = traffic_key(suite, &v.secret);
                let opened = open(&mut *suite.aead_alg.decrypter(key, iv), &record, seq);
                assert!(matches!(opened.result, Err(Error::DecryptError)), "{backend} {}: {what}", v.name);
                assert!(opened.buffer[..body].iter().all(|&b| b == 0), "{backend} {}: {what} left bytes", v.name);
            }
            // Shorter than a tag: nothing to open.
            let (key, iv) = traffic_key(suite, &v.secret);
            let opened = open(&mut *suite.aead_alg.decrypter(key, iv), &v.record[..5 + 15], v.seq);
            assert!(matches!(opened.result, Err(Error::DecryptError)), "{backend} {}: 15-byte record", v.name);
        }
    }
}
