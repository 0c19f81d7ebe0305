//! Shapes the x86 fast paths (`vaes-avx512`, `vaes-avx2`, `aesni`) must get right: every message length
//! 0..=1100 and every AAD length 0..=300, lengths around the 8-block (128-byte) and 16-block (256-byte)
//! strides and every masked tail of the 512-bit path, unaligned input and
//! output, and distinct input/output buffers. Each hardware backend the host supports is compared byte for
//! byte with `soft` and with RustCrypto `aes-gcm` / `xaes-256-gcm`; every ciphertext must open again and
//! fail to open (with a zeroed buffer) when one bit changes.
#![cfg(target_arch = "x86_64")]

use aead::{AeadInOut, KeyInit};
use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, CpuFeatures, OpenError, Xaes256Gcm, backend};

/// A deterministic byte pattern that differs per `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 7) as u8).collect()
}

fn x86_backends() -> Vec<Backend> {
    let list: Vec<Backend> = backend::supported()
        .into_iter()
        .filter(|b| matches!(b, Backend::VaesAvx512 | Backend::VaesAvx2 | Backend::Aesni))
        .collect();
    if !list.contains(&Backend::VaesAvx512) {
        eprintln!("vaes-avx512 not tested here: {}", avx512_missing(&CpuFeatures::get()));
    }
    list
}

/// Why this host cannot run `vaes-avx512`, naming each missing feature.
fn avx512_missing(f: &CpuFeatures) -> String {
    let need = [
        (f.avx512f, "AVX-512F"),
        (f.avx512bw, "AVX-512BW"),
        (f.avx512vl, "AVX-512VL"),
        (f.zmm_state, "ZMM/opmask state saved by the OS (XCR0 bits 5-7)"),
        (f.vaes, "VAES"),
        (f.vpclmulqdq, "VPCLMULQDQ"),
        (f.avx2 && f.ymm_state, "AVX2 with YMM state"),
    ];
    let missing: Vec<&str> = need.iter().filter(|(on, _)| !on).map(|(_, n)| *n).collect();
    format!("missing {}", missing.join(", "))
}

/// Seals with AES-128 or AES-256 on one backend (chosen by key length), in place.
fn seal(backend: Backend, key: &[u8], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    match key.len() {
        16 => Aes128Gcm::with_backend(key.try_into().unwrap(), backend).unwrap().seal_in_place(nonce, aad, buf),
        _ => Aes256Gcm::with_backend(key.try_into().unwrap(), backend).unwrap().seal_in_place(nonce, aad, buf),
    }
    .unwrap()
}

fn open(
    backend: Backend,
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), OpenError> {
    match key.len() {
        16 => Aes128Gcm::with_backend(key.try_into().unwrap(), backend).unwrap().open_in_place(nonce, aad, buf, tag),
        _ => Aes256Gcm::with_backend(key.try_into().unwrap(), backend).unwrap().open_in_place(nonce, aad, buf, tag),
    }
}

/// RustCrypto `aes-gcm` as the independent reference.
fn reference(key: &[u8], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    let tag = match key.len() {
        16 => aes_gcm::Aes128Gcm::new_from_slice(key).unwrap().encrypt_inout_detached(nonce.into(), aad, buf.into()),
        _ => aes_gcm::Aes256Gcm::new_from_slice(key).unwrap().encrypt_inout_detached(nonce.into(), aad, buf.into()),
    };
    tag.unwrap().into()
}

/// Seals `pt` on `backend`, checks ciphertext and tag against `soft` and `aes-gcm`, opens it again, and
/// checks that a flipped bit (in the ciphertext, else the AAD or tag) is rejected with a zeroed buffer.
fn check(backend: Backend, key: &[u8], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) {
    let what = || format!("{backend} key={} len={} aad={}", key.len() * 8, pt.len(), aad.len());
    let mut ct = pt.to_vec();
    let tag = seal(backend, key, nonce, aad, &mut ct);
    let mut soft = pt.to_vec();
    assert_eq!(seal(Backend::Soft, key, nonce, aad, &mut soft), tag, "tag vs soft: {}", what());
    assert_eq!(soft, ct, "ciphertext vs soft: {}", what());
    let mut rc = pt.to_vec();
    assert_eq!(reference(key, nonce, aad, &mut rc), tag, "tag vs aes-gcm: {}", what());
    assert_eq!(rc, ct, "ciphertext vs aes-gcm: {}", what());

    let mut back = ct.clone();
    open(backend, key, nonce, aad, &mut back, &tag).unwrap_or_else(|e| panic!("open failed ({e}): {}", what()));
    assert_eq!(back, pt, "roundtrip: {}", what());

    let mut bad = ct.clone();
    let mut bad_tag = tag;
    let mut bad_aad = aad.to_vec();
    if !bad.is_empty() {
        let i = (pt.len() * 7 + 3) % bad.len();
        bad[i] ^= 1 << (i % 8);
    } else if !bad_aad.is_empty() {
        bad_aad[0] ^= 0x80;
    } else {
        bad_tag[15] ^= 1;
    }
    assert_eq!(open(backend, key, nonce, &bad_aad, &mut bad, &bad_tag), Err(OpenError::Authentication), "{}", what());
    assert!(bad.iter().all(|&b| b == 0), "output not wiped after failure: {}", what());
}

