//! # atrest-server
//!
//! `atrest serve`: a store as a network service, HTTPS only. One process owns the store (its lock) for its
//! whole life; TLS is rustls with [`atrest_rustls`]'s provider, so records are sealed and opened by the
//! same AES-GCM backends as the pages on disk; TLS 1.3 by default, TLS 1.2 (AEAD suites) when allowed;
//! HTTP/1.1 and HTTP/2 on the same port (hyper, axum). SIGTERM or SIGINT stops accepting, lets in-flight
//! requests finish and closes the store.
//!
//! What the CLI does for `atrest serve --data DIR --listen HOST:PORT [--tls-cert F --tls-key F] [--tls12]`:
//! open the store as for any other command, then
//!
//! ```no_run
//! # fn open_store() -> atrest_store::Store { unimplemented!() }
//! use atrest_server::{ServeOptions, TlsSource};
//!
//! let store = open_store();
//! let data = std::path::PathBuf::from("/srv/atrest");
//! let tls = TlsSource::default_self_signed(&store.format().store_id_hex()).expect("HOME is set");
//! let mut options = ServeOptions::new("127.0.0.1:0", data, tls);
//! options.allow_tls12 = false;
//! atrest_server::serve_blocking(store, &options, &mut std::io::stdout()).unwrap();
//! ```
//!
//! The first line written is `listening on https://HOST:PORT`; the next lines give the certificate's
//! SHA-256 fingerprint and its file.
//!
//! Every route but `GET /v1/health` needs `Authorization: Bearer TOKEN`; tokens are made with
//! [`auth::create_token`] (`atrest token create`) and only their hashes are kept, in the store's sealed
//! catalog. docs/api.md describes the routes, docs/openapi.json lists them (a test holds it to
//! [`route_table`]).

mod api;
pub mod auth;
mod cert;
mod error;
pub mod import;
mod log;
mod metrics;
mod options;
mod server;
mod timed_io;
mod tls;

use std::io::Write;

use atrest_store::Store;

pub use api::route_table;
pub use cert::ServerCert;
pub use error::ServeError;
pub use options::{HttpLimits, ServeOptions, TlsSource};
pub use server::{Listener, Server};

/// Binds, prints the banner to `out`, serves until SIGTERM or SIGINT, drains and closes the store.
///
/// # Errors
/// Everything [`Server::bind`] and [`Server::run`] report; a runtime or signal handler that cannot be set up.
pub fn serve_blocking(store: Store, options: &ServeOptions, out: &mut dyn Write) -> Result<(), ServeError> {
    run_blocking(Server::bind(store, options)?, out)
}

/// Prints the banner of a bound server to `out`, serves until SIGTERM or SIGINT, drains and closes the store.
///
/// # Errors
/// Everything [`Server::run`] reports; a runtime or signal handler that cannot be set up.
pub fn run_blocking(server: Server, out: &mut dyn Write) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(server.blocking_threads())
        .build()
        .map_err(ServeError::Runtime)?;
    // The banner must be out before the first request can be served; a closed stdout is not fatal.
    let _ = out.write_all(server.banner().as_bytes()).and_then(|()| out.flush());
    runtime.block_on(async {
        let stop = shutdown_signal()?;
        server.run(stop).await
    })
}

/// Completes on the first SIGTERM or SIGINT. Installs the handlers at once, so a signal that arrives before
/// the future is polled is not lost. Must be called inside a tokio runtime.
///
/// # Errors
/// When a signal handler cannot be installed.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Runtime)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
