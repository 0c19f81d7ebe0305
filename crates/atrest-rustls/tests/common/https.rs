//! A small HTTPS/1.1 server and client over real TCP sockets on 127.0.0.1, for talking to TLS stacks no one
//! here wrote (curl, OpenSSL, Python).
//!
//! The server answers `POST /echo` with the request body and `GET /bytes/N` with N bytes of
//! [`body`](super::tls::body)`(N, N)`; every response closes the connection. It records what each connection
//! negotiated and which provider protected it, and stops (joining its threads) when dropped.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use atrest_core::Backend;
use rustls::pki_types::ServerName;
use rustls::{
    CipherSuite, ClientConfig, ClientConnection, ProtocolVersion, ServerConfig, ServerConnection, StreamOwned,
};

use super::tls::body;

/// How long any socket operation or child process may take before the test gives up on it.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What one server-side connection negotiated and did.
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub suite: Option<CipherSuite>,
    pub version: Option<ProtocolVersion>,
    /// The atrest-core backend protecting the records, `None` when the suite is not this crate's.
    pub backend: Option<Backend>,
    pub request: String,
    pub body_in: usize,
    pub body_out: usize,
    pub error: Option<String>,
}

pub struct EchoServer {
    pub addr: SocketAddr,
    served: Arc<Mutex<Vec<Served>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Listens on 127.0.0.1 with an ephemeral port.
    pub fn start(config: Arc<ServerConfig>) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (served, stop) = (served.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (config, served) = (config.clone(), served.clone());
                    workers.push(std::thread::spawn(move || {
                        let record = serve(config, stream);
                        served.lock().unwrap().push(record);
                    }));
                }
                for w in workers {
                    let _ = w.join();
                }
            })
        };
        EchoServer { addr, served, stop, acceptor: Some(acceptor) }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The connections served so far.
    pub fn served(&self) -> Vec<Served> {
        self.served.lock().unwrap().clone()
    }

    /// Waits for `n` connections and checks that each completed without error, negotiated `suite`, and had
    /// its records protected by this crate on the default backend.
    pub fn assert_served(&self, n: usize, suite: CipherSuite) -> Vec<Served> {
        let served = self.wait_served(n);
        assert_eq!(served.len(), n, "{suite:?}: connections served");
        let backend = atrest_core::backend::default_backend().unwrap();
        for s in &served {
            assert_eq!(s.error, None, "{suite:?}: server side of {:?}", s.request);
            assert_eq!((s.suite, s.backend), (Some(suite), Some(backend)), "{suite:?}: {:?}", s.request);
        }
        served
    }

    /// Waits until `n` connections have finished (clients may return before the server thread has
    /// recorded its side).
    pub fn wait_served(&self, n: usize) -> Vec<Served> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let served = self.served();
            if served.len() >= n || Instant::now() > deadline {
                return served;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(config: Arc<ServerConfig>, tcp: TcpStream) -> Served {
    let mut served = Served::default();
    let _ = tcp.set_read_timeout(Some(TIMEOUT));
    let _ = tcp.set_write_timeout(Some(TIMEOUT));
    let conn = match ServerConnection::new(config) {
        Ok(conn) => conn,
        Err(e) => {
            served.error = Some(e.to_string());
            return served;
        }
    };
    let mut tls = StreamOwned::new(conn, tcp);
    if let Err(e) = respond(&mut tls, &mut served) {
        served.error = Some(e.to_string());
    }
    served.suite = tls.conn.negotiated_cipher_suite().map(|s| s.suite());
    served.version = tls.conn.protocol_version();
    served.backend = tls.conn.negotiated_cipher_suite().and_then(atrest_rustls::suite_backend);
    served
}

fn respond(tls: &mut StreamOwned<ServerConnection, TcpStream>, served: &mut Served) -> io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let head = read_head(&mut reader)?;
    served.request = head.lines().next().unwrap_or_default().to_owned();
    let content_length = header(&head, "content-length").map(|v| v.parse::<usize>()).transpose().map_err(bad)?;
    let expects_continue = header(&head, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let mut parts = served.request.split(' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default().to_owned());
    let response = match (method, path.strip_prefix("/bytes/")) {
        ("POST", _) if path == "/echo" => {
            if expects_continue {
                reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                reader.get_mut().flush()?;
            }
            let mut body = vec![0; content_length.unwrap_or(0)];
            reader.read_exact(&mut body)?;
            served.body_in = body.len();
            body
        }
        ("GET", Some(n)) => {
            let n = n.parse().map_err(bad)?;
            body(n, n as u32)
        }
        _ => return Err(bad(format!("unexpected request {:?}", served.request))),
    };
    drop(reader);
    write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.len()
    )?;
    tls.write_all(&response)?;
    served.body_out = response.len();
    tls.conn.send_close_notify();
    tls.flush()?;
    let _ = tls.sock.shutdown(std::net::Shutdown::Write);
    // Let the client read everything before the socket closes: wait for its close or EOF.
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
    Ok(())
}

/// Reads an HTTP head up to and including the blank line.
fn read_head(reader: &mut impl BufRead) -> io::Result<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside the HTTP head"));
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            return Ok(head);
        }
        if head.len() > 64 * 1024 {
            return Err(bad("HTTP head over 64 KiB"));
        }
    }
}

