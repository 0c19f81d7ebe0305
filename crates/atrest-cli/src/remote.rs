//! The CLI as a client of `atrest serve`: with `--url https://HOST:PORT --token-file F --ca-file F`, commands
//! go through the server's HTTP API (docs/api.md) instead of opening a data directory (which the server owns).
//!
//! A blocking client: HTTP/1.1 (hyper) on a current-thread runtime, TLS 1.3 with rustls and atrest-rustls'
//! provider, trusting only the certificates in the CA file (the server's generated certificate, or its CA).
//! One connection is kept for the whole command (an export's pages, say). Uploads (import, attach) stream
//! from the file; downloads (attachment) stream to stdout.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::output::outln;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Where a server is and how to talk to it.
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    host: String,
    port: u16,
    name: ServerName<'static>,
    authorization: String,
    tls: tokio_rustls::TlsConnector,
    connection: std::cell::RefCell<Option<SendRequest<Body>>>,
}

/// A whole answer.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the server's answer is not JSON ({e})"))
    }
}

/// `HOST` and `PORT` of `https://HOST:PORT[/]`; `[v6]` hosts are unbracketed.
pub fn parse_url(url: &str) -> Result<(String, u16), String> {
    let bad = |why: &str| format!("--url {url:?}: {why} (expected https://HOST:PORT)");
    let rest = url.strip_prefix("https://").ok_or_else(|| bad("only https:// is served"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('@') || rest.contains('?') {
        return Err(bad("a server's URL has no path, user or query"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (host, after.strip_prefix(':').unwrap_or("443"))
    } else {
        rest.rsplit_once(':').unwrap_or((rest, "443"))
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("the port is not 1 to 65535"))?;
    Ok((host.to_owned(), port))
}

/// `s` as one percent-encoded path segment or query value (every byte but the unreserved ones).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Remote {
    /// A client of the server at `url`, sending the token in `token_file`, trusting the certificates in `ca_file`.
    pub fn new(url: &str, token_file: Option<&Path>, ca_file: Option<&Path>) -> Result<Remote, String> {
        let (host, port) = parse_url(url)?;
        let token_file = token_file.ok_or("--url needs --token-file FILE (a token from `atrest token create`)")?;
        let token = std::fs::read_to_string(token_file).map_err(|e| format!("{}: {e}", token_file.display()))?;
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("{}: does not hold a token on one line", token_file.display()));
        }
        let ca_file = ca_file.ok_or("--url needs --ca-file FILE (the server's certificate or its CA, PEM)")?;
        let mut roots = rustls::RootCertStore::empty();
        let pem = |e: rustls::pki_types::pem::Error| format!("{}: not a PEM certificate file ({e})", ca_file.display());
        for cert in CertificateDer::pem_file_iter(ca_file).map_err(pem)? {
            roots.add(cert.map_err(pem)?).map_err(|e| format!("{}: {e}", ca_file.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("{}: no certificate in it", ca_file.display()));
        }
        let provider = Arc::new(atrest_rustls::provider().map_err(|e| e.to_string())?);
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from(host.clone()).map_err(|_| format!("--url: {host:?} is not a host name"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the client: {e}"))?;
        Ok(Remote {
            runtime,
            host,
            port,
            name,
            authorization: format!("Bearer {token}"),
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            connection: std::cell::RefCell::new(None),
        })
    }

    fn url(&self) -> String {
        if self.host.contains(':') {
            format!("https://[{}]:{}", self.host, self.port)
        } else {
            format!("https://{}:{}", self.host, self.port)
        }
    }

    /// Sends one request on the kept connection (opening one when there is none or it closed).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        len: Option<u64>,
    ) -> Result<Response<Incoming>, String> {
        let mut cached = self.connection.borrow_mut().take();
        if let Some(s) = cached.as_mut()
            && s.ready().await.is_err()
        {
            cached = None;
        }
        let mut sender = match cached {
            Some(s) => s,
            None => {
                let failed = |e: std::io::Error| format!("connecting to {}: {e}", self.url());
                let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await.map_err(failed)?;
                let _ = tcp.set_nodelay(true);
                let tls = self.tls.connect(self.name.clone(), tcp).await.map_err(failed)?;
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(|e| format!("{}: {e}", self.url()))?;
                tokio::spawn(conn);
                sender
            }
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.url().trim_start_matches("https://"))
            .header(hyper::header::AUTHORIZATION, &self.authorization);
        if let Some(len) = len {
            request = request.header(hyper::header::CONTENT_LENGTH, len);
        }
        let request = request.body(body).map_err(|e| format!("{path}: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("{}{path}: {e}", self.url()))?;
        *self.connection.borrow_mut() = Some(sender);
        Ok(response)
    }

    /// A request with a body held in memory; the whole answer.
    pub fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer, String> {
        let len = body.as_ref().map(|b| b.len() as u64);
        let body = Full::new(Bytes::from(body.unwrap_or_default())).map_err(|never| match never {}).boxed_unsync();
        self.runtime.block_on(async {
            let response = self.send(method, path, body, len).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| format!("{path}: {e}"))?.to_bytes();
            Ok(Answer { status, body: body.to_vec() })
        })
    }

    /// A request whose body streams from `input` (`len` bytes when known); the whole answer.
    pub fn upload(
        &self,
        method: Method,
        path: &str,
        input: Box<dyn Read + Send>,
        len: Option<u64>,
    ) -> Result<Answer, String> {
        // The reads block the runtime's one thread, which has nothing else to do meanwhile: the connection
        // is driven between them.
        let chunks = futures_util::stream::unfold(Some(input), |input| async move {
            let mut input = input?;
            let mut buf = vec![0; 256 << 10];
            match input.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Frame::data(Bytes::from(buf))), Some(input)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        let body = StreamBody::new(chunks).boxed_unsync();
        self.runtime.block_on(async {
            let response = self.send(method, path, body, len).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| format!("{path}: {e}"))?.to_bytes();
            Ok(Answer { status, body: body.to_vec() })
        })
    }

    /// A GET whose answer, when 2xx, streams to `out`; other answers are returned whole.
    pub fn download(&self, path: &str, out: &mut dyn Write) -> Result<Answer, String> {
        let body = Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync();
        self.runtime.block_on(async {
            let response = self.send(Method::GET, path, body, None).await?;
            let status = response.status().as_u16();
            let mut body = response.into_body();
            let mut kept = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("{path}: {e}"))?;
                if let Some(data) = frame.data_ref() {
                    if (200..300).contains(&status) {
                        out.write_all(data).map_err(|e| format!("stdout: {e}"))?;
                    } else {
                        kept.extend_from_slice(data);
                    }
                }
            }
            Ok(Answer { status, body: kept })
        })
    }
}

/// The error a non-2xx answer stands for: the server's message, and its status.
pub fn refused(answer: &Answer) -> String {
    let message = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).trim().to_owned());
    format!("the server answered {}: {message}", answer.status)
}

