//! AEAD throughput on one thread, side by side in one run: atrest on every backend this host supports and on
//! the auto-selected one, `ring` 0.17 (`LessSafeKey::seal_in_place_separate_tag`), `aws-lc-rs` 1 with the
//! `aws-lc-peer` feature (the same API over AWS-LC, which has a VAES-AVX512 AES-GCM), RustCrypto `aes-gcm`
//! 0.11 and OpenSSL (through the `openssl` crate, key schedule set up once and reused like the others).
//! AES-256-GCM seal and open of 4, 16 and 64 KiB with a 14-byte AAD; then XAES-256-GCM sealing 16 KiB pages
//! with one nonce prefix and a counter suffix, next to plain AES-256-GCM on the same backend.
//!
//! Run: `cargo bench -p atrest-benches --bench aead` (add `-- seal` etc. to filter). Results and the
//! reading of them are in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use atrest_core::{Aes256Gcm, Backend, Xaes256Gcm, backend};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const SIZES: [usize; 3] = [4 << 10, 16 << 10, 64 << 10];
const AAD: &[u8] = b"file 7 page 42";
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 12] = [0x24; 12];

/// One AES-256-GCM implementation under test: seal in place, and open in place given the tag.
trait Impl {
    fn seal(&mut self, buf: &mut [u8]) -> [u8; 16];
    fn open(&mut self, buf: &mut [u8], tag: &[u8; 16]);
}

struct Atrest(Aes256Gcm);

impl Impl for Atrest {
    fn seal(&mut self, buf: &mut [u8]) -> [u8; 16] {
        self.0.seal_in_place(&NONCE, AAD, buf).expect("seal")
    }
    fn open(&mut self, buf: &mut [u8], tag: &[u8; 16]) {
        self.0.open_in_place(&NONCE, AAD, buf, tag).expect("open");
    }
}

struct Ring(LessSafeKey);

impl Impl for Ring {
    fn seal(&mut self, buf: &mut [u8]) -> [u8; 16] {
        let nonce = Nonce::assume_unique_for_key(NONCE);
        let tag = self.0.seal_in_place_separate_tag(nonce, Aad::from(AAD), buf).expect("seal");
        tag.as_ref().try_into().expect("16-byte tag")
    }
    fn open(&mut self, buf: &mut [u8], tag: &[u8; 16]) {
        let nonce = Nonce::assume_unique_for_key(NONCE);
        let tag = ring::aead::Tag::from(*tag);
        self.0.open_in_place_separate_tag(nonce, Aad::from(AAD), tag, buf, 0..).expect("open");
    }
}

/// aws-lc-rs opens in place only with the tag after the ciphertext, so it decrypts from the caller's buffer
/// into a buffer of its own (allocated once): the same bytes read and written as opening in place. Built with
/// the `aws-lc-peer` feature.
#[cfg(feature = "aws-lc-peer")]
struct AwsLc {
    key: aws_lc_rs::aead::LessSafeKey,
    out: Vec<u8>,
}

#[cfg(feature = "aws-lc-peer")]
impl Impl for AwsLc {
    fn seal(&mut self, buf: &mut [u8]) -> [u8; 16] {
        use aws_lc_rs::aead::{Aad, Nonce};
        let nonce = Nonce::assume_unique_for_key(NONCE);
        let tag = self.key.seal_in_place_separate_tag(nonce, Aad::from(AAD), buf).expect("seal");
        tag.as_ref().try_into().expect("16-byte tag")
    }
    fn open(&mut self, buf: &mut [u8], tag: &[u8; 16]) {
        use aws_lc_rs::aead::{Aad, Nonce};
        let nonce = Nonce::assume_unique_for_key(NONCE);
        self.out.resize(buf.len(), 0);
        self.key.open_separate_gather(nonce, Aad::from(AAD), buf, tag, &mut self.out).expect("open");
    }
}

struct RustCrypto(aes_gcm::Aes256Gcm);

impl Impl for RustCrypto {
    fn seal(&mut self, buf: &mut [u8]) -> [u8; 16] {
        self.0.encrypt_inout_detached((&NONCE).into(), AAD, buf.into()).expect("seal").into()
    }
    fn open(&mut self, buf: &mut [u8], tag: &[u8; 16]) {
        self.0.decrypt_inout_detached((&NONCE).into(), AAD, buf.into(), tag.into()).expect("open");
    }
}

/// OpenSSL's EVP interface with the key set once; each message only sets the IV.
struct OpenSsl {
    enc: CipherCtx,
    dec: CipherCtx,
}

impl OpenSsl {
    fn new() -> OpenSsl {
        let mut enc = CipherCtx::new().expect("ctx");
        enc.encrypt_init(Some(Cipher::aes_256_gcm()), Some(&KEY), None).expect("init");
        let mut dec = CipherCtx::new().expect("ctx");
        dec.decrypt_init(Some(Cipher::aes_256_gcm()), Some(&KEY), None).expect("init");
        OpenSsl { enc, dec }
    }
}

