//! Master keys on a KMIP server (the protocol of enterprise key managers, used by MongoDB, MySQL and pg_tde),
//! over TLS with a client certificate.
//!
//! A master key is a managed AES-256 symmetric key on the server, found by its KMIP Name (`<prefix><master-key
//! id>`), created and activated there on request. Data keys are wrapped by the server's own **Encrypt** (AES-GCM,
//! a random 96-bit IV chosen here, the entry metadata as associated data, a 16-byte tag) and unwrapped by its
//! **Decrypt**, so the master key never leaves the server. Only where a server lacks Encrypt or Decrypt (its
//! Query lists neither), or the configuration says `wrap=get`, is the key fetched with **Get** and used here
//! with XAES-256-GCM, as the local key file does; [`KmipProvider::describe`] then says so.
//!
//! Before every wrap and unwrap the key's State attribute is read: a key that is not Active (pre-active,
//! revoked, compromised, destroyed) is refused with [`KeyError::MasterKeyNotActive`] naming its state. A server
//! that cannot be reached, does not complete the TLS handshake or stops answering within the timeout is
//! [`KeyError::ProviderUnreachable`] naming the server. Rotation creates a new server key (the keyring then
//! rewraps every data key under it); retiring the old one revokes it on the server ("cessation of operation"),
//! and destroys it there too when configured to.
//!
//! Wrapped form, first byte the method:
//!
//! ```text
//! 0x01 | IV (12) | ciphertext (32) | GCM tag (16)      server Encrypt (AES-256-GCM)
//! 0x02 | XAES-256-GCM wrap (72, see xaes_wrap)        key fetched with Get, wrapped here
//! ```
//!
//! Configuration as one string (see [`KmipConfig::parse`]):
//! `kmip://HOST[:PORT]?cert=PATH&key=PATH&ca=PATH[&prefix=P][&wrap=server|get][&timeout=SECONDS]
//! [&server-name=NAME][&destroy-retired=true]`.

mod config;
mod conn;
pub(crate) mod message;
pub(crate) mod ttlv;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustls::ClientConfig;
use zeroize::Zeroizing;

pub use config::{KmipConfig, WrapMethod};
use conn::{Conn, ConnError};
use message::{Failure, Operation, reason};
use ttlv::Item;

use super::{KeyProvider, xaes_wrap};
use crate::error::{KeyError, Result, random};
use crate::secret::{DataKey, KEY_LEN, MasterKeyId, MasterKeyMaterial};

const FORMAT_SERVER_GCM: u8 = 0x01;
const FORMAT_FETCHED_KEY: u8 = 0x02;
const IV_LEN: usize = 12;

/// How this provider wraps, decided when it connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmipWrapping {
    /// The server's Encrypt and Decrypt: the master key stays on the server.
    ServerEncrypt,
    /// The key is fetched with Get and used here, and why.
    FetchedKey(String),
}

/// A KMIP server as key provider. One connection, reopened once when it fails (a restarted server).
pub struct KmipProvider {
    config: KmipConfig,
    tls: Arc<ClientConfig>,
    conn: Mutex<Option<Conn>>,
    uids: Mutex<HashMap<MasterKeyId, String>>,
    wrapping: KmipWrapping,
}