#[test]
fn backends_follow_the_cpu() {
    let f = CpuFeatures::get();
    let supported = backend::supported();
    assert_eq!(supported.contains(&Backend::Aesni), f.aes && f.pclmulqdq && f.ssse3, "{f:?}");
    let vaes = f.vaes && f.vpclmulqdq && f.avx2 && f.avx && f.ymm_state && f.aes && f.pclmulqdq && f.ssse3;
    assert_eq!(supported.contains(&Backend::VaesAvx2), vaes, "{f:?}");
    let avx512 = vaes && f.avx512f && f.avx512bw && f.avx512vl && f.zmm_state;
    assert_eq!(supported.contains(&Backend::VaesAvx512), avx512, "{f:?}");
    if avx512 {
        assert_eq!(backend::best_supported(), Backend::VaesAvx512);
    } else if vaes {
        eprintln!("vaes-avx512 skipped: {}", avx512_missing(&f));
        assert_eq!(backend::best_supported(), Backend::VaesAvx2);
    }
    if std::env::var("ATREST_EXPECT_VAES").as_deref() == Ok("1") {
        assert!(vaes, "this host was expected to run vaes-avx2: {f:?}");
    }
    if std::env::var("ATREST_EXPECT_AVX512").as_deref() == Ok("1") {
        assert!(avx512, "this host was expected to run vaes-avx512: {}", avx512_missing(&f));
    }
}

#[test]
fn every_length_up_to_1100() {
    for backend in x86_backends() {
        for key in [&[0x42u8; 16][..], &[0x24u8; 32][..]] {
            for len in 0..=1100 {
                let aad = pattern(len % 3 * 13, 9);
                check(backend, key, &[len as u8; 12], &aad, &pattern(len, len as u8));
            }
        }
    }
}

#[test]
fn every_aad_length_up_to_300() {
    for backend in x86_backends() {
        for key in [&[0x11u8; 16][..], &[0x99u8; 32][..]] {
            for aad_len in 0..=300 {
                for len in [0, 1, 16, 100, 128, 129, 300] {
                    check(backend, key, &[aad_len as u8; 12], &pattern(aad_len, 3), &pattern(len, 5));
                }
            }
        }
    }
}

#[test]
fn lengths_around_the_strides() {
    let key = [0x5au8; 32];
    for backend in x86_backends() {
        for blocks in [8usize, 16, 24, 32, 48, 64, 256, 512, 4096] {
            for delta in [-17isize, -16, -15, -1, 0, 1, 15, 16, 17] {
                let len = (blocks * 16).checked_add_signed(delta).unwrap();
                check(backend, &key, &[7; 12], b"stride", &pattern(len, 1));
            }
        }
    }
}

#[test]
fn unaligned_and_distinct_buffers() {
    let key = [0x33u8; 32];
    let nonce = [0xa5u8; 12];
    let aad = pattern(21, 4);
    for backend in x86_backends() {
        let k = Aes256Gcm::with_backend(&key, backend).unwrap();
        for len in [0usize, 15, 16, 127, 128, 129, 255, 256, 257, 1000, 4099] {
            let pt = pattern(len, 8);
            let mut expect = pt.clone();
            let tag = k.seal_in_place(&nonce, &aad, &mut expect).unwrap();
            for (in_off, out_off) in [(0, 0), (1, 0), (0, 1), (3, 7), (15, 17), (31, 1)] {
                let mut input = vec![0xeeu8; len + in_off];
                input[in_off..].copy_from_slice(&pt);
                let mut output = vec![0x11u8; len + out_off];
                let t = k.seal_into(&nonce, &aad, &input[in_off..], &mut output[out_off..]).unwrap();
                assert_eq!(
                    (t, &output[out_off..]),
                    (tag, &expect[..]),
                    "{backend} seal_into len={len} offsets={in_off},{out_off}"
                );
                assert!(output[..out_off].iter().all(|&b| b == 0x11), "wrote before the output");

                let mut ct_in = vec![0u8; len + out_off];
                ct_in[out_off..].copy_from_slice(&expect);
                let mut back = vec![0x22u8; len + in_off];
                k.open_into(&nonce, &aad, &ct_in[out_off..], &mut back[in_off..], &tag).unwrap();
                assert_eq!(&back[in_off..], &pt[..], "{backend} open_into len={len} offsets={in_off},{out_off}");
                // Unaligned in place.
                let mut inplace = vec![0u8; len + in_off];
                inplace[in_off..].copy_from_slice(&pt);
                assert_eq!(k.seal_in_place(&nonce, &aad, &mut inplace[in_off..]).unwrap(), tag);
                assert_eq!(&inplace[in_off..], &expect[..]);
            }
        }
    }
}

#[test]
fn xaes_matches_reference_and_soft() {
    let key = [0x0fu8; 32];
    for backend in x86_backends() {
        let hw = Xaes256Gcm::with_backend(&key, backend).unwrap();
        let soft = Xaes256Gcm::with_backend(&key, Backend::Soft).unwrap();
        let reference = xaes_256_gcm::Xaes256Gcm::new(&key.into());
        for len in [0usize, 1, 17, 128, 200, 4096, 4097] {
            let nonce: [u8; 24] = core::array::from_fn(|i| (i * 11 + len) as u8);
            let pt = pattern(len, 2);
            let mut a = pt.clone();
            let ta = hw.seal_in_place(&nonce, b"page 1", &mut a).unwrap();
            let mut b = pt.clone();
            let tb = soft.seal_in_place(&nonce, b"page 1", &mut b).unwrap();
            let mut c = pt.clone();
            let tc: [u8; 16] =
                reference.encrypt_inout_detached(&nonce.into(), b"page 1", c.as_mut_slice().into()).unwrap().into();
            assert_eq!((ta, &a), (tb, &b), "{backend} vs soft, len {len}");
            assert_eq!((ta, &a), (tc, &c), "{backend} vs xaes-256-gcm, len {len}");
            hw.open_in_place(&nonce, b"page 1", &mut a, &ta).unwrap();
            assert_eq!(a, pt);
        }
    }
}
