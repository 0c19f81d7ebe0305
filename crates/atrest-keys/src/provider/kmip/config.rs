//! The KMIP provider's configuration, and its one-string form for command lines and config files:
//!
//! ```text
//! kmip://HOST[:PORT]?cert=PATH&key=PATH&ca=PATH[&prefix=P][&wrap=server|get][&timeout=SECONDS]
//!                   [&server-name=NAME][&destroy-retired=true|false]
//! ```
//!
//! `PORT` defaults to 5696 (IANA's KMIP port); `HOST` may be a name, an IPv4 address or `[IPv6]`. `cert` and
//! `key` are the client's PEM certificate (chain) and private key, `ca` the PEM CA that signed the server's
//! certificate. `prefix` (default `atrest-`) is prepended to master-key ids to form KMIP object names, so that
//! several stores can share a server with a prefix each. Values are percent-decoded. The string holds paths,
//! never secrets, so it may be recorded and shown.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{KeyError, Result};
use crate::provider::spec_text::{flag, percent_encode, query_pairs};

/// IANA's port for KMIP over TLS.
pub const DEFAULT_PORT: u16 = 5696;
const DEFAULT_PREFIX: &str = "atrest-";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How data keys are wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapMethod {
    /// The server's Encrypt/Decrypt (the default); a server whose Query lists neither falls back to Get.
    Server,
    /// Fetch the master key with Get and wrap in this process.
    Get,
}

/// Where the KMIP server is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmipConfig {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// The client certificate (PEM, leaf first).
    pub cert: PathBuf,
    /// The client's private key (PEM).
    pub key: PathBuf,
    /// The CA certificate(s) that the server's certificate must chain to (PEM).
    pub ca: PathBuf,
    /// The name the server's certificate must carry, when it is not `host`.
    pub server_name: Option<String>,
    /// Prepended to master-key ids to name the server's objects.
    pub prefix: String,
    /// How to wrap.
    pub wrap: WrapMethod,
    /// Limit for connecting and for each read and write.
    pub timeout: Duration,
    /// Whether retiring a master key destroys it on the server after revoking it.
    pub destroy_retired: bool,
}

impl KmipConfig {
    /// A configuration with the defaults for everything but the server and the three files.
    pub fn new(host: impl Into<String>, port: u16, cert: PathBuf, key: PathBuf, ca: PathBuf) -> KmipConfig {
        KmipConfig {
            host: host.into(),
            port,
            cert,
            key,
            ca,
            server_name: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            wrap: WrapMethod::Server,
            timeout: DEFAULT_TIMEOUT,
            destroy_retired: false,
        }
    }

    /// The name checked against the server's certificate.
    pub fn server_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }

    /// Parses the one-string form (see the module documentation).
    ///
    /// # Errors
    /// [`KeyError::ProviderConfig`] naming the part at fault: another scheme, a bad port, an unknown or repeated
    /// parameter, a missing `cert`, `key` or `ca`.
    pub fn parse(spec: &str) -> Result<KmipConfig> {
        let bad = |reason: String| KeyError::ProviderConfig { config: spec.to_owned(), reason };
        let rest =
            spec.strip_prefix("kmip://").ok_or_else(|| bad("expected kmip://HOST:PORT?cert=…&key=…&ca=…".into()))?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed [ in the IPv6 address".into()))?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host".into()));
        }
        let port = match port {
            Some(p) => {
                p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad(format!("port {p:?} is not 1-65535")))?
            }
            None => DEFAULT_PORT,
        };
        let (mut cert, mut key, mut ca) = (None, None, None);
        let mut cfg = KmipConfig::new(host, port, PathBuf::new(), PathBuf::new(), PathBuf::new());
        for (name, value) in query_pairs(query).map_err(bad)? {
            match name {
                "cert" => cert = Some(PathBuf::from(value)),
                "key" => key = Some(PathBuf::from(value)),
                "ca" => ca = Some(PathBuf::from(value)),
                "prefix" => cfg.prefix = value,
                "server-name" => cfg.server_name = Some(value),
                "wrap" => {
                    cfg.wrap = match value.as_str() {
                        "server" => WrapMethod::Server,
                        "get" => WrapMethod::Get,
                        v => return Err(bad(format!("wrap={v}: expected server or get"))),
                    }
                }
                "timeout" => {
                    let secs: u64 = value
                        .parse()
                        .ok()
                        .filter(|s| (1..=3600).contains(s))
                        .ok_or_else(|| bad(format!("timeout={value}: expected whole seconds from 1 to 3600")))?;
                    cfg.timeout = Duration::from_secs(secs);
                }
                "destroy-retired" => cfg.destroy_retired = flag(name, &value).map_err(bad)?,
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        let need =
            |v: Option<PathBuf>, name: &str, what: &str| v.ok_or_else(|| bad(format!("missing {name}= ({what})")));
        cfg.cert = need(cert, "cert", "the client certificate, PEM")?;
        cfg.key = need(key, "key", "the client private key, PEM")?;
        cfg.ca = need(ca, "ca", "the CA certificate of the server, PEM")?;
        Ok(cfg)
    }
}

