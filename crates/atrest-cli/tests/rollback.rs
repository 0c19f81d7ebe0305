//! Rollback protection from the command line: a data directory put back to an older copy, or an old keyring
//! after `drop`, is refused with an error that says "rollback" and what is older; `accept-rollback` says what
//! it would accept and, with --yes, accepts; a restore from backup is a legitimate rewind and opens.

mod common;

use std::path::Path;

use common::{atrest, copy_dir, fails, init_store, ok, put_back};

#[test]
fn a_snapshot_put_back_after_writes_is_refused_until_accept_rollback() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let data = Path::new(&d);
    let kf = ["--data", &d, "--key-file", &k];
    let run = |args: &[&str], stdin: Option<&[u8]>| atrest(home, &[&kf[..], args].concat(), stdin);
    ok(run(&["put", "c", "a"], Some(br#"{"v":1}"#)));
    let snap = home.join("snap");
    copy_dir(data, &snap);
    ok(run(&["put", "c", "b"], Some(br#"{"v":2}"#)));
    ok(run(&["put", "c", "a"], Some(br#"{"v":3}"#)));
    // The record lives beside the key file, never in the data directory.
    assert!(std::fs::read_dir(home).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".state")));
    let info = ok(run(&["info"], None));
    assert!(info.contains("rollback protection: the key service's record says generation"), "{info}");

    put_back(&snap, data);
    let refused = run(&["get", "c", "a"], None);
    fails(&refused, "rollback");
    fails(&refused, "2 commit batches of acknowledged writes missing");
    fails(&refused, "atrest accept-rollback");

    // Without --yes: says what would be accepted, changes nothing.
    let dry = ok(run(&["accept-rollback"], None));
    assert!(dry.contains("2 commit batches") && dry.contains("--yes"), "{dry}");
    fails(&run(&["get", "c", "a"], None), "rollback");
    let accepted = ok(run(&["accept-rollback", "--yes"], None));
    assert!(accepted.contains("accepted: the record now says"), "{accepted}");
    assert_eq!(ok(run(&["get", "c", "a"], None)).trim(), r#"{"v":1}"#);
    fails(&run(&["get", "c", "b"], None), "no document");
    let again = ok(run(&["accept-rollback"], None));
    assert!(again.contains("nothing to accept"), "{again}");
}

#[test]
fn an_old_keyring_put_back_after_drop_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let kf = ["--data", &d, "--key-file", &k];
    let run = |args: &[&str], stdin: Option<&[u8]>| atrest(home, &[&kf[..], args].concat(), stdin);
    ok(run(&["put", "secret", "a"], Some(br#"{"v":1}"#)));
    ok(run(&["put", "kept", "a"], Some(br#"{"v":1}"#)));
    let keyring = Path::new(&d).join("keyring");
    let old = std::fs::read(&keyring).unwrap();
    ok(run(&["drop", "secret"], None));
    std::fs::write(&keyring, &old).unwrap();
    let refused = run(&["get", "kept", "a"], None);
    fails(&refused, "rollback");
    fails(&refused, "live again that were destroyed (crypto-shredded)");
}

#[test]
fn a_restore_from_backup_is_a_rewind_that_is_accepted() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let tg = home.join("target");
    let tg = tg.to_str().unwrap();
    let kf = ["--data", &d, "--key-file", &k];
    let run = |args: &[&str], stdin: Option<&[u8]>| atrest(home, &[&kf[..], args].concat(), stdin);
    ok(run(&["put", "c", "a"], Some(br#"{"v":1}"#)));
    ok(run(&["backup", tg], None));
    for i in 0..3 {
        ok(run(&["put", "c", &format!("late{i}")], Some(br#"{"v":2}"#)));
    }
    ok(run(&["drop", "c"], None));
    // The store is lost; its backup comes back in its place, older than the record: accepted, and said so.
    std::fs::remove_dir_all(&d).unwrap();
    let out = ok(run(&["restore", tg], None));
    assert!(out.contains("moved back"), "{out}");
    assert_eq!(ok(run(&["get", "c", "a"], None)).trim(), r#"{"v":1}"#);
    ok(run(&["put", "c", "after"], Some(br#"{"v":3}"#)));
    assert_eq!(ok(run(&["get", "c", "after"], None)).trim(), r#"{"v":3}"#);
}
