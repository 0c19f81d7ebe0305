//! `atrest serve` and `atrest token` as a user runs them: tokens made offline, the server started on an
//! ephemeral port with a generated certificate, curl with a token, another command on the same directory
//! told to use the server's URL, SIGTERM closing the store, and no token in the server's log.

mod common;

use common::server::{ServerProcess, curl};
use common::{atrest, fails, init_store, ok};

#[test]
fn serve_with_tokens_and_a_busy_directory_names_the_url() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let admin = ok(atrest(home, &["--data", &d, "--key-file", &k, "token", "create"], None)).trim().to_owned();
    let created =
        atrest(home, &["--data", &d, "--key-file", &k, "token", "create", "--read-only", "--collection", "c"], None);
    let reader = ok(created).trim().to_owned();
    assert!(admin.starts_with("atrest_") && reader.starts_with("atrest_") && admin != reader);
    let listed = ok(atrest(home, &["--data", &d, "--key-file", &k, "token", "list"], None));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("read-only  c  created") && listed.contains("read-write  all collections"), "{listed}");
    assert!(!listed.contains(&admin[24..]) && !listed.contains(&reader[24..]), "list shows a secret: {listed}");

    let server = ServerProcess::start(home, &d, &k, &[]);
    assert!(server.banner[1].starts_with("certificate sha256 fingerprint "), "{:?}", server.banner);
    assert_eq!(server.banner[3], "2 access tokens");
    let doc = r#"{"hello":"world"}"#;
    assert_eq!(curl(&server, &admin, "PUT", "/v1/collections/c/docs/1", &["--data-binary", doc]).0, 204);
    assert_eq!(curl(&server, &reader, "GET", "/v1/collections/c/docs/1", &[]), (200, doc.to_owned()));
    assert_eq!(curl(&server, &reader, "PUT", "/v1/collections/c/docs/2", &["--data-binary", doc]).0, 403);
    assert_eq!(curl(&server, "atrest_0_0", "GET", "/v1/collections/c/docs/1", &[]).0, 401);

    // The directory is the server's: a command on it is told where to go instead.
    let busy = atrest(home, &["--data", &d, "--key-file", &k, "get", "c", "1"], None);
    fails(&busy, &format!("use --url https://127.0.0.1:{}", server.port));
    fails(&busy, "in use");

    let (clean, log) = server.stop("TERM");
    assert!(clean, "{log}");
    assert!(log.contains("store closed cleanly"), "{log}");
    assert!(log.contains("refused"), "the refused token is logged by id: {log}");
    for secret in [&admin, &reader] {
        assert!(!log.contains(&secret[24..]), "a token secret is in the log: {log}");
    }

    // Offline again: the document is there; revoking works once.
    assert_eq!(ok(atrest(home, &["--data", &d, "--key-file", &k, "get", "c", "1"], None)).trim(), doc);
    let id = listed.lines().find(|l| l.contains("read-only")).unwrap().split_whitespace().next().unwrap().to_owned();
    ok(atrest(home, &["--data", &d, "--key-file", &k, "token", "revoke", &id], None));
    fails(&atrest(home, &["--data", &d, "--key-file", &k, "token", "revoke", &id], None), "no token");
    fails(&atrest(home, &["--data", &d, "--key-file", &k, "token", "revoke", "xyz"], None), "not a token id");
    assert_eq!(ok(atrest(home, &["--data", &d, "--key-file", &k, "token", "list"], None)).lines().count(), 1);
}

