//! Tampering: a flipped bit in the ciphertext, tag, nonce or AAD is rejected with the one opaque error, and no
//! plaintext is released (the output is zeroed), on every backend, for AES-GCM and XAES-256-GCM.

mod common;

use atrest_core::{OpenError, Xaes256Gcm};
use common::{Gcm, backends, bytes};

fn assert_rejected(result: Result<(), OpenError>, out: &[u8], what: &str) {
    assert_eq!(result, Err(OpenError::Authentication), "{what}: tampered message opened");
    assert!(out.iter().all(|&b| b == 0), "{what}: plaintext released after failed open");
}

#[test]
fn flipped_bits_are_rejected_and_release_nothing() {
    for backend in backends() {
        for key_len in [16, 32] {
            let key = Gcm::new(&bytes(1, key_len), backend);
            for len in [1usize, 16, 17, 128, 255, 1000] {
                let pt = bytes(len as u64, len);
                let aad = bytes(9, 20);
                let nonce = [7u8; 12];
                let mut ct = pt.clone();
                let tag = key.seal_in_place(&nonce, &aad, &mut ct).unwrap();
                let at = |what: &str| format!("{backend} aes{} len={len}: {what}", key_len * 8);

                for bit in (0..len * 8).step_by(if len > 100 { 37 } else { 1 }) {
                    let mut bad = ct.clone();
                    bad[bit / 8] ^= 1 << (bit % 8);
                    let r = key.open_in_place(&nonce, &aad, &mut bad, &tag);
                    assert_rejected(r, &bad, &at(&format!("ciphertext bit {bit}")));
                    let mut out = vec![0xAB; len];
                    let r = key.open_into(&nonce, &aad, &ct_with_flip(&ct, bit), &mut out, &tag);
                    assert_rejected(r, &out, &at(&format!("ciphertext bit {bit} (in-out)")));
                }
                for bit in 0..128 {
                    let mut bad_tag = tag;
                    bad_tag[bit / 8] ^= 1 << (bit % 8);
                    let mut buf = ct.clone();
                    let r = key.open_in_place(&nonce, &aad, &mut buf, &bad_tag);
                    assert_rejected(r, &buf, &at(&format!("tag bit {bit}")));
                }
                for bit in 0..96 {
                    let mut bad_nonce = nonce;
                    bad_nonce[bit / 8] ^= 1 << (bit % 8);
                    let mut buf = ct.clone();
                    let r = key.open_in_place(&bad_nonce, &aad, &mut buf, &tag);
                    assert_rejected(r, &buf, &at(&format!("nonce bit {bit}")));
                }
                for bit in 0..aad.len() * 8 {
                    let mut bad_aad = aad.clone();
                    bad_aad[bit / 8] ^= 1 << (bit % 8);
                    let mut buf = ct.clone();
                    let r = key.open_in_place(&nonce, &bad_aad, &mut buf, &tag);
                    assert_rejected(r, &buf, &at(&format!("aad bit {bit}")));
                }
                // Truncated or extended AAD and ciphertext.
                let mut buf = ct.clone();
                assert_rejected(key.open_in_place(&nonce, &aad[1..], &mut buf, &tag), &buf, &at("short aad"));
                let mut buf = ct[..len - 1].to_vec();
                assert_rejected(key.open_in_place(&nonce, &aad, &mut buf, &tag), &buf, &at("short ciphertext"));
                // And the untampered message still opens.
                let mut buf = ct.clone();
                key.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
                assert_eq!(buf, pt);
            }
        }
    }
}

fn ct_with_flip(ct: &[u8], bit: usize) -> Vec<u8> {
    let mut v = ct.to_vec();
    v[bit / 8] ^= 1 << (bit % 8);
    v
}

#[test]
fn xaes_flipped_nonce_bits_are_rejected() {
    for backend in backends() {
        let xaes = Xaes256Gcm::with_backend(&[5; 32], backend).unwrap();
        let nonce = [9u8; 24];
        let pt = bytes(3, 300);
        let mut ct = pt.clone();
        let tag = xaes.seal_in_place(&nonce, b"ctx", &mut ct).unwrap();
        // Every bit of the 24-byte nonce matters: the first 12 select the subkey, the rest are the GCM nonce.
        for bit in 0..192 {
            let mut bad = nonce;
            bad[bit / 8] ^= 1 << (bit % 8);
            let mut buf = ct.clone();
            assert_rejected(xaes.open_in_place(&bad, b"ctx", &mut buf, &tag), &buf, &format!("{backend} bit {bit}"));
        }
        let mut buf = ct.clone();
        assert_rejected(xaes.open_in_place(&nonce, b"ctX", &mut buf, &tag), &buf, &format!("{backend} aad"));
        xaes.open_in_place(&nonce, b"ctx", &mut ct, &tag).unwrap();
        assert_eq!(ct, pt);
    }
}
