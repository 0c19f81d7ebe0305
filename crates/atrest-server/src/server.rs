//! The listener: accepts TCP connections, runs the TLS handshake, serves HTTP/1.1 or HTTP/2 (by ALPN or the
//! HTTP/2 preface) and, on shutdown, stops accepting, drains in-flight requests and closes the store.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use atrest_store::Store;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::api::{self, AppState, Shared};
use crate::auth::{Peer, TokenTable};
use crate::cert::{self, ServerCert};
use crate::error::ServeError;
use crate::options::ServeOptions;
use crate::timed_io::TimedIo;
use crate::tls;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listening socket, before the store is opened: its URL is what the store's lock records as the
/// owner, so another command on the directory can say where to send its requests.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    addr: SocketAddr,
    host: String,
}

impl Listener {
    /// Binds `listen` (`HOST:PORT`, port 0 for a free one).
    ///
    /// # Errors
    /// An address that does not parse or resolve, a socket that cannot be bound.
    pub fn bind(listen: &str) -> Result<Listener, ServeError> {
        let (host, addr) = resolve(listen)?;
        let listen_err = |source| ServeError::Listen { addr: listen.to_owned(), source };
        let listener = TcpListener::bind(addr).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        let addr = listener.local_addr().map_err(listen_err)?;
        Ok(Listener { listener, addr, host })
    }

    /// The bound address (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://HOST:PORT`, with the host as given in the listen address.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("https://[{}]:{}", self.host, self.addr.port())
        } else {
            format!("https://{}:{}", self.host, self.addr.port())
        }
    }
}

