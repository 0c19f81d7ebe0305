//! `atrest serve` as a child process: started on 127.0.0.1 with an ephemeral port, its banner read, and
//! stopped with SIGTERM (or SIGKILL) by the test; killed if a test fails first.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `atrest serve`.
pub struct ServerProcess {
    pub child: Child,
    pub port: u16,
    /// The banner lines, from `listening on …` on.
    pub banner: Vec<String>,
    /// The generated certificate, for clients' CA file.
    pub ca: PathBuf,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl ServerProcess {
    /// Starts `atrest --data DATA --key-file KEY serve --listen 127.0.0.1:0 EXTRA…` with `home` as HOME and
    /// XDG config root (where the certificate is generated), and waits for its banner.
    pub fn start(home: &Path, data: &str, key: &str, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_atrest"))
            .args(["--data", data, "--key-file", key, "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("XDG_CONFIG_HOME", home.join("cfg"))
            .env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProcess { child, port: 0, banner: Vec::new(), ca: PathBuf::new(), stderr: Some(stderr) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.banner.len() < 4 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => server.banner.push(line),
                Err(_) => {
                    let log = server.stop_kill();
                    panic!("no banner from atrest serve: {:?} {log}", server.banner)
                }
            }
        }
        let first = &server.banner[0];
        let port = first.strip_prefix("listening on https://127.0.0.1:").unwrap_or_else(|| panic!("{first}"));
        server.port = port.parse().unwrap();
        let cert = server.banner[2].strip_prefix("certificate ").unwrap();
        server.ca = PathBuf::from(cert.rsplit_once(" (").unwrap().0);
        server
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// `--resolve` argument for curl so `localhost` is 127.0.0.1.
    pub fn resolve(&self) -> String {
        format!("localhost:{}:127.0.0.1", self.port)
    }

    /// Sends `signal` (TERM, KILL), waits, and returns whether it exited successfully and its stderr.
    pub fn stop(mut self, signal: &str) -> (bool, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args([&format!("-{signal}"), &pid]).status();
        let status = self.child.wait().unwrap();
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        (status.success(), stderr)
    }

    fn stop_kill(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop_kill();
        }
    }
}

/// curl through the server with a bearer token: `(status, body)`.
pub fn curl(server: &ServerProcess, token: &str, method: &str, path: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30", "--resolve", &server.resolve(), "--cacert"])
        .arg(&server.ca)
        .args(["-X", method, "-H", &format!("Authorization: Bearer {token}"), "--write-out", "\n%{http_code}"])
        .args(extra)
        .arg(format!("{}{path}", server.url()))
        .output()
        .expect("curl is installed (scripts/test.d/07-tls-clients.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}
