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

mod tls_common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustls::crypto::cipher::InboundOpaqueMessage;
use rustls::{ContentType, ProtocolVersion};
use tls_common::{SIZES, SUITES, direction, plain, providers, short_name};

fn seal(c: &mut Criterion) {
    let providers = providers();
    for id in SUITES {
        let mut group = c.benchmark_group(format!("tls_seal/{}", short_name(id)));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let payload = vec![0x5a; size];
            for (name, provider) in &providers {
                let (mut enc, _, version) = direction(provider, id);
                // Sequence numbers from 0, one per record: aws-lc-rs's TLS keys refuse anything else.
                let mut seq = 0u64;
                group.bench_function(BenchmarkId::new(name.as_str(), size), |b| {
                    b.iter(|| {
                        let record = enc.encrypt(plain(version, black_box(&payload)), seq).expect("seal");
                        seq += 1;
                        black_box(record)
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
                let record = enc.encrypt(plain(version, &payload), 0).expect("seal").encode();
                let (typ, record_version) = (ContentType::from(record[0]), ProtocolVersion::TLSv1_2);
                let body = record[5..].to_vec();
                group.bench_function(BenchmarkId::new(name.as_str(), size), |b| {
                    b.iter_batched_ref(
                        || body.clone(),
                        |buf| {
                            let msg = InboundOpaqueMessage::new(typ, record_version, buf);
                            black_box(dec.decrypt(msg, 0).expect("open").payload.len())
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
