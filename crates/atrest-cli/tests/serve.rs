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
