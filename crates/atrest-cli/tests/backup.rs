//! `atrest backup`, `restore` and `verify-backup` end to end: round trip with the key file found by store id,
//! incremental second backup, periodic backups with retention, refusals, and a damaged object reported by
//! file name with a non-zero exit.

mod common;

use std::process::Output;

use common::{atrest, ok};

fn fails(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got: {}", String::from_utf8_lossy(&o.stdout));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stderr), String::from_utf8_lossy(&o.stdout));
    assert!(all.contains(needle), "output {all:?} does not mention {needle:?}");
}

#[test]
fn backup_restore_verify_end_to_end() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let data = home.join("data");
    let d = data.to_str().unwrap();
    let target = home.join("target");
    let tg = target.to_str().unwrap();
    // Default key file location (under XDG_CONFIG_HOME, by store id): restore must find it from the backup.
    ok(atrest(home, &["init", "--data", d, "--page-kib", "4"], None));
    for i in 0..20 {
        let doc = format!(r#"{{"n":{i},"city":"{}"}}"#, if i % 2 == 0 { "Oslo" } else { "Lima" });
        ok(atrest(home, &["--data", d, "put", "people", &format!("p{i}")], Some(doc.as_bytes())));
    }
    let photo = home.join("photo.bin");
    std::fs::write(&photo, vec![7u8; 50_000]).unwrap();
    ok(atrest(home, &["--data", d, "attach", "people", "p1", "photo", photo.to_str().unwrap()], None));

    let first = ok(atrest(home, &["--data", d, "backup", tg], None));
    assert!(first.starts_with("backup ") && first.contains("reused 0"), "{first}");
    ok(atrest(home, &["--data", d, "put", "people", "late"], Some(br#"{"n":99,"city":"Oslo"}"#)));
    let second = ok(atrest(home, &["--data", d, "backup", tg], None));
    assert!(!second.contains("reused 0"), "the second backup reuses chunks: {second}");

    let new = home.join("restored");
    let n = new.to_str().unwrap();
    let out = ok(atrest(home, &["--data", n, "restore", tg], None));
    assert!(out.contains("restored backup") && out.contains("pages opened"), "{out}");
    assert_eq!(ok(atrest(home, &["--data", n, "get", "people", "late"], None)).trim(), r#"{"n":99,"city":"Oslo"}"#);
    let found = ok(atrest(home, &["--data", n, "find", "people", "/city", "Oslo"], None));
    assert_eq!(found.lines().count(), 11, "{found}");
    let att = atrest(home, &["--data", n, "attachment", "people", "p1", "photo"], None);
    assert_eq!(att.stdout, vec![7u8; 50_000]);

    // A chosen, older backup: without the late document.
    let first_id = first.split_whitespace().nth(1).unwrap().trim_end_matches(':');
    let old = home.join("old");
    ok(atrest(home, &["--data", old.to_str().unwrap(), "restore", tg, "--backup", first_id], None));
    fails(&atrest(home, &["--data", old.to_str().unwrap(), "get", "people", "late"], None), "no document");
    // Not into a non-empty directory.
    fails(&atrest(home, &["--data", n, "restore", tg], None), "not empty");

    let nowhere = home.join("nowhere");
    fails(&atrest(home, &["verify-backup", nowhere.to_str().unwrap()], None), "no such directory");
    assert!(!nowhere.exists(), "verify creates nothing");
    let v = ok(atrest(home, &["verify-backup", tg], None));
    assert!(v.contains(" ok: "), "{v}");

    // One altered and one missing object here; the library tests damage every file in every way.
    let objects: Vec<_> = std::fs::read_dir(target.join("objects")).unwrap().map(|e| e.unwrap().path()).collect();
    let biggest = objects.iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut b = std::fs::read(biggest).unwrap();
    b[100] ^= 1;
    std::fs::write(biggest, &b).unwrap();
    let o = atrest(home, &["verify-backup", tg], None);
    fails(&o, "FAIL seg-");
    fails(&o, "altered");
    b[100] ^= 1;
    std::fs::write(biggest, &b).unwrap();
    // The smallest object is the 29-byte format file, which every backup references.
    let smallest = objects.iter().min_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    std::fs::remove_file(smallest).unwrap();
    let o = atrest(home, &["verify-backup", tg], None);
    fails(&o, "FAIL ATREST");
    fails(&o, "missing");
}

#[test]
fn periodic_backups_keep_the_newest() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let data = home.join("data");
    let d = data.to_str().unwrap();
    let key = home.join("k.key");
    let k = key.to_str().unwrap();
    let target = home.join("target");
    let tg = target.to_str().unwrap();
    ok(atrest(home, &["init", "--data", d, "--key-file", k, "--page-kib", "4"], None));
    ok(atrest(home, &["--data", d, "--key-file", k, "put", "c", "a"], Some(br#"{"x":1}"#)));
    let out = ok(atrest(
        home,
        &["--data", d, "--key-file", k, "backup", tg, "--every", "50ms", "--count", "3", "--keep", "2"],
        None,
    ));
    assert_eq!(out.lines().filter(|l| l.starts_with("backup ")).count(), 3, "{out}");
    assert_eq!(std::fs::read_dir(target.join("backups")).unwrap().count(), 2);
    fails(&atrest(home, &["--data", d, "--key-file", k, "backup", tg, "--every", "soon"], None), "interval");
    fails(&atrest(home, &["--data", d, "--key-file", k, "backup", tg, "--keep", "0"], None), "at least one");
    let v = ok(atrest(home, &["verify-backup", tg, "--key-file", k], None));
    assert!(v.contains(" ok: "), "{v}");
    // Without the key file the backup cannot be read.
    fails(&atrest(home, &["verify-backup", tg], None), "key");
}
