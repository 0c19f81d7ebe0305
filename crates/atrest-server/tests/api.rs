//! The HTTP API through curl against a server on 127.0.0.1 with an ephemeral port: tokens and their scopes
//! (401, 403, rate limiting), documents with ETags and conditional writes, collections, streamed import with
//! a bad line, find, scan pages, attachments both ways, body limits (413 naming the limit), token management
//! through the server, rotation and backup, metrics, and requests no client should send.

mod common;

use std::process::Output;

use atrest_server::auth::{Scope, create_token};
use atrest_store::Store;
use common::{Dirs, Running, curl, dirs, new_store, text};
use serde_json::Value;

/// A store with three tokens: admin, read-only over everything, read-write on "mine" only.
struct Tokens {
    admin: String,
    reader: String,
    mine: String,
}

fn store_with_tokens(d: &Dirs) -> (Store, Tokens) {
    let store = new_store(&d.data);
    let token = |read_only, collections: &[&str]| {
        let scope = Scope { read_only, collections: collections.iter().map(|c| (*c).to_owned()).collect() };
        create_token(&store, scope).unwrap().token
    };
    let tokens = Tokens { admin: token(false, &[]), reader: token(true, &[]), mine: token(false, &["mine"]) };
    (store, tokens)
}

/// curl with a bearer token; returns (status, body, stderr).
fn call(r: &Running, d: &Dirs, token: &str, method: &str, path: &str, extra: &[&str]) -> (u16, String, String) {
    let auth = format!("Authorization: Bearer {token}");
    let mut args = vec!["-X", method, "-H", &auth, "--write-out", "\n%{http_code}"];
    args.extend_from_slice(extra);
    status_body(&curl(r, &d.ca(), &args, path))
}

fn status_body(out: &Output) -> (u16, String, String) {
    let (stdout, stderr) = text(out);
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (code.trim().parse().unwrap_or(0), body.to_owned(), stderr)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The value of response header `name` in curl's verbose output.
fn header(stderr: &str, name: &str) -> Option<String> {
    let prefix = format!("< {}: ", name.to_ascii_lowercase());
    stderr
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with(&prefix).then(|| l[prefix.len()..].trim().to_owned()))
}

