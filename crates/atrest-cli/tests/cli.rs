//! The `atrest` binary end to end: every command, --help everywhere, exit codes, global options on either
//! side of the command, the default key-file location, and tamper detection by `verify`.

mod common;

use std::process::Output;

use common::{atrest, ok};

fn fails(o: Output, needle: &str) {
    assert!(!o.status.success(), "expected failure, got: {}", String::from_utf8_lossy(&o.stdout));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "error {err:?} does not mention {needle:?}");
}

#[test]
fn every_command_end_to_end() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let data = home.join("data");
    let d = data.to_str().unwrap();
    let key = home.join("k.key");
    let k = key.to_str().unwrap();
    let out = ok(atrest(home, &["init", "--data", d, "--key-file", k, "--page-kib", "4"], None));
    assert!(out.contains(k), "init says where the key is: {out}");
    fails(atrest(home, &["init", "--data", d, "--key-file", k], None), "already exists");
    // Global options after the command, and before it.
    ok(atrest(
        home,
        &["put", "people", "ada", "--data", d, "--key-file", k],
        Some(br#"{"name":"Ada","address":{"city":"Oslo"}}"#),
    ));
    let doc = home.join("bob.json");
    std::fs::write(&doc, "{\n  \"name\": \"Bob\",\n  \"address\": {\"city\": \"Oslo\"}\n}\n").unwrap();
    ok(atrest(home, &["--data", d, "--key-file", k, "put", "people", "bob", doc.to_str().unwrap()], None));
    let g = |args: &[&str]| {
        let mut v = vec!["--data", d, "--key-file", k];
        v.extend_from_slice(args);
        atrest(home, &v, None)
    };
    assert_eq!(ok(g(&["get", "people", "ada"])), "{\"name\":\"Ada\",\"address\":{\"city\":\"Oslo\"}}\n");
    let found = ok(g(&["find", "people", "/address/city", "Oslo"]));
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert!(lines[0].starts_with("ada\t{") && lines[1].starts_with("bob\t{"), "{found}");
    let jsonl = home.join("x.jsonl");
    std::fs::write(&jsonl, "{\"key\":\"c1\",\"n\":1}\n{\"key\":7,\"n\":2}\n\n").unwrap();
    ok(g(&["import", "people", jsonl.to_str().unwrap(), "--id-field", "key"]));
    assert_eq!(ok(g(&["find", "people", "/n", "2"])), "7\t{\"key\":7,\"n\":2}\n");
    let bad = home.join("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"a\"}\n{\"id\":\n").unwrap();
    fails(g(&["import", "people", bad.to_str().unwrap()]), "line 2");
    // The lines before the bad one are committed (and the error said so): "a" is the fifth document.
    fails(g(&["put", "people", "x"]), "not valid JSON");
    fails(g(&["get", "people", "nobody"]), "no document");
    fails(g(&["get", "nothing", "x"]), "no collection");
    let blob: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let bf = home.join("blob.bin");
    std::fs::write(&bf, &blob).unwrap();
    ok(g(&["attach", "people", "ada", "photo", bf.to_str().unwrap()]));
    let got = g(&["attachment", "people", "ada", "photo"]);
    assert!(got.status.success() && got.stdout == blob);
    assert!(ok(g(&["rotate"])).contains("new active data keys"));
    assert_eq!(ok(g(&["get", "people", "bob"])), "{\n  \"name\": \"Bob\",\n  \"address\": {\"city\": \"Oslo\"}\n}\n");
    let r = ok(g(&["rekey"]));
    assert!(r.contains("rewrote 5 documents") && r.contains("destroyed keys"), "{r}");
    assert!(ok(g(&["verify"])).contains("0 failures"));
    let info = ok(g(&["info"]));
    assert!(info.contains("backend:") && info.contains("cpu features:") && info.contains("5 documents"), "{info}");
    assert!(info.contains("key ") && info.contains("active"), "{info}");
    ok(g(&["delete", "people", "ada"]));
    fails(g(&["delete", "people", "ada"]), "no document");
    fails(g(&["attachment", "people", "ada", "photo"]), "no attachment");
    ok(g(&["create", "cities", "--index", "/name"]));
    ok(atrest(home, &["put", "cities", "osl", "--data", d, "--key-file", k], Some(br#"{"name":"Oslo","pop":700000}"#)));
    fails(g(&["find", "cities", "/pop", "700000"]), "not indexed");
    ok(g(&["drop", "people"]));
    fails(g(&["get", "people", "bob"]), "no collection");
    assert!(ok(g(&["verify"])).contains("0 failures"));
    // Tampering: flip one byte of the last page of a segment (the "cities" document: the pages of the dropped
    // collection are shredded); verify names the file and offset and exits non-zero.
    let seg = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().path()).find(|p| {
        p.file_name().unwrap().to_str().unwrap().starts_with("seg-") && std::fs::metadata(p).unwrap().len() > 0
    });
    let seg = seg.expect("a segment with pages");
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = bytes.len() - 4096;
    bytes[last + 100] ^= 1;
    std::fs::write(&seg, bytes).unwrap();
    let v = g(&["verify"]);
    assert!(!v.status.success());
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(
        text.contains(seg.file_name().unwrap().to_str().unwrap()) && text.contains(&format!("offset {last}")),
        "{text}"
    );
    fails(g(&["get", "cities", "osl"]), "integrity error");
}

#[test]
fn default_key_file_lives_outside_the_data_dir() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let d = home.join("data");
    let d = d.to_str().unwrap();
    let out = ok(atrest(home, &["init", "--data", d], None));
    let cfg = home.join("cfg").join("atrest").join("keys");
    assert!(out.contains(cfg.to_str().unwrap()), "{out}");
    ok(atrest(home, &["put", "c", "1", "--data", d], Some(b"{\"a\":1}")));
    assert_eq!(ok(atrest(home, &["get", "c", "1", "--data", d], None)), "{\"a\":1}\n");
    // A key file inside the data directory is refused.
    let inside = format!("{d}/k.key");
    let t2 = tempfile::tempdir().unwrap();
    let d2 = t2.path().join("x");
    let o =
        atrest(home, &["init", "--data", d2.to_str().unwrap(), "--key-file", &format!("{}/k.key", d2.display())], None);
    assert!(!o.status.success(), "a key file inside the data directory must be refused");
    let _ = inside;
    fails(atrest(home, &["get", "c", "1"], None), "--data");
    fails(atrest(home, &["get", "c", "1", "--data", home.join("nothing").to_str().unwrap()], None), "no atrest store");
}

#[test]
fn every_command_has_help() {
    let t = tempfile::tempdir().unwrap();
    for cmd in [
        "init",
        "create",
        "put",
        "get",
        "delete",
        "import",
        "find",
        "attach",
        "attachment",
        "drop",
        "verify",
        "rotate",
        "rekey",
        "info",
    ] {
        let out = ok(atrest(t.path(), &[cmd, "--help"], None));
        assert!(out.contains("Usage: atrest"), "{cmd}: {out}");
        assert!(out.contains("--data"), "{cmd} --help lists the global options");
    }
}

#[test]
fn real_data_directory_holds_no_readable_user_data() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let data = home.join("data");
    let d = data.to_str().unwrap();
    let key = home.join("k.key");
    let k = key.to_str().unwrap();
    ok(atrest(home, &["init", "--data", d, "--key-file", k], None));
    let g = |args: &[&str], input: Option<&[u8]>| {
        let mut v = vec!["--data", d, "--key-file", k];
        v.extend_from_slice(args);
        atrest(home, &v, input)
    };
    ok(g(&["put", "CollQZXmark", "IdQZXmark"], Some(br#"{"FieldQZXmark":"ValueQZXmark"}"#)));
    let att = home.join("att.bin");
    std::fs::write(&att, "BytesQZXmark".repeat(500)).unwrap();
    ok(g(&["attach", "CollQZXmark", "IdQZXmark", "NameQZXmark", att.to_str().unwrap()], None));
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for m in ["CollQZXmark", "IdQZXmark", "FieldQZXmark", "ValueQZXmark", "NameQZXmark", "BytesQZXmark"] {
            let utf16: Vec<u8> = m.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            for needle in [m.as_bytes(), &utf16[..]] {
                assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{m} readable in {}", path.display());
            }
        }
    }
}
