//! Known-answer tests: the GCM specification's test cases and NIST CAVP vectors, on every backend, through the
//! native API (in place and in-out) and the RustCrypto `aead` traits. The vector files say where they come from.

mod common;

use aead::{Aead, AeadInOut, KeyInit, Payload};
use common::{Gcm, Vector, backends, parse_vectors};

const FILES: &[(&str, &str)] = &[
    ("gcm_spec.txt", include_str!("data/gcm_spec.txt")),
    ("nist_cavp_aes128_gcm.txt", include_str!("data/nist_cavp_aes128_gcm.txt")),
    ("nist_cavp_aes256_gcm.txt", include_str!("data/nist_cavp_aes256_gcm.txt")),
];

fn all_vectors() -> Vec<(&'static str, Vector)> {
    let mut out = Vec::new();
    for (name, text) in FILES {
        let vectors = parse_vectors(text);
        assert!(!vectors.is_empty(), "{name} holds no vectors");
        out.extend(vectors.into_iter().map(|v| (*name, v)));
    }
    out
}

#[test]
fn vector_files_agree_with_rustcrypto() {
    // Guards the transcription of the files themselves, independently of atrest.
    for (file, v) in all_vectors() {
        let mut buf = v.pt.clone();
        let tag = match v.key.len() {
            16 => aes_gcm::Aes128Gcm::new_from_slice(&v.key).unwrap().encrypt_inout_detached(
                v.nonce.as_slice().try_into().unwrap(),
                &v.aad,
                buf.as_mut_slice().into(),
            ),
            _ => aes_gcm::Aes256Gcm::new_from_slice(&v.key).unwrap().encrypt_inout_detached(
                v.nonce.as_slice().try_into().unwrap(),
                &v.aad,
                buf.as_mut_slice().into(),
            ),
        }
        .unwrap();
        assert_eq!(buf, v.ct, "{file}:{} ciphertext", v.line);
        assert_eq!(tag.as_slice(), v.tag, "{file}:{} tag", v.line);
    }
}

#[test]
fn native_api_matches_vectors_on_every_backend() {
    let vectors = all_vectors();
    assert!(vectors.len() >= 750, "expected the full vector set, got {}", vectors.len());
    for backend in backends() {
        for (file, v) in &vectors {
            let at = format!("{backend} {file}:{}", v.line);
            let key = Gcm::new(&v.key, backend);
            assert_eq!(key.backend(), backend);
            let nonce: [u8; 12] = v.nonce.as_slice().try_into().unwrap();
            let tag: [u8; 16] = v.tag.as_slice().try_into().unwrap();

            let mut buf = v.pt.clone();
            assert_eq!(key.seal_in_place(&nonce, &v.aad, &mut buf).unwrap(), tag, "{at} seal tag");
            assert_eq!(buf, v.ct, "{at} seal ciphertext");
            key.open_in_place(&nonce, &v.aad, &mut buf, &tag).unwrap_or_else(|e| panic!("{at} open: {e}"));
            assert_eq!(buf, v.pt, "{at} open plaintext");

            let mut out = vec![0xAA; v.pt.len()];
            assert_eq!(key.seal_into(&nonce, &v.aad, &v.pt, &mut out).unwrap(), tag, "{at} seal_into tag");
            assert_eq!(out, v.ct, "{at} seal_into ciphertext");
            let mut back = vec![0x55; v.ct.len()];
            key.open_into(&nonce, &v.aad, &v.ct, &mut back, &tag).unwrap();
            assert_eq!(back, v.pt, "{at} open_into plaintext");
        }
    }
}

#[test]
fn aead_traits_match_vectors() {
    // KeyInit uses the default backend (ATREST_BACKEND or the best one); the scripts run this suite once per
    // forced backend, so every backend also passes through the trait path.
    for (file, v) in all_vectors() {
        let at = format!("{file}:{}", v.line);
        let nonce = v.nonce.as_slice().try_into().unwrap();
        let payload = Payload { msg: &v.pt, aad: &v.aad };
        let mut expected = v.ct.clone();
        expected.extend_from_slice(&v.tag);
        let sealed = match v.key.len() {
            16 => atrest_core::Aes128Gcm::new_from_slice(&v.key).unwrap().encrypt(nonce, payload),
            _ => atrest_core::Aes256Gcm::new_from_slice(&v.key).unwrap().encrypt(nonce, payload),
        }
        .unwrap();
        assert_eq!(sealed, expected, "{at} Aead::encrypt");
        let opened = match v.key.len() {
            16 => atrest_core::Aes128Gcm::new_from_slice(&v.key)
                .unwrap()
                .decrypt(nonce, Payload { msg: &sealed, aad: &v.aad }),
            _ => atrest_core::Aes256Gcm::new_from_slice(&v.key)
                .unwrap()
                .decrypt(nonce, Payload { msg: &sealed, aad: &v.aad }),
        }
        .unwrap();
        assert_eq!(opened, v.pt, "{at} Aead::decrypt");
    }
}
