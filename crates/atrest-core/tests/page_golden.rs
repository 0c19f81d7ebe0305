//! Golden sealed pages pin the page format: files sealed by an earlier build, with fixed keys, nonces and
//! contexts, must keep opening to their known plaintexts, and sealing the same inputs must keep producing the
//! same bytes. If this test fails after a change, the change broke the on-disk format: bump
//! `FORMAT_VERSION` and keep reading the old one instead of regenerating these files.
//!
//! The files were written by `generate_golden_pages` (ignored; run it only when adding a new golden file:
//! `cargo test -p atrest-core --test page_golden -- --ignored`). `tests/golden/README.md` lists the inputs.

use std::path::PathBuf;
use std::sync::Arc;

use atrest_core::Xaes256Gcm;
use atrest_core::backend;
use atrest_core::page::{LookupError, Opener, PageContext, PageHeader, PageKind, PageSize, lookup_fn, seal_with_nonce};

/// One golden page: its file name and every input that produced it.
struct Golden {
    file: &'static str,
    key: [u8; 32],
    key_id: u32,
    nonce: &'static str,
    kind: PageKind,
    size: PageSize,
    file_id: u64,
    page_no: u64,
    extra: &'static [u8],
    text: &'static str,
}

/// Keys are `key[i] = base + i`; see README.md.
const fn key_from(base: u8) -> [u8; 32] {
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = base.wrapping_add(i as u8);
        i += 1;
    }
    key
}

const GOLDEN: [Golden; 3] = [
    Golden {
        file: "data-4k.page",
        key: key_from(0x00),
        key_id: 1,
        nonce: "000102030405060708090a0b000000000000000000000000",
        kind: PageKind::Data,
        size: PageSize::KIB_4,
        file_id: 1,
        page_no: 0,
        extra: b"",
        text: "{\"_id\":\"golden-1\",\"title\":\"a document in a 4 KiB data page\"}",
    },
    Golden {
        file: "index-16k.page",
        key: key_from(0x40),
        key_id: 0xdead_beef,
        nonce: "f0e1d2c3b4a5968778695a4b000000000000000000000007",
        kind: PageKind::Index,
        size: PageSize::KIB_16,
        file_id: 0x0123_4567_89ab_cdef,
        page_no: 77,
        extra: b"generation=5",
        text: "index keys: apple banana cherry",
    },
    Golden {
        file: "attachment-64k.page",
        key: key_from(0x80),
        key_id: 42,
        nonce: "ffffffffffffffffffffffff00000000000000000000ffff",
        kind: PageKind::Attachment,
        size: PageSize::KIB_64,
        file_id: u64::MAX,
        page_no: u64::MAX - 1,
        extra: &[0, 1, 2, 3, 255],
        text: "attachment chunk 0 of photo.jpg",
    },
];

/// The plaintext body: `text`, then bytes `i % 251` to the capacity (see README.md).
fn plaintext(g: &Golden) -> Vec<u8> {
    let mut body: Vec<u8> = (0..g.size.capacity()).map(|i| (i % 251) as u8).collect();
    body[..g.text.len()].copy_from_slice(g.text.as_bytes());
    body
}

fn nonce(g: &Golden) -> [u8; 24] {
    hex::decode(g.nonce).unwrap().try_into().unwrap()
}

fn path(g: &Golden) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(g.file)
}

fn seal(g: &Golden, key: &Xaes256Gcm) -> Vec<u8> {
    let ctx = PageContext::new(g.file_id, g.page_no).with_extra(g.extra);
    let mut page = vec![0u8; g.size.bytes()];
    seal_with_nonce(key, g.key_id, &nonce(g), g.kind, &ctx, &plaintext(g), &mut page).unwrap();
    page
}

#[test]
fn golden_pages_open_to_their_plaintexts_on_every_backend() {
    for g in &GOLDEN {
        let stored = std::fs::read(path(g)).unwrap_or_else(|e| panic!("{}: {e}", g.file));
        let header = PageHeader::parse(&stored).unwrap();
        assert_eq!((header.version, header.algorithm), (1, 1), "{}", g.file);
        assert_eq!((header.kind, header.size, header.key_id, header.nonce), (g.kind, g.size, g.key_id, nonce(g)));
        for backend in backend::supported() {
            let key = Arc::new(Xaes256Gcm::with_backend(&g.key, backend).unwrap());
            let id = g.key_id;
            let opener =
                Opener::new(lookup_fn(
                    move |wanted: u32| {
                        if wanted == id { Ok(Arc::clone(&key)) } else { Err(LookupError::Unknown) }
                    },
                ));
            let ctx = PageContext::new(g.file_id, g.page_no).with_extra(g.extra);
            let mut page = stored.clone();
            let opened = opener.open(&mut page, &ctx).unwrap_or_else(|e| panic!("{} on {backend}: {e}", g.file));
            assert_eq!((opened.kind, opened.key_id, opened.size), (g.kind, g.key_id, g.size));
            assert_eq!(opened.body[..], plaintext(g)[..], "{} on {backend}", g.file);
            // The wrong place must still fail.
            let mut moved = stored.clone();
            let other = PageContext::new(g.file_id, g.page_no ^ 1).with_extra(g.extra);
            assert!(opener.open(&mut moved, &other).is_err());
        }
    }
}

#[test]
fn sealing_the_golden_inputs_reproduces_the_golden_bytes() {
    for g in &GOLDEN {
        let stored = std::fs::read(path(g)).unwrap();
        for backend in backend::supported() {
            let key = Xaes256Gcm::with_backend(&g.key, backend).unwrap();
            assert!(seal(g, &key) == stored, "{} sealed on {backend} differs from the golden file", g.file);
        }
    }
}

/// Decrypts each golden page with the RustCrypto `xaes-256-gcm` crate and the associated data built by hand
/// from the documented layout (header || file id LE || page number LE || extra), so the format is checked
/// against its description and an independent XAES implementation, not only against this crate.
#[test]
fn golden_pages_decrypt_with_an_independent_xaes_and_the_documented_aad() {
    use xaes_256_gcm::aead::{AeadInOut, KeyInit};
    for g in &GOLDEN {
        let stored = std::fs::read(path(g)).unwrap();
        let (header, rest) = stored.split_at(36);
        let (body, tag) = rest.split_at(rest.len() - 16);
        assert_eq!(&header[..4], b"ATRP");
        assert_eq!(header[4..8], [1, 1, g.kind as u8, g.size.log2()]);
        assert_eq!(header[8..12], g.key_id.to_le_bytes());
        assert_eq!(header[12..36], nonce(g));
        let mut aad = header.to_vec();
        aad.extend_from_slice(&g.file_id.to_le_bytes());
        aad.extend_from_slice(&g.page_no.to_le_bytes());
        aad.extend_from_slice(g.extra);
        let mut buf = body.to_vec();
        let tag: [u8; 16] = tag.try_into().unwrap();
        xaes_256_gcm::Xaes256Gcm::new((&g.key).into())
            .decrypt_inout_detached((&nonce(g)).into(), &aad, buf.as_mut_slice().into(), (&tag).into())
            .unwrap_or_else(|e| panic!("{}: {e:?}", g.file));
        assert_eq!(buf, plaintext(g), "{}", g.file);
    }
}

#[test]
#[ignore = "writes tests/golden/*.page; run only to add a golden file, never to paper over a format change"]
fn generate_golden_pages() {
    let key_soft = |g: &Golden| Xaes256Gcm::with_backend(&g.key, backend::Backend::Soft).unwrap();
    for g in &GOLDEN {
        std::fs::write(path(g), seal(g, &key_soft(g))).unwrap();
    }
}
