//! Kill a writer during its commits (SIGKILL, at random moments) and reopen: the database is consistent (every
//! transaction fully there or fully absent), and the hot journal or WAL the kill left behind holds no plaintext.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Db, PLAINTEXT, built};

/// A small, seedless source of kill delays: the process id and the time mixed by a xorshift.
fn delays() -> impl Iterator<Item = u64> {
    let mut x = u64::from(std::process::id()) ^ Instant::now().elapsed().as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some(x % 120)
    })
}

fn crash_and_recover(mode: &str, rounds: usize) {
    let db = Db::new();
    let path = db.path("crash.db");
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/crash_writer.c");
    let writer = built().build.program(&src, &format!("crash_writer_{mode}"), &[]).unwrap();
    let mut committed_before = 0;
    let mut hot = 0;
    for (round, delay) in (0..rounds).zip(delays()) {
        let mut child = Command::new(&writer)
            .args([path.to_str().unwrap(), db.keyring.to_str().unwrap(), db.key_file.to_str().unwrap(), mode])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for a first commit of this round, then let it run on into later ones and kill it.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first: u64 = lines.next().expect("the writer committed nothing").unwrap().parse().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let last_seen = lines.map_while(Result::ok).filter_map(|l| l.parse::<u64>().ok()).last().unwrap_or(first);
        assert!(!status.success(), "round {round}: the writer was killed");

        // What the kill left on disk (a hot journal or a WAL) is sealed like the database.
        db.assert_no_plaintext(PLAINTEXT);
        let side = db.path(if mode == "wal" { "crash.db-wal" } else { "crash.db-journal" });
        if std::fs::metadata(&side).is_ok_and(|m| m.len() > 0) {
            hot += 1;
        }
        let out = db.query(
            &path,
            "PRAGMA integrity_check; SELECT count(*), count(*) % 200, coalesce(max(b), 0) FROM marker_rows;",
        );
        let fields: Vec<&str> = out.lines().collect();
        assert_eq!(fields[0], "ok", "round {round}: {out}");
        let cols: Vec<u64> = fields[1].split('|').map(|c| c.parse().unwrap()).collect();
        assert_eq!(cols[1], 0, "round {round}: a transaction is partly there: {out}");
        assert!(cols[2] >= last_seen, "round {round}: batch {last_seen} was acknowledged, then lost: {out}");
        assert!(cols[0] > committed_before, "round {round}: the writer committed nothing new");
        committed_before = cols[0];
    }
    // The writer is inside a transaction almost all the time, so kills land mid-commit.
    assert!(hot > 0, "no kill left a journal or WAL to recover from");
}

#[test]
fn killed_during_commit_in_rollback_journal_mode_the_database_reopens_consistent() {
    crash_and_recover("delete", 6);
}

#[test]
fn killed_during_commit_in_wal_mode_the_database_reopens_consistent() {
    crash_and_recover("wal", 6);
}

/// Two writer processes on one database at once, then both killed: what each wrote through its own cached view
/// of the journal or WAL tail must not clobber the other's (the cache is trusted only under the write lock).
fn two_writers(mode: &str) {
    let db = Db::new();
    let path = db.path("shared.db");
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/crash_writer.c");
    let writer = built().build.program(&src, &format!("shared_writer_{mode}"), &[]).unwrap();
    // Create the database first, so the two do not race to create the schema.
    db.query(&path, &format!("PRAGMA journal_mode={mode}; CREATE TABLE marker_rows(b INTEGER, i INTEGER, note TEXT);"));
    let spawn = || {
        Command::new(&writer)
            .args([path.to_str().unwrap(), db.keyring.to_str().unwrap(), db.key_file.to_str().unwrap(), mode])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut writers = [spawn(), spawn()];
    // Collect every batch each writer acknowledged, until it is killed.
    let readers: Vec<_> = writers
        .iter_mut()
        .map(|w| {
            let out = w.stdout.take().unwrap();
            std::thread::spawn(move || {
                BufReader::new(out)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|l| l.parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // Let them interleave for a while: both must have committed several times while the other was writing.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut errors = Vec::new();
    for mut w in writers {
        w.kill().unwrap();
        let out = w.wait_with_output().unwrap();
        errors.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let acknowledged: Vec<Vec<u64>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(
        acknowledged.iter().all(|a| a.len() >= 3),
        "{mode}: a writer barely committed: {acknowledged:?} {errors:?}"
    );
    db.assert_no_plaintext(PLAINTEXT);
    let out = db.query(&path, "PRAGMA integrity_check; SELECT count(*) % 200 FROM marker_rows;");
    assert_eq!(out, "ok\n0\n", "{mode}");
    // Nothing acknowledged was lost, whichever writer wrote it.
    let batches: Vec<String> = acknowledged.concat().iter().map(u64::to_string).collect();
    let out = db.query(
        &path,
        &format!(
            "SELECT count(*) FROM marker_rows WHERE b IN ({}) GROUP BY b HAVING count(*) <> 200;",
            batches.join(",")
        ),
    );
    assert_eq!(out, "", "{mode}: an acknowledged batch is incomplete");
    let out =
        db.query(&path, &format!("SELECT count(DISTINCT b) FROM marker_rows WHERE b IN ({});", batches.join(",")));
    assert_eq!(out.trim(), batches.len().to_string(), "{mode}: an acknowledged batch is missing");
}

#[test]
fn two_writers_in_rollback_journal_mode_keep_the_database_consistent() {
    two_writers("delete");
}

#[test]
fn two_writers_in_wal_mode_keep_the_database_consistent() {
    two_writers("wal");
}
