//! curl (libcurl on OpenSSL) against a server on this provider: every AES-GCM suite of TLS 1.3 and 1.2, a
//! request body and a response body of over 1 MiB each. The server offers exactly one suite, so each
//! handshake negotiates it or fails; curl's verbose log must name the same suite, and the server must have
//! protected the connection with this crate's suite.
//!
//! Needs `curl` (scripts/test.d/07-tls-clients.sh installs it).

mod common;

use std::process::Command;

use common::https::{EchoServer, openssl_name, parse_response, run};
use common::pki::{Identity, KeyKind};
use common::tls::{AES_GCM_SUITES, body, server_config, version};

const UP: usize = (1 << 20) + 123_457;
const DOWN: usize = (1 << 20) + 65_537;

#[test]
fn curl_against_our_server_every_suite() {
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("upload.bin");
    let up = body(UP, 11);
    std::fs::write(&upload, &up).unwrap();
    for suite in AES_GCM_SUITES {
        let identity = Identity::new(KeyKind::for_suite(suite));
        let pem = identity.write_pem(dir.path());
        let server = EchoServer::start(server_config(atrest_rustls::provider().unwrap(), suite, &identity));
        let port = server.port();
        let url = |path: &str| format!("https://localhost:{port}{path}");
        let curl = |args: &[&str]| {
            let mut cmd = Command::new("curl");
            cmd.args(["--silent", "--show-error", "--fail", "--verbose", "--http1.1", "--include"])
                .arg("--resolve")
                .arg(format!("localhost:{port}:127.0.0.1"))
                .arg("--cacert")
                .arg(&pem.ca)
                .args(args);
            run(cmd, b"")
        };

        let echo = curl(&["--data-binary", &format!("@{}", upload.display()), &url("/echo")]);
        let download = curl(&[&url(&format!("/bytes/{DOWN}"))]);
        for (what, out, want) in [("POST /echo", &echo, up.clone()), ("GET /bytes", &download, body(DOWN, DOWN as u32))]
        {
            let log = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{suite:?} {what}: curl failed ({}): {log}", out.status);
            // e.g. "* SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256"
            let wanted_version =
                if version(suite).version == rustls::ProtocolVersion::TLSv1_3 { "TLSv1.3" } else { "TLSv1.2" };
            let line = format!("SSL connection using {wanted_version} / {}", openssl_name(suite));
            assert!(log.contains(&line), "{suite:?} {what}: curl did not report {line:?}: {log}");
            let response = parse_response(&out.stdout, 0).expect("no HTTP response in curl's output");
            assert!(response.status_line.starts_with("HTTP/1.1 200"), "{suite:?} {what}: {}", response.status_line);
            assert!(
                response.body == want,
                "{suite:?} {what}: body differs ({} bytes, wanted {})",
                response.body.len(),
                want.len()
            );
        }

        server.assert_served(2, suite);
        eprintln!("curl x {suite:?}: upload {UP} B echoed, download {DOWN} B: ok");
    }
}