/// One client: a curl process sending `requests` over one connection, in order, printing `CODE KEY` as each
/// answer arrives. Each request is `(method, path, body, key)`; the key names what an acknowledged answer
/// promises (a document id, or an import's first id).
fn client(
    server: &ServerProcess,
    token: &str,
    dir: &std::path::Path,
    name: &str,
    requests: &[(&str, String, String, String)],
) -> std::process::Child {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"));
    let mut config = String::new();
    for (i, (method, path, body, key)) in requests.iter().enumerate() {
        if i > 0 {
            config.push_str("next\n");
        }
        config.push_str(&format!(
            "resolve = {}\ncacert = {}\n",
            quote(&server.resolve()),
            quote(server.ca.to_str().unwrap())
        ));
        config.push_str(&format!("header = {}\n", quote(&format!("Authorization: Bearer {token}"))));
        config.push_str(&format!("request = {method}\nsilent\nmax-time = 30\noutput = /dev/null\n"));
        config.push_str(&format!("data-binary = {}\n", quote(body)));
        config.push_str(&format!("write-out = {}\n", quote(&format!("%{{http_code}} {key}\n"))));
        config.push_str(&format!("url = {}\n", quote(&format!("{}{path}", server.url()))));
    }
    let file = dir.join(format!("{name}.curl"));
    std::fs::write(&file, config).unwrap();
    std::process::Command::new("curl")
        .arg("--config")
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("curl is installed (scripts/test.d/07-tls-clients.sh)")
}

