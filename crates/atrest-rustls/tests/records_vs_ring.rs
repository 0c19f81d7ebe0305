//! Differential tests against ring's record protection (rustls' ring provider, an independent AES-GCM and
//! record layer): for every AES-GCM suite of TLS 1.3 and 1.2 and every atrest-core backend the host supports,
//! the same key, IV and sequence number give byte-identical records, each side opens the other's, and an
//! altered record fails with the opaque error and a zeroed body.

mod common;

use atrest_core::backend::supported;
use common::records::{aead_key, find, open, ring_suite, seal, tls12, tls13};
use proptest::prelude::*;
use rustls::crypto::cipher::{Iv, MessageDecrypter, MessageEncrypter};
use rustls::{CipherSuite, ContentType, Error, ProtocolVersion, SupportedCipherSuite};

const TLS13: [CipherSuite; 2] = [CipherSuite::TLS13_AES_128_GCM_SHA256, CipherSuite::TLS13_AES_256_GCM_SHA384];
const TLS12: [CipherSuite; 4] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// Plaintext lengths around the AES block, the 8-block stride of the wide backends, and the record limit.
const LENGTHS: [usize; 14] = [0, 1, 15, 16, 17, 31, 127, 128, 129, 255, 1000, 4097, 16383, 16384];
const SEQS: [u64; 5] = [0, 1, 0xff, 1 << 32, u64::MAX - 1];

/// An encrypter and a decrypter for one direction, from the same key material.
struct Direction {
    enc: Box<dyn MessageEncrypter>,
    dec: Box<dyn MessageDecrypter>,
    version: ProtocolVersion,
}

/// Ours and ring's directions for `id`, keyed identically from `seed`.
fn directions(backend: atrest_core::Backend, id: CipherSuite, seed: &[u8]) -> (Direction, Direction) {
    let ours = find(atrest_rustls::cipher_suites(backend).unwrap(), id);
    let ring = ring_suite(id);
    (direction(ours, seed), direction(ring, seed))
}

fn direction(suite: SupportedCipherSuite, seed: &[u8]) -> Direction {
    let iv: [u8; 12] = std::array::from_fn(|i| seed.get(i).copied().unwrap_or(0) ^ 0x5a ^ i as u8);
    match suite {
        SupportedCipherSuite::Tls13(s) => {
            let len = s.aead_alg.key_len();
            Direction {
                enc: s.aead_alg.encrypter(aead_key(len, seed), Iv::from(iv)),
                dec: s.aead_alg.decrypter(aead_key(len, seed), Iv::from(iv)),
                version: ProtocolVersion::TLSv1_3,
            }
        }
        SupportedCipherSuite::Tls12(s) => {
            let len = s.aead_alg.key_block_shape().enc_key_len;
            Direction {
                enc: s.aead_alg.encrypter(aead_key(len, seed), &iv[..4], &iv[4..]),
                dec: s.aead_alg.decrypter(aead_key(len, seed), &iv[..4]),
                version: ProtocolVersion::TLSv1_2,
            }
        }
    }
}

fn payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

/// Seals with both, compares, and opens each record with the other side.
fn agree(ours: &mut Direction, ring: &mut Direction, typ: ContentType, body: &[u8], seq: u64, what: &str) {
    let a = seal(&mut *ours.enc, typ, ours.version, body, seq).unwrap();
    let b = seal(&mut *ring.enc, typ, ring.version, body, seq).unwrap();
    assert!(a == b, "{what}: records differ");
    let by_ring = open(&mut *ring.dec, &a, seq).result.unwrap();
    let by_ours = open(&mut *ours.dec, &b, seq).result.unwrap();
    assert_eq!(by_ring.1, body, "{what}: ring opened our record to something else");
    assert_eq!(by_ours, by_ring, "{what}: we opened ring's record to something else");
}

#[test]
fn every_suite_agrees_with_ring_on_every_backend() {
    for backend in supported() {
        for id in TLS13.into_iter().chain(TLS12) {
            let (mut ours, mut ring) = directions(backend, id, format!("{id:?}").as_bytes());
            for len in LENGTHS {
                for seq in SEQS {
                    for typ in [ContentType::ApplicationData, ContentType::Handshake, ContentType::Alert] {
                        let what = format!("{backend} {id:?} len {len} seq {seq} {typ:?}");
                        agree(&mut ours, &mut ring, typ, &payload(len, seq as u8), seq, &what);
                    }
                }
            }
        }
    }
}

/// RFC 5288: the 8-byte explicit nonce leads each TLS 1.2 record, and the nonce is salt || explicit. Here
/// the explicit nonce is the key block's seed XOR the sequence number: distinct per record.
#[test]
fn tls12_records_carry_a_distinct_explicit_nonce() {
    let seed = b"explicit nonce";
    for backend in supported() {
        for id in TLS12 {
            let (mut ours, _) = directions(backend, id, seed);
            let iv: [u8; 12] = std::array::from_fn(|i| seed.get(i).copied().unwrap_or(0) ^ 0x5a ^ i as u8);
            let mut seen = std::collections::HashSet::new();
            for seq in [0u64, 1, 2, 3, 1 << 40, u64::MAX - 1] {
                let record = seal(&mut *ours.enc, ContentType::ApplicationData, ours.version, b"hi", seq).unwrap();
                let explicit: [u8; 8] = record[5..13].try_into().unwrap();
                let want: Vec<u8> = iv[4..].iter().zip(seq.to_be_bytes()).map(|(a, b)| a ^ b).collect();
                assert_eq!(explicit.as_slice(), want, "{backend} {id:?} seq {seq}");
                assert!(seen.insert(explicit), "{backend} {id:?}: explicit nonce repeated at seq {seq}");
            }
        }
    }
}

