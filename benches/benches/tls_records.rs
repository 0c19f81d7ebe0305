//! TLS record protection throughput on one thread, side by side in one run: atrest-rustls on every
//! atrest-core backend this host supports, rustls' own `ring` provider and, with `--features aws-lc-peer`,
//! rustls' `aws-lc-rs` provider. Each seals (`MessageEncrypter::encrypt`, which allocates the record and copies
//! the plaintext into it, as rustls does for every record) and opens (`MessageDecrypter::decrypt`, in place)
//! application-data records of 16 KiB (the largest record, what bulk transfers send) and 1 KiB, for the
//! TLS 1.3 and TLS 1.2 AES-GCM suites. Opening works on a fresh copy of one sealed record each iteration; the
//! copy is made outside the timed part.
//!
//! Run: `cargo bench -p atrest-benches --features aws-lc-peer --bench tls_records` (without the feature the
//! aws-lc-rs peer, whose C library takes minutes to build, is left out). Results are in docs/benchmarks.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustls::crypto::CryptoProvider;
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use rustls::crypto::tls13::OkmBlock;
use rustls::{CipherSuite, ContentType, ProtocolVersion, SupportedCipherSuite};

const SIZES: [usize; 2] = [16 << 10, 1 << 10];
const SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
];

/// The providers under test, by name.
fn providers() -> Vec<(String, CryptoProvider)> {
    let mut list: Vec<(String, CryptoProvider)> = atrest_core::backend::supported()
        .into_iter()
        .map(|b| (format!("atrest-{b}"), atrest_rustls::provider_with_backend(b).expect("supported backend")))
        .collect();
    list.push(("ring".to_owned(), rustls::crypto::ring::default_provider()));
    #[cfg(feature = "aws-lc-peer")]
    list.push(("aws-lc-rs".to_owned(), rustls::crypto::aws_lc_rs::default_provider()));
    list
}

/// A `len`-byte key: rustls only builds keys from secrets, so this derives one from a fixed secret.
fn key(len: usize) -> AeadKey {
    let id = if len == 16 { CipherSuite::TLS13_AES_128_GCM_SHA256 } else { CipherSuite::TLS13_AES_256_GCM_SHA384 };
    let Some(SupportedCipherSuite::Tls13(suite)) =
        rustls::crypto::ring::ALL_CIPHER_SUITES.iter().copied().find(|s| s.suite() == id)
    else {
        unreachable!("ring offers {id:?}")
    };
    let expander = suite.hkdf_provider.expander_for_okm(&OkmBlock::new(&[0x42; 32]));
    rustls::internal::derive_traffic_key(&*expander, suite.aead_alg)
}

/// An encrypter and a decrypter of `suite` from `provider`, with the same key, and the record version.
fn direction(
    provider: &CryptoProvider,
    id: CipherSuite,
) -> (Box<dyn MessageEncrypter>, Box<dyn MessageDecrypter>, ProtocolVersion) {
    let suite = provider.cipher_suites.iter().copied().find(|s| s.suite() == id).expect("suite offered");
    let iv = [0x24; 12];
    match suite {
        SupportedCipherSuite::Tls13(s) => {
            let len = s.aead_alg.key_len();
            let enc = s.aead_alg.encrypter(key(len), Iv::from(iv));
            (enc, s.aead_alg.decrypter(key(len), Iv::from(iv)), ProtocolVersion::TLSv1_3)
        }
        SupportedCipherSuite::Tls12(s) => {
            let len = s.aead_alg.key_block_shape().enc_key_len;
            let enc = s.aead_alg.encrypter(key(len), &iv[..4], &iv[4..]);
            (enc, s.aead_alg.decrypter(key(len), &iv[..4]), ProtocolVersion::TLSv1_2)
        }
    }
}

fn plain(version: ProtocolVersion, payload: &[u8]) -> OutboundPlainMessage<'_> {
    OutboundPlainMessage {
        typ: ContentType::ApplicationData,
        version,
        payload: OutboundChunks::Single(payload),
    }
}

fn short_name(id: CipherSuite) -> String {
    format!("{id:?}").replace("TLS_ECDHE_ECDSA_WITH_", "TLS12_")
}

fn seal(c: &mut Criterion) {
    let providers = providers();
    for id in SUITES {
        let mut group = c.benchmark_group(format!("tls_seal/{}", short_name(id)));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let payload = vec![0x5a; size];
            for (name, provider) in &providers {
                let (mut enc, _, version) = direction(provider, id);
                let mut seq = 0u64;
                group.bench_function(BenchmarkId::new(name.as_str(), size), |b| {
                    b.iter(|| {
                        seq += 1;
                        black_box(enc.encrypt(plain(version, black_box(&payload)), seq).expect("seal"))
                    })
                });
            }
        }
        group.finish();
    }
}

fn open(c: &mut Criterion) {
    let providers = providers();
    for id in SUITES {
        let mut group = c.benchmark_group(format!("tls_open/{}", short_name(id)));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let payload = vec![0x5a; size];
            for (name, provider) in &providers {
                let (mut enc, mut dec, version) = direction(provider, id);
                let record = enc.encrypt(plain(version, &payload), 7).expect("seal").encode();
                let (typ, record_version) = (ContentType::from(record[0]), ProtocolVersion::TLSv1_2);
                let body = record[5..].to_vec();
                group.bench_function(BenchmarkId::new(name.as_str(), size), |b| {
                    b.iter_batched_ref(
                        || body.clone(),
                        |buf| {
                            let msg = InboundOpaqueMessage::new(typ, record_version, buf);
                            black_box(dec.decrypt(msg, 7).expect("open").payload.len())
                        },
                        BatchSize::SmallInput,
                    )
                });
            }
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = seal, open }
criterion_main!(benches);
