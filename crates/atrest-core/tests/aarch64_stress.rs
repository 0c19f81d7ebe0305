//! Shapes the eight-block fast paths must get right: every length 0..=1100 (whole steps, partial steps,
//! partial blocks), AAD lengths around the eight-block GHASH groups, in place and between distinct buffers
//! at odd offsets, for both key sizes and XAES. Every hardware backend the host supports is compared
//! byte for byte with `soft`, and every ciphertext must open again and fail to open when altered.
//!
//! On aarch64, `scripts/test.d/40-aarch64.sh` sets `ATREST_EXPECT_ARM_CRYPTO=1` under a CPU model with the
//! crypto extensions, so a detection bug cannot silently reduce this file to comparing `soft` with itself.

use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, OpenError, Xaes256Gcm, backend};

const MAX_LEN: usize = 1100;
const AAD_LENS: [usize; 6] = [0, 1, 16, 17, 128, 143];

/// A deterministic byte pattern that differs per `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8).collect()
}

fn hardware_backends() -> Vec<Backend> {
    backend::supported().into_iter().filter(|b| *b != Backend::Soft).collect()
}

#[test]
fn arm_crypto_is_used_when_the_cpu_has_it() {
    if std::env::var("ATREST_EXPECT_ARM_CRYPTO").as_deref() != Ok("1") {
        return;
    }
    assert_eq!(backend::best_supported(), Backend::Armv8, "features: {:?}", atrest_core::CpuFeatures::get());
    assert!(hardware_backends().contains(&Backend::Armv8));
    assert_eq!(Aes256Gcm::with_backend(&[3; 32], Backend::Armv8).unwrap().backend(), Backend::Armv8);
}

