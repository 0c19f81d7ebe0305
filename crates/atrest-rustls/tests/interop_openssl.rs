//! OpenSSL's command-line peers: `openssl s_client` against a server on this provider, and this provider's
//! client against `openssl s_server` (receiving an upload, and serving a file with `-WWW`). Every AES-GCM suite
//! of TLS 1.3 and 1.2, over 1 MiB each way. Both ends are limited to the one suite; OpenSSL's own report of the
//! cipher is checked, and so is which provider protected our end.
//!
//! Needs `openssl` (scripts/test.d/07-tls-clients.sh installs it).

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::https::{EchoServer, Spawned, Until, client, openssl_name, parse_response, run};
use common::pki::{Identity, KeyKind};
use common::tls::{AES_GCM_SUITES, body, client_config, server_config, version};
use rustls::{CipherSuite, ProtocolVersion};

const UP: usize = (1 << 20) + 99_991;
const DOWN: usize = (1 << 20) + 33_331;

/// The OpenSSL options that allow `suite` and nothing else.
fn suite_args(suite: CipherSuite) -> [&'static str; 3] {
    if version(suite).version == ProtocolVersion::TLSv1_3 {
        ["-tls1_3", "-ciphersuites", openssl_name(suite)]
    } else {
        ["-tls1_2", "-cipher", openssl_name(suite)]
    }
}

fn default_backend() -> atrest_core::Backend {
    atrest_core::backend::default_backend().unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn s_client_against_our_server_every_suite() {
    let dir = tempfile::tempdir().unwrap();
    let up = body(UP, 21);
    for suite in AES_GCM_SUITES {
        let identity = Identity::new(KeyKind::for_suite(suite));
        let pem = identity.write_pem(dir.path());
        let server = EchoServer::start(server_config(atrest_rustls::provider().unwrap(), suite, &identity));
        let mut request =
            format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {UP}\r\nConnection: close\r\n\r\n")
                .into_bytes();
        request.extend_from_slice(&up);
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-connect", &server.addr.to_string(), "-servername", "localhost"])
            .arg("-CAfile")
            .arg(&pem.ca)
            .args(["-verify_return_error", "-ign_eof"])
            .args(suite_args(suite));
        let out = run(cmd, &request);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{suite:?}: s_client failed ({}): {log}", out.status);
        let info = format!("Cipher is {}", openssl_name(suite));
        let head_end = out.stdout.windows(5).position(|w| w == b"HTTP/").expect("no HTTP response from s_client");
        let session = String::from_utf8_lossy(&out.stdout[..head_end]);
        assert!(session.contains(&info), "{suite:?}: s_client did not report {info:?}: {session}");
        assert!(session.contains("Verify return code: 0 (ok)"), "{suite:?}: certificate not verified: {session}");
        let response = parse_response(&out.stdout, head_end).unwrap();
        assert!(response.status_line.starts_with("HTTP/1.1 200"), "{suite:?}: {}", response.status_line);
        // s_client prints what it receives as it comes; nothing else may be mixed into the body.
        assert!(response.body.starts_with(&up), "{suite:?}: echoed body differs");
        let trailer = String::from_utf8_lossy(&response.body[up.len()..]).into_owned();
        assert!(!trailer.contains(|c: char| !c.is_ascii()), "{suite:?}: unexpected bytes after the body: {trailer:?}");

        let served = server.assert_served(1, suite);
        assert_eq!((served[0].body_in, served[0].body_out), (UP, UP));
        eprintln!("openssl s_client x {suite:?}: {UP} B up, {UP} B echoed back: ok");
    }
}

/// Starts `openssl s_server` on 127.0.0.1 with an ephemeral port for one connection.
fn s_server(suite: CipherSuite, identity: &Identity, dir: &std::path::Path, extra: &[&str]) -> (Spawned, SocketAddr) {
    let pem = identity.write_pem(dir);
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir)
        .args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1"])
        .arg("-cert")
        .arg(&pem.cert)
        .arg("-key")
        .arg(&pem.key)
        .args(suite_args(suite))
        .args(extra);
    let mut server = Spawned::start(cmd, b"", true);
    let addr = server.wait_for_line("ACCEPT ").parse().expect("s_server printed no address");
    (server, addr)
}

#[test]
fn our_client_uploads_to_s_server_every_suite() {
    let dir = tempfile::tempdir().unwrap();
    let up = body(UP, 31);
    for suite in AES_GCM_SUITES {
        let identity = Identity::new(KeyKind::for_suite(suite));
        let (server, addr) = s_server(suite, &identity, dir.path(), &[]);
        let config = client_config(atrest_rustls::provider().unwrap(), suite, &identity);
        let sent = client(config, addr, &up, Until::WeClose).unwrap();
        assert_eq!((sent.suite, sent.backend), (Some(suite), Some(default_backend())), "{suite:?}");
        let out = server.finish();
        let log = String::from_utf8_lossy(&out.stdout);
        let info = format!("CIPHER is {}", openssl_name(suite));
        assert!(log.contains(&info), "{suite:?}: s_server did not report {info:?}");
        // s_server writes what it receives to stdout.
        assert!(contains(&out.stdout, &up), "{suite:?}: s_server did not receive the {UP}-byte body intact");
        eprintln!("our client x openssl s_server x {suite:?}: {UP} B up: ok");
    }
}

#[test]
fn our_client_downloads_from_s_server_every_suite() {
    let dir = tempfile::tempdir().unwrap();
    let file = body(DOWN, 41);
    std::fs::write(dir.path().join("big.bin"), &file).unwrap();
    for suite in AES_GCM_SUITES {
        let identity = Identity::new(KeyKind::for_suite(suite));
        let (server, addr) = s_server(suite, &identity, dir.path(), &["-WWW"]);
        let config = client_config(atrest_rustls::provider().unwrap(), suite, &identity);
        let got = client(config, addr, b"GET /big.bin HTTP/1.0\r\n\r\n", Until::ServerCloses).unwrap();
        assert_eq!((got.suite, got.backend), (Some(suite), Some(default_backend())), "{suite:?}");
        let response = parse_response(&got.received, 0).expect("no HTTP response from s_server");
        assert!(response.status_line.starts_with("HTTP/1.0 200"), "{suite:?}: {}", response.status_line);
        assert!(
            response.body == file,
            "{suite:?}: file differs ({} bytes, wanted {})",
            response.body.len(),
            file.len()
        );
        // In -WWW mode s_server prints no session details; it was started allowing only `suite`.
        let out = server.finish();
        assert!(out.status.success(), "{suite:?}: s_server: {}", String::from_utf8_lossy(&out.stderr));
        eprintln!("our client x openssl s_server -WWW x {suite:?}: {DOWN} B down: ok");
    }
}