impl std::fmt::Debug for KmipProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmipProvider")
            .field("config", &self.config)
            .field("wrapping", &self.wrapping)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KmipProvider {
    /// Connects to the server, checks that it answers, and asks which operations it supports.
    ///
    /// # Errors
    /// [`KeyError::ProviderConfig`] for unreadable certificate files; [`KeyError::ProviderUnreachable`] when the
    /// server does not answer.
    pub fn connect(config: KmipConfig) -> Result<Self> {
        let tls = conn::tls_config(&config).map_err(|e| conn_error(&config, e))?;
        let mut provider = KmipProvider {
            config,
            tls,
            conn: Mutex::new(None),
            uids: Mutex::new(HashMap::new()),
            wrapping: KmipWrapping::ServerEncrypt,
        };
        let ops = match provider.call(Operation::Query, message::query_operations())? {
            Ok(payload) => Some(message::payload_operations(&payload)),
            Err(f) if f.reason == Some(reason::OPERATION_NOT_SUPPORTED) => None,
            Err(f) => return Err(provider.failed(Operation::Query, &f)),
        };
        provider.wrapping = match (provider.config.wrap, ops) {
            (WrapMethod::Get, _) => KmipWrapping::FetchedKey("the configuration says wrap=get".into()),
            (WrapMethod::Server, Some(ops))
                if !ops.contains(&(Operation::Encrypt as u32)) || !ops.contains(&(Operation::Decrypt as u32)) =>
            {
                KmipWrapping::FetchedKey("the server's Query lists no Encrypt/Decrypt".into())
            }
            (WrapMethod::Server, _) => KmipWrapping::ServerEncrypt,
        };
        Ok(provider)
    }

    /// Parses `spec` (see [`KmipConfig::parse`]) and connects.
    ///
    /// # Errors
    /// As [`KmipConfig::parse`] and [`KmipProvider::connect`].
    pub fn from_url(spec: &str) -> Result<Self> {
        KmipProvider::connect(KmipConfig::parse(spec)?)
    }

    /// How data keys are wrapped.
    pub fn wrapping(&self) -> &KmipWrapping {
        &self.wrapping
    }

    /// The server, for messages.
    fn server(&self) -> String {
        format!("KMIP server {}:{}", self.config.host, self.config.port)
    }

    /// Sends one operation, reconnecting once if the connection fails.
    fn call(&self, op: Operation, payload: Vec<Item>) -> Result<std::result::Result<Item, Failure>> {
        let request = message::request(op, payload);
        let mut conn = lock(&self.conn);
        let mut last = String::new();
        for _attempt in 0..2 {
            if conn.is_none() {
                match Conn::open(&self.config, &self.tls) {
                    Ok(c) => *conn = Some(c),
                    Err(e) => return Err(conn_error(&self.config, e)),
                }
            }
            let c = conn.as_mut().expect("opened above");
            match c.exchange(&request) {
                Ok(bytes) => {
                    return message::response(&bytes).map_err(|e| KeyError::Provider {
                        provider: self.describe(),
                        reason: format!("{op:?}: malformed response: {e}"),
                    });
                }
                Err(e) => {
                    *conn = None;
                    last = match e {
                        ConnError::Unreachable(r) | ConnError::Config(r) => r,
                    };
                }
            }
        }
        Err(KeyError::ProviderUnreachable { provider: self.server(), reason: last })
    }

    /// Sends one operation that must succeed.
    fn call_ok(&self, op: Operation, payload: Vec<Item>) -> Result<Item> {
        self.call(op, payload)?.map_err(|f| self.failed(op, &f))
    }

    fn failed(&self, op: Operation, f: &Failure) -> KeyError {
        let why = match f.reason {
            Some(r) => format!("reason {r:#x}"),
            None => "no reason given".into(),
        };
        KeyError::Provider { provider: self.describe(), reason: format!("KMIP {op:?} failed ({why}): {}", f.message) }
    }

    fn not_found(&self, master: &MasterKeyId) -> KeyError {
        KeyError::MasterKeyNotFound { master_key: master.to_string(), provider: self.describe() }
    }

    fn name_of(&self, master: &MasterKeyId) -> String {
        format!("{}{}", self.config.prefix, master)
    }

    /// The KMIP name of the Secret Data object holding state record `name` (rollback protection).
    fn record_object(&self, name: &str) -> String {
        format!("{}state-record-{name}", self.config.prefix)
    }

    /// The server's unique identifier of master key `master`, found by name once.
    fn uid(&self, master: &MasterKeyId) -> Result<String> {
        if let Some(uid) = lock(&self.uids).get(master) {
            return Ok(uid.clone());
        }
        let found =
            message::payload_uids(&self.call_ok(Operation::Locate, message::locate(Some(&self.name_of(master))))?);
        match found.as_slice() {
            [] => Err(self.not_found(master)),
            [uid] => {
                lock(&self.uids).insert(master.clone(), uid.clone());
                Ok(uid.clone())
            }
            many => Err(KeyError::Provider {
                provider: self.describe(),
                reason: format!(
                    "{} objects are named {:?} (ids {many:?}); names must be unique",
                    many.len(),
                    self.name_of(master)
                ),
            }),
        }
    }

    /// The State the server reports for object `uid` of master key `master`.
    fn state(&self, master: &MasterKeyId, uid: &str) -> Result<u32> {
        let reply = match self.call(Operation::GetAttributes, message::get_attribute(uid, "State"))? {
            Ok(p) => p,
            Err(f) if f.reason == Some(reason::ITEM_NOT_FOUND) => {
                lock(&self.uids).remove(master);
                return Err(self.not_found(master));
            }
            Err(f) => return Err(self.failed(Operation::GetAttributes, &f)),
        };
        message::payload_attribute(&reply).and_then(Item::as_enum).ok_or_else(|| KeyError::Provider {
            provider: self.describe(),
            reason: format!("the server gave no State for object {uid}"),
        })
    }

    /// The key's uid, after checking that the server reports it Active.
    fn active_uid(&self, master: &MasterKeyId) -> Result<String> {
        let uid = self.uid(master)?;
        let state = self.state(master, &uid)?;
        if state != message::STATE_ACTIVE {
            return Err(KeyError::MasterKeyNotActive {
                master_key: master.to_string(),
                provider: self.describe(),
                state: message::state_name(state),
            });
        }
        Ok(uid)
    }

    /// The key bytes, fetched with Get (only in [`KmipWrapping::FetchedKey`] mode and for format 0x02).
    fn fetch(&self, master: &MasterKeyId, uid: &str) -> Result<MasterKeyMaterial> {
        let payload = self.call_ok(Operation::Get, message::object(uid))?;
        let raw = message::payload_key(&payload).ok_or_else(|| KeyError::Provider {
            provider: self.describe(),
            reason: format!("Get of master key {master:?} returned no raw symmetric key"),
        })?;
        let bytes: Zeroizing<[u8; KEY_LEN]> = Zeroizing::new(raw.try_into().map_err(|_| KeyError::Provider {
            provider: self.describe(),
            reason: format!("master key {master:?} is {} bytes, not an AES-256 key", raw.len()),
        })?);
        Ok(MasterKeyMaterial::from_bytes(*bytes))
    }

    fn server_wrap(&self, uid: &str, key: &DataKey, aad: &[u8]) -> Result<Vec<u8>> {
        let mut iv = [0u8; IV_LEN];
        random(&mut iv)?;
        let reply = self.call_ok(Operation::Encrypt, message::encrypt(uid, key.expose_secret(), &iv, aad))?;
        let (Some(ct), Some(tag)) = message::payload_data(&reply) else {
            return Err(KeyError::Provider {
                provider: self.describe(),
                reason: "Encrypt returned no data or no GCM tag (the server must speak KMIP 1.4)".into(),
            });
        };
        if ct.len() != KEY_LEN || tag.len() != message::GCM_TAG_LEN {
            return Err(KeyError::Provider {
                provider: self.describe(),
                reason: format!("Encrypt returned {} bytes and a {}-byte tag", ct.len(), tag.len()),
            });
        }
        let mut out = Vec::with_capacity(1 + IV_LEN + KEY_LEN + message::GCM_TAG_LEN);
        out.push(FORMAT_SERVER_GCM);
        out.extend_from_slice(&iv);
        out.extend_from_slice(ct);
        out.extend_from_slice(tag);
        Ok(out)
    }

    fn server_unwrap(&self, master: &MasterKeyId, uid: &str, body: &[u8], aad: &[u8]) -> Result<DataKey> {
        let failed = || KeyError::UnwrapFailed { master_key: master.to_string() };
        if body.len() != IV_LEN + KEY_LEN + message::GCM_TAG_LEN {
            return Err(failed());
        }
        let (iv, rest) = body.split_at(IV_LEN);
        let (ct, tag) = rest.split_at(KEY_LEN);
        let reply = match self.call(Operation::Decrypt, message::decrypt(uid, ct, iv, aad, tag))? {
            Ok(p) => p,
            // The key was just seen Active, so a refused Decrypt is the tag not matching: servers report that
            // as Cryptographic Failure, PyKMIP as General Failure.
            Err(f) if matches!(f.reason, Some(reason::CRYPTOGRAPHIC_FAILURE | reason::GENERAL_FAILURE)) => {
                return Err(failed());
            }
            Err(f) => return Err(self.failed(Operation::Decrypt, &f)),
        };
        let plain = message::payload_data(&reply).0.ok_or_else(failed)?;
        let bytes: Zeroizing<[u8; KEY_LEN]> = Zeroizing::new(plain.try_into().map_err(|_| failed())?);
        Ok(DataKey::from_bytes(*bytes))
    }
}

