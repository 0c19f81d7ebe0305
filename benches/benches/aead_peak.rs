//! Peak AES-256-GCM throughput on one thread, as a table of GB/s and ratios to ring (and aws-lc-rs): the best
//! of many short batches, which is what a machine shared with other work can still measure reliably (a mean absorbs
//! every preemption). The contenders take turns batch by batch, so a disturbance hits all of them alike.
//! Same contenders, sizes and AAD as `benches/aead.rs`; seal in place, and open in place after copying the
//! ciphertext into the buffer (ring opens only in place, so every contender pays that same copy).
//!
//! Run: `cargo bench -p atrest-benches --bench aead_peak` (add `--features aws-lc-peer` for the aws-lc-rs
//! column). `ATREST_PEAK_ROUNDS` sets the number of batches
//! per contender (default 100).

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::{AeadInOut, KeyInit};
use atrest_core::{Aes256Gcm, Backend, Xaes256Gcm, backend};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const SIZES: [usize; 3] = [4 << 10, 16 << 10, 64 << 10];
const AAD: &[u8] = b"file 7 page 42";
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 12] = [0x24; 12];

/// A contender: its name and one call on a `size`-byte message.
type Run<'a> = (String, Box<dyn FnMut() + 'a>);

/// GB/s of each contender over `bytes`, from its fastest of `rounds` batches of about 1 MiB; the
/// contenders run their batches in turn.
fn peak(rounds: usize, bytes: usize, runs: &mut [Run<'_>]) -> Vec<f64> {
    let calls = ((1 << 20) / bytes).max(1);
    let mut best = vec![f64::MAX; runs.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in runs.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            best[i] = best[i].min(t.elapsed().as_secs_f64() / calls as f64);
        }
    }
    best.iter().map(|s| bytes as f64 / s / 1e9).collect()
}

/// aws-lc-rs's AES-256-GCM as a contender for `op` on messages like `pt`, when the `aws-lc-peer` feature
/// built it in. It opens in place only with the tag after the ciphertext, so opening copies ciphertext and tag
/// (16 bytes more than the others copy).
#[cfg(feature = "aws-lc-peer")]
fn aws_lc(op: &str, pt: &[u8]) -> Option<Run<'static>> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("aws-lc-rs key"));
    let mut buf = pt.to_vec();
    if op == "seal" {
        return Some((
            "aws-lc-rs".into(),
            Box::new(move || {
                let n = Nonce::assume_unique_for_key(NONCE);
                let tag = key.seal_in_place_separate_tag(n, Aad::from(AAD), &mut buf).expect("seal");
                black_box(tag.as_ref()[0]);
            }),
        ));
    }
    let n = Nonce::assume_unique_for_key(NONCE);
    key.seal_in_place_append_tag(n, Aad::from(AAD), &mut buf).expect("seal");
    let sealed = buf.clone();
    Some((
        "aws-lc-rs".into(),
        Box::new(move || {
            buf.copy_from_slice(&sealed);
            let n = Nonce::assume_unique_for_key(NONCE);
            black_box(key.open_in_place(n, Aad::from(AAD), &mut buf).expect("open").len());
        }),
    ))
}

/// Without the `aws-lc-peer` feature there is no aws-lc-rs contender.
#[cfg(not(feature = "aws-lc-peer"))]
fn aws_lc(_op: &str, _pt: &[u8]) -> Option<Run<'static>> {
    None
}