/// `answer` when 2xx, else its error.
pub fn ok(answer: Answer) -> Result<Answer, String> {
    if (200..300).contains(&answer.status) { Ok(answer) } else { Err(refused(&answer)) }
}

/// One page of a scan or the hits of a find: ids and documents as the server sent them (not re-serialized).
#[derive(serde::Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    documents: Vec<Hit<'a>>,
    next: Option<String>,
}

#[derive(serde::Deserialize)]
struct Hit<'a> {
    id: String,
    #[serde(borrow)]
    doc: &'a RawValue,
}

fn page(body: &[u8]) -> Result<Page<'_>, String> {
    serde_json::from_slice(body).map_err(|e| format!("the server's answer is not a page of documents ({e})"))
}

/// The commands that run through a server.
pub fn run(remote: &Remote, command: crate::Command) -> Result<(), String> {
    use crate::Command as C;
    let docs = |c: &str| format!("/v1/collections/{}/docs", encode(c));
    let doc = |c: &str, id: &str| format!("{}/{}", docs(c), encode(id));
    match command {
        C::Create { collection, index } => {
            let policy = crate::collections::policy_json(&crate::policy(&index));
            let body = serde_json::json!({ "index": policy }).to_string().into_bytes();
            ok(remote.call(Method::POST, &format!("/v1/collections/{}", encode(&collection)), Some(body))?)?;
        }
        C::Put { collection, id, file } => {
            let body = crate::read_input(file.as_deref())?;
            ok(remote.call(Method::PUT, &doc(&collection, &id), Some(body))?)?;
        }
        C::Get { collection, id } => {
            let mut answer = ok(remote.call(Method::GET, &doc(&collection, &id), None)?)?;
            answer.body.push(b'\n');
            crate::output::write(&answer.body);
        }
        C::Delete { collection, id } => {
            ok(remote.call(Method::DELETE, &doc(&collection, &id), None)?)?;
        }
        C::Drop { collection } => {
            ok(remote.call(Method::DELETE, &format!("/v1/collections/{}", encode(&collection)), None)?)?;
        }
        C::Import { collection, file, id_field, batch, resume_from } => {
            let f = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let len = f.metadata().map(|m| m.len()).ok();
            let path = format!(
                "/v1/collections/{}/import?id_field={}&batch={batch}&resume_from={resume_from}",
                encode(&collection),
                encode(&id_field)
            );
            let answer = remote.upload(Method::POST, &path, Box::new(f), len)?;
            if !(200..300).contains(&answer.status) {
                let v = answer.json().unwrap_or_default();
                let mut e = format!("{}: {}", file.display(), refused(&answer));
                if let Some(line) = v["resume_from"].as_u64() {
                    e.push_str(&format!("; fix the line and continue with --resume-from {line}"));
                }
                return Err(e);
            }
            let v = answer.json()?;
            eprintln!("imported {} documents into {collection:?}", v["committed"]);
        }
        C::Find { collection, pointer, value, format } => {
            let path = format!(
                "/v1/collections/{}/find?pointer={}&value={}",
                encode(&collection),
                encode(&pointer),
                encode(&value)
            );
            let answer = ok(remote.call(Method::GET, &path, None)?)?;
            let mut out = std::io::BufWriter::new(crate::output::Stdout);
            for hit in page(&answer.body)?.documents {
                let line = crate::find::line(format, &hit.id, &crate::one_line(hit.doc.get().as_bytes().to_vec()));
                let _ = out.write_all(&line);
            }
            let _ = out.flush();
        }
        C::Export { collection } => {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, crate::output::Stdout);
            let mut after = String::new();
            loop {
                let path = format!("{}?limit=1000{after}", docs(&collection));
                let answer = ok(remote.call(Method::GET, &path, None)?)?;
                let page = page(&answer.body)?;
                for hit in &page.documents {
                    let _ = out.write_all(&crate::one_line(hit.doc.get().as_bytes().to_vec()));
                    let _ = out.write_all(b"\n");
                }
                match page.next {
                    Some(next) => after = format!("&after={}", encode(&next)),
                    None => break,
                }
            }
            let _ = out.flush();
        }
        C::Attach { collection, id, name, file } => {
            let f = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let len = f.metadata().map(|m| m.len()).ok();
            let path = format!("{}/attachments/{}", doc(&collection, &id), encode(&name));
            let answer = ok(remote.upload(Method::PUT, &path, Box::new(f), len)?)?;
            eprintln!("attached {} bytes", answer.json()?["bytes"]);
        }
        C::Attachment { collection, id, name } => {
            let path = format!("{}/attachments/{}", doc(&collection, &id), encode(&name));
            let mut out = crate::output::Stdout;
            ok(remote.download(&path, &mut out)?)?;
            let _ = out.flush();
        }
        C::Collections => {
            let v = ok(remote.call(Method::GET, "/v1/collections", None)?)?.json()?;
            for c in v["collections"].as_array().into_iter().flatten() {
                let name = c["name"].as_str().unwrap_or_default();
                outln!("{}", crate::collections::line(name, &c["index"], c["documents"].as_u64().unwrap_or(0)));
            }
        }
        C::Info => {
            let v = ok(remote.call(Method::GET, "/v1/info", None)?)?.json()?;
            outln!("server: {} (atrest {})", remote.url(), v["version"].as_str().unwrap_or("?"));
            outln!("backend: {}", v["backend"].as_str().unwrap_or("?"));
            outln!("store id: {}", v["store_id"].as_str().unwrap_or("?"));
            outln!(
                "page size: {} bytes, segments: {}, bytes on disk: {}",
                v["page_size"],
                v["segments"],
                v["bytes_on_disk"]
            );
            outln!("manifest generation: {}", v["generation"]);
            for c in v["collections"].as_array().into_iter().flatten() {
                outln!("collection {}: {} documents", c["name"], c["documents"]);
            }
            if let Some(source) = v["key_source"].as_str() {
                outln!("keys: {source}");
            }
        }
        C::Rotate => {
            let v = ok(remote.call(Method::POST, "/v1/admin/rotate", None)?)?.json()?;
            outln!("new active data keys: {}", v["active_keys"]);
        }
        C::Token(cmd) => token(remote, cmd)?,
        other => {
            let name = format!("{other:?}");
            let name = name.split(|c: char| !c.is_alphanumeric()).next().unwrap_or_default().to_ascii_lowercase();
            return Err(format!(
                "`atrest {name}` does not run through a server; run it with --data DIR where the store is (with the server stopped)"
            ));
        }
    }
    Ok(())
}

