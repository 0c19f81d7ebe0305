//! `atrest backup`, `restore` and `verify-backup` end to end: round trip with the key file found by store id,
//! incremental second backup, periodic backups with retention, refusals, and a damaged object reported by
//! file name with a non-zero exit.

mod common;

use common::{atrest, fails, init_store, ok};

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
    // The backup's keyring records its key file, so verify-backup finds it unnamed; without the key file the
    // backup cannot be read.
    assert!(ok(atrest(home, &["verify-backup", tg], None)).contains(" ok: "));
    let moved = home.join("k-moved.key");
    std::fs::rename(k, &moved).unwrap();
    fails(&atrest(home, &["verify-backup", tg], None), "key file");
    let v = ok(atrest(home, &["verify-backup", tg, "--keys", &format!("file:{}", moved.display())], None));
    assert!(v.contains(" ok: "), "another path holding the same key: {v}");
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_target_holds_one_stores_backups() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (a, b) = (home.join("a"), home.join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let shared = home.join("shared");
    let sh = shared.to_str().unwrap();
    let id_of = |out: String| out.split_whitespace().nth(2).unwrap().to_owned();
    let ida = id_of(ok(atrest(home, &["init", "--data", a, "--page-kib", "4"], None)));
    let idb = id_of(ok(atrest(home, &["init", "--data", b, "--page-kib", "4"], None)));
    ok(atrest(home, &["--data", a, "put", "c", "x"], Some(br#"{"s":"a"}"#)));
    ok(atrest(home, &["--data", b, "put", "c", "x"], Some(br#"{"s":"b"}"#)));
    for _ in 0..3 {
        ok(atrest(home, &["--data", a, "backup", sh], None));
    }
    let o = atrest(home, &["--data", b, "backup", sh, "--keep", "1"], None);
    fails(&o, "holds the backups of store");
    fails(&o, &ida);
    fails(&o, &idb);
    let out = ok(atrest(home, &["--data", a, "backup", sh, "--keep", "1"], None));
    assert!(out.contains("kept 1 backups, removed 3"), "{out}");

    // A target that already mixes two stores (copied together by hand, or written by an older build): retention
    // refuses and deletes nothing, and "the newest backup" is refused as ambiguous.
    let own_b = home.join("own-b");
    ok(atrest(home, &["--data", b, "backup", own_b.to_str().unwrap()], None));
    for dir in ["backups", "objects"] {
        for e in std::fs::read_dir(own_b.join(dir)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), shared.join(dir).join(e.file_name())).unwrap();
        }
    }
    std::fs::remove_file(shared.join("store-id")).unwrap();
    let count = || std::fs::read_dir(shared.join("backups")).unwrap().count();
    assert_eq!(count(), 2);
    fails(&atrest(home, &["--data", a, "backup", sh, "--keep", "1"], None), &idb);
    assert_eq!(count(), 2, "b's backup is still there");
    fails(&atrest(home, &["verify-backup", sh], None), "several stores");
    let new = home.join("new");
    fails(&atrest(home, &["--data", new.to_str().unwrap(), "restore", sh], None), "--backup ID");
    assert!(!new.exists());
}

#[test]
fn backups_are_private_and_kept_out_of_the_data_directory() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let (d, k) = (d.as_str(), k.as_str());
    ok(atrest(home, &["--data", d, "--key-file", k, "put", "c", "x"], Some(br#"{"v":1}"#)));
    let inside = home.join("data").join("backups");
    fails(&atrest(home, &["--data", d, "--key-file", k, "backup", inside.to_str().unwrap()], None), "inside the data");
    let target = home.join("target");
    let tg = target.to_str().unwrap();
    ok(atrest(home, &["--data", d, "--key-file", k, "backup", tg], None));
    let mut stack = vec![target.clone()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    assert!(files >= 5, "{files}");
    let restored = home.join("restored");
    ok(atrest(home, &["--data", restored.to_str().unwrap(), "--key-file", k, "restore", tg], None));
    for e in std::fs::read_dir(&restored).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p) & 0o077, 0, "{} is private", p.display());
    }

    // A restore that fails for want of the right key leaves no directory behind.
    let other_key = home.join("other.key");
    let other = home.join("other");
    ok(atrest(home, &["init", "--data", other.to_str().unwrap(), "--key-file", other_key.to_str().unwrap()], None));
    let dest = home.join("wrong-key");
    let o = atrest(
        home,
        &["--data", dest.to_str().unwrap(), "--key-file", other_key.to_str().unwrap(), "restore", tg],
        None,
    );
    assert!(!o.status.success());
    assert!(!dest.exists(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn temporaries_of_a_killed_backup_are_removed_by_the_next_run() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "64");
    let (d, k) = (d.as_str(), k.as_str());
    let target = home.join("target");
    let tg = target.to_str().unwrap();
    ok(atrest(home, &["--data", d, "--key-file", k, "put", "c", "x"], Some(b"{}")));
    let temporaries = || -> Vec<String> {
        match std::fs::read_dir(target.join("objects")) {
            Ok(l) => l
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.starts_with(".tmp-") || n.contains('#'))
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    // Kill backups until one dies while an object is half written (each attempt adds fresh data to upload).
    let mut seed = 0x2545_f491_4f6c_dd1d_u64 ^ u64::from(std::process::id());
    let mut caught = Vec::new();
    for attempt in 0..10 {
        let blob: Vec<u8> = (0..(24 << 20))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let f = home.join("blob.bin");
        std::fs::write(&f, &blob).unwrap();
        let name = format!("blob{attempt}");
        ok(atrest(home, &["--data", d, "--key-file", k, "attach", "c", "x", &name, f.to_str().unwrap()], None));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_atrest"))
            .args(["--data", d, "--key-file", k, "backup", tg])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() && started.elapsed() < std::time::Duration::from_secs(60) {
            if !temporaries().is_empty() {
                child.kill().unwrap();
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        child.wait().unwrap();
        caught = temporaries();
        if !caught.is_empty() {
            break;
        }
    }
    assert!(!caught.is_empty(), "no backup was killed in the middle of writing an object");
    let out = ok(atrest(home, &["--data", d, "--key-file", k, "backup", tg, "--keep", "1"], None));
    assert!(out.contains(&format!("removed {} temporary objects", caught.len())), "{out}");
    assert_eq!(temporaries(), Vec::<String>::new());
    assert!(ok(atrest(home, &["verify-backup", tg, "--key-file", k], None)).contains(" ok: "));
}
