//! The API through a client no one here wrote: Python's `requests` (on Python's ssl, OpenSSL) runs
//! tests/python/api_client.py against a server on 127.0.0.1 with an ephemeral port: collections, documents with
//! ETags and conditional writes, a chunked streamed import, find, a paged scan, a 3 MiB attachment both ways,
//! tokens made and revoked through the server, scopes, info and metrics.
//!
//! Needs `python3` with `requests` (scripts/test.d/07-tls-clients.sh installs it); `ATREST_TEST_PYTHON` names
//! another interpreter.

mod common;

use std::process::Command;

use atrest_server::auth::{Scope, create_token};
use common::{Running, dirs, new_store};

#[test]
fn python_requests_uses_the_whole_api() {
    let d = dirs();
    let store = new_store(&d.data);
    let admin = create_token(&store, Scope { read_only: false, collections: Vec::new() }).unwrap().token;
    let reader = create_token(&store, Scope { read_only: true, collections: Vec::new() }).unwrap().token;
    let r = Running::start(store, &d.options());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/api_client.py");
    let python = std::env::var("ATREST_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(&python)
        .arg(script)
        .arg(r.base())
        .arg(d.ca())
        .args([&admin, &reader])
        .output()
        .unwrap_or_else(|e| panic!("{python} (scripts/test.d/07-tls-clients.sh installs it): {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("python client: ok"), "{stdout}");
    r.stop().unwrap();
}
