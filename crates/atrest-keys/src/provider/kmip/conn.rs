//! One TLS connection to a KMIP server, authenticated both ways: the server by the configured CA, the client by
//! its certificate (KMIP servers identify and authorize clients by it). Requests and responses are whole TTLV
//! messages; every read and write is bounded by the configured timeout, and a response larger than
//! [`MAX_RESPONSE`] is refused before it is buffered.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::KmipConfig;
use super::ttlv::message_len;

/// The largest response accepted (a Get of a key or a Locate of many objects is far smaller).
const MAX_RESPONSE: usize = 1 << 20;

/// Why a connection or exchange failed: the server did not answer properly (retry may help), or the local
/// configuration is unusable (certificate files).
#[derive(Debug)]
pub(crate) enum ConnError {
    Unreachable(String),
    Config(String),
}

/// The client's TLS settings, built once from the configuration's files.
pub(crate) fn tls_config(cfg: &KmipConfig) -> Result<Arc<ClientConfig>, ConnError> {
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        ConnError::Config(format!("{what} {}: {e}", path.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&cfg.ca).map_err(|e| bad("CA certificates", &cfg.ca, &e))? {
        let cert = cert.map_err(|e| bad("CA certificates", &cfg.ca, &e))?;
        roots.add(cert).map_err(|e| bad("CA certificate", &cfg.ca, &e))?;
    }
    if roots.is_empty() {
        return Err(bad("CA certificates", &cfg.ca, &"no certificate in the file"));
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert)
        .map_err(|e| bad("client certificate", &cfg.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("client certificate", &cfg.cert, &e))?;
    if chain.is_empty() {
        return Err(bad("client certificate", &cfg.cert, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| bad("client key", &cfg.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ConnError::Config(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad("client certificate and key", &cfg.cert, &e))?;
    Ok(Arc::new(config))
}

/// An open, authenticated connection.
pub(crate) struct Conn {
    tls: StreamOwned<ClientConnection, TcpStream>,
}

impl Conn {
    /// Connects to the server and completes the TLS handshake.
    pub(crate) fn open(cfg: &KmipConfig, tls: &Arc<ClientConfig>) -> Result<Conn, ConnError> {
        let unreachable = ConnError::Unreachable;
        let addrs: Vec<_> = (cfg.host.as_str(), cfg.port)
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve {}: {e}", cfg.host)))?
            .collect();
        let mut last = format!("{} resolves to no address", cfg.host);
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, cfg.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = format!("connecting to {addr}: {e}"),
            }
        }
        let tcp = tcp.ok_or_else(|| unreachable(last))?;
        set_timeouts(&tcp, cfg.timeout).map_err(|e| unreachable(format!("socket: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(cfg.server_name().to_owned())
            .map_err(|e| ConnError::Config(format!("server name {:?}: {e}", cfg.server_name())))?;
        let client = ClientConnection::new(tls.clone(), name).map_err(|e| ConnError::Config(format!("TLS: {e}")))?;
        let mut tls = StreamOwned::new(client, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).map_err(|e| unreachable(format!("TLS handshake: {e}")))?;
        }
        Ok(Conn { tls })
    }

    /// Sends one request message and reads one response message.
    pub(crate) fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, ConnError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |e: std::io::Error| ConnError::Unreachable(format!("{what}: {e}"))
        };
        self.tls.write_all(request).and_then(|()| self.tls.flush()).map_err(io("sending a request"))?;
        let mut header = [0u8; 8];
        self.tls.read_exact(&mut header).map_err(io("reading a response"))?;
        let len = message_len(&header)
            .ok_or_else(|| ConnError::Unreachable("the server's reply is not a KMIP message".into()))?;
        if len > MAX_RESPONSE {
            return Err(ConnError::Unreachable(format!("a {len}-byte response exceeds the {MAX_RESPONSE}-byte limit")));
        }
        let mut message = header.to_vec();
        message.resize(len, 0);
        self.tls.read_exact(&mut message[8..]).map_err(io("reading a response"))?;
        Ok(message)
    }
}

fn set_timeouts(s: &TcpStream, t: Duration) -> std::io::Result<()> {
    s.set_read_timeout(Some(t))?;
    s.set_write_timeout(Some(t))
}
