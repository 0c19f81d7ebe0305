//! The `atrest` command with its master key in a real key service: a SoftHSM2 token (PKCS#11) and PyKMIP's
//! KMIP server, each started by the test (see atrest-keys' tests/support/services.rs). Each goes through
//! init, put, rotate, backup and restore (also pointed at another provider string for the same key), and the
//! KMIP server is stopped and restarted under a running workload: writes and reads go on within the key lease,
//! fail with the typed key-service error after it, and resume without a restart, losing nothing acknowledged.

mod common;
#[path = "../../atrest-keys/tests/support/services.rs"]
mod services;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{atrest_env, copy_dir, fails, ok, put_back};
use services::{PyKmip, SoftHsm};

/// init, put, rotate, put, backup, restore (by the provider the backup's keyring records, then by `other`, a
/// second string for the same key, which the restored keyring then records), verify-backup; `env` is passed
/// to every command.
fn lifecycle(home: &Path, env: &[(&str, &OsStr)], keys: &str, other: &str, other_mark: &str) {
    let run = |args: &[&str]| atrest_env(home, env, args, None);
    let put =
        |d: &str, id: &str, doc: &str| ok(atrest_env(home, env, &["--data", d, "put", "c", id], Some(doc.as_bytes())));
    let d = home.join("data").to_str().unwrap().to_owned();
    let init = ok(run(&["init", "--data", &d, "--keys", keys]));
    assert!(init.contains("master key: ") && init.contains("(made now)"), "{init}");
    // Every later command finds the provider in the keyring.
    put(&d, "a", r#"{"v":1}"#);
    let rotated = ok(run(&["--data", &d, "rotate"]));
    assert!(rotated.contains("new active data keys"), "{rotated}");
    put(&d, "b", r#"{"v":2}"#);
    assert_eq!(ok(run(&["--data", &d, "get", "c", "a"])), "{\"v\":1}\n");
    let info = ok(run(&["--data", &d, "info"]));
    assert!(info.contains("decrypt-only") && info.contains("master key master-1"), "{info}");

    let target = home.join("backups").to_str().unwrap().to_owned();
    ok(run(&["--data", &d, "backup", &target]));
    assert!(ok(run(&["verify-backup", &target])).contains(" ok: "));

    let restored = home.join("restored").to_str().unwrap().to_owned();
    let out = ok(run(&["--data", &restored, "restore", &target]));
    assert!(out.contains("restored backup"), "{out}");
    assert_eq!(ok(run(&["--data", &restored, "get", "c", "b"])), "{\"v\":2}\n");

    let again = home.join("restored-other").to_str().unwrap().to_owned();
    ok(run(&["--data", &again, "--keys", other, "restore", &target]));
    assert_eq!(ok(run(&["--data", &again, "get", "c", "a"])), "{\"v\":1}\n");
    let keyring = std::fs::read_to_string(Path::new(&again).join("keyring")).unwrap();
    assert!(keyring.contains(other_mark), "the restored keyring records the provider it was restored with");

    // Rollback protection with the record held by the key service itself: a copy of the directory put back
    // after a write is refused, and opens again once accepted.
    let snap = home.join("snap");
    copy_dir(Path::new(&d), &snap);
    put(&d, "late", r#"{"v":3}"#);
    put_back(&snap, Path::new(&d));
    let refused = run(&["--data", &d, "get", "c", "a"]);
    fails(&refused, "rollback");
    fails(&refused, "1 commit batch of acknowledged writes missing");
    ok(run(&["--data", &d, "accept-rollback", "--yes"]));
    assert_eq!(ok(run(&["--data", &d, "get", "c", "a"])), "{\"v\":1}\n");
    let info = ok(run(&["--data", &d, "info"]));
    assert!(info.contains("rollback protection: the key service's record says"), "{info}");

    // A provider of another kind cannot open the keyring; a key file holding another master key is refused.
    let stranger = home.join("stranger.key");
    let wrong = ok(run(&[
        "init",
        "--data",
        home.join("other-store").to_str().unwrap(),
        "--key-file",
        stranger.to_str().unwrap(),
    ]));
    assert!(wrong.contains("key file"));
    fails(
        &run(&["--data", &d, "--key-file", stranger.to_str().unwrap(), "get", "c", "a"]),
        "written with key provider kind",
    );
}

#[test]
fn pkcs11_softhsm_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), "atrest-cli", "4711", "8642");
    // The same token, the PIN from the environment instead of a file (set for each command, not in this
    // process, whose environment other test threads read).
    let env = [("SOFTHSM2_CONF", hsm.conf.as_os_str()), ("ATREST_TEST_PIN", OsStr::new(&hsm.pin))];
    let keys = hsm.url();
    let other = format!("pkcs11:{}?token={}&pin-env=ATREST_TEST_PIN", hsm.module.display(), hsm.label);
    lifecycle(dir.path(), &env, &keys, &other, "pin-env=ATREST_TEST_PIN");
}

