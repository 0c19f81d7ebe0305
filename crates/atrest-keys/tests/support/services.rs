//! The real key services the tests run against, each started by the test on 127.0.0.1 (or in a private
//! directory) and stopped when it ends: PyKMIP's KMIP server (PyPI `pykmip`, installed by
//! scripts/test.d/07-pykmip.sh) and a SoftHSM2 token (Debian `softhsm2`, scripts/test.d/05-packages.sh).
//! Included by the tests of atrest-keys and atrest-cli (`#[path]`), so there is one harness.
#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

/// `pykmip-server`: `$ATREST_PYKMIP_SERVER`, else the virtual environment scripts/test.d/07-pykmip.sh makes,
/// else `PATH`; without it the test fails saying what to install.
pub fn pykmip_server() -> PathBuf {
    if let Some(p) = std::env::var_os("ATREST_PYKMIP_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = Path::new(&home).join(".cache/atrest/pykmip/bin/pykmip-server");
        if venv.exists() {
            return venv;
        }
    }
    if let Some(found) = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("pykmip-server")).find(|p| p.exists()))
    {
        return found;
    }
    panic!(
        "pykmip-server not found: install PyKMIP (scripts/test.d/07-pykmip.sh makes a virtual environment in \
         ~/.cache/atrest/pykmip with `pip install pykmip`), or set ATREST_PYKMIP_SERVER to the server script"
    );
}

/// PEM files of a CA, a server certificate for 127.0.0.1 and a client certificate (PyKMIP requires the
/// client-auth extended key usage and a common name, its client identity), written into `dir`.
pub struct Certificates {
    pub ca: PathBuf,
    pub server_pem: PathBuf,
    pub server_key: PathBuf,
    pub client_pem: PathBuf,
    pub client_key: PathBuf,
}

pub fn certificates(dir: &Path, ca_name: &str) -> Certificates {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf = |sans: Vec<String>, cn: &str, eku| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![eku];
        (p.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    };
    let (server_pem, server_key) = leaf(vec!["127.0.0.1".into()], "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_pem, client_key) = leaf(vec![], "atrest-test", ExtendedKeyUsagePurpose::ClientAuth);
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Certificates {
        ca: write(&format!("{ca_name}.pem"), &ca_cert.pem()),
        server_pem: write(&format!("{ca_name}-server.pem"), &server_pem),
        server_key: write(&format!("{ca_name}-server.key"), &server_key),
        client_pem: write(&format!("{ca_name}-client.pem"), &client_pem),
        client_key: write(&format!("{ca_name}-client.key"), &client_key),
    }
}

/// A running `pykmip-server` in its own process group (it forks a policy monitor), whose whole group is killed
/// on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    conf: PathBuf,
    log: PathBuf,
}

impl Server {
    pub fn start(conf: &Path, log: &Path, port: u16) -> Server {
        let child = Command::new(pykmip_server())
            .args(["-f", conf.to_str().unwrap(), "-l", log.to_str().unwrap()])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pykmip-server starts");
        let mut s = Server { child, port, conf: conf.to_owned(), log: log.to_owned() };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("pykmip-server exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "pykmip-server did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    pub fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.stop();
        *self = Server::start(&self.conf.clone(), &self.log.clone(), self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A PyKMIP server with its own CA, certificates, policy directory and database under `dir`, and the
/// `kmip://` string of a client of it (with `extra` parameters appended, e.g. `&timeout=5`).
pub struct PyKmip {
    pub server: Server,
    pub certs: Certificates,
}

impl PyKmip {
    pub fn start(dir: &Path) -> PyKmip {
        std::fs::create_dir_all(dir).unwrap();
        let certs = certificates(dir, "ca");
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        let port = free_port();
        let conf = dir.join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={}\nkey_path={}\nca_path={}\n\
                 auth_suite=TLS1.2\npolicy_path={}\nenable_tls_client_auth=True\nlogging_level=INFO\n\
                 database_path={}\n",
                certs.server_pem.display(),
                certs.server_key.display(),
                certs.ca.display(),
                dir.join("policies").display(),
                dir.join("pykmip.sqlite").display()
            ),
        )
        .unwrap();
        let server = Server::start(&conf, &dir.join("server.log"), port);
        PyKmip { server, certs }
    }

    pub fn url(&self, extra: &str) -> String {
        format!(
            "kmip://127.0.0.1:{}?cert={}&key={}&ca={}{extra}",
            self.server.port,
            self.certs.client_pem.display(),
            self.certs.client_key.display(),
            self.certs.ca.display()
        )
    }
}

/// The SoftHSM2 module, from the usual Debian paths or from the package's file list.
pub fn softhsm_module() -> PathBuf {
    let candidates = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ];
    if let Some(found) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
        return found;
    }
    for package in ["libsofthsm2", "softhsm2"] {
        if let Ok(out) = Command::new("dpkg").args(["-L", package]).output() {
            let list = String::from_utf8_lossy(&out.stdout).into_owned();
            if let Some(line) = list.lines().find(|l| l.ends_with("/libsofthsm2.so") && Path::new(l).exists()) {
                return PathBuf::from(line);
            }
        }
    }
    panic!(
        "SoftHSM2 is not installed: no libsofthsm2.so found. Install the Debian package `softhsm2` \
         (apt-get install softhsm2; scripts/test.d/05-packages.sh does this before the workspace tests)"
    );
}

/// A SoftHSM2 token in a private token directory under `dir`, with its own `softhsm2.conf` (SoftHSM2 reads
/// `SOFTHSM2_CONF` when the module is initialized, so whatever loads the module needs `conf` in its
/// environment).
pub struct SoftHsm {
    pub module: PathBuf,
    pub conf: PathBuf,
    pub tokens: PathBuf,
    pub label: String,
    pub pin: String,
}

impl SoftHsm {
    pub fn new(dir: &Path, label: &str, pin: &str, so_pin: &str) -> SoftHsm {
        let module = softhsm_module();
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
        )
        .unwrap();
        let init = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin])
            .output()
            .expect("softhsm2-util (Debian package softhsm2) must be installed");
        assert!(init.status.success(), "softhsm2-util --init-token failed: {}", String::from_utf8_lossy(&init.stderr));
        SoftHsm { module, conf, tokens, label: label.to_owned(), pin: pin.to_owned() }
    }

    /// A `pkcs11:` string for the token, with the PIN in a 0600 file written next to `conf`.
    pub fn url(&self) -> String {
        use std::os::unix::fs::PermissionsExt;
        let pin = self.conf.with_file_name("pin");
        std::fs::write(&pin, format!("{}\n", self.pin)).unwrap();
        std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();
        format!("pkcs11:{}?token={}&pin-file={}", self.module.display(), self.label, pin.display())
    }
}
