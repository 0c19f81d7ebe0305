//! The VFS inside Debian's `sqlite3` shell: create, insert, query and reopen in each journal mode, with no
//! plaintext left in any file; a flipped byte anywhere is an error, never data; key rotation.

mod common;

use common::{Db, PLAINTEXT, text};

const SCHEMA: &str = "CREATE TABLE marker_rows(b INTEGER, i INTEGER, note TEXT);
CREATE INDEX marker_by_note ON marker_rows(note);";

/// 2000 rows over about 40 pages, so that queries touch many pages.
fn fill(db: &Db, mode: &str) -> std::path::PathBuf {
    let path = db.path("test.db");
    let sql = format!(
        "PRAGMA journal_mode={mode};
{SCHEMA}
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000)
INSERT INTO marker_rows SELECT x / 100, x, printf('ATREST-MARKER-%05d', x) FROM n;"
    );
    db.query(&path, &sql);
    path
}

const CHECK: &str = "SELECT count(*), sum(i), max(note) FROM marker_rows;";
const EXPECTED: &str = "2000|2001000|ATREST-MARKER-02000\n";

#[test]
fn create_insert_query_reopen_in_every_journal_mode_with_no_plaintext_on_disk() {
    for mode in ["delete", "truncate", "persist", "wal"] {
        let db = Db::new();
        let path = fill(&db, mode);
        // A second session: updates (journaled pages), a reopen, and the same answer.
        db.query(&path, &format!("PRAGMA journal_mode={mode}; UPDATE marker_rows SET i = i + 1 WHERE i % 7 = 0;"));
        let out = db.query(&path, "PRAGMA integrity_check; SELECT count(*), sum(i) FROM marker_rows;");
        assert_eq!(out, "ok\n2000|2001285\n", "{mode}");
        let out = db.query(&path, "SELECT note FROM marker_rows WHERE note = 'ATREST-MARKER-01234';");
        assert_eq!(out, "ATREST-MARKER-01234\n", "{mode}: the index finds the row");
        // WAL mode is a property of the file; the other modes last for one connection.
        let out = db.query(&path, "PRAGMA page_size; PRAGMA journal_mode;");
        assert_eq!(out, format!("4096\n{}\n", if mode == "wal" { "wal" } else { "delete" }));
        db.assert_no_plaintext(PLAINTEXT);
        if mode == "persist" {
            let journal = db.path("test.db-journal");
            assert!(std::fs::metadata(&journal).unwrap().len() > 4096, "the persisted journal holds pages");
        }
    }
}

#[test]
fn the_file_is_sealed_pages_after_a_plaintext_header_with_the_database_id() {
    let db = Db::new();
    let path = fill(&db, "delete");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..16], b"atrest-sqlite\0\0\x01");
    assert_eq!((bytes.len() - 4096) % 4096, 0);
    for page in bytes[4096..].chunks(4096) {
        assert_eq!(&page[..4], b"ATRP", "every page is a sealed page");
    }
    // Two databases get different ids, so a page copied from one to the other does not open.
    let other = db.path("other.db");
    db.query(&other, &format!("{SCHEMA} INSERT INTO marker_rows VALUES (1, 1, 'x');"));
    let other_bytes = std::fs::read(&other).unwrap();
    assert_ne!(bytes[16..32], other_bytes[16..32]);
    let mut swapped = other_bytes.clone();
    swapped[4096..8192].copy_from_slice(&bytes[4096..8192]);
    std::fs::write(&other, swapped).unwrap();
    let out = db.shell(&other, "SELECT count(*) FROM marker_rows;");
    assert!(!out.status.success() && text(&out.stderr).contains("disk I/O error"), "{}", text(&out.stderr));
}