#[test]
fn kmip_pykmip_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let kmip = PyKmip::start(&dir.path().join("kmip"));
    let keys = kmip.url("&timeout=5");
    let other = kmip.url("&timeout=7");
    lifecycle(dir.path(), &[], &keys, &other, "timeout=7");
}

/// A running `atrest soak --keep-going` whose output lines arrive on a channel with their arrival time.
struct Soak {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl Soak {
    fn start(home: &Path, data: &str, lease: &str) -> Soak {
        let mut child = Command::new(env!("CARGO_BIN_EXE_atrest"))
            .args(["--data", data, "--key-lease", lease, "soak", "c", "s", "--keep-going"])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("cfg"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Soak { child, lines }
    }

    /// Lines until `until` holds for one (returned with the lines before it), failing after `limit`.
    fn until(&self, limit: Duration, what: &str, until: impl Fn(&str) -> bool) -> (Vec<(Instant, String)>, Instant) {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let left = limit.checked_sub(start.elapsed()).unwrap_or_default();
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if until(&line) => {
                    seen.push((at, line));
                    return (seen, at);
                }
                Ok(l) => seen.push(l),
                Err(_) => {
                    panic!("no line {what} within {limit:?}; last lines: {:?}", &seen[seen.len().saturating_sub(5)..])
                }
            }
        }
    }
}

impl Drop for Soak {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn kmip_server_stopped_and_restarted_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let mut kmip = PyKmip::start(&home.join("kmip"));
    let d = home.join("data").to_str().unwrap().to_owned();
    ok(atrest_env(home, &[], &["init", "--data", &d, "--keys", &kmip.url("&timeout=3")], None));
    // A 4 s lease: refreshed in the background after 2 s, asked again at most once a second after a failure.
    let soak = Soak::start(home, &d, "4s");
    let (mut all, _) = soak.until(Duration::from_secs(30), "acknowledging writes", |l| l.starts_with("acked s-31 "));

    kmip.server.stop();
    let stopped = Instant::now();
    let (lines, first_failure) =
        soak.until(Duration::from_secs(30), "failing after the lease", |l| l.starts_with("failed "));
    let acked_during = lines.iter().filter(|(at, l)| l.starts_with("acked ") && *at > stopped).count();
    assert!(acked_during > 0, "writes went on within the lease with the server down");
    let gap = first_failure - stopped;
    assert!(gap < Duration::from_secs(8), "failed closed {gap:?} after the server stopped, past the 4 s lease");
    let failure = &lines.last().unwrap().1;
    let server = format!("KMIP server 127.0.0.1:{}", kmip.server.port);
    assert!(failure.contains(&server) && failure.contains("is unavailable") && failure.contains("lease"), "{failure}");
    all.extend(lines);
    // Reads fail closed too (the early document is no longer served from memory).
    let (lines, _) = soak.until(Duration::from_secs(10), "refusing a read", |l| l.starts_with("read-failed: "));
    assert!(lines.last().unwrap().1.contains("is unavailable"), "{:?}", lines.last());
    all.extend(lines);

    kmip.server.restart();
    let (lines, resumed) = soak.until(Duration::from_secs(30), "acknowledging again", |l| l.starts_with("acked "));
    all.extend(lines);
    // And it keeps going: the same process, no restart.
    let (lines, _) = soak.until(Duration::from_secs(10), "going on", |l| l.starts_with("acked s-") && l.ends_with("0"));
    assert!(lines.iter().all(|(at, l)| *at < resumed || !l.starts_with("failed ")), "{lines:?}");
    all.extend(lines);
    drop(soak);

    // Everything acknowledged is there; nothing refused left a trace.
    let acked: std::collections::BTreeSet<u64> = all
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("acked "))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let export = ok(atrest_env(home, &[], &["--data", &d, "export", "c"], None));
    let stored: std::collections::BTreeSet<u64> =
        export.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["i"].as_u64().unwrap()).collect();
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let refused: std::collections::BTreeSet<u64> = all
        .iter()
        .filter_map(|(_, l)| l.strip_prefix("failed "))
        .map(|l| l.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(!refused.is_empty() && refused.is_disjoint(&stored), "a refused write was stored");
    assert!(ok(atrest_env(home, &[], &["--data", &d, "verify"], None)).contains("0 failures"));
}