#[test]
fn altered_records_fail_opaquely_with_a_zeroed_body() {
    for backend in supported() {
        for id in TLS13.into_iter().chain(TLS12) {
            let (mut ours, _) = directions(backend, id, b"tamper");
            let tls12 = matches!(ours.version, ProtocolVersion::TLSv1_2);
            let body_at = if tls12 { 5 + 8 } else { 5 };
            let body = payload(300, 7);
            let record = seal(&mut *ours.enc, ContentType::ApplicationData, ours.version, &body, 9).unwrap();
            let body_len = record.len() - body_at - 16;
            let mut cases = vec![(record.clone(), 10u64, "next sequence number".to_owned())];
            // Header bytes 3-4 (the length) frame the record and are checked by rustls' deframer, not here.
            for at in [0, 1, 2, 5, 12, 13, body_at + 100, record.len() - 16, record.len() - 1] {
                let mut bad = record.clone();
                bad[at] ^= 0x80;
                cases.push((bad, 9, format!("byte {at} flipped")));
            }
            for (bad, seq, what) in cases {
                let opened = open(&mut *ours.dec, &bad, seq);
                assert!(matches!(opened.result, Err(Error::DecryptError)), "{backend} {id:?}: {what}");
                let left = &opened.buffer[body_at - 5..body_at - 5 + body_len];
                assert!(left.iter().all(|&b| b == 0), "{backend} {id:?}: {what} left plaintext or ciphertext");
            }
            let short = &record[..body_at + 15];
            assert!(matches!(open(&mut *ours.dec, short, 9).result, Err(Error::DecryptError)), "{backend} {id:?}");
        }
    }
}

/// A TLS 1.2 record that authenticates but carries more than 2^14 bytes of plaintext is refused.
#[test]
fn tls12_oversized_plaintext_is_refused_after_authentication() {
    for id in TLS12 {
        let (mut ours, _) = directions(atrest_core::backend::best_supported(), id, b"oversized");
        let record = seal(&mut *ours.enc, ContentType::ApplicationData, ours.version, &[1; 16385], 0).unwrap();
        assert!(matches!(open(&mut *ours.dec, &record, 0).result, Err(Error::PeerSentOversizedRecord)), "{id:?}");
    }
}

/// The key material handed to kTLS-style consumers is the suite's, in rustls' shape.
#[test]
fn extracted_keys_name_the_right_algorithm() {
    let backend = atrest_core::backend::best_supported();
    let suites = atrest_rustls::cipher_suites(backend).unwrap();
    for id in TLS13 {
        let s = tls13(find(suites, id));
        let len = s.aead_alg.key_len();
        let secrets = s.aead_alg.extract_keys(aead_key(len, b"k"), Iv::from([3; 12])).unwrap();
        match (len, secrets) {
            (16, rustls::ConnectionTrafficSecrets::Aes128Gcm { key, iv })
            | (32, rustls::ConnectionTrafficSecrets::Aes256Gcm { key, iv }) => {
                assert_eq!(key.as_ref(), aead_key(len, b"k").as_ref());
                assert_eq!(iv.as_ref(), [3; 12]);
            }
            _ => panic!("{id:?}: wrong traffic secret kind"),
        }
    }
    for id in TLS12 {
        let s = tls12(find(suites, id));
        let len = s.aead_alg.key_block_shape().enc_key_len;
        let secrets =
            s.aead_alg.extract_keys(aead_key(len, b"k"), &[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12]).unwrap();
        let iv = match secrets {
            rustls::ConnectionTrafficSecrets::Aes128Gcm { iv, .. } if len == 16 => iv,
            rustls::ConnectionTrafficSecrets::Aes256Gcm { iv, .. } if len == 32 => iv,
            _ => panic!("{id:?}: wrong traffic secret kind"),
        };
        assert_eq!(iv.as_ref(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random keys, sequence numbers, content types and lengths, on the default backend.
    #[test]
    fn random_records_agree_with_ring(
        suite in 0usize..6,
        seed in proptest::collection::vec(any::<u8>(), 1..40),
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        seq in any::<u64>(),
        typ in prop_oneof![Just(ContentType::ApplicationData), Just(ContentType::Handshake), Just(ContentType::Alert)],
    ) {
        let id = TLS13.into_iter().chain(TLS12).nth(suite).unwrap();
        let (mut ours, mut ring) = directions(atrest_core::backend::best_supported(), id, &seed);
        let seq = seq.min(u64::MAX - 1);
        agree(&mut ours, &mut ring, typ, &body, seq, &format!("{id:?}"));
    }
}
