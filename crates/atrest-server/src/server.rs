//! The listener: accepts TCP connections, runs the TLS handshake, serves HTTP/1.1 or HTTP/2 (by ALPN or the
//! HTTP/2 preface) and, on shutdown, stops accepting, drains in-flight requests and closes the store.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use atrest_store::Store;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio_rustls::TlsAcceptor;

use crate::cert::{self, ServerCert};
use crate::error::ServeError;
use crate::options::ServeOptions;
use crate::{routes, tls};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound server that owns its store, not yet serving.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    host: String,
    tls: Arc<rustls::ServerConfig>,
    cert: ServerCert,
    store: Store,
    drain_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("cert", &self.cert).finish_non_exhaustive()
    }
}

impl Server {
    /// Loads or generates the certificate, builds the TLS configuration and binds the listening socket.
    /// The store is owned from here on and closed when [`Server::run`] returns.
    ///
    /// # Errors
    /// A listen address that does not parse or resolve, a socket that cannot be bound, a certificate or key
    /// that cannot be read, generated or used.
    pub fn bind(store: Store, options: &ServeOptions) -> Result<Server, ServeError> {
        let (host, addr) = resolve(&options.listen)?;
        let cert = cert::load(&options.tls, &host, &options.data_dir)?;
        let tls = tls::server_config(&cert, options.allow_tls12)?;
        let listen_err = |source| ServeError::Listen { addr: options.listen.clone(), source };
        let listener = TcpListener::bind(addr).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        let addr = listener.local_addr().map_err(listen_err)?;
        Ok(Server { listener, addr, host, tls, cert, store, drain_timeout: options.drain_timeout })
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

    /// The certificate the server presents.
    pub fn certificate(&self) -> &ServerCert {
        &self.cert
    }

    /// What `atrest serve` prints when it starts: `listening on https://HOST:PORT` first, then the
    /// certificate's SHA-256 fingerprint and file.
    pub fn banner(&self) -> String {
        let origin = match (self.cert.self_signed, self.cert.generated_now) {
            (true, true) => "self-signed, generated now",
            (true, false) => "self-signed",
            (false, _) => "given",
        };
        format!(
            "listening on {}\ncertificate sha256 fingerprint {}\ncertificate {} ({origin})\n",
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
        let Server { listener, addr, tls, store, drain_timeout, .. } = self;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| ServeError::Listen { addr: addr.to_string(), source })?;
        let acceptor = TlsAcceptor::from(tls);
        let app = routes::router();
        let builder = auto::Builder::new(TokioExecutor::new());
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((tcp, _peer)) = accepted else {
                        // Out of file descriptors or a connection reset before accept: back off briefly.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let (acceptor, app, builder, watcher) = (acceptor.clone(), app.clone(), builder.clone(), graceful.watcher());
                    tokio::spawn(async move {
                        let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
                            return; // a failed or stalled handshake ends that connection only
                        };
                        let service = TowerToHyperService::new(app);
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        if tokio::time::timeout(drain_timeout, graceful.shutdown()).await.is_err() {
            return Err(ServeError::DrainTimeout { seconds: drain_timeout.as_secs() });
        }
        store.close()?;
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