impl Impl for OpenSsl {
    fn seal(&mut self, buf: &mut [u8]) -> [u8; 16] {
        let ctx = &mut self.enc;
        ctx.encrypt_init(None, None, Some(&NONCE)).expect("iv");
        ctx.cipher_update(AAD, None).expect("aad");
        let len = buf.len();
        ctx.cipher_update_inplace(buf, len).expect("update");
        ctx.cipher_final(&mut []).expect("final");
        let mut tag = [0u8; 16];
        ctx.tag(&mut tag).expect("tag");
        tag
    }
    fn open(&mut self, buf: &mut [u8], tag: &[u8; 16]) {
        let ctx = &mut self.dec;
        ctx.decrypt_init(None, None, Some(&NONCE)).expect("iv");
        ctx.cipher_update(AAD, None).expect("aad");
        let len = buf.len();
        ctx.cipher_update_inplace(buf, len).expect("update");
        ctx.set_tag(tag).expect("tag");
        ctx.cipher_final(&mut []).expect("open");
    }
}

/// Everything compared, by the name it is reported under.
fn contenders() -> Vec<(String, Box<dyn Impl>)> {
    let mut all: Vec<(String, Box<dyn Impl>)> = Vec::new();
    let auto = backend::best_supported();
    all.push((format!("atrest-auto({auto})"), Box::new(Atrest(Aes256Gcm::try_new(&KEY).expect("key")))));
    for b in backend::supported() {
        all.push((format!("atrest-{b}"), Box::new(Atrest(Aes256Gcm::with_backend(&KEY, b).expect("key")))));
    }
    let ring_key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).expect("ring key"));
    all.push(("ring".into(), Box::new(Ring(ring_key))));
    #[cfg(feature = "aws-lc-peer")]
    {
        let aws_key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &KEY).expect("aws-lc-rs key");
        let key = aws_lc_rs::aead::LessSafeKey::new(aws_key);
        all.push(("aws-lc-rs".into(), Box::new(AwsLc { key, out: Vec::new() })));
    }
    all.push(("aes-gcm".into(), Box::new(RustCrypto(aes_gcm::Aes256Gcm::new_from_slice(&KEY).expect("key")))));
    all.push(("openssl".into(), Box::new(OpenSsl::new())));
    all
}

fn seal(c: &mut Criterion) {
    let mut group = c.benchmark_group("aes256gcm-seal");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for (name, mut imp) in contenders() {
            let mut buf = vec![0x5au8; size];
            group.bench_function(BenchmarkId::new(&name, size), |b| b.iter(|| imp.seal(black_box(&mut buf))));
        }
    }
    group.finish();
}

fn open(c: &mut Criterion) {
    let mut group = c.benchmark_group("aes256gcm-open");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for (name, mut imp) in contenders() {
            let mut ct = vec![0x5au8; size];
            let tag = imp.seal(&mut ct);
            // Opening in place destroys the ciphertext, so each call gets a fresh copy (not timed).
            group.bench_function(BenchmarkId::new(&name, size), |b| {
                b.iter_batched_ref(|| ct.clone(), |buf| imp.open(black_box(buf), &tag), BatchSize::LargeInput)
            });
        }
    }
    group.finish();
}

/// XAES-256-GCM pages with one writer prefix and a counter suffix, as a store writer seals them: the derived
/// subkey comes from the per-prefix cache on each call. Next to it, the same backend's plain AES-256-GCM
/// and the path that holds the subkey itself.
fn xaes(c: &mut Criterion) {
    const PAGE: usize = 16 << 10;
    let mut group = c.benchmark_group("xaes-page-seal");
    group.throughput(Throughput::Bytes(PAGE as u64));
    let auto = backend::best_supported();
    let mut backends = vec![auto];
    backends.extend(backend::supported().into_iter().filter(|b| *b != Backend::Soft && *b != auto));
    for b in backends {
        let mut buf = vec![0x33u8; PAGE];
        let plain = Aes256Gcm::with_backend(&KEY, b).expect("key");
        group.bench_function(BenchmarkId::new("aes256gcm", b), |bench| {
            bench.iter(|| plain.seal_in_place(&NONCE, AAD, black_box(&mut buf)).expect("seal"))
        });
        let xaes = Xaes256Gcm::with_backend(&KEY, b).expect("key");
        let prefix = [0x77u8; 12];
        let mut counter = 0u64;
        group.bench_function(BenchmarkId::new("xaes-prefix-cache", b), |bench| {
            bench.iter(|| {
                counter += 1;
                let mut nonce = [0u8; 24];
                nonce[..12].copy_from_slice(&prefix);
                nonce[16..].copy_from_slice(&counter.to_be_bytes());
                xaes.seal_in_place(&nonce, AAD, black_box(&mut buf)).expect("seal")
            })
        });
        let sub = xaes.subkey(&prefix);
        group.bench_function(BenchmarkId::new("xaes-held-subkey", b), |bench| {
            bench.iter(|| {
                counter += 1;
                let mut suffix = [0u8; 12];
                suffix[4..].copy_from_slice(&counter.to_be_bytes());
                sub.seal_in_place(&suffix, AAD, black_box(&mut buf)).expect("seal")
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = seal, open, xaes }
criterion_main!(benches);
