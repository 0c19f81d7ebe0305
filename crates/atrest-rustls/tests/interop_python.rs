//! Python's `ssl` module (OpenSSL underneath) against this provider, both ways: the `requests` library as a
//! client of a server on this provider, and an `http.server` wrapped in `ssl` serving this provider's
//! client. Every AES-GCM suite of TLS 1.3 and 1.2, bodies over 1 MiB each way.
//!
//! Needs `python3` with `requests` (scripts/test.d/07-tls-clients.sh installs it); `ATREST_TEST_PYTHON`
//! names another interpreter.

mod common;

use std::process::Command;

use common::https::{EchoServer, Spawned, Until, client, openssl_name, parse_response, run};
use common::pki::{Identity, KeyKind};
use common::tls::{AES_GCM_SUITES, body, client_config, server_config, version};
use rustls::ProtocolVersion;

const UP: usize = (1 << 20) + 54_321;
const DOWN: usize = (1 << 20) + 12_345;

fn python() -> Command {
    Command::new(std::env::var("ATREST_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned()))
}

/// POSTs a file to /echo and GETs /bytes/N with `requests`, verifying the server certificate against the CA,
/// and writes both response bodies next to the upload.
const REQUESTS_CLIENT: &str = r#"
import sys, requests
base, ca, upload, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
with open(upload, "rb") as f:
    body = f.read()
r = requests.post(base + "/echo", data=body, verify=ca, timeout=60)
r.raise_for_status()
open(out + "/echo.bin", "wb").write(r.content)
r = requests.get(base + "/bytes/%d" % n, verify=ca, timeout=60)
r.raise_for_status()
open(out + "/download.bin", "wb").write(r.content)
print("requests", requests.__version__, "ok")
"#;

#[test]
fn requests_against_our_server_every_suite() {
    let dir = tempfile::tempdir().unwrap();
    let up = body(UP, 51);
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, &up).unwrap();
    for suite in AES_GCM_SUITES {
        let identity = Identity::new(KeyKind::for_suite(suite));
        let pem = identity.write_pem(dir.path());
        let server = EchoServer::start(server_config(atrest_rustls::provider().unwrap(), suite, &identity));
        let mut cmd = python();
        cmd.args(["-c", REQUESTS_CLIENT, &format!("https://localhost:{}", server.port())])
            .arg(&pem.ca)
            .arg(&upload)
            .arg(DOWN.to_string())
            .arg(dir.path());
        let out = run(cmd, b"");
        assert!(out.status.success(), "{suite:?}: python requests failed: {}", String::from_utf8_lossy(&out.stderr));
        let echoed = std::fs::read(dir.path().join("echo.bin")).unwrap();
        assert!(echoed == up, "{suite:?}: echoed body differs ({} bytes)", echoed.len());
        let downloaded = std::fs::read(dir.path().join("download.bin")).unwrap();
        assert!(downloaded == body(DOWN, DOWN as u32), "{suite:?}: download differs ({} bytes)", downloaded.len());

        server.assert_served(2, suite);
        std::fs::remove_file(dir.path().join("echo.bin")).unwrap();
        std::fs::remove_file(dir.path().join("download.bin")).unwrap();
        eprintln!("python requests x {suite:?}: {UP} B echoed, {DOWN} B down: ok");
    }
}

/// An HTTPS server on Python's `ssl`: echoes one POST, then exits. TLS 1.2 runs are limited to one OpenSSL
/// cipher name; TLS 1.3 runs to TLS 1.3 (Python cannot narrow TLS 1.3 suites; the client offers only one).
/// Prints the port, then the cipher (name, protocol, bits) of the connection it served.
const SSL_SERVER: &str = r#"
import sys, ssl, json, http.server
cert, key, tls12_cipher = sys.argv[1], sys.argv[2], sys.argv[3]
class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        print("CIPHER", json.dumps(self.connection.cipher()), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if tls12_cipher != "-":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(tls12_cipher)
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("PORT", server.server_address[1], flush=True)
server.handle_request()
"#;

#[test]
fn our_client_against_python_ssl_server_every_suite() {
    let dir = tempfile::tempdir().unwrap();
    let up = body(UP, 61);
    for suite in AES_GCM_SUITES {
        let identity = Identity::new(KeyKind::for_suite(suite));
        let pem = identity.write_pem(dir.path());
        let tls13 = version(suite).version == ProtocolVersion::TLSv1_3;
        let mut cmd = python();
        cmd.args(["-c", SSL_SERVER]).arg(&pem.cert).arg(&pem.key).arg(if tls13 { "-" } else { openssl_name(suite) });
        let mut server = Spawned::start(cmd, b"", false);
        let port: u16 = server.wait_for_line("PORT ").parse().unwrap();

        let mut request =
            format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {UP}\r\n\r\n").into_bytes();
        request.extend_from_slice(&up);
        let config = client_config(atrest_rustls::provider().unwrap(), suite, &identity);
        let got = client(config, ([127, 0, 0, 1], port).into(), &request, Until::HttpResponse).unwrap();
        assert_eq!(got.suite, Some(suite));
        assert_eq!(got.backend, Some(atrest_core::backend::default_backend().unwrap()), "{suite:?}");
        let response = parse_response(&got.received, 0).expect("no HTTP response from the Python server");
        assert!(response.status_line.starts_with("HTTP/1.1 200"), "{suite:?}: {}", response.status_line);
        assert!(response.body == up, "{suite:?}: echoed body differs ({} bytes)", response.body.len());

        let out = server.finish();
        let log = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{suite:?}: python server: {log}{}", String::from_utf8_lossy(&out.stderr));
        let wanted = format!("\"{}\"", openssl_name(suite));
        assert!(log.lines().any(|l| l.starts_with("CIPHER") && l.contains(&wanted)), "{suite:?}: server cipher: {log}");
        eprintln!("our client x python ssl server x {suite:?}: {UP} B up and echoed: ok");
    }
}
