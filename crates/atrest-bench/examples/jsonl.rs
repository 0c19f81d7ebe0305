//! `atrest bench`'s generated documents as JSON Lines, each with its id in an `"id"` field first: the input of
//! the server's bulk-import benchmark (scripts/bench-server.sh), so that it ingests the same documents as the
//! in-process `ingest` example it is compared with.
//!
//! `cargo run --release -p atrest-bench --example jsonl -- SIZE_MIB > docs.jsonl` (seed 1, as `ingest` uses).

use std::io::Write;

use atrest_bench::docgen::{doc_id, document};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(128);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let (mut bytes, mut n) = (0u64, 0u64);
    while bytes < mib << 20 {
        let doc = document(1, n);
        let body = doc.strip_prefix(b"{").ok_or("a generated document is not an object")?;
        let head = format!("{{\"id\":\"{}\"{}", doc_id(n), if body == b"}" { "" } else { "," });
        out.write_all(head.as_bytes())?;
        out.write_all(body)?;
        out.write_all(b"\n")?;
        bytes += doc.len() as u64;
        n += 1;
    }
    out.flush()?;
    eprintln!("{n} documents, {bytes} bytes of documents");
    Ok(())
}
