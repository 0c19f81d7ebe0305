//! Writes the seed corpora in `fuzz/corpus/<target>/`: a few small valid inputs per target, so fuzzing starts
//! from pages that open instead of having to discover the format. Run from `fuzz/`:
//! `cargo +nightly run --example seed_corpus`. The output is deterministic (fixed keys and nonces).

use std::fs;
use std::path::Path;

use atrest_core::Xaes256Gcm;
use atrest_core::page::{PageKind, PageSize, seal_with_nonce};
use atrest_fuzz::{CONTEXT, KEYS};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    // page_decode: valid 4 KiB pages under each key and several kinds, plus a wrong-key and a bad-magic one.
    for (i, (id, key)) in KEYS.iter().enumerate() {
        let key = Xaes256Gcm::try_new(key).unwrap();
        for kind in [PageKind::Data, PageKind::Manifest] {
            let size = PageSize::KIB_4;
            let body: Vec<u8> = (0..size.capacity()).map(|j| (j * 13 + i) as u8).collect();
            let mut page = vec![0u8; size.bytes()];
            let mut nonce = [0u8; 24];
            nonce[0] = i as u8;
            nonce[23] = kind.id();
            seal_with_nonce(&key, *id, &nonce, kind, &CONTEXT, &body, &mut page).unwrap();
            write("page_decode", &format!("key{id:x}-{kind:?}.page").to_lowercase(), &page);
            if i == 0 && kind == PageKind::Data {
                let mut unknown = page.clone();
                unknown[8..12].copy_from_slice(&77u32.to_le_bytes());
                write("page_decode", "unknown-key.page", &unknown);
                let mut magic = page.clone();
                magic[0] = b'X';
                write("page_decode", "bad-magic.page", &magic);
                write("page_decode", "truncated.page", &page[..40]);
            }
        }
    }
    // page_roundtrip and aead_differential take structured input built by `arbitrary` from raw bytes; any
    // bytes decode, so seeds of a few useful lengths suffice.
    for (name, len) in [("short", 64), ("medium", 300), ("long", 2000)] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        write("page_roundtrip", name, &bytes);
        write("aead_differential", name, &bytes);
    }
}
