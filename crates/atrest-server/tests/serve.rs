//! `atrest serve` on 127.0.0.1 with an ephemeral port, talked to by curl and openssl: the banner, the
//! generated certificate (outside the data directory, key 0600, reused on restart, its fingerprint), HTTPS
//! only, TLS 1.3 by default and 1.2 when allowed, HTTP/1.1 and HTTP/2, and SIGTERM closing the store cleanly.
//!
//! Needs `curl` and `openssl` (scripts/test.d/07-tls-clients.sh installs them).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use atrest_server::{ServeError, ServeOptions, Server, TlsSource};
use atrest_store::Store;
use common::{Dirs, Running, curl, dirs, new_store, text};

#[test]
fn serves_health_over_http1_and_http2_with_a_generated_certificate() {
    let d = dirs();
    let options = ServeOptions::new("127.0.0.1:0", &d.data, TlsSource::SelfSigned { dir: d.certs.clone() });
    let running = Running::start(new_store(&d.data), &options);

    let mut lines = running.banner.lines();
    assert_eq!(lines.next(), Some(format!("listening on https://127.0.0.1:{}", running.port).as_str()));
    assert_eq!(running.url, format!("https://127.0.0.1:{}", running.port));
    let fingerprint = lines.next().unwrap().strip_prefix("certificate sha256 fingerprint ").unwrap().to_owned();
    let cert = d.certs.join("cert.pem");
    assert_eq!(lines.next(), Some(format!("certificate {} (self-signed, generated now)", cert.display()).as_str()));

    // The key is private, its directory too, and OpenSSL computes the same fingerprint.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.certs.join("key.pem")), 0o600);
    assert_eq!(mode(&d.certs), 0o700);
    let x509 = Command::new("openssl").args(["x509", "-noout", "-fingerprint", "-sha256", "-in"]).arg(&cert).output();
    let (stdout, _) = text(&x509.expect("openssl is installed (scripts/test.d/07-tls-clients.sh)"));
    assert_eq!(stdout.trim().split_once('=').map(|(_, f)| f), Some(fingerprint.as_str()), "{stdout}");

    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let out = curl(&running, &cert, &[flag, "--write-out", "\n%{http_code} %{http_version}"], "/v1/health");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{flag}: {stderr}");
        assert!(stderr.contains("SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384"), "{flag}: {stderr}");
        assert_eq!(stdout, format!("{{\"status\":\"ok\"}}\n200 {version}"), "{flag}");
    }
    let out = curl(&running, &cert, &["--write-out", "\n%{http_code}"], "/v1/no-such-route");
    assert!(text(&out).0.ends_with("\n404"), "{}", text(&out).0);
    running.stop().unwrap();
}

