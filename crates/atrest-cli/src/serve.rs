//! `atrest serve`: binds the listen address first, so the store's lock can record the server's URL as its
//! owner; then opens the store and hands it to atrest-server until SIGTERM. A command run on the same
//! directory meanwhile is told to go through that URL.

use atrest_server::{Listener, ServeOptions, Server, TlsSource};
use atrest_store::{StoreConfig, StoreError};
use std::path::{Path, PathBuf};

/// Options of `atrest serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// HOST:PORT to listen on; port 0 picks a free port (the first line printed says which).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8443")]
    listen: String,
    /// PEM certificate chain to present (default: a self-signed certificate generated on first start and
    /// kept next to the key files, outside the data directory).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (mode 0600 or stricter).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Also accept TLS 1.2 (AES-GCM suites with ECDHE only); default TLS 1.3 only.
    #[arg(long)]
    tls12: bool,
    /// Require client certificates issued by a CA in this PEM file (mutual TLS), on top of tokens.
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Where POST /v1/admin/backup backs up to (a directory or object-store URL).
    #[arg(long, value_name = "TARGET")]
    backup_target: Option<String>,
    /// Store operations in flight at once; more get 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_in_flight: usize,
}

/// Runs the server until SIGTERM or SIGINT, then closes the store.
pub fn serve(
    data: &Path,
    keys: &crate::keys::KeyArgs,
    tune: impl FnOnce(&mut StoreConfig),
    args: ServeArgs,
) -> Result<(), String> {
    let listener = Listener::bind(&args.listen).map_err(|e| e.to_string())?;
    let url = listener.url();
    if let Some(target) = &args.backup_target {
        let t = atrest_backup::Target::open(target).map_err(|e| e.to_string())?;
        t.refuse_inside(data).map_err(|e| e.to_string())?;
    }
    let store = crate::keys::open(data, keys, |c| {
        tune(c);
        c.owner = format!("atrest serve {url}");
    })?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files { cert, key },
        _ => TlsSource::default_self_signed(&store.format().store_id_hex())
            .ok_or("no --tls-cert/--tls-key given and neither XDG_CONFIG_HOME nor HOME is set")?,
    };
    let mut options = ServeOptions::new(args.listen, data, tls);
    options.allow_tls12 = args.tls12;
    options.client_ca = args.client_ca;
    options.backup_target = args.backup_target;
    options.limits.max_in_flight = args.max_in_flight.max(1);
    let server = Server::new(listener, store, &options).map_err(|e| e.to_string())?;
    atrest_server::run_blocking(server, &mut std::io::stdout()).map_err(|e| e.to_string())?;
    eprintln!("atrest serve: stopped; store closed cleanly");
    Ok(())
}

/// A store error as the CLI says it: when a server owns the directory, where to send the command instead.
pub fn store_error(e: StoreError) -> String {
    if let StoreError::InUse { holder, .. } = &e {
        let url = holder.split_whitespace().find(|w| w.starts_with("https://"));
        if let (true, Some(url)) = (holder.contains("atrest serve "), url) {
            return format!("{e}; it is an atrest server: use --url {url}");
        }
    }
    e.to_string()
}