fn main() {
    let rounds = std::env::var("ATREST_PEAK_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let ring = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("ring key"));
    let rc = aes_gcm::Aes256Gcm::new_from_slice(&KEY).expect("key");
    let auto = backend::best_supported();
    let hw: Vec<Backend> = backend::supported().into_iter().filter(|b| *b != Backend::Soft).collect();
    let keys: Vec<Aes256Gcm> = hw.iter().map(|b| Aes256Gcm::with_backend(&KEY, *b).expect("key")).collect();
    // Warm the core up (clock and caches) before the first figure counts.
    let mut warm = vec![0u8; 1 << 16];
    let start = Instant::now();
    while start.elapsed().as_millis() < 500 {
        black_box(keys[0].seal_in_place(&NONCE, AAD, &mut warm).expect("seal"));
    }
    let ratios = if cfg!(feature = "aws-lc-peer") { "ratio to ring, ratio to aws-lc-rs" } else { "ratio to ring" };
    println!("AES-256-GCM, {}-byte AAD, peak GB/s ({ratios}); auto-selected: {auto}", AAD.len());
    for op in ["seal", "open"] {
        for size in SIZES {
            let pt = vec![0x5au8; size];
            let mut runs: Vec<Run<'_>> = Vec::new();
            if op == "seal" {
                let mut buf = pt.clone();
                let ring = &ring;
                runs.push((
                    "ring".into(),
                    Box::new(move || {
                        let n = Nonce::assume_unique_for_key(NONCE);
                        let tag = ring.seal_in_place_separate_tag(n, Aad::from(AAD), &mut buf).expect("seal");
                        black_box(tag.as_ref()[0]);
                    }),
                ));
                runs.extend(aws_lc(op, &pt));
                for (b, key) in hw.iter().zip(&keys) {
                    let mut buf = pt.clone();
                    runs.push((
                        b.name().into(),
                        Box::new(move || {
                            black_box(key.seal_in_place(&NONCE, AAD, &mut buf).expect("seal"));
                        }),
                    ));
                }
                let mut buf = pt.clone();
                let rc = &rc;
                runs.push((
                    "aes-gcm".into(),
                    Box::new(move || {
                        let tag = rc.encrypt_inout_detached((&NONCE).into(), AAD, buf.as_mut_slice().into());
                        black_box(tag.expect("seal"));
                    }),
                ));
            } else {
                let (ring, rc) = (&ring, &rc);
                let mut ct = pt.clone();
                let n = Nonce::assume_unique_for_key(NONCE);
                let tag = ring.seal_in_place_separate_tag(n, Aad::from(AAD), &mut ct).expect("seal");
                let mut out = pt.clone();
                runs.push((
                    "ring".into(),
                    Box::new(move || {
                        out.copy_from_slice(&ct);
                        let n = Nonce::assume_unique_for_key(NONCE);
                        black_box(
                            ring.open_in_place_separate_tag(n, Aad::from(AAD), tag, &mut out, 0..).expect("open"),
                        );
                    }),
                ));
                runs.extend(aws_lc(op, &pt));
                for (b, key) in hw.iter().zip(&keys) {
                    let mut ct = pt.clone();
                    let tag = key.seal_in_place(&NONCE, AAD, &mut ct).expect("seal");
                    let mut out = pt.clone();
                    runs.push((
                        b.name().into(),
                        Box::new(move || {
                            out.copy_from_slice(&ct);
                            key.open_in_place(&NONCE, AAD, &mut out, &tag).expect("open");
                        }),
                    ));
                }
                let mut ct = pt.clone();
                let tag = rc.encrypt_inout_detached((&NONCE).into(), AAD, ct.as_mut_slice().into()).expect("seal");
                let mut out = pt.clone();
                runs.push((
                    "aes-gcm".into(),
                    Box::new(move || {
                        out.copy_from_slice(&ct);
                        rc.decrypt_inout_detached((&NONCE).into(), AAD, out.as_mut_slice().into(), &tag).expect("open");
                    }),
                ));
            }
            let gbs = peak(rounds, size, &mut runs);
            let aws = runs.iter().position(|(name, _)| name == "aws-lc-rs");
            let mut row = format!("{op} {:>2} KiB", size >> 10);
            for ((name, _), g) in runs.iter().zip(&gbs) {
                match aws {
                    Some(a) => row += &format!("  {name} {g:5.2} ({:.2}x, {:.2}x)", g / gbs[0], g / gbs[a]),
                    None => row += &format!("  {name} {g:5.2} ({:.2}x)", g / gbs[0]),
                }
            }
            println!("{row}");
        }
    }
    // XAES pages: one writer prefix, counter suffix, the subkey from the cache on every call; next to plain
    // AES-256-GCM on the auto-selected backend.
    let page = 16 << 10;
    let plain = Aes256Gcm::with_backend(&KEY, auto).expect("key");
    let xaes = Xaes256Gcm::with_backend(&KEY, auto).expect("key");
    let mut a = vec![0x33u8; page];
    let mut b = vec![0x33u8; page];
    let mut counter = 0u64;
    let plain = &plain;
    let xaes = &xaes;
    let mut runs: Vec<Run<'_>> = vec![
        (
            "aes-256-gcm".into(),
            Box::new(move || {
                black_box(plain.seal_in_place(&NONCE, AAD, &mut a).expect("seal"));
            }),
        ),
        (
            "xaes-256-gcm".into(),
            Box::new(move || {
                counter += 1;
                let mut nonce = [0x77u8; 24];
                nonce[16..].copy_from_slice(&counter.to_be_bytes());
                black_box(xaes.seal_in_place(&nonce, AAD, &mut b).expect("seal"));
            }),
        ),
    ];
    let gbs = peak(rounds, page, &mut runs);
    println!(
        "xaes 16 KiB pages, one prefix, {auto}: XAES-256-GCM {:5.2} GB/s, AES-256-GCM {:5.2} GB/s ({:.3}x)",
        gbs[1],
        gbs[0],
        gbs[1] / gbs[0]
    );
}
