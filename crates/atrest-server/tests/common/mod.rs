//! What the server's integration tests share: a store in a temporary directory, a server on 127.0.0.1 with an
//! ephemeral port running on its own runtime thread, and curl pointed at it (scripts/test.d/07-tls-clients.sh
//! installs curl, openssl and Python's requests).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use atrest_keys::{Keyring, LocalKeyFileProvider, MasterKeyId, SystemClock};
use atrest_server::{ServeError, ServeOptions, Server, TlsSource};
use atrest_store::{FsStorage, Store, StoreConfig};

/// A new store in `data` with a local key file beside it (`DATA.key`), as `atrest init` makes one.
pub fn new_store(data: &Path) -> Store {
    let key = data.with_extension("key");
    let master = MasterKeyId::new("master-1").unwrap();
    let provider = LocalKeyFileProvider::create(&key, data, &master).unwrap();
    let keyring = Keyring::create(data, Arc::new(provider), &master, Arc::new(SystemClock)).unwrap();
    Store::create(StoreConfig::new(Arc::new(FsStorage::new(data)), Arc::new(keyring))).unwrap()
}

/// A server running on its own runtime thread until dropped (or [`Running::stop`]).
pub struct Running {
    pub url: String,
    pub port: u16,
    pub banner: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl Running {
    pub fn start(store: Store, options: &ServeOptions) -> Running {
        let server = Server::bind(store, options).unwrap();
        let (url, port, banner) = (server.url(), server.local_addr().port(), server.banner());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let threads = server.blocking_threads();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(threads).build().unwrap();
            runtime.block_on(server.run(async {
                let _ = rx.await;
            }))
        });
        Running { url, port, banner, stop: Some(tx), thread: Some(thread) }
    }

    pub fn stop(mut self) -> Result<(), ServeError> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap()
    }

    /// `https://localhost:PORT` (the name the generated certificate covers).
    pub fn base(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// curl against `running` at `path`, trusting `ca`.
pub fn curl(running: &Running, ca: &Path, args: &[&str], path: &str) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--verbose", "--max-time", "30"])
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", running.port))
        .arg("--cacert")
        .arg(ca)
        .args(args)
        .arg(format!("{}{path}", running.base()))
        .output()
        .expect("curl is installed (scripts/test.d/07-tls-clients.sh)")
}

pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub struct Dirs {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub certs: PathBuf,
}

impl Dirs {
    /// The generated certificate, for `--cacert`.
    pub fn ca(&self) -> PathBuf {
        self.certs.join("cert.pem")
    }

    /// Options for a server on 127.0.0.1 with an ephemeral port and a generated certificate.
    pub fn options(&self) -> ServeOptions {
        ServeOptions::new("127.0.0.1:0", &self.data, TlsSource::SelfSigned { dir: self.certs.clone() })
    }
}

pub fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let (data, certs) = (tmp.path().join("data"), tmp.path().join("config/atrest/tls/store"));
    std::fs::create_dir(&data).unwrap();
    Dirs { tmp, data, certs }
}
