//! Handshakes and bulk transfers between this provider and rustls with ring's stock provider, in both
//! roles, for every AES-GCM suite of TLS 1.3 and 1.2, on every atrest-core backend the host supports.
//! Bodies are over 1 MiB each way and the TLS bytes travel in awkward pieces (see common/pump.rs), so
//! records arrive whole, split and coalesced.

mod common;

use std::sync::Arc;

use atrest_core::Backend;
use atrest_core::backend::supported;
use common::pki::{Identity, KeyKind};
use common::pump::Pump;
use common::tls::{AES_GCM_SUITES, body, client_config, server_config, version};
use rustls::pki_types::ServerName;
use rustls::{CipherSuite, ClientConnection, Connection, ServerConnection};

const CLIENT_BODY: usize = (1 << 20) + 300_007;
const SERVER_BODY: usize = (1 << 20) + 77_777;

#[derive(Debug, Clone, Copy)]
enum OursAs {
    Server,
    Client,
}

fn ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn ours(backend: Backend) -> rustls::crypto::CryptoProvider {
    atrest_rustls::provider_with_backend(backend).unwrap()
}

/// One connection: handshake, a body each way, close_notify each way. Checks the suite, the version and
/// which provider protected which side.
fn converse(backend: Backend, suite: CipherSuite, ours_as: OursAs, identity: &Identity) {
    let what = format!("{backend} {suite:?} ours as {ours_as:?}");
    let (server_provider, client_provider) = match ours_as {
        OursAs::Server => (ours(backend), ring()),
        OursAs::Client => (ring(), ours(backend)),
    };
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = Connection::Client(
        ClientConnection::new(client_config(client_provider, suite, identity), name.to_owned()).unwrap(),
    );
    let mut server =
        Connection::Server(ServerConnection::new(server_config(server_provider, suite, identity)).unwrap());

    let mut pump = Pump::default();
    pump.handshake(&mut client, &mut server);
    for (side, conn) in [("client", &client), ("server", &server)] {
        let negotiated = conn.negotiated_cipher_suite().unwrap();
        assert_eq!(negotiated.suite(), suite, "{what}: {side} negotiated another suite");
        assert_eq!(conn.protocol_version(), Some(version(suite).version), "{what}: {side} version");
        let is_ours = matches!((side, ours_as), ("server", OursAs::Server) | ("client", OursAs::Client));
        let expected = is_ours.then_some(backend);
        assert_eq!(atrest_rustls::suite_backend(negotiated), expected, "{what}: {side} record protection");
    }

    let up = body(CLIENT_BODY, 1);
    let received = pump.send(&mut client, &mut server, &up);
    assert!(received == up, "{what}: client-to-server body differs ({} of {} bytes)", received.len(), up.len());
    let down = body(SERVER_BODY, 2);
    let received = pump.send(&mut server, &mut client, &down);
    assert!(received == down, "{what}: server-to-client body differs ({} of {} bytes)", received.len(), down.len());

    pump.close(&mut client, &mut server);
    pump.close(&mut server, &mut client);
}

#[test]
fn every_suite_both_roles_every_backend() {
    let ecdsa = Identity::new(KeyKind::Ecdsa);
    let rsa = Identity::new(KeyKind::Rsa);
    for backend in supported() {
        for suite in AES_GCM_SUITES {
            let identity = match KeyKind::for_suite(suite) {
                KeyKind::Ecdsa => &ecdsa,
                KeyKind::Rsa => &rsa,
            };
            for ours_as in [OursAs::Server, OursAs::Client] {
                converse(backend, suite, ours_as, identity);
            }
        }
    }
}

/// Both ends on this provider, with all suites offered: the preferred suite is TLS 1.3 AES-256-GCM, and
/// a TLS 1.2-only client gets ECDHE-ECDSA AES-256-GCM.
#[test]
fn default_negotiation_between_two_atrest_peers() {
    let identity = Identity::new(KeyKind::Ecdsa);
    let provider = Arc::new(atrest_rustls::provider().unwrap());
    for (versions, expected) in [
        (&[&rustls::version::TLS13, &rustls::version::TLS12][..], CipherSuite::TLS13_AES_256_GCM_SHA384),
        (&[&rustls::version::TLS12][..], CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ] {
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(identity.chain(), identity.key())
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(identity.roots())
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let mut client = Connection::Client(ClientConnection::new(Arc::new(client), name).unwrap());
        let mut server = Connection::Server(ServerConnection::new(Arc::new(server)).unwrap());
        let mut pump = Pump::default();
        pump.handshake(&mut client, &mut server);
        assert_eq!(client.negotiated_cipher_suite().unwrap().suite(), expected);
        let body = body(70_000, 3);
        assert_eq!(pump.send(&mut client, &mut server, &body), body);
    }
}

/// A provider pinned to a backend this host cannot run is refused when it is built, never at run time.
#[test]
fn unsupported_backend_is_refused_up_front() {
    for backend in atrest_core::backend::PRIORITY.into_iter().filter(|b| !b.is_supported()) {
        let err = atrest_rustls::provider_with_backend(backend).expect_err("an unsupported backend was accepted");
        assert!(matches!(err, atrest_core::BackendError::Unsupported { .. }), "{err}");
    }
    // The portable backend always runs.
    assert!(atrest_rustls::provider_with_backend(Backend::Soft).is_ok());
}
