//! The seed corpora of the atrest-keys fuzz targets (`fuzz/corpus/{kmip_ttlv,state_record,keyring_file}/`) are
//! what `atrest_keys::fuzzing::seed_corpus` makes with the real encoders, and each seed is what its name says
//! (valid inputs decode, truncated ones are refused; `built-*` seeds are bytes for the modes that build a
//! value from any input). To rewrite them after a format change:
//! `ATREST_WRITE_FUZZ_SEEDS=1 cargo test -p atrest-keys --features fuzzing --test fuzz_seeds`.

use std::path::PathBuf;

use atrest_keys::StateRecord;
use atrest_keys::fuzzing::{decode_keyring, kmip_response, open_local_record, seed_corpus, with_keyring_checksum};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

#[test]
fn seeds_are_the_generators_and_say_what_they_are() {
    let write = std::env::var_os("ATREST_WRITE_FUZZ_SEEDS").is_some();
    let seeds = seed_corpus();
    for target in ["kmip_ttlv", "state_record", "keyring_file"] {
        assert!(seeds.iter().filter(|s| s.0 == target).count() >= 3, "{target} has too few seeds");
    }
    for (target, name, bytes) in &seeds {
        let path = corpus_dir(target).join(name);
        if write {
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(&path, bytes).unwrap();
        } else {
            let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(&on_disk == bytes, "{} is not what the generator makes", path.display());
        }
        let (mode, rest) = (bytes[0], &bytes[1..]);
        let truncated = name.contains("truncated") || name == "header-only";
        if name.starts_with("built-") {
            continue; // input for a mode that builds a value from any bytes
        }
        let ok = match (*target, mode) {
            ("kmip_ttlv", 0) => kmip_response(rest).map(drop),
            ("state_record", 0) => StateRecord::decode(rest, "seed").map(drop).map_err(|e| e.to_string()),
            ("state_record", 1 | 2) => open_local_record(rest).map(drop),
            ("keyring_file", 0) => decode_keyring(rest).map(drop),
            ("keyring_file", 1) => decode_keyring(&with_keyring_checksum(rest)).map(drop),
            other => panic!("unexpected seed kind {other:?}"),
        };
        match ok {
            Ok(()) => assert!(!truncated && !name.contains("retired"), "{target}/{name} decodes"),
            Err(e) if name.contains("retired") => assert!(e.contains("no longer holds"), "{target}/{name}: {e}"),
            Err(e) => assert!(truncated, "{target}/{name} is refused: {e}"),
        }
    }
}
