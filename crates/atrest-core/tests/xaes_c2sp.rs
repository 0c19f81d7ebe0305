//! XAES-256-GCM against the C2SP specification (<https://c2sp.org/XAES-256-GCM>): its two test vectors and
//! its accumulated randomized test, on every backend.

mod common;

use atrest_core::Xaes256Gcm;
use common::backends;
use sha3::Shake128;
use sha3::digest::{ExtendableOutput, Update, XofReader};

/// One of the spec's vectors: key (hex), nonce, plaintext, AAD, ciphertext || tag (hex).
type C2spVector = (&'static str, &'static [u8], &'static [u8], &'static [u8], &'static str);

/// The spec's vectors.
const VECTORS: &[C2spVector] = &[
    (
        "0101010101010101010101010101010101010101010101010101010101010101",
        b"ABCDEFGHIJKLMNOPQRSTUVWX",
        b"XAES-256-GCM",
        b"",
        "ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271",
    ),
    (
        "0303030303030303030303030303030303030303030303030303030303030303",
        b"ABCDEFGHIJKLMNOPQRSTUVWX",
        b"XAES-256-GCM",
        b"c2sp.org/XAES-256-GCM",
        "986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d",
    ),
];

#[test]
fn c2sp_vectors_on_every_backend() {
    for backend in backends() {
        for (key, nonce, pt, aad, expected) in VECTORS {
            let key: [u8; 32] = hex::decode(key).unwrap().try_into().unwrap();
            let xaes = Xaes256Gcm::with_backend(&key, backend).unwrap();
            let nonce: &[u8; 24] = (*nonce).try_into().unwrap();
            let mut buf = pt.to_vec();
            let tag = xaes.seal_in_place(nonce, aad, &mut buf).unwrap();
            buf.extend_from_slice(&tag);
            assert_eq!(hex::encode(&buf), *expected, "{backend}");
            let mut ct = buf[..pt.len()].to_vec();
            xaes.open_in_place(nonce, aad, &mut ct, &tag).unwrap();
            assert_eq!(ct, *pt, "{backend}");
        }
    }
}

/// The spec's accumulated test: keys, nonces, messages and AAD drawn from one SHAKE-128 stream, every
/// ciphertext (with tag) absorbed into a second SHAKE-128, whose first 32 bytes are compared.
fn accumulated(backend: atrest_core::Backend, iterations: usize) -> String {
    let mut s = Shake128::default().finalize_xof();
    let mut d = Shake128::default();
    let mut read = |n: usize| {
        let mut v = vec![0u8; n];
        s.read(&mut v);
        v
    };
    for _ in 0..iterations {
        let key: [u8; 32] = read(32).try_into().unwrap();
        let nonce: [u8; 24] = read(24).try_into().unwrap();
        let len = read(1)[0] as usize;
        let pt = read(len);
        let len = read(1)[0] as usize;
        let aad = read(len);
        let xaes = Xaes256Gcm::with_backend(&key, backend).unwrap();
        let mut buf = pt.clone();
        let tag = xaes.seal_in_place(&nonce, &aad, &mut buf).unwrap();
        d.update(&buf);
        d.update(&tag);
        xaes.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);
    }
    let mut out = [0u8; 32];
    d.finalize_xof().read(&mut out);
    hex::encode(out)
}

#[test]
fn c2sp_accumulated_10k_on_every_backend() {
    for backend in backends() {
        assert_eq!(
            accumulated(backend, 10_000),
            "e6b9edf2df6cec60c8cbd864e2211b597fb69a529160cd040d56c0c210081939",
            "{backend}"
        );
    }
}

#[test]
#[ignore = "1,000,000 iterations; run with --ignored (release mode recommended)"]
fn c2sp_accumulated_1m_on_every_backend() {
    for backend in backends() {
        assert_eq!(
            accumulated(backend, 1_000_000),
            "2163ae1445985a30b60585ee67daa55674df06901b890593e824b8a7c885ab15",
            "{backend}"
        );
    }
}
