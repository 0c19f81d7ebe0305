//! Shared by the SQLite tests: one build of the VFS per test binary, a data directory with its keyring, the
//! `sqlite3` shell with the VFS loaded, and the at-rest plaintext scan.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use atrest_sqlite::Build;

/// Built once per test binary and kept for its life.
pub struct Built {
    _dir: tempfile::TempDir,
    pub build: Build,
    pub extension: PathBuf,
}

pub fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let build = Build::new(dir.path()).unwrap();
        let extension = build.extension().unwrap();
        Built { _dir: dir, build, extension }
    })
}

/// A database directory with its keyring, and the master key file outside it.
pub struct Db {
    pub root: tempfile::TempDir,
    pub data: PathBuf,
    pub keyring: PathBuf,
    pub key_file: PathBuf,
}

impl Db {
    pub fn new() -> Db {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let keyring = root.path().join("keyring");
        let key_file = root.path().join("keys/master.key");
        Db { root, data, keyring, key_file }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.data.join(name)
    }

    /// Runs `sql` in the `sqlite3` shell with the VFS loaded and `db` opened through it, stopping at the first
    /// error (`-bail`).
    pub fn shell(&self, db: &Path, sql: &str) -> Output {
        let script = format!(".load {}\n.open {}\n{sql}\n", built().extension.display(), db.display());
        let mut child = Command::new("sqlite3")
            .args(["-bail", ":memory:"])
            .env("ATREST_SQLITE_KEYRING", &self.keyring)
            .env("ATREST_SQLITE_KEY_FILE", &self.key_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the sqlite3 shell is needed (Debian package sqlite3; scripts/test.d/07-sqlite.sh installs it)");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// As [`Db::shell`], asserting success; returns stdout.
    pub fn query(&self, db: &Path, sql: &str) -> String {
        let out = self.shell(db, sql);
        assert!(out.status.success(), "{sql}\nstdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    /// Every file of the data directory with its bytes.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.data).unwrap() {
            let path = entry.unwrap().path();
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
        out
    }

    /// Asserts that no file of the data directory holds any of `needles` in the clear.
    pub fn assert_no_plaintext(&self, needles: &[&str]) {
        for (path, bytes) in self.files() {
            for needle in needles {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{} holds {needle:?} in the clear",
                    path.display()
                );
            }
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What must never be on disk in the clear: row content, table and index names, the schema's SQL, and the
/// SQLite file signature (the database header is encrypted too).
pub const PLAINTEXT: &[&str] = &["ATREST-MARKER", "marker_rows", "marker_by_note", "CREATE TABLE", "SQLite format 3"];