impl fmt::Display for KmipConfig {
    /// The one-string form (paths only; no secret is part of a configuration).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(
            f,
            "kmip://{host}:{}?cert={}&key={}&ca={}",
            self.port,
            percent_encode(&self.cert.to_string_lossy()),
            percent_encode(&self.key.to_string_lossy()),
            percent_encode(&self.ca.to_string_lossy())
        )?;
        if self.prefix != DEFAULT_PREFIX {
            write!(f, "&prefix={}", percent_encode(&self.prefix))?;
        }
        if let Some(n) = &self.server_name {
            write!(f, "&server-name={}", percent_encode(n))?;
        }
        if self.wrap == WrapMethod::Get {
            f.write_str("&wrap=get")?;
        }
        if self.timeout != DEFAULT_TIMEOUT {
            write!(f, "&timeout={}", self.timeout.as_secs())?;
        }
        if self.destroy_retired {
            f.write_str("&destroy-retired=true")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        let c = KmipConfig::parse("kmip://kms.example:5697?cert=/c/client.pem&key=/c/client.key&ca=/c/ca.pem").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("kms.example", 5697));
        assert_eq!(c.cert, PathBuf::from("/c/client.pem"));
        assert_eq!(
            (c.prefix.as_str(), c.wrap, c.timeout, c.destroy_retired),
            ("atrest-", WrapMethod::Server, DEFAULT_TIMEOUT, false)
        );
        assert_eq!(KmipConfig::parse(&c.to_string()).unwrap(), c);

        let all = "kmip://[::1]?cert=a%20b.pem&key=k&ca=ca&prefix=store-7%2F&wrap=get&timeout=3\
                   &server-name=kms&destroy-retired=true";
        let c = KmipConfig::parse(all).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", DEFAULT_PORT));
        assert_eq!(c.cert, PathBuf::from("a b.pem"));
        assert_eq!((c.prefix.as_str(), c.server_name()), ("store-7/", "kms"));
        assert_eq!((c.wrap, c.timeout, c.destroy_retired), (WrapMethod::Get, Duration::from_secs(3), true));
        assert_eq!(KmipConfig::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (spec, needle) in [
            ("file:/x", "expected kmip://"),
            ("kmip://?cert=a&key=b&ca=c", "no host"),
            ("kmip://h:0?cert=a&key=b&ca=c", "port"),
            ("kmip://h:99999?cert=a&key=b&ca=c", "port"),
            ("kmip://h?key=b&ca=c", "missing cert="),
            ("kmip://h?cert=a&ca=c", "missing key="),
            ("kmip://h?cert=a&key=b", "missing ca="),
            ("kmip://h?cert=a&key=b&ca=c&pin=1", "unknown parameter"),
            ("kmip://h?cert=a&cert=b&key=b&ca=c", "given twice"),
            ("kmip://h?cert=a&key=b&ca=c&wrap=local", "wrap=local"),
            ("kmip://h?cert=a&key=b&ca=c&timeout=0", "timeout"),
            ("kmip://h?cert=%zz&key=b&ca=c", "percent"),
            ("kmip://[::1?cert=a&key=b&ca=c", "IPv6"),
            ("kmip://h?cert", "no value"),
        ] {
            match KmipConfig::parse(spec) {
                Err(KeyError::ProviderConfig { reason, config }) => {
                    assert!(reason.contains(needle), "{spec}: {reason}");
                    assert_eq!(config, spec);
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
    }
}
