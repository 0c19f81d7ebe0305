//! Peak TLS record throughput on one thread, as a table of GB/s and ratios to rustls' ring provider: the same
//! contenders, suites and sizes as `tls_records.rs`, measured as the best of many short batches with the
//! contenders taking turns batch by batch, which is what a machine shared with other work can still measure
//! reliably (a criterion mean absorbs every preemption). Sealing includes rustls' per-record allocation and
//! copy (every provider pays it); opening decrypts in place a copy of one sealed record, the copy being made
//! for every contender alike.
//!
//! Run: `cargo bench -p atrest-benches --features aws-lc-peer --bench tls_records_peak`. `ATREST_PEAK_ROUNDS`
//! sets the number of batches per contender (default 60).

mod tls_common;

use std::hint::black_box;
use std::time::Instant;

use rustls::crypto::cipher::{InboundOpaqueMessage, MessageDecrypter, MessageEncrypter};
use rustls::{ContentType, ProtocolVersion};
use tls_common::{SIZES, SUITES, direction, plain, providers, short_name};

/// One contender's operation on one record; returns a value so the work is not optimized away.
type Op = Box<dyn FnMut() -> usize>;

fn seal_op(mut enc: Box<dyn MessageEncrypter>, version: ProtocolVersion, size: usize) -> Op {
    let payload = vec![0x5a; size];
    // Sequence numbers from 0, one per record: aws-lc-rs's TLS keys refuse anything else.
    let mut seq = 0;
    Box::new(move || {
        let len = enc.encrypt(plain(version, &payload), seq).expect("seal").encode().len();
        seq += 1;
        len
    })
}

fn open_op(
    mut enc: Box<dyn MessageEncrypter>,
    mut dec: Box<dyn MessageDecrypter>,
    version: ProtocolVersion,
    size: usize,
) -> Op {
    let record = enc.encrypt(plain(version, &vec![0x5a; size]), 0).expect("seal").encode();
    let (typ, body) = (ContentType::from(record[0]), record[5..].to_vec());
    let mut buf = body.clone();
    Box::new(move || {
        buf.copy_from_slice(&body);
        let msg = InboundOpaqueMessage::new(typ, ProtocolVersion::TLSv1_2, &mut buf);
        dec.decrypt(msg, 0).expect("open").payload.len()
    })
}

/// Seconds per call of each op: the fastest of `rounds` batches of about 1 MiB of records, taken in turns.
fn fastest(rounds: usize, size: usize, ops: &mut [Op]) -> Vec<f64> {
    let calls = ((1 << 20) / size).max(1);
    let mut best = vec![f64::INFINITY; ops.len()];
    for _ in 0..rounds {
        for (op, best) in ops.iter_mut().zip(best.iter_mut()) {
            let start = Instant::now();
            (0..calls).for_each(|_| {
                black_box(op());
            });
            *best = best.min(start.elapsed().as_secs_f64() / calls as f64);
        }
    }
    best
}

fn main() {
    let rounds = std::env::var("ATREST_PEAK_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let providers = providers();
    let names: Vec<&str> = providers.iter().map(|(n, _)| n.as_str()).collect();
    let ring = names.iter().position(|n| *n == "ring").expect("ring is a contender");
    println!("TLS record protection, one thread, peak GB/s (ratio to ring), best of {rounds} batches of ~1 MiB");
    println!("| operation | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for id in SUITES {
        for size in SIZES {
            for op in ["seal", "open"] {
                let mut ops: Vec<Op> = providers
                    .iter()
                    .map(|(_, p)| {
                        let (enc, dec, version) = direction(p, id);
                        if op == "seal" { seal_op(enc, version, size) } else { open_op(enc, dec, version, size) }
                    })
                    .collect();
                let secs = fastest(rounds, size, &mut ops);
                let cells: Vec<String> =
                    secs.iter().map(|s| format!("{:.2} ({:.2}x)", size as f64 / s / 1e9, secs[ring] / s)).collect();
                println!("| {op} {} {} B | {} |", short_name(id), size, cells.join(" | "));
            }
        }
    }
}