#[test]
fn a_flipped_byte_is_an_error_and_never_data() {
    let db = Db::new();
    let path = fill(&db, "delete");
    let clean = std::fs::read(&path).unwrap();
    let pages = (clean.len() - 4096) / 4096;
    assert!(pages > 10, "{pages} pages");
    // In the file header's id, and in each part of several pages: header fields, nonce, body, tag.
    let mut spots = vec![20];
    for page in [0, 1, pages / 2, pages - 1] {
        let base = 4096 + page * 4096;
        spots.extend([base, base + 8, base + 20, base + 36, base + 2000, base + 4095]);
    }
    for spot in spots {
        let mut bad = clean.clone();
        bad[spot] ^= 0x04;
        std::fs::write(&path, &bad).unwrap();
        let out = db.shell(&path, &format!("PRAGMA integrity_check; {CHECK}"));
        let stdout = text(&out.stdout);
        assert!(!out.status.success(), "byte {spot}: the query succeeded: {stdout}");
        assert!(text(&out.stderr).contains("disk I/O error"), "byte {spot}: {}", text(&out.stderr));
        assert!(!stdout.contains("ATREST-MARKER"), "byte {spot}: data returned: {stdout}");
    }
    std::fs::write(&path, &clean).unwrap();
    assert_eq!(db.query(&path, CHECK), EXPECTED);
}

/// The key id in the header of every sealed page of the database.
fn page_key_ids(path: &std::path::Path) -> Vec<u32> {
    let bytes = std::fs::read(path).unwrap();
    bytes[4096..].chunks(4096).map(|p| u32::from_le_bytes(p[8..12].try_into().unwrap())).collect()
}

#[test]
fn key_rotation_seals_new_pages_under_the_new_key_and_vacuum_moves_every_page() {
    let db = Db::new();
    let path = fill(&db, "wal");
    let first: Vec<u32> = page_key_ids(&path);
    assert!(first.iter().all(|&id| id == first[0]));
    let out = db.query(&path, "PRAGMA atrest_rotate_key;");
    let new_id: u32 = out.trim().parse().unwrap();
    assert_ne!(new_id, first[0]);
    db.query(&path, "UPDATE marker_rows SET note = note || '+' WHERE i <= 100;");
    let mixed = page_key_ids(&path);
    assert!(mixed.contains(&first[0]) && mixed.contains(&new_id), "{mixed:?}");
    assert_eq!(db.query(&path, "SELECT count(*) FROM marker_rows WHERE note LIKE '%+';"), "100\n");
    assert_eq!(db.query(&path, "PRAGMA atrest_key_id;").trim(), new_id.to_string(), "a new session keeps the key");
    db.query(&path, "VACUUM;");
    assert!(page_key_ids(&path).iter().all(|&id| id == new_id), "VACUUM reseals every page under the new key");
    assert_eq!(db.query(&path, "PRAGMA integrity_check; SELECT count(*) FROM marker_rows;"), "ok\n2000\n");
    db.assert_no_plaintext(PLAINTEXT);
}

#[test]
fn temporary_files_statement_journals_and_sorts_go_through_sealed_streams() {
    let db = Db::new();
    let path = fill(&db, "delete");
    // A tiny cache and file-backed temporary storage push a temporary table, a sort, and a statement journal
    // (an UPDATE that fails halfway inside a transaction) through the VFS's temporary-file streams.
    let out = db.query(
        &path,
        "PRAGMA temp_store = FILE; PRAGMA cache_size = 5;
CREATE TEMP TABLE scratch AS SELECT i, note FROM marker_rows;
SELECT count(*), sum(i) FROM scratch;
SELECT group_concat(i) FROM (SELECT i FROM scratch ORDER BY note DESC LIMIT 3);
CREATE UNIQUE INDEX one_i ON marker_rows(i);
",
    );
    assert_eq!(out, "2000|2001000\n2000,1999,1998\n", "{out}");
    // The second UPDATE changes ten rows before it hits the unique index: its statement journal undoes them;
    // the shell then stops, and the transaction is abandoned.
    let out = db.shell(
        &path,
        "PRAGMA temp_store = FILE; PRAGMA cache_size = 5; BEGIN;
UPDATE marker_rows SET note = 'changed' WHERE i <= 10;
UPDATE marker_rows SET i = CASE WHEN i < 2000 THEN i + 10000 ELSE 1 END WHERE i >= 1990;
COMMIT;",
    );
    assert!(!out.status.success(), "the unique index refuses the update");
    assert!(text(&out.stderr).contains("UNIQUE constraint failed"), "{}", text(&out.stderr));
    assert_eq!(
        db.query(&path, "PRAGMA integrity_check; SELECT count(*), sum(i) FROM marker_rows;"),
        "ok\n2000|2001000\n"
    );
}