/// The value of header `name` (lower case) in `head`.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn bad(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// An HTTP response as a client saw it.
pub struct Response {
    pub status_line: String,
    pub head: String,
    pub body: Vec<u8>,
}

/// Splits raw response bytes at the end of the final response's head (searching from `from`).
pub fn parse_response(raw: &[u8], from: usize) -> Option<Response> {
    let start = from + raw[from..].windows(5).position(|w| w == b"HTTP/")?;
    let end = start + raw[start..].windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&raw[start..end]).into_owned();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    // An interim response (such as 100 Continue) precedes the real one.
    if status_line.split(' ').nth(1).is_some_and(|code| code.starts_with('1')) {
        return parse_response(raw, end);
    }
    Some(Response { status_line, head, body: raw[end..].to_vec() })
}

/// What this crate's client saw on one connection.
pub struct ClientResult {
    pub suite: Option<CipherSuite>,
    pub backend: Option<Backend>,
    /// Everything the server sent, in plaintext, until it closed.
    pub received: Vec<u8>,
}

/// How a client connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Read until the server closes with close_notify (a close without one is an error).
    ServerCloses,
    /// Read one HTTP response: its head and `Content-Length` bytes of body, or up to the end of the stream
    /// when there is no length. For servers that close without close_notify after a response of known length.
    HttpResponse,
    /// Send close_notify right after the data, then discard what the server still sends until it closes
    /// (session tickets, its close_notify): closing a socket with unread data would reset the connection
    /// and could discard the tail of the upload.
    WeClose,
}

/// Connects to `addr` as `localhost` with this crate's client, sends `data`, and reads as `until` says.
pub fn client(config: Arc<ClientConfig>, addr: SocketAddr, data: &[u8], until: Until) -> io::Result<ClientResult> {
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    tcp.set_read_timeout(Some(TIMEOUT))?;
    tcp.set_write_timeout(Some(TIMEOUT))?;
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(data)?;
    if until == Until::WeClose {
        tls.conn.send_close_notify();
    }
    tls.flush()?;
    let mut received = Vec::new();
    match until {
        Until::ServerCloses => {
            tls.read_to_end(&mut received)?;
        }
        Until::HttpResponse => read_http_response(&mut tls, &mut received)?,
        Until::WeClose => {
            let _ = tls.read_to_end(&mut Vec::new());
        }
    }
    let suite = tls.conn.negotiated_cipher_suite();
    Ok(ClientResult {
        suite: suite.map(|s| s.suite()),
        backend: suite.and_then(atrest_rustls::suite_backend),
        received,
    })
}

fn read_http_response(tls: &mut impl Read, received: &mut Vec<u8>) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some(response) = parse_response(received, 0) {
            let length = header(&response.head, "content-length").and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| response.body.len() >= n) {
                return Ok(());
            }
        }
        match tls.read(&mut buf)? {
            0 => return Ok(()),
            n => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// A child process whose output is collected as it runs; killed if still running when dropped.
pub struct Spawned {
    what: String,
    child: Child,
    stdin: Option<JoinHandle<Option<ChildStdin>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Spawned {
    /// Starts `cmd` with piped stdin, stdout and stderr, and writes `input` to its stdin (which stays open
    /// until [`Spawned::finish`] when `keep_stdin_open`; some servers stop when their stdin ends).
    pub fn start(mut cmd: Command, input: &[u8], keep_stdin_open: bool) -> Spawned {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e} (scripts/test.d/07-tls-clients.sh installs it)"));
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Hands the pipe back when the child's stdin is to stay open; it closes when the process is done.
        let stdin = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
            let _ = stdin.flush();
            keep_stdin_open.then_some(stdin)
        });
        let mut readers = Vec::new();
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        for (pipe, sink) in [
            (Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, stdout.clone()),
            (Box::new(child.stderr.take().unwrap()), stderr.clone()),
        ] {
            let mut pipe = pipe;
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }));
        }
        Spawned { what, child, stdin: Some(stdin), stdout, stderr, readers }
    }

    /// Waits for a line of stdout that starts with `prefix` and returns the rest of it.
    pub fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let out = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
            if let Some(line) = out.lines().find_map(|l| l.strip_prefix(prefix)) {
                return line.trim().to_owned();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited ({status}) before printing {prefix:?}: {}{}", self.what, out, self.stderr_text());
            }
            assert!(Instant::now() < deadline, "{} printed no {prefix:?} line within {TIMEOUT:?}", self.what);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits for the process to exit (killing it after [`TIMEOUT`]) and returns its output.
    pub fn finish(mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {TIMEOUT:?}; stderr: {}", self.what, self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(stdin) = self.stdin.take() {
            let _ = stdin.join();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let take = |v: &Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *v.lock().unwrap());
        Output { status, stdout: take(&self.stdout), stderr: take(&self.stderr) }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion with `input` on its stdin, killing it after [`TIMEOUT`].
pub fn run(cmd: Command, input: &[u8]) -> Output {
    Spawned::start(cmd, input, false).finish()
}

/// OpenSSL's name for an IANA suite, as curl, s_client and s_server print it.
pub fn openssl_name(suite: CipherSuite) -> &'static str {
    match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        other => panic!("no OpenSSL name for {other:?}"),
    }
}
