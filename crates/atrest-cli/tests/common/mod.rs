//! Running the `atrest` binary from the CLI's integration tests.
#![allow(dead_code)]

pub mod server;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `atrest` with `home` as its HOME and XDG config root (so default key files land in the test's
/// directory), feeding `stdin` if given.
pub fn atrest(home: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    atrest_env(home, &[], args, stdin)
}

/// [`atrest`] with more environment variables (`SOFTHSM2_CONF` for a test's own token).
pub fn atrest_env(home: &Path, env: &[(&str, &std::ffi::OsStr)], args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atrest"));
    c.args(args).env("XDG_CONFIG_HOME", home.join("cfg")).env("HOME", home).stdin(Stdio::piped());
    c.envs(env.iter().copied());
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        input.write_all(b).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Runs `atrest` as [`atrest`] does, but with stdout a pipe whose reading end is already closed (as in
/// `atrest info | (exec 0<&-; true)`): every write to it fails with a broken pipe.
pub fn atrest_closed_stdout(home: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut c = Command::new(env!("CARGO_BIN_EXE_atrest"));
    c.args(args).env("XDG_CONFIG_HOME", home.join("cfg")).env("HOME", home).stdin(Stdio::null());
    c.stdout(writer).stderr(Stdio::piped());
    let out = c.output().unwrap();
    drop(c);
    out
}

/// Asserts failure with `needle` in stderr or stdout.
pub fn fails(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got: {}", String::from_utf8_lossy(&o.stdout));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stderr), String::from_utf8_lossy(&o.stdout));
    assert!(all.contains(needle), "output {all:?} does not mention {needle:?}");
}

/// `atrest init` of a store in `home/data` with the key file `home/k.key` and `page_kib` pages; returns the
/// data directory and the key file as arguments.
pub fn init_store(home: &Path, page_kib: &str) -> (String, String) {
    let d = home.join("data").to_str().unwrap().to_owned();
    let k = home.join("k.key").to_str().unwrap().to_owned();
    ok(atrest(home, &["init", "--data", &d, "--key-file", &k, "--page-kib", page_kib], None));
    (d, k)
}

/// Copies the files of data directory `from` into `to` (made if missing), all but the lock file: a snapshot.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != atrest_store::LOCK_FILE {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Puts snapshot `from` back in place of data directory `to`.
pub fn put_back(from: &Path, to: &Path) {
    std::fs::remove_dir_all(to).unwrap();
    copy_dir(from, to);
}
