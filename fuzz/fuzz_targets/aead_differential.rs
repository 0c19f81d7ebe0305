//! Differential fuzzing of the AEAD backends: every backend this host supports must produce exactly the
//! ciphertext and tag of the portable `soft` backend for XAES-256-GCM, AES-256-GCM and AES-128-GCM on random
//! keys, nonces, AAD and messages (at random buffer offsets), open what `soft` sealed, and reject a tampered
//! tag with a zeroed output.

#![no_main]

use arbitrary::Arbitrary;
use atrest_core::backend::{self, Backend};
use atrest_core::{Aes128Gcm, Aes256Gcm, Tag, Xaes256Gcm};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    key: [u8; 32],
    nonce: [u8; 24],
    aad: Vec<u8>,
    msg: Vec<u8>,
    offset: u8,
    flip: u8,
}

/// Seals `msg` at `offset` inside a larger buffer (so backends see unaligned data), returns ciphertext and tag.
fn seal(f: impl Fn(&mut [u8]) -> Tag, msg: &[u8], offset: usize) -> (Vec<u8>, Tag) {
    let mut buf = vec![0u8; msg.len() + offset];
    buf[offset..].copy_from_slice(msg);
    let tag = f(&mut buf[offset..]);
    (buf[offset..].to_vec(), tag)
}

fuzz_target!(|input: Input| {
    let Input { key, nonce, aad, msg, offset, flip } = input;
    let offset = usize::from(offset % 32);
    let n12: [u8; 12] = nonce[..12].try_into().unwrap();
    let k16: [u8; 16] = key[..16].try_into().unwrap();

    let xaes_soft = Xaes256Gcm::with_backend(&key, Backend::Soft).unwrap();
    let a256_soft = Aes256Gcm::with_backend(&key, Backend::Soft).unwrap();
    let a128_soft = Aes128Gcm::with_backend(&k16, Backend::Soft).unwrap();
    let want_x = seal(|b| xaes_soft.seal_in_place(&nonce, &aad, b).unwrap(), &msg, 0);
    let want_256 = seal(|b| a256_soft.seal_in_place(&n12, &aad, b).unwrap(), &msg, 0);
    let want_128 = seal(|b| a128_soft.seal_in_place(&n12, &aad, b).unwrap(), &msg, 0);

    for b in backend::supported() {
        let xaes = Xaes256Gcm::with_backend(&key, b).unwrap();
        let a256 = Aes256Gcm::with_backend(&key, b).unwrap();
        let a128 = Aes128Gcm::with_backend(&k16, b).unwrap();
        assert_eq!(seal(|buf| xaes.seal_in_place(&nonce, &aad, buf).unwrap(), &msg, offset), want_x, "xaes {b}");
        assert_eq!(seal(|buf| a256.seal_in_place(&n12, &aad, buf).unwrap(), &msg, offset), want_256, "aes256 {b}");
        assert_eq!(seal(|buf| a128.seal_in_place(&n12, &aad, buf).unwrap(), &msg, offset), want_128, "aes128 {b}");

        // Each backend opens what soft sealed, into a separate output at an offset.
        let mut out = vec![0u8; msg.len() + offset];
        xaes.open_into(&nonce, &aad, &want_x.0, &mut out[offset..], &want_x.1).expect("xaes opens");
        assert_eq!(out[offset..], msg[..], "xaes open {b}");
        let mut buf = want_256.0.clone();
        a256.open_in_place(&n12, &aad, &mut buf, &want_256.1).expect("aes256 opens");
        assert_eq!(buf, msg, "aes256 open {b}");
        let mut buf = want_128.0.clone();
        a128.open_in_place(&n12, &aad, &mut buf, &want_128.1).expect("aes128 opens");
        assert_eq!(buf, msg, "aes128 open {b}");

        // A tampered tag fails on every backend and releases nothing.
        let mut tag = want_x.1;
        tag[usize::from(flip) % 16] ^= 1 << (flip % 8);
        let mut buf = want_x.0.clone();
        assert!(xaes.open_in_place(&nonce, &aad, &mut buf, &tag).is_err(), "tampered tag on {b}");
        assert!(buf.iter().all(|&x| x == 0), "output zeroed on {b}");
    }
});