/// Every document in collection `c`, by id, through the scan's continuation tokens.
fn scan_all(server: &ServerProcess, token: &str, c: &str) -> std::collections::HashMap<String, serde_json::Value> {
    let mut all = std::collections::HashMap::new();
    let mut after = String::new();
    loop {
        let (code, body) = curl(server, token, "GET", &format!("/v1/collections/{c}/docs?limit=1000{after}"), &[]);
        assert_eq!(code, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        for d in page["documents"].as_array().unwrap() {
            all.insert(d["id"].as_str().unwrap().to_owned(), d["doc"].clone());
        }
        match page["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return all,
        }
    }
}

#[test]
fn every_acknowledged_write_survives_sigkill_mid_load() {
    use std::io::{BufRead, BufReader};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let token = ok(atrest(home, &["--data", &d, "--key-file", &k, "token", "create"], None)).trim().to_owned();
    let server = ServerProcess::start(home, &d, &k, &[]);
    assert_eq!(curl(&server, &token, "POST", "/v1/collections/c", &["--data-binary", r#"{"index":"all"}"#]).0, 201);

    // Four clients putting documents, one importing batches of 20 lines. Each is a series of curl processes
    // sending 100 requests apiece over one connection, until the server is gone. (One curl given many
    // hundreds of requests stops printing the literal text of --write-out after a few hundred.)
    let doc = |client: usize, n: usize| format!(r#"{{"client":{client},"n":{n},"pad":"{}"}}"#, "x".repeat(n % 300));
    type Request = (&'static str, String, String, String);
    let put = move |client_no: usize, n: usize| -> Request {
        ("PUT", format!("/v1/collections/c/docs/p{client_no}-{n}"), doc(client_no, n), format!("p{client_no}-{n}"))
    };
    let import = |_: usize, b: usize| -> Request {
        let lines: String = (0..20).map(|i| format!("{{\"id\":\"i{b}-{i}\",\"b\":{b},\"i\":{i}}}\n")).collect();
        ("POST", "/v1/collections/c/import".to_owned(), lines, format!("i{b}"))
    };
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let server = Arc::new(server);
    let clients: Vec<_> = (0..5)
        .map(|client_no| {
            let (acked, killed, sent, server, token) =
                (acked.clone(), killed.clone(), sent.clone(), server.clone(), token.clone());
            let dir = home.to_owned();
            let make: Box<dyn Fn(usize, usize) -> Request + Send> =
                if client_no < 4 { Box::new(put) } else { Box::new(import) };
            std::thread::spawn(move || {
                for round in 0.. {
                    let requests: Vec<Request> = (round * 100..(round + 1) * 100).map(|n| make(client_no, n)).collect();
                    let mut child = client(&server, &token, &dir, &format!("client{client_no}"), &requests);
                    let mut refused = false;
                    for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
                        let (code, key) = line.split_once(' ').unwrap_or_else(|| panic!("curl wrote {line:?}"));
                        assert!(!key.is_empty(), "curl wrote {line:?}");
                        sent.fetch_add(1, Ordering::Relaxed);
                        match code.parse::<u16>().unwrap_or(0) {
                            200..=299 => acked.lock().unwrap().push(key.to_owned()),
                            0 => refused = true,
                            other => panic!("{key} answered {other}"),
                        }
                    }
                    let _ = child.wait();
                    if refused || killed.load(Ordering::Relaxed) {
                        return;
                    }
                }
            })
        })
        .collect();

    // Kill once a good number of writes are acknowledged, while the clients are still sending.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while acked.lock().unwrap().len() < 2000 {
        assert!(std::time::Instant::now() < deadline, "too few writes acknowledged: {}", acked.lock().unwrap().len());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    killed.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let Ok(server) = Arc::try_unwrap(server) else { unreachable!("every client has ended") };
    let (_, log) = server.stop("KILL");
    assert!(!log.contains("panicked"), "{log}");
    let acked = acked.lock().unwrap().clone();
    let puts = acked.iter().filter(|k| k.starts_with('p')).count();
    let batches = acked.len() - puts;
    assert!(puts > 0 && batches > 0, "puts {puts}, import batches {batches}");
    eprintln!("acknowledged before SIGKILL: {puts} puts, {batches} import batches of 20");
    assert!(acked.len() < sent.load(Ordering::Relaxed), "every request was answered: the kill came after the load");

    // Restarted on the same directory: every acknowledged write is there, as written.
    let server = ServerProcess::start(home, &d, &k, &[]);
    let found = scan_all(&server, &token, "c");
    for key in &acked {
        if let Some(rest) = key.strip_prefix('p') {
            let (client_no, n) = rest.split_once('-').unwrap();
            let (client_no, n): (usize, usize) = (client_no.parse().unwrap(), n.parse().unwrap());
            let want: serde_json::Value = serde_json::from_str(&doc(client_no, n)).unwrap();
            assert_eq!(found.get(key.as_str()), Some(&want), "acknowledged put {key} lost");
        } else {
            let b: usize = key[1..].parse().unwrap();
            for i in 0..20 {
                let want = serde_json::json!({"id": format!("i{b}-{i}"), "b": b, "i": i});
                assert_eq!(found.get(&format!("i{b}-{i}")), Some(&want), "acknowledged import {key} line {i} lost");
            }
        }
    }
    // The index agrees with the documents after the restart.
    let (code, body) = curl(&server, &token, "GET", "/v1/collections/c/find?pointer=/client&value=2", &[]);
    assert_eq!(code, 200, "{body}");
    let by_index: serde_json::Value = serde_json::from_str(&body).unwrap();
    let in_scan = found.values().filter(|v| v["client"] == 2).count();
    assert_eq!(by_index["count"].as_u64(), Some(in_scan as u64), "{body}");
    let (clean, log) = server.stop("TERM");
    assert!(clean, "{log}");
}

#[test]
fn the_cli_runs_commands_through_a_server_with_url() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path();
    let (d, k) = init_store(home, "4");
    let admin = ok(atrest(home, &["--data", &d, "--key-file", &k, "token", "create"], None)).trim().to_owned();
    let token_file = home.join("admin.token");
    std::fs::write(&token_file, format!("{admin}\n")).unwrap();
    let server = ServerProcess::start(home, &d, &k, &[]);
    let url = format!("https://127.0.0.1:{}", server.port);
    let (tf, ca) = (token_file.to_str().unwrap().to_owned(), server.ca.to_str().unwrap().to_owned());
    let via = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all = vec!["--url", url.as_str(), "--token-file", tf.as_str(), "--ca-file", ca.as_str()];
        all.extend_from_slice(args);
        atrest(home, &all, stdin)
    };

    ok(via(&["create", "c", "--index", "/name"], None));
    // Key order and spacing are kept as written, both ways.
    let doc = r#"{"z":1,"name":"ada","a":[1,2]}"#;
    ok(via(&["put", "c", "id one/1"], Some(doc.as_bytes())));
    assert_eq!(ok(via(&["get", "c", "id one/1"], None)), format!("{doc}\n"));
    let lines: String =
        (0..50).map(|i| format!("{{\"id\":\"n{i:02}\",\"name\":\"n{}\",\"i\":{i}}}\n", i % 5)).collect();
    let jsonl = home.join("in.jsonl");
    std::fs::write(&jsonl, &lines).unwrap();
    let imported = via(&["import", "c", jsonl.to_str().unwrap(), "--batch", "7"], None);
    assert!(String::from_utf8_lossy(&imported.stderr).contains("imported 50 documents"), "{imported:?}");
    let found = ok(via(&["find", "c", "/name", "n3"], None));
    assert_eq!(found.lines().count(), 10, "{found}");
    assert!(found.lines().all(|l| l.starts_with('n') && l.contains("\t{\"id\":")), "{found}");
    assert_eq!(ok(via(&["find", "c", "/name", "ada"], None)), format!("id one/1\t{doc}\n"));
    // An export longer than a page of the server's scan.
    let many: String = (0..1500).map(|i| format!("{{\"id\":\"m{i:04}\",\"v\":{i}}}\n")).collect();
    std::fs::write(&jsonl, &many).unwrap();
    ok(via(&["import", "c", jsonl.to_str().unwrap()], None));
    let exported = ok(via(&["export", "c"], None));
    assert_eq!(exported.lines().count(), 1551);
    assert!(exported.contains(&format!("{doc}\n")) && exported.contains("{\"id\":\"m1499\",\"v\":1499}\n"));
    assert_eq!(ok(via(&["collections"], None)), "c\t/name\t1551\n");
    assert!(ok(via(&["info"], None)).contains("collection \"c\": 1551 documents"));

    // Attachments stream both ways (over 1 MiB, so in many records).
    let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let blob_file = home.join("blob");
    std::fs::write(&blob_file, &blob).unwrap();
    ok(via(&["attach", "c", "id one/1", "scan.bin", blob_file.to_str().unwrap()], None));
    let back = via(&["attachment", "c", "id one/1", "scan.bin"], None);
    assert!(back.status.success() && back.stdout == blob, "attachment differs ({} bytes back)", back.stdout.len());

    // Errors name what the server said.
    let bad_line = home.join("bad.jsonl");
    std::fs::write(&bad_line, "{\"id\":\"b1\"}\n{\"id\":\n").unwrap();
    let refused = via(&["import", "c", bad_line.to_str().unwrap(), "--batch", "1"], None);
    fails(&refused, "line 2");
    fails(&refused, "--resume-from 2");
    ok(via(&["delete", "c", "id one/1"], None));
    fails(&via(&["get", "c", "id one/1"], None), "answered 404");
    fails(&via(&["verify"], None), "does not run through a server");

    // Tokens through the server; a read-only one cannot write.
    let reader = ok(via(&["token", "create", "--read-only"], None)).trim().to_owned();
    let listed = ok(via(&["token", "list"], None));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    std::fs::write(&token_file, &reader).unwrap();
    assert_eq!(ok(via(&["get", "c", "n00"], None)), "{\"id\":\"n00\",\"name\":\"n0\",\"i\":0}\n");
    fails(&via(&["put", "c", "x"], Some(b"{}")), "answered 403");
    std::fs::write(&token_file, "atrest_0000000000000000_00").unwrap();
    fails(&via(&["get", "c", "n00"], None), "answered 401");

    // Missing or wrong client settings.
    fails(&atrest(home, &["--url", &url, "--token-file", &tf, "get", "c", "n00"], None), "--ca-file");
    fails(&atrest(home, &["--url", &url, "--ca-file", &ca, "get", "c", "n00"], None), "--token-file");
    fails(&atrest(home, &["--url", &url, "--data", &d, "get", "c", "n00"], None), "give one of them");
    fails(&atrest(home, &["--url", "http://127.0.0.1:1", "get", "c", "n00"], None), "only https");
    let other_ca = home.join("other.pem");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    let untrusted = atrest(
        home,
        &["--url", &url, "--token-file", &tf, "--ca-file", other_ca.to_str().unwrap(), "get", "c", "n00"],
        None,
    );
    fails(&untrusted, "connecting to");

    // What went through the server is what the store holds.
    let (clean, log) = server.stop("TERM");
    assert!(clean, "{log}");
    let rest: String = exported.lines().filter(|l| !l.contains("\"z\"")).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        ok(atrest(home, &["--data", &d, "--key-file", &k, "export", "c"], None)),
        format!("{{\"id\":\"b1\"}}\n{rest}")
    );
}