/// A bound server that owns its store, not yet serving.
pub struct Server {
    listener: Listener,
    tls: Arc<rustls::ServerConfig>,
    cert: ServerCert,
    state: Shared,
    drain_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.listener.addr).field("cert", &self.cert).finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `options.listen`, then as [`Server::new`].
    ///
    /// # Errors
    /// As [`Listener::bind`] and [`Server::new`].
    pub fn bind(store: Store, options: &ServeOptions) -> Result<Server, ServeError> {
        Server::new(Listener::bind(&options.listen)?, store, options)
    }

    /// Loads or generates the certificate, builds the TLS configuration and reads the access tokens. The
    /// store is owned from here on and closed when [`Server::run`] returns.
    ///
    /// # Errors
    /// A certificate, key or client CA file that cannot be read, generated or used; token records that
    /// cannot be read.
    pub fn new(listener: Listener, store: Store, options: &ServeOptions) -> Result<Server, ServeError> {
        let cert = cert::load(&options.tls, &listener.host, &options.data_dir)?;
        let tls = tls::server_config(&cert, options.allow_tls12, options.client_ca.as_deref())?;
        let tokens = TokenTable::load(&store)?;
        let mut state = AppState::new(Arc::new(store), tokens, options.limits.clone());
        state.backup_target = options.backup_target.clone();
        Ok(Server { listener, tls, cert, state: Arc::new(state), drain_timeout: options.drain_timeout })
    }

    /// The bound address (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.addr
    }

    /// `https://HOST:PORT`, with the host as given in the listen address.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Threads the runtime's blocking pool needs: one per store operation in flight, and some slack.
    pub fn blocking_threads(&self) -> usize {
        self.state.limits.max_in_flight + 16
    }

    /// The certificate the server presents.
    pub fn certificate(&self) -> &ServerCert {
        &self.cert
    }

    /// What `atrest serve` prints when it starts: `listening on https://HOST:PORT` first, then the
    /// certificate's SHA-256 fingerprint and file, then the number of access tokens.
    pub fn banner(&self) -> String {
        let origin = match (self.cert.self_signed, self.cert.generated_now) {
            (true, true) => "self-signed, generated now",
            (true, false) => "self-signed",
            (false, _) => "given",
        };
        let tokens = match self.state.tokens.len() {
            0 => "no access tokens yet: every request but /v1/health gets 401 until one is made with `atrest \
                  --data DIR token create` (with the server stopped)"
                .to_owned(),
            n => format!("{n} access tokens"),
        };
        format!(
            "listening on {}\ncertificate sha256 fingerprint {}\ncertificate {} ({origin})\n{tokens}\n",
            self.url(),
            self.cert.fingerprint,
            self.cert.cert_path.display()
        )
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish (up to the drain
    /// timeout) and closes the store. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`ServeError::DrainTimeout`] when requests were still running at the drain timeout (the store is then
    /// dropped without a clean close, which recovery handles); a failure to close the store.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server { listener, tls, state, drain_timeout, .. } = self;
        let addr = listener.addr;
        let listener = tokio::net::TcpListener::from_std(listener.listener)
            .map_err(|source| ServeError::Listen { addr: addr.to_string(), source })?;
        let acceptor = TlsAcceptor::from(tls);
        let limits = state.limits.clone();
        let app = api::router(state.clone());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
        builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // At the connection limit, new connections wait in the listen backlog.
            let permit = tokio::select! {
                p = connections.clone().acquire_owned() => p,
                () = &mut shutdown => break,
            };
            let Ok(permit) = permit else { break };
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((tcp, peer)) = accepted else {
                        // Out of file descriptors or a connection reset before accept: back off briefly.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let (acceptor, app, builder, watcher) = (acceptor.clone(), app.clone(), builder.clone(), graceful.watcher());
                    let io_timeout = limits.io_timeout;
                    tokio::spawn(async move {
                        let _permit = permit;
                        let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
                            return; // a failed or stalled handshake ends that connection only
                        };
                        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                            request.extensions_mut().insert(Peer(peer.ip()));
                            app.clone().oneshot(request)
                        });
                        let io = TokioIo::new(TimedIo::new(stream, io_timeout));
                        let conn = builder.serve_connection_with_upgrades(io, service);
                        let _ = watcher.watch(conn).await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        drop(app);
        let deadline = tokio::time::Instant::now() + drain_timeout;
        let timed_out = || ServeError::DrainTimeout { seconds: drain_timeout.as_secs() };
        if tokio::time::timeout_at(deadline, graceful.shutdown()).await.is_err() {
            return Err(timed_out());
        }
        // Handlers whose clients went away may still have store calls running on the blocking pool.
        if tokio::time::timeout_at(deadline, state.quiesce()).await.is_err() {
            return Err(timed_out());
        }
        let mut state = state;
        let store = loop {
            match Arc::try_unwrap(state) {
                Ok(s) => match Arc::try_unwrap(s.store) {
                    Ok(store) => break store,
                    Err(_) => return Err(timed_out()),
                },
                Err(shared) if tokio::time::Instant::now() < deadline => {
                    state = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(_) => return Err(timed_out()),
            }
        };
        tokio::task::spawn_blocking(move || store.close())
            .await
            .map_err(|e| ServeError::Runtime(std::io::Error::other(e.to_string())))??;
        Ok(())
    }
}

/// Splits `HOST:PORT` (or `[V6]:PORT`) and resolves it to the first address.
fn resolve(listen: &str) -> Result<(String, SocketAddr), ServeError> {
    let bad = |reason: &str| ServeError::ListenAddress { value: listen.to_owned(), reason: reason.to_owned() };
    let (host, port) = listen.rsplit_once(':').ok_or_else(|| bad("expected HOST:PORT"))?;
    port.parse::<u16>().map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    let addr = listen
        .to_socket_addrs()
        .map_err(|e| bad(&e.to_string()))?
        .next()
        .ok_or_else(|| bad("the host resolves to no address"))?;
    Ok((host.to_owned(), addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_resolve_or_say_what_is_wrong() {
        assert_eq!(resolve("127.0.0.1:0").unwrap(), ("127.0.0.1".to_owned(), "127.0.0.1:0".parse().unwrap()));
        assert_eq!(resolve("[::1]:8443").unwrap().0, "::1");
        for (bad, why) in [("127.0.0.1", "HOST:PORT"), ("127.0.0.1:http", "port"), (":80", "empty")] {
            let err = resolve(bad).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(bad), "{bad}: {err}");
        }
    }
}