fn token(remote: &Remote, cmd: crate::token::TokenCommand) -> Result<(), String> {
    use crate::token::TokenCommand as T;
    match cmd {
        T::Create { read_only, collections } => {
            let body = serde_json::json!({ "read_only": read_only, "collections": collections }).to_string();
            let v = ok(remote.call(Method::POST, "/v1/admin/tokens", Some(body.into_bytes()))?)?.json()?;
            crate::token::print_new(v["token"].as_str().unwrap_or_default(), &token_info(&v)?);
        }
        T::List => {
            let v = ok(remote.call(Method::GET, "/v1/admin/tokens", None)?)?.json()?;
            for t in v["tokens"].as_array().into_iter().flatten() {
                outln!("{}", crate::token::describe(&token_info(t)?));
            }
        }
        T::Revoke { id } => {
            let id = crate::token::parse_id(&id)?;
            ok(remote.call(Method::DELETE, &format!("/v1/admin/tokens/{id}"), None)?)?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
}

/// A token's description as the server sends it (`{"id", "read_only", "collections", "created"}`).
fn token_info(v: &Value) -> Result<atrest_server::auth::TokenInfo, String> {
    let bad = || format!("the server's token description is not understood: {v}");
    let id = v["id"].as_str().and_then(atrest_server::auth::TokenId::parse).ok_or_else(bad)?;
    let collections = v["collections"].as_array().ok_or_else(bad)?;
    let collections = collections.iter().map(|c| c.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>();
    let scope = atrest_server::auth::Scope {
        read_only: v["read_only"].as_bool().ok_or_else(bad)?,
        collections: collections.ok_or_else(bad)?,
    };
    Ok(atrest_server::auth::TokenInfo { id, scope, created: v["created"].as_u64().ok_or_else(bad)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_encoding() {
        assert_eq!(parse_url("https://127.0.0.1:8443").unwrap(), ("127.0.0.1".into(), 8443));
        assert_eq!(parse_url("https://localhost:1/").unwrap(), ("localhost".into(), 1));
        assert_eq!(parse_url("https://[::1]:9").unwrap(), ("::1".into(), 9));
        assert_eq!(parse_url("https://h").unwrap(), ("h".into(), 443));
        for bad in ["http://h:1", "https://h:0", "https://h:x", "https://:1", "https://h:1/v1", "h:1", "https://[::1:2"]
        {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        assert_eq!(encode("a b/c%é"), "a%20b%2Fc%25%C3%A9");
        assert_eq!(encode("Az09-._~"), "Az09-._~");
    }
}
