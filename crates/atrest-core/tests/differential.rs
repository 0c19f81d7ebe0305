//! Differential tests: every backend against RustCrypto `aes-gcm` 0.11 and `xaes-256-gcm` 0.1, an independent
//! implementation, on every length 0..=1100, random lengths up to 1 MiB, short and long AAD, unaligned
//! buffers, in place and in-out.

mod common;

use aead::{AeadInOut, KeyInit};
use atrest_core::{Backend, Xaes256Gcm};
use common::{Gcm, backends, bytes};
use proptest::prelude::*;

/// Reference AES-GCM from RustCrypto.
fn reference_gcm(key: &[u8], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let mut buf = pt.to_vec();
    let nonce = nonce.into();
    let tag = match key.len() {
        16 => aes_gcm::Aes128Gcm::new_from_slice(key).unwrap().encrypt_inout_detached(
            nonce,
            aad,
            buf.as_mut_slice().into(),
        ),
        _ => aes_gcm::Aes256Gcm::new_from_slice(key).unwrap().encrypt_inout_detached(
            nonce,
            aad,
            buf.as_mut_slice().into(),
        ),
    }
    .unwrap();
    (buf, tag.into())
}

/// Reference XAES-256-GCM from RustCrypto.
fn reference_xaes(key: &[u8; 32], nonce: &[u8; 24], aad: &[u8], pt: &[u8]) -> (Vec<u8>, [u8; 16]) {
    let mut buf = pt.to_vec();
    let tag = xaes_256_gcm::Xaes256Gcm::new(key.into())
        .encrypt_inout_detached(nonce.into(), aad, buf.as_mut_slice().into())
        .unwrap();
    (buf, tag.into())
}

/// Seals and opens `pt` with `backend` at byte offsets `in_off`/`out_off` into larger buffers, in place and
/// in-out, and checks everything against the reference.
fn check_gcm(backend: Backend, key: &[u8], nonce: &[u8; 12], aad: &[u8], pt: &[u8], in_off: usize, out_off: usize) {
    let at = format!("{backend} key={} len={} aad={} offsets={in_off}/{out_off}", key.len(), pt.len(), aad.len());
    let (ref_ct, ref_tag) = reference_gcm(key, nonce, aad, pt);
    let k = Gcm::new(key, backend);

    // In place, at an odd offset inside a larger allocation.
    let mut store = vec![0u8; pt.len() + in_off];
    store[in_off..].copy_from_slice(pt);
    let tag = k.seal_in_place(nonce, aad, &mut store[in_off..]).unwrap();
    assert_eq!(tag, ref_tag, "{at}: in-place tag");
    assert!(store[in_off..] == ref_ct[..], "{at}: in-place ciphertext");
    k.open_in_place(nonce, aad, &mut store[in_off..], &tag).unwrap();
    assert!(store[in_off..] == pt[..], "{at}: in-place open");

    // In-out with distinct, differently misaligned buffers.
    let mut src = vec![0u8; pt.len() + in_off];
    src[in_off..].copy_from_slice(pt);
    let mut dst = vec![0xEEu8; pt.len() + out_off];
    let tag = k.seal_into(nonce, aad, &src[in_off..], &mut dst[out_off..]).unwrap();
    assert_eq!(tag, ref_tag, "{at}: in-out tag");
    assert!(dst[out_off..] == ref_ct[..], "{at}: in-out ciphertext");
    assert!(src[in_off..] == pt[..], "{at}: in-out input was modified");
    let mut back = vec![0x11u8; pt.len() + in_off];
    k.open_into(nonce, aad, &dst[out_off..], &mut back[in_off..], &tag).unwrap();
    assert!(back[in_off..] == pt[..], "{at}: in-out open");
}

#[test]
fn every_length_to_1100_matches_reference() {
    for backend in backends() {
        for key_len in [16, 32] {
            let key = bytes(key_len as u64, key_len);
            for len in 0..=1100usize {
                let nonce: [u8; 12] = bytes(len as u64 + 7, 12).try_into().unwrap();
                let pt = bytes(len as u64, len);
                let aad = bytes(len as u64 + 1, len % 37);
                check_gcm(backend, &key, &nonce, &aad, &pt, len % 16, (len * 7) % 16);
            }
        }
    }
}

#[test]
fn long_aad_matches_reference() {
    for backend in backends() {
        let key = bytes(99, 32);
        for aad_len in [0, 1, 15, 16, 17, 127, 128, 129, 4095, 4096, 65_537] {
            let aad = bytes(aad_len as u64, aad_len);
            check_gcm(backend, &key, &[3; 12], &aad, &bytes(5, 1000), 3, 5);
        }
    }
}

#[test]
fn xaes_every_length_matches_reference() {
    for backend in backends() {
        let key: [u8; 32] = bytes(42, 32).try_into().unwrap();
        let xaes = Xaes256Gcm::with_backend(&key, backend).unwrap();
        for len in (0..=1100usize).step_by(7) {
            let nonce: [u8; 24] = bytes(len as u64, 24).try_into().unwrap();
            let pt = bytes(len as u64 + 3, len);
            let aad = bytes(len as u64 + 4, len % 50);
            let (ref_ct, ref_tag) = reference_xaes(&key, &nonce, &aad, &pt);
            let mut buf = pt.clone();
            let tag = xaes.seal_in_place(&nonce, &aad, &mut buf).unwrap();
            assert_eq!((buf.clone(), tag), (ref_ct, ref_tag), "{backend} len={len}");
            xaes.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
            assert_eq!(buf, pt);
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_gcm_matches_reference(
        key in prop_oneof![proptest::collection::vec(any::<u8>(), 16), proptest::collection::vec(any::<u8>(), 32)],
        nonce in any::<[u8; 12]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..600),
        len in prop_oneof![0usize..4096, 0usize..=(1 << 20)],
        seed in any::<u64>(),
        in_off in 0usize..16,
        out_off in 0usize..16,
    ) {
        let pt = bytes(seed, len);
        for backend in backends() {
            check_gcm(backend, &key, &nonce, &aad, &pt, in_off, out_off);
        }
    }

    #[test]
    fn random_xaes_matches_reference(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..300),
        len in 0usize..70_000,
        seed in any::<u64>(),
    ) {
        let pt = bytes(seed, len);
        let (ref_ct, ref_tag) = reference_xaes(&key, &nonce, &aad, &pt);
        for backend in backends() {
            let xaes = Xaes256Gcm::with_backend(&key, backend).unwrap();
            let mut out = vec![0u8; len];
            let tag = xaes.seal_into(&nonce, &aad, &pt, &mut out).unwrap();
            prop_assert_eq!(&out, &ref_ct, "{}", backend);
            prop_assert_eq!(tag, ref_tag, "{}", backend);
            let mut back = vec![0u8; len];
            xaes.open_into(&nonce, &aad, &out, &mut back, &tag).unwrap();
            prop_assert_eq!(&back, &pt);
        }
    }
}