#[test]
fn tls12_only_when_allowed_and_no_plaintext() {
    let d = dirs();
    let mut options = ServeOptions::new("127.0.0.1:0", &d.data, TlsSource::SelfSigned { dir: d.certs.clone() });
    let running = Running::start(new_store(&d.data), &options);
    let cert = d.certs.join("cert.pem");

    let out = curl(&running, &cert, &["--tls-max", "1.2"], "/v1/health");
    assert!(!out.status.success(), "TLS 1.2 was accepted without --tls12: {}", text(&out).1);
    // HTTPS only: a plaintext request gets no HTTP response on the port.
    let plain = Command::new("curl")
        .args(["--silent", "--max-time", "10", "--write-out", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/v1/health", running.port))
        .output()
        .unwrap();
    assert!(!plain.status.success() && text(&plain).0 == "000", "plaintext got an answer: {:?}", text(&plain));
    running.stop().unwrap();

    options.allow_tls12 = true;
    options.data_dir = d.data.with_file_name("data2");
    let running = Running::start(new_store_in(&d, "data2"), &options);
    let out = curl(&running, &cert, &["--tls-max", "1.2", "--write-out", "\n%{http_code}"], "/v1/health");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("SSL connection using TLSv1.2 / ECDHE-ECDSA-AES256-GCM-SHA384"), "{stderr}");
    assert!(stdout.ends_with("\n200"));
    running.stop().unwrap();
}

#[test]
fn a_generated_certificate_is_reused_and_its_key_must_stay_private() {
    let d = dirs();
    let options = ServeOptions::new("127.0.0.1:0", &d.data, TlsSource::SelfSigned { dir: d.certs.clone() });
    let first = Server::bind(new_store(&d.data), &options).unwrap();
    assert!(first.certificate().generated_now);
    let fingerprint = first.certificate().fingerprint.clone();
    drop(first);

    let data2 = d.data.with_file_name("data2");
    std::fs::create_dir(&data2).unwrap();
    let options2 = ServeOptions { data_dir: data2.clone(), ..options.clone() };
    let second = Server::bind(new_store(&data2), &options2).unwrap();
    assert!(!second.certificate().generated_now);
    assert_eq!(second.certificate().fingerprint, fingerprint);
    assert!(second.banner().lines().nth(2).unwrap().ends_with("(self-signed)"));
    drop(second);

    let key = d.certs.join("key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data3 = d.data.with_file_name("data3");
    std::fs::create_dir(&data3).unwrap();
    let err =
        Server::bind(new_store(&data3), &ServeOptions { data_dir: data3.clone(), ..options.clone() }).unwrap_err();
    assert!(matches!(err, ServeError::KeyPermissions { mode: 0o644, .. }), "{err}");
    assert!(err.to_string().contains("key.pem"), "{err}");

    // Inside the data directory: refused before anything is written there.
    let inside = TlsSource::SelfSigned { dir: data3.join("tls") };
    let err = Server::bind(new_store_in(&d, "data4"), &ServeOptions::new("127.0.0.1:0", &data3, inside)).unwrap_err();
    assert!(matches!(err, ServeError::CertDirInsideData { .. }), "{err}");
    assert!(!data3.join("tls").exists());
}

fn new_store_in(d: &Dirs, name: &str) -> Store {
    let dir = d.data.with_file_name(name);
    std::fs::create_dir(&dir).unwrap();
    new_store(&dir)
}

#[test]
fn given_certificate_files_are_served() {
    let d = dirs();
    // Make a certificate with openssl, as a user would bring one.
    let (cert, key) = (d.data.with_file_name("given.crt"), d.data.with_file_name("given.key"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made).1);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let options = ServeOptions::new("127.0.0.1:0", &d.data, TlsSource::Files { cert: cert.clone(), key });
    let running = Running::start(new_store(&d.data), &options);
    assert!(running.banner.lines().nth(2).unwrap().ends_with("(given)"));
    let out = curl(&running, &cert, &["--write-out", "\n%{http_code}"], "/v1/health");
    assert!(text(&out).0.ends_with("\n200"), "{}", text(&out).1);
    running.stop().unwrap();
}

/// The process-level contract: the banner's first line on stdout, and SIGTERM ends the process with the store
/// closed cleanly. The server runs in a child process (this test binary again, running `child_serve`).
#[test]
fn sigterm_drains_and_closes_the_store() {
    let d = dirs();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "child_serve", "--nocapture", "--test-threads=1"])
            .env("ATREST_SERVE_TEST_DATA", &d.data)
            .env("ATREST_SERVE_TEST_CERTS", &d.certs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // libtest prints "test child_serve ... " without a line break first; the server's output starts after it.
    let listen = "listening on https://127.0.0.1:";
    let port: u16 = loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("no listen line");
        lines.push(line.clone());
        if let Some((_, rest)) = line.split_once(listen) {
            break rest.parse().unwrap();
        }
    };
    // Once a request is answered, the signal handlers are installed (they are set up before serving).
    let ca = d.certs.join("cert.pem");
    while !Command::new("curl")
        .args(["--silent", "--fail", "--max-time", "5", "--cacert"])
        .arg(&ca)
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg(format!("https://localhost:{port}/v1/health"))
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the child server never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.0.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "child exited with {status}: {lines:?} {stderr}");
    let first = lines.iter().position(|l| l.ends_with(&format!("{listen}{port}"))).unwrap();
    assert!(lines[first + 1].starts_with("certificate sha256 fingerprint "), "{lines:?}");
    assert!(lines.iter().any(|l| l == "store closed cleanly"), "{lines:?}");
}

/// Kills the child server if the test fails before it has stopped it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
#[ignore = "the server process of sigterm_drains_and_closes_the_store"]
fn child_serve() {
    let (Some(data), Some(certs)) =
        (std::env::var_os("ATREST_SERVE_TEST_DATA"), std::env::var_os("ATREST_SERVE_TEST_CERTS"))
    else {
        return;
    };
    let data = PathBuf::from(data);
    let options = ServeOptions::new("127.0.0.1:0", &data, TlsSource::SelfSigned { dir: certs.into() });
    atrest_server::serve_blocking(new_store(&data), &options, &mut std::io::stdout()).unwrap();
    println!("store closed cleanly");
}
