//! The byte diagram in docs/design.md ("Page format") must match what the code writes: every documented
//! field is found at its documented offset and size in an encoded header, and the documented constants equal
//! the code's.

use atrest_core::page::format::{ALGORITHM_XAES_256_GCM, FORMAT_VERSION, MAGIC, MAX_SIZE_LOG2, MIN_SIZE_LOG2};
use atrest_core::page::{HEADER_LEN, OVERHEAD, PAGE_TAG_LEN, PageHeader, PageKind, PageSize};

/// The diagram rows: (offset, size, field name) as written in docs/design.md.
fn documented_rows() -> Vec<(usize, usize, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/design.md");
    let doc = std::fs::read_to_string(path).expect("docs/design.md");
    let section = doc.split("## Page format").nth(1).expect("a Page format section");
    let diagram = section.split("```").nth(1).expect("a byte diagram");
    diagram
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let offset = words.next()?.parse::<usize>().ok()?;
            let size = words.next()?.parse::<usize>().ok()?;
            Some((offset, size, words.take(2).collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

#[test]
fn the_documented_diagram_matches_the_encoded_header() {
    let nonce: [u8; 24] = std::array::from_fn(|i| 0xc0 + i as u8);
    let header = PageHeader::new(PageKind::Catalog, PageSize::KIB_32, 0x0403_0201, nonce).encode();
    let rows = documented_rows();
    let field = |name: &str| -> &[u8] {
        let (offset, size, _) = rows
            .iter()
            .find(|(_, _, n)| n.starts_with(name))
            .unwrap_or_else(|| panic!("docs/design.md diagram has no row for {name:?}: {rows:?}"));
        &header[*offset..*offset + *size]
    };
    assert_eq!(field("magic"), MAGIC);
    assert_eq!(field("format version"), [FORMAT_VERSION]);
    assert_eq!(field("algorithm id"), [ALGORITHM_XAES_256_GCM]);
    assert_eq!(field("page kind"), [3]);
    assert_eq!(field("size code"), [15]);
    assert_eq!(field("key id"), [1, 2, 3, 4]);
    assert_eq!(field("nonce"), nonce);
    // The rows before the body tile the header exactly.
    let mut end = 0;
    for (offset, size, name) in rows.iter().take_while(|(_, _, n)| !n.starts_with("body")) {
        assert_eq!(*offset, end, "row {name:?} does not start where the previous one ends");
        end = offset + size;
    }
    assert_eq!(end, HEADER_LEN);
}

#[test]
fn the_documented_constants_match_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/design.md")).unwrap();
    for expected in [
        format!("`HEADER_LEN` = {HEADER_LEN}"),
        format!("`OVERHEAD` = {OVERHEAD}"),
        format!("FORMAT_VERSION = {FORMAT_VERSION}"),
        format!("ALGORITHM_XAES_256_GCM = {ALGORITHM_XAES_256_GCM}"),
        format!("MIN_SIZE_LOG2 {MIN_SIZE_LOG2}"),
        format!("MAX_SIZE_LOG2 {MAX_SIZE_LOG2}"),
        format!("capacity is {} bytes for 4 KiB pages", PageSize::KIB_4.capacity()),
        format!("{} for 16 KiB", PageSize::KIB_16.capacity()),
        format!("{} for 64 KiB", PageSize::KIB_64.capacity()),
    ] {
        assert!(doc.contains(&expected), "docs/design.md should say {expected:?}");
    }
    assert_eq!(PAGE_TAG_LEN, 16);
    for kind in PageKind::ALL {
        assert!(doc.contains(&format!("{} {kind:?}", kind.id())), "docs/design.md should list kind {kind:?}");
    }
}