/// One AEAD under test, the same key on two backends.
trait Pair {
    fn seal(&self, hw: bool, nonce_seed: u8, aad: &[u8], buf: &mut [u8]) -> [u8; 16];
    fn seal_into(&self, hw: bool, nonce_seed: u8, aad: &[u8], input: &[u8], out: &mut [u8]) -> [u8; 16];
    fn open(&self, hw: bool, nonce_seed: u8, aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> Result<(), OpenError>;
    fn open_into(
        &self,
        hw: bool,
        nonce_seed: u8,
        aad: &[u8],
        input: &[u8],
        out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), OpenError>;
}

macro_rules! pair {
    ($pair:ident, $ty:ty, $nonce_len:expr) => {
        struct $pair {
            hw: $ty,
            soft: $ty,
        }
        impl $pair {
            fn key(&self, hw: bool) -> &$ty {
                if hw { &self.hw } else { &self.soft }
            }
            fn nonce(seed: u8) -> [u8; $nonce_len] {
                core::array::from_fn(|i| seed.wrapping_add(i as u8 * 7))
            }
        }
        impl Pair for $pair {
            fn seal(&self, hw: bool, seed: u8, aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
                self.key(hw).seal_in_place(&Self::nonce(seed), aad, buf).unwrap()
            }
            fn seal_into(&self, hw: bool, seed: u8, aad: &[u8], input: &[u8], out: &mut [u8]) -> [u8; 16] {
                self.key(hw).seal_into(&Self::nonce(seed), aad, input, out).unwrap()
            }
            fn open(&self, hw: bool, seed: u8, aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> Result<(), OpenError> {
                self.key(hw).open_in_place(&Self::nonce(seed), aad, buf, tag)
            }
            fn open_into(
                &self,
                hw: bool,
                seed: u8,
                aad: &[u8],
                input: &[u8],
                out: &mut [u8],
                tag: &[u8; 16],
            ) -> Result<(), OpenError> {
                self.key(hw).open_into(&Self::nonce(seed), aad, input, out, tag)
            }
        }
    };
}

pair!(Pair128, Aes128Gcm, 12);
pair!(Pair256, Aes256Gcm, 12);
pair!(PairX, Xaes256Gcm, 24);

fn pairs(b: Backend) -> Vec<(&'static str, Box<dyn Pair>)> {
    let k16: [u8; 16] = core::array::from_fn(|i| 0x40 + i as u8);
    let k32: [u8; 32] = core::array::from_fn(|i| 0x80 ^ (i as u8 * 3));
    vec![
        (
            "AES-128-GCM",
            Box::new(Pair128 {
                hw: Aes128Gcm::with_backend(&k16, b).unwrap(),
                soft: Aes128Gcm::with_backend(&k16, Backend::Soft).unwrap(),
            }),
        ),
        (
            "AES-256-GCM",
            Box::new(Pair256 {
                hw: Aes256Gcm::with_backend(&k32, b).unwrap(),
                soft: Aes256Gcm::with_backend(&k32, Backend::Soft).unwrap(),
            }),
        ),
        (
            "XAES-256-GCM",
            Box::new(PairX {
                hw: Xaes256Gcm::with_backend(&k32, b).unwrap(),
                soft: Xaes256Gcm::with_backend(&k32, Backend::Soft).unwrap(),
            }),
        ),
    ]
}

#[test]
fn every_length_matches_soft_in_place_and_round_trips() {
    for b in hardware_backends() {
        for (name, pair) in pairs(b) {
            for len in 0..=MAX_LEN {
                let aad = pattern(AAD_LENS[len % AAD_LENS.len()], 0xa5);
                let pt = pattern(len, len as u8);
                let seed = len as u8;
                let mut want = pt.clone();
                let want_tag = pair.seal(false, seed, &aad, &mut want);
                let mut got = pt.clone();
                let tag = pair.seal(true, seed, &aad, &mut got);
                assert_eq!((&got, tag), (&want, want_tag), "{b} {name} seal len {len} aad {}", aad.len());
                pair.open(true, seed, &aad, &mut got, &tag).unwrap_or_else(|e| panic!("{b} {name} len {len}: {e}"));
                assert_eq!(got, pt, "{b} {name} open len {len}");
            }
        }
    }
}

#[test]
fn every_aad_length_matches_soft() {
    for b in hardware_backends() {
        for (name, pair) in pairs(b) {
            for aad_len in 0..=300 {
                let aad = pattern(aad_len, 0x3c);
                let pt = pattern(aad_len % 40, 1);
                let mut want = pt.clone();
                let want_tag = pair.seal(false, 9, &aad, &mut want);
                let mut got = pt.clone();
                let tag = pair.seal(true, 9, &aad, &mut got);
                assert_eq!((&got, tag), (&want, want_tag), "{b} {name} aad len {aad_len}");
            }
        }
    }
}

#[test]
fn distinct_buffers_at_odd_offsets_match_in_place() {
    // Strides that are not multiples of the 16-byte block or the 128-byte step, at unaligned offsets.
    for b in hardware_backends() {
        for (name, pair) in pairs(b) {
            for (len, in_off, out_off) in
                [(1, 1, 3), (127, 3, 0), (128, 5, 7), (129, 0, 9), (383, 15, 1), (1024, 7, 13)]
            {
                let pt = pattern(len, 0x11);
                let aad = pattern(len % 50, 0x22);
                let mut expect = pt.clone();
                let tag = pair.seal(false, 4, &aad, &mut expect);

                let mut src = vec![0xeeu8; len + in_off];
                src[in_off..].copy_from_slice(&pt);
                let mut dst = vec![0x77u8; len + out_off + 5];
                let got_tag = pair.seal_into(true, 4, &aad, &src[in_off..], &mut dst[out_off..out_off + len]);
                assert_eq!(got_tag, tag, "{b} {name} len {len}");
                assert_eq!(&dst[out_off..out_off + len], &expect[..], "{b} {name} len {len}");
                assert!(dst[..out_off].iter().chain(&dst[out_off + len..]).all(|&x| x == 0x77), "wrote outside");
                assert_eq!(&src[in_off..], &pt[..], "{b} {name}: input changed");

                let mut back = vec![0u8; len + in_off];
                pair.open_into(true, 4, &aad, &dst[out_off..out_off + len], &mut back[in_off..], &tag).unwrap();
                assert_eq!(&back[in_off..], &pt[..], "{b} {name} open_into len {len}");
            }
        }
    }
}

#[test]
fn every_flipped_bit_position_class_is_rejected_and_wipes_output() {
    for b in hardware_backends() {
        for (name, pair) in pairs(b) {
            for len in [1, 15, 16, 17, 127, 128, 129, 255, 256, 1000] {
                let pt = pattern(len, 0x5a);
                let aad = pattern(len % 20, 0x6b);
                let mut ct = pt.clone();
                let tag = pair.seal(true, 2, &aad, &mut ct);
                for pos in [0, len / 2, len - 1] {
                    let mut bad = ct.clone();
                    bad[pos] ^= 0x01 << (pos % 8);
                    assert_eq!(pair.open(true, 2, &aad, &mut bad, &tag), Err(OpenError::Authentication), "{b} {name}");
                    assert!(bad.iter().all(|&x| x == 0), "{b} {name} len {len}: output not wiped");
                }
                let mut bad_tag = tag;
                bad_tag[15] ^= 0x80;
                let mut copy = ct.clone();
                assert_eq!(pair.open(true, 2, &aad, &mut copy, &bad_tag), Err(OpenError::Authentication));
                let mut copy = ct.clone();
                assert_eq!(pair.open(true, 3, &aad, &mut copy, &tag), Err(OpenError::Authentication), "nonce");
            }
        }
    }
}

#[test]
fn long_messages_match_soft() {
    // Many eight-block steps in a row, with and without a ragged end, and the largest page sizes.
    for b in hardware_backends() {
        for (name, pair) in pairs(b) {
            for len in [4096, 16384 + 5, 65536 + 77, 1 << 20] {
                let pt = pattern(len, 0x33);
                let aad = pattern(len % 97, 0x44);
                let mut want = pt.clone();
                let want_tag = pair.seal(false, 6, &aad, &mut want);
                let mut got = pt.clone();
                let tag = pair.seal(true, 6, &aad, &mut got);
                assert!(got == want && tag == want_tag, "{b} {name} len {len}");
                pair.open(true, 6, &aad, &mut got, &tag).unwrap();
                assert!(got == pt, "{b} {name} open len {len}");
            }
        }
    }
}