#[test]
fn tokens_scopes_documents_and_etags() {
    let d = dirs();
    let (store, t) = store_with_tokens(&d);
    let r = Running::start(store, &d.options());
    assert!(r.banner.contains("3 access tokens"), "{}", r.banner);
    let doc = r#"{"name":"ada","n":1}"#;

    // No token, a malformed one, a wrong secret: 401 with WWW-Authenticate.
    let (code, body, stderr) = status_body(&curl(&r, &d.ca(), &["--write-out", "\n%{http_code}"], "/v1/info"));
    assert_eq!(code, 401, "{body}");
    assert_eq!(header(&stderr, "www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(call(&r, &d, "nonsense", "GET", "/v1/info", &[]).0, 401);
    let wrong = format!("{}{}", &t.admin[..t.admin.len() - 1], if t.admin.ends_with('0') { '1' } else { '0' });
    assert_eq!(call(&r, &d, &wrong, "GET", "/v1/info", &[]).0, 401);
    // Health needs no token.
    assert_eq!(status_body(&curl(&r, &d.ca(), &["--write-out", "\n%{http_code}"], "/v1/health")).0, 200);

    // Scopes: the reader cannot write, "mine" cannot touch "theirs".
    let put = |token: &str, path: &str, extra: &[&str]| {
        let mut args = vec!["-H", "Content-Type: application/json", "--data-binary", doc];
        args.extend_from_slice(extra);
        call(&r, &d, token, "PUT", path, &args)
    };
    let (code, body, stderr) = put(&t.reader, "/v1/collections/mine/docs/a", &[]);
    assert_eq!(code, 403, "{body} {stderr}");
    assert!(json(&body)["error"].as_str().unwrap().contains("read-only"));
    let (code, body, stderr) = put(&t.mine, "/v1/collections/theirs/docs/a", &[]);
    assert_eq!(code, 403, "{body} {stderr}");
    let (code, body, stderr) = put(&t.mine, "/v1/collections/mine/docs/a", &[]);
    assert_eq!(code, 204, "{body}");
    let etag = header(&stderr, "etag").unwrap();
    assert_eq!(call(&r, &d, &t.reader, "GET", "/v1/collections/mine/docs/b", &[]).0, 404);
    assert_eq!(call(&r, &d, &t.mine, "GET", "/v1/collections/theirs/docs/a", &[]).0, 403);

    // GET gives the document as stored, with the ETag of the PUT; If-None-Match makes it 304.
    let (code, body, stderr) = call(&r, &d, &t.reader, "GET", "/v1/collections/mine/docs/a", &[]);
    assert_eq!((code, body.as_str()), (200, doc));
    assert_eq!(header(&stderr, "etag").as_ref(), Some(&etag));
    let inm = format!("If-None-Match: {etag}");
    assert_eq!(call(&r, &d, &t.reader, "GET", "/v1/collections/mine/docs/a", &["-H", &inm]).0, 304);

    // Optimistic concurrency: a stale If-Match is 412 with the current tag; the right one wins once.
    let stale = "If-Match: \"00000000000000000000000000000000\"";
    let (code, body, _) = put(&t.admin, "/v1/collections/mine/docs/a", &["-H", stale]);
    assert_eq!(code, 412, "{body}");
    assert_eq!(json(&body)["etag"].as_str(), Some(etag.as_str()));
    let if_match = format!("If-Match: {etag}");
    let newer = r#"{"name":"ada","n":2}"#;
    let args = ["-H", &if_match, "--data-binary", newer];
    let (code, _, stderr) = call(&r, &d, &t.admin, "PUT", "/v1/collections/mine/docs/a", &args);
    assert_eq!(code, 204);
    assert_ne!(header(&stderr, "etag").unwrap(), etag);
    assert_eq!(call(&r, &d, &t.admin, "PUT", "/v1/collections/mine/docs/a", &args).0, 412, "the tag is used up");
    assert_eq!(put(&t.admin, "/v1/collections/mine/docs/a", &["-H", "If-None-Match: *"]).0, 412);
    assert_eq!(put(&t.admin, "/v1/collections/mine/docs/new", &["-H", "If-None-Match: *"]).0, 204);
    assert_eq!(call(&r, &d, &t.admin, "DELETE", "/v1/collections/mine/docs/a", &["-H", &if_match]).0, 412);
    assert_eq!(call(&r, &d, &t.admin, "DELETE", "/v1/collections/mine/docs/a", &[]).0, 204);
    assert_eq!(call(&r, &d, &t.admin, "DELETE", "/v1/collections/mine/docs/a", &[]).0, 404);

    // Bad documents and ids are 400 saying why; ids may hold '/' and spaces when encoded.
    let (code, body, _) = call(&r, &d, &t.admin, "PUT", "/v1/collections/mine/docs/x", &["--data-binary", "{\"a\":"]);
    assert_eq!(code, 400);
    assert!(json(&body)["error"].as_str().unwrap().contains("JSON"), "{body}");
    assert_eq!(call(&r, &d, &t.admin, "PUT", "/v1/collections/mine/docs/x", &["--data-binary", "[1]"]).0, 400);
    assert_eq!(put(&t.admin, "/v1/collections/mine/docs/a%2Fb%20c", &[]).0, 204);
    let (code, body, _) = call(&r, &d, &t.admin, "GET", "/v1/collections/mine/docs?limit=10", &[]);
    assert_eq!(code, 200);
    let listed = json(&body);
    let ids: Vec<&str> = listed["documents"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a/b c", "new"]);
    r.stop().unwrap();
}

#[test]
fn failed_authentication_is_rate_limited_per_address() {
    let d = dirs();
    let (store, t) = store_with_tokens(&d);
    let mut options = d.options();
    options.limits.auth_failure_burst = 3;
    options.limits.auth_failures_per_second = 0.2;
    let r = Running::start(store, &options);
    let bad = format!("atrest_{}_{}", "0".repeat(16), "0".repeat(64));
    for _ in 0..3 {
        assert_eq!(call(&r, &d, &bad, "GET", "/v1/info", &[]).0, 401);
    }
    let (code, _, stderr) = call(&r, &d, &bad, "GET", "/v1/info", &[]);
    assert_eq!(code, 429);
    assert!(header(&stderr, "retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // While blocked, even the right token waits.
    assert_eq!(call(&r, &d, &t.admin, "GET", "/v1/info", &[]).0, 429);
    r.stop().unwrap();
}

#[test]
fn collections_import_find_and_scan() {
    let d = dirs();
    let (store, t) = store_with_tokens(&d);
    let r = Running::start(store, &d.options());
    let a = &t.admin;
    let (code, body, _) =
        call(&r, &d, a, "POST", "/v1/collections/people", &["--data-binary", r#"{"index":["/city"]}"#]);
    assert_eq!(code, 201, "{body}");
    assert_eq!(call(&r, &d, a, "POST", "/v1/collections/people", &[]).0, 409);
    assert_eq!(call(&r, &d, a, "POST", "/v1/collections/bad", &["--data-binary", r#"{"index":"some"}"#]).0, 400);

    // Import 7 lines in batches of 2; line 6 is bad: lines 1-5 are committed, the answer says so.
    let lines: String = (1..=7)
        .map(|i| {
            if i == 6 { "{\"id\": 6, oops}\n".to_owned() } else { format!("{{\"id\":{i},\"city\":\"c{}\"}}\n", i % 2) }
        })
        .collect();
    let file = d.tmp.path().join("people.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let upload = format!("@{}", file.display());
    let (code, body, _) = call(&r, &d, a, "POST", "/v1/collections/people/import?batch=2", &["--data-binary", &upload]);
    assert_eq!(code, 400, "{body}");
    let v = json(&body);
    assert_eq!((v["line"].as_u64(), v["committed"].as_u64(), v["resume_from"].as_u64()), (Some(6), Some(5), Some(6)));
    assert_eq!(v["committed_lines"], serde_json::json!([1, 5]));
    assert!(v["error"].as_str().unwrap().contains("committed lines 1-5"), "{body}");
    // Continue after fixing: resume from line 6 with the line fixed.
    std::fs::write(&file, lines.replace("{\"id\": 6, oops}", "{\"id\":6,\"city\":\"c0\"}")).unwrap();
    let (code, body, _) =
        call(&r, &d, a, "POST", "/v1/collections/people/import?resume_from=6", &["--data-binary", &upload]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["committed"].as_u64(), Some(2));

    let (code, body, _) = call(&r, &d, a, "GET", "/v1/collections", &[]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["collections"], serde_json::json!([{"name":"people","index":["/city"],"documents":7}]));

    // find: by the indexed pointer; a pointer the policy does not index is 400.
    let (code, body, _) = call(&r, &d, a, "GET", "/v1/collections/people/find?pointer=/city&value=%22c1%22", &[]);
    assert_eq!(code, 200, "{body}");
    let v = json(&body);
    let ids: Vec<String> =
        v["documents"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, ["1", "3", "5", "7"]);
    assert_eq!(v["count"].as_u64(), Some(4));
    assert_eq!(v["documents"][0]["doc"]["city"], "c1");
    assert_eq!(call(&r, &d, a, "GET", "/v1/collections/people/find?pointer=/id&value=1", &[]).0, 400);

    // scan: pages of 3 with continuation tokens until `next` is null.
    let (mut seen, mut after) = (Vec::new(), String::new());
    loop {
        let path = format!("/v1/collections/people/docs?limit=3{after}");
        let (code, body, _) = call(&r, &d, &t.reader, "GET", &path, &[]);
        assert_eq!(code, 200, "{body}");
        let v = json(&body);
        seen.extend(v["documents"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()));
        match v["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(call(&r, &d, a, "GET", "/v1/collections/people/docs?limit=5000", &[]).0, 400);
    assert_eq!(call(&r, &d, a, "GET", "/v1/collections/people/docs?after=zz", &[]).0, 400);

    // Drop, then the collection is gone.
    assert_eq!(call(&r, &d, &t.mine, "DELETE", "/v1/collections/people", &[]).0, 403);
    assert_eq!(call(&r, &d, a, "DELETE", "/v1/collections/people", &[]).0, 204);
    assert_eq!(call(&r, &d, a, "GET", "/v1/collections/people/docs/1", &[]).0, 404);
    assert_eq!(call(&r, &d, a, "DELETE", "/v1/collections/people", &[]).0, 404);
    r.stop().unwrap();
}

#[test]
fn attachments_stream_both_ways_and_bodies_have_limits() {
    let d = dirs();
    let (store, t) = store_with_tokens(&d);
    let mut options = d.options();
    options.limits.max_attachment = 4 << 20;
    options.limits.max_document = 1000;
    let r = Running::start(store, &options);
    let a = &t.admin;
    assert_eq!(call(&r, &d, a, "PUT", "/v1/collections/m/docs/d", &["--data-binary", "{}"]).0, 204);
    // 3 MiB of varied bytes, up and down again, over HTTP/1.1 and HTTP/2.
    let bytes: Vec<u8> = (0..3u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let file = d.tmp.path().join("blob");
    std::fs::write(&file, &bytes).unwrap();
    let upload = format!("@{}", file.display());
    let path = "/v1/collections/m/docs/d/attachments/photo.jpg";
    let (code, body, _) = call(&r, &d, a, "PUT", path, &["--data-binary", &upload]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["bytes"].as_u64(), Some(3 << 20));
    for flag in ["--http1.1", "--http2"] {
        let out = d.tmp.path().join("down");
        let dest = out.display().to_string();
        let (code, _, stderr) = call(&r, &d, &t.reader, "GET", path, &[flag, "--output", &dest]);
        assert_eq!(code, 200, "{stderr}");
        assert!(std::fs::read(&out).unwrap() == bytes, "{flag}: the attachment came back different");
    }
    assert_eq!(call(&r, &d, a, "GET", "/v1/collections/m/docs/d/attachments/other", &[]).0, 404);

    // Over the limits: 413 naming the limit (from Content-Length, and from a chunked body without one).
    let big = d.tmp.path().join("big");
    std::fs::write(&big, vec![7u8; (4 << 20) + 1]).unwrap();
    let big_upload = format!("@{}", big.display());
    // (HTTP/1.1: the server answers before reading the body, and this curl treats HTTP/2's
    // RST_STREAM(NO_ERROR) after such an early answer as an error.)
    let (code, body, _) = call(&r, &d, a, "PUT", path, &["--http1.1", "--data-binary", &big_upload]);
    assert_eq!(code, 413, "{body}");
    assert_eq!(json(&body)["limit"].as_u64(), Some(4 << 20));
    let chunked = ["--http1.1", "-H", "Transfer-Encoding: chunked", "--data-binary", &big_upload];
    let (code, body, _) = call(&r, &d, a, "PUT", path, &chunked);
    assert_eq!(code, 413, "{body}");
    let doc = format!("{{\"pad\":\"{}\"}}", "x".repeat(1000));
    let (code, body, _) = call(&r, &d, a, "PUT", "/v1/collections/m/docs/big", &["--data-binary", &doc]);
    assert_eq!(code, 413, "{body}");
    assert!(json(&body)["error"].as_str().unwrap().contains("1000"), "{body}");
    // The earlier attachment is intact; deleting it works once.
    let (code, _, _) = call(&r, &d, a, "DELETE", path, &[]);
    assert_eq!(code, 204);
    assert_eq!(call(&r, &d, a, "DELETE", path, &[]).0, 404);
    r.stop().unwrap();
}

#[test]
fn admin_routes_tokens_rotation_backup_info_and_metrics() {
    let d = dirs();
    let (store, t) = store_with_tokens(&d);
    let mut options = d.options();
    let backups = d.tmp.path().join("backups");
    options.backup_target = Some(backups.display().to_string());
    let r = Running::start(store, &options);
    let a = &t.admin;

    // Tokens through the server: made, used, listed without secrets, revoked.
    assert_eq!(call(&r, &d, &t.mine, "POST", "/v1/admin/tokens", &[]).0, 403);
    let req = r#"{"read_only":true,"collections":["docs"]}"#;
    let (code, body, _) = call(&r, &d, a, "POST", "/v1/admin/tokens", &["--data-binary", req]);
    assert_eq!(code, 201, "{body}");
    let made = json(&body);
    let (new_token, new_id) = (made["token"].as_str().unwrap().to_owned(), made["id"].as_str().unwrap().to_owned());
    assert_eq!(made["collections"], serde_json::json!(["docs"]));
    assert_eq!(call(&r, &d, &new_token, "GET", "/v1/collections/docs/docs/x", &[]).0, 404);
    assert_eq!(call(&r, &d, &new_token, "GET", "/v1/collections/other/docs/x", &[]).0, 403);
    let (code, body, _) = call(&r, &d, a, "GET", "/v1/admin/tokens", &[]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["tokens"].as_array().unwrap().len(), 4);
    assert!(!body.contains(&new_token[24..]) && !body.contains("hash"), "{body}");
    assert_eq!(call(&r, &d, a, "DELETE", &format!("/v1/admin/tokens/{new_id}"), &[]).0, 204);
    assert_eq!(call(&r, &d, &new_token, "GET", "/v1/collections/docs/docs/x", &[]).0, 401);
    assert_eq!(call(&r, &d, a, "DELETE", &format!("/v1/admin/tokens/{new_id}"), &[]).0, 404);

    // Rotation and backup: admin only.
    assert_eq!(call(&r, &d, &t.reader, "POST", "/v1/admin/rotate", &[]).0, 403);
    let (code, body, _) = call(&r, &d, a, "POST", "/v1/admin/rotate", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(!json(&body)["active_keys"].as_array().unwrap().is_empty());
    assert_eq!(call(&r, &d, a, "PUT", "/v1/collections/c/docs/1", &["--data-binary", "{\"v\":1}"]).0, 204);
    let (code, body, _) = call(&r, &d, a, "POST", "/v1/admin/backup", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(json(&body)["files"].as_u64().unwrap() > 0);
    assert!(backups.join("backups").exists(), "nothing was written to the target");
    let elsewhere = r#"{"target":"/tmp/elsewhere"}"#;
    assert_eq!(call(&r, &d, a, "POST", "/v1/admin/backup", &["--data-binary", elsewhere]).0, 403);

    // Info: keys only for admins; collections only those in scope.
    let (code, body, _) = call(&r, &d, a, "GET", "/v1/info", &[]);
    assert_eq!(code, 200);
    let v = json(&body);
    assert!(v["keys"].is_array() && v["collections"][0]["name"] == "c", "{body}");
    let v = json(&call(&r, &d, &t.mine, "GET", "/v1/info", &[]).1);
    assert!(v.get("keys").is_none() && v["collections"].as_array().unwrap().is_empty(), "{v}");

    // Metrics count what happened, by route template.
    let (code, body, _) = call(&r, &d, &t.reader, "GET", "/metrics", &[]);
    assert_eq!(code, 200);
    let line = "atrest_http_requests_total{route=\"/v1/collections/{c}/docs/{id}\",method=\"PUT\",status=\"204\"} 1";
    assert!(body.contains(line), "{body}");
    assert!(body.contains("atrest_http_request_duration_seconds_bucket{route=\"/v1/admin/rotate\",le=\"+Inf\"} 2"));
    assert!(body.contains("atrest_store_documents 1"), "{body}");
    assert!(body.contains("atrest_sealed_document_bytes_total 7"), "{body}");
    r.stop().unwrap();

    // A server without a backup target says how to give one.
    let d2 = dirs();
    let (store, t2) = store_with_tokens(&d2);
    let r = Running::start(store, &d2.options());
    let (code, body, _) = call(&r, &d2, &t2.admin, "POST", "/v1/admin/backup", &[]);
    assert_eq!(code, 409);
    assert!(body.contains("--backup-target"), "{body}");
    r.stop().unwrap();
}

#[test]
fn requests_no_client_should_send_get_answers_not_panics() {
    let d = dirs();
    let (store, t) = store_with_tokens(&d);
    let r = Running::start(store, &d.options());
    let a = &t.admin;
    let long_id = "i".repeat(5000);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("GET", "/v1/collections/%ff%fe/docs/x".into(), vec![]),
        ("PUT", "/v1/collections/c/docs/%00".into(), vec!["--data-binary", "{}"]),
        ("PUT", format!("/v1/collections/c/docs/{long_id}"), vec!["--data-binary", "{}"]),
        ("PUT", "/v1/collections/c/docs/x".into(), vec!["--data-binary", "\u{1}\u{2}garbage"]),
        ("PUT", "/v1/collections/c/docs/x".into(), vec!["-H", "If-Match: \"unterminated, W/", "--data-binary", "{}"]),
        ("GET", "/v1/collections/c/find".into(), vec![]),
        ("GET", "/v1/collections/c/find?pointer=nope&value=1".into(), vec![]),
        ("GET", "/v1/collections/c/docs?limit=-1".into(), vec![]),
        ("GET", "/v1/collections/c/docs?after=%zz".into(), vec![]),
        ("POST", "/v1/collections/c/import?batch=abc".into(), vec![]),
        ("POST", "/v1/collections/c".into(), vec!["--data-binary", "[[[[[[[[[["]),
        ("DELETE", "/v1/admin/tokens/xyz".into(), vec![]),
        ("PATCH", "/v1/collections/c/docs/x".into(), vec![]),
        ("GET", "/v1/../../etc/passwd".into(), vec!["--path-as-is"]),
    ];
    for (method, path, extra) in &cases {
        let (code, body, stderr) = call(&r, &d, a, method, path, extra);
        assert!((400..500).contains(&code), "{method} {path}: {code} {body} {stderr}");
    }
    // Odd headers: a huge one, a token with odd bytes.
    let huge = d.tmp.path().join("headers");
    std::fs::write(&huge, format!("X-Pad: {}\n", "p".repeat(1 << 20))).unwrap();
    let (code, _, _) = call(&r, &d, a, "GET", "/v1/info", &["--http1.1", "-H", &format!("@{}", huge.display())]);
    assert!(code == 431 || code == 400 || code == 0, "{code}");
    assert_eq!(call(&r, &d, "tökén", "GET", "/v1/info", &["--http1.1"]).0, 401);
    // Still serving.
    assert_eq!(call(&r, &d, a, "GET", "/v1/info", &[]).0, 200);
    r.stop().unwrap();
}
