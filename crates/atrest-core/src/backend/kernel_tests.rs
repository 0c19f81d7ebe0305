//! The check every hardware leaf module runs on its own kernel: sealing and opening through the shared frame
//! against `soft`, across the stride and tail paths, in place and between buffers, plus a rejected tag.
//! Small enough for Miri, which `scripts/test.d/30-miri.sh` runs the leaf tests under; tests/differential.rs
//! and the stress tests cover every length natively.

use aead::inout::InOutBuf;

use super::detect::{Portable, prove};
use super::soft;
use crate::error::OpenError;
use crate::gcm::{self, Kernel};

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(13) ^ seed).collect()
}

/// Seals and opens messages of each length in `lens` with a key built by `make` (AES-128 and AES-256), and
/// checks them against `soft`. `label` names the variant in failures.
pub(crate) fn matches_soft<K: Kernel>(label: &str, lens: &[usize], make: impl Fn(&[u8]) -> K) {
    let portable = prove::<Portable>().expect("soft always runs");
    for key in [&[7u8; 16][..], &[9u8; 32][..]] {
        let hw = make(key);
        let sw = soft::GcmKey::new(key, portable);
        for &len in lens {
            let aad = data(len % 37, 1);
            let nonce = [len as u8; 12];
            let pt = data(len, 2);
            let mut a = pt.clone();
            let ta = gcm::seal(&hw, &nonce, &aad, a.as_mut_slice().into()).expect("seal");
            let mut b = vec![0u8; len];
            let tb = gcm::seal(&sw, &nonce, &aad, InOutBuf::new(&pt, &mut b).unwrap()).expect("seal");
            assert_eq!((ta, &a), (tb, &b), "{label}: seal len={len} key={}", key.len());
            let mut out = vec![0u8; len];
            gcm::open(&hw, &nonce, &aad, InOutBuf::new(&a, &mut out).unwrap(), &ta).expect("open");
            assert_eq!(out, pt, "{label}: open between buffers len={len}");
            let mut inplace = a.clone();
            gcm::open(&hw, &nonce, &aad, inplace.as_mut_slice().into(), &ta).expect("open");
            assert_eq!(inplace, pt, "{label}: open in place len={len}");
            let mut bad = ta;
            bad[len % 16] ^= 1;
            let mut c = a.clone();
            let err = gcm::open(&hw, &nonce, &aad, c.as_mut_slice().into(), &bad);
            assert_eq!(err, Err(OpenError::Authentication), "{label}: altered tag len={len}");
            assert!(c.iter().all(|&x| x == 0), "{label}: output not wiped len={len}");
        }
    }
}

/// Lengths that reach the empty message, a partial block, a tail of several blocks, exactly one 128-byte
/// stride, and stride + tail; more outside Miri, where every instruction is interpreted.
pub(crate) fn lens() -> &'static [usize] {
    if cfg!(miri) { &[0, 5, 47, 128, 161] } else { &[0, 1, 5, 16, 47, 128, 161, 300, 1030] }
}
