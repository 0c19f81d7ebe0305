//! What a clumsy user or a shell pipeline does to the CLI: a reader that closes stdout early, an absurd
//! `--threads`, `init` in a directory that holds other files, `rekey` before any `rotate`.

mod common;

use std::os::unix::process::ExitStatusExt;

use common::{atrest, atrest_closed_stdout, fails, init_store, ok};

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let data = home.join("data");
    let d = data.to_str().unwrap();
    let key = home.join("k.key");
    let k = key.to_str().unwrap();
    let target = home.join("target");
    let tg = target.to_str().unwrap();
    let blob = home.join("blob.bin");
    std::fs::write(&blob, vec![3u8; 200_000]).unwrap();
    let restored = home.join("restored");
    let r = restored.to_str().unwrap();

    let init = atrest_closed_stdout(home, &["init", "--data", d, "--key-file", k, "--page-kib", "4"]);
    let mut runs = vec![("init".to_owned(), init)];
    ok(atrest(home, &["--data", d, "--key-file", k, "put", "c", "a"], Some(br#"{"x":1}"#)));
    ok(atrest(home, &["--data", d, "--key-file", k, "attach", "c", "a", "blob", blob.to_str().unwrap()], None));
    let commands: &[&[&str]] = &[
        &["info"],
        &["get", "c", "a"],
        &["find", "c", "/x", "1"],
        &["attachment", "c", "a", "blob"],
        &["verify"],
        &["rotate"],
        &["rekey"],
        &["backup", tg],
        &["verify-backup", tg],
    ];
    for args in commands {
        let mut v = vec!["--data", d, "--key-file", k];
        v.extend_from_slice(args);
        runs.push((args.join(" "), atrest_closed_stdout(home, &v)));
    }
    runs.push(("restore".into(), atrest_closed_stdout(home, &["--data", r, "--key-file", k, "restore", tg])));
    for (what, o) in &runs {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{what}: {err}");
        assert_eq!(o.status.code(), Some(141), "{what} exits as for a broken pipe: {:?} {err}", o.status);
        assert!(err.is_empty(), "{what} ends quietly: {err:?}");
    }
    // Each command did its work before it printed: the store is whole, and so are the backup and the restore.
    assert!(ok(atrest(home, &["--data", d, "--key-file", k, "verify"], None)).contains("0 failures"));
    assert!(ok(atrest(home, &["--data", r, "--key-file", k, "get", "c", "a"], None)).contains("\"x\":1"));
    // clap's own output (help, version) ends without a panic too.
    for args in [&["--help"][..], &["--version"], &["info", "--help"]] {
        let o = atrest_closed_stdout(home, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(o.status.signal(), Some(6), "{args:?}");
    }
}

#[test]
fn threads_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let d = home.join("data");
    let d = d.to_str().unwrap();
    let k = home.join("k.key");
    let k = k.to_str().unwrap();
    let o = atrest(home, &["--threads", "100000", "init", "--data", d, "--key-file", k], None);
    fails(&o, "100000 threads is more than the 1024 allowed");
    assert!(!home.join("data").exists(), "refused before doing anything");
    fails(&atrest(home, &["--threads", "lots", "info", "--data", d], None), "not a number of threads");
    ok(atrest(home, &["--threads", "1024", "init", "--data", d, "--key-file", k, "--page-kib", "4"], None));
    ok(atrest(home, &["--threads", "3", "--data", d, "--key-file", k, "put", "c", "a"], Some(b"{}")));
}

#[test]
fn init_refuses_a_directory_that_is_not_empty() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let data = home.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("notes.txt"), b"mine").unwrap();
    let d = data.to_str().unwrap();
    let k = home.join("k.key");
    let k = k.to_str().unwrap();
    fails(&atrest(home, &["init", "--data", d, "--key-file", k], None), "is not empty");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 1, "nothing was added");
    assert!(!home.join("k.key").exists(), "no key file was made");
    std::fs::remove_file(data.join("notes.txt")).unwrap();
    ok(atrest(home, &["init", "--data", d, "--key-file", k, "--page-kib", "4"], None));
}

#[test]
fn rekey_without_rotate_says_why_nothing_was_destroyed() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let (d, k) = (d.as_str(), k.as_str());
    ok(atrest(home, &["--data", d, "--key-file", k, "put", "c", "a"], Some(br#"{"x":1}"#)));
    let out = ok(atrest(home, &["--data", d, "--key-file", k, "rekey"], None));
    assert!(out.contains("destroyed keys []"), "{out}");
    assert!(
        out.contains("no data key is retired") && out.contains("run `atrest rotate`, then `atrest rekey`"),
        "{out}"
    );
    ok(atrest(home, &["--data", d, "--key-file", k, "rotate"], None));
    let out = ok(atrest(home, &["--data", d, "--key-file", k, "rekey"], None));
    assert!(!out.contains("destroyed keys []") && !out.contains("no key was destroyed"), "{out}");
}