fn conn_error(config: &KmipConfig, e: ConnError) -> KeyError {
    match e {
        ConnError::Unreachable(reason) => {
            KeyError::ProviderUnreachable { provider: format!("KMIP server {}:{}", config.host, config.port), reason }
        }
        ConnError::Config(reason) => KeyError::ProviderConfig { config: config.to_string(), reason },
    }
}

impl KeyProvider for KmipProvider {
    fn kind(&self) -> &'static str {
        "kmip"
    }

    fn describe(&self) -> String {
        match &self.wrapping {
            KmipWrapping::ServerEncrypt => self.server(),
            KmipWrapping::FetchedKey(why) => {
                format!("{} (master keys fetched with Get and used in this process: {why})", self.server())
            }
        }
    }

    fn locator(&self) -> Option<String> {
        Some(self.config.to_string())
    }

    fn master_key_ids(&self) -> Result<Vec<MasterKeyId>> {
        let uids = message::payload_uids(&self.call_ok(Operation::Locate, message::locate_symmetric_keys())?);
        let mut ids = Vec::new();
        for uid in uids {
            let Ok(reply) = self.call(Operation::GetAttributes, message::get_attribute(&uid, "Name"))? else {
                continue;
            };
            let name = message::payload_attribute(&reply).and_then(message::name_text);
            if let Some(id) = name.and_then(|n| n.strip_prefix(&self.config.prefix))
                && let Ok(id) = MasterKeyId::new(id)
            {
                ids.push(id);
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn create_master_key(&self, id: &MasterKeyId) -> Result<()> {
        match self.uid(id) {
            Ok(_) => return Err(KeyError::MasterKeyExists { master_key: id.to_string(), provider: self.describe() }),
            Err(KeyError::MasterKeyNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let created = self.call_ok(Operation::Create, message::create_aes256(&self.name_of(id)))?;
        let uid = message::payload_uid(&created).ok_or_else(|| KeyError::Provider {
            provider: self.describe(),
            reason: "Create returned no unique identifier".into(),
        })?;
        self.call_ok(Operation::Activate, message::object(&uid))?;
        lock(&self.uids).insert(id.clone(), uid);
        Ok(())
    }

    fn wrap(&self, master: &MasterKeyId, key: &DataKey, aad: &[u8]) -> Result<Vec<u8>> {
        let uid = self.active_uid(master)?;
        match &self.wrapping {
            KmipWrapping::ServerEncrypt => self.server_wrap(&uid, key, aad),
            KmipWrapping::FetchedKey(_) => {
                let kek = self.fetch(master, &uid)?;
                let mut out = vec![FORMAT_FETCHED_KEY];
                out.extend(xaes_wrap::wrap(&self.describe(), master, &kek, key, aad)?);
                Ok(out)
            }
        }
    }

    fn unwrap(&self, master: &MasterKeyId, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
        let uid = self.active_uid(master)?;
        match wrapped.split_first() {
            Some((&FORMAT_SERVER_GCM, body)) => self.server_unwrap(master, &uid, body, aad),
            Some((&FORMAT_FETCHED_KEY, body)) => {
                let kek = self.fetch(master, &uid)?;
                xaes_wrap::unwrap(&self.describe(), master, &kek, body, aad)
            }
            _ => Err(KeyError::UnwrapFailed { master_key: master.to_string() }),
        }
    }

    /// Every Secret Data object named for record `name` (two where a replacement was cut short).
    fn read_records(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let object = self.record_object(name);
        let uids = message::payload_uids(&self.call_ok(Operation::Locate, message::locate(Some(&object)))?);
        let mut out = Vec::with_capacity(uids.len());
        for uid in uids {
            let payload = self.call_ok(Operation::Get, message::object(&uid))?;
            let bytes = message::payload_secret(&payload).ok_or_else(|| KeyError::StateRecordCorrupt {
                origin: format!("object {uid} ({object:?}) on {}", self.server()),
                reason: "Get returned no secret data".into(),
            })?;
            out.push(bytes.to_vec());
        }
        Ok(out)
    }

    /// Registers the record as a new Secret Data object, then destroys the copies it replaces.
    fn write_record(&self, name: &str, _master: &MasterKeyId, bytes: &[u8]) -> Result<()> {
        let object = self.record_object(name);
        let old = message::payload_uids(&self.call_ok(Operation::Locate, message::locate(Some(&object)))?);
        self.call_ok(Operation::Register, message::register_secret(&object, bytes))?;
        for uid in old {
            self.call_ok(Operation::Destroy, message::object(&uid))?;
        }
        Ok(())
    }

    fn retire_master_key(&self, id: &MasterKeyId) -> Result<()> {
        let uid = match self.uid(id) {
            Ok(uid) => uid,
            Err(KeyError::MasterKeyNotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if self.state(id, &uid)? == message::STATE_ACTIVE {
            self.call_ok(Operation::Revoke, message::revoke(&uid))?;
        }
        if self.config.destroy_retired {
            self.call_ok(Operation::Destroy, message::object(&uid))?;
            lock(&self.uids).remove(id);
        }
        Ok(())
    }
}
