//! Master keys in a PKCS#11 token (an HSM, or SoftHSM2 in tests), through the `cryptoki` crate.
//!
//! A master key is a token AES-256 key object found by its label (`CKA_LABEL` = the master-key id), created
//! on request inside the token as sensitive and non-extractable, usable only to wrap and unwrap. Data keys are
//! wrapped with `CKM_AES_KEY_WRAP` (RFC 3394, 40 bytes for a 32-byte key). The padded variant
//! (`CKM_AES_KEY_WRAP_PAD`, RFC 5649) is not used: SoftHSM2's is wrong for lengths that are not a multiple
//! of 8, and a 32-byte key needs no padding.
//!
//! RFC 3394 has no associated data, so this provider ignores `aad`; the keyring binds the entry metadata under
//! the data key itself (see `keyring::entry`). To wrap, the data key is imported as a short-lived session object
//! and destroyed right after; to unwrap, the token creates a session object whose value is read back and that
//! is then destroyed. The data key must reach host memory anyway: the store seals pages with it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use zeroize::{Zeroize, Zeroizing};

mod config;

pub use config::{PinSource, Pkcs11Config};

use super::KeyProvider;
use crate::error::{KeyError, Result};
use crate::secret::{DataKey, KEY_LEN, MasterKeyId};

/// A PKCS#11 token as key provider. One logged-in session, used by one thread at a time.
pub struct Pkcs11Provider {
    config: Pkcs11Config,
    session: Mutex<Session>,
}

impl std::fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Provider").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Pkcs11Provider {
    /// Loads the module, finds the token by label, opens a session and logs in as user.
    ///
    /// # Errors
    /// [`KeyError::ProviderUnreachable`] when the module cannot be loaded or no token has the label;
    /// [`KeyError::WrongPin`] when the token refuses the PIN.
    pub fn connect(config: Pkcs11Config) -> Result<Self> {
        let describe = describe(&config);
        let unreachable = |reason: String| KeyError::ProviderUnreachable { provider: describe.clone(), reason };
        let ctx = Pkcs11::new(&config.module)
            .map_err(|e| unreachable(format!("cannot load PKCS#11 module {}: {e}", config.module.display())))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(unreachable(format!("C_Initialize failed: {e}"))),
        }
        let slots = ctx.get_slots_with_token().map_err(|e| unreachable(format!("cannot list slots: {e}")))?;
        let slot = slots
            .into_iter()
            .find(|s| ctx.get_token_info(*s).is_ok_and(|t| t.label().trim_end() == config.token_label))
            .ok_or_else(|| unreachable(format!("no token labelled {:?} is present", config.token_label)))?;
        let session = ctx.open_rw_session(slot).map_err(|e| unreachable(format!("cannot open a session: {e}")))?;
        match session.login(UserType::User, Some(&AuthPin::from(config.pin.as_str()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange | RvError::PinLocked,
                _,
            )) => return Err(KeyError::WrongPin { provider: describe }),
            Err(e) => return Err(map_err(&describe, e)),
        }
        Ok(Pkcs11Provider { config, session: Mutex::new(session) })
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn err(&self, e: CkError) -> KeyError {
        map_err(&self.describe(), e)
    }

    fn find(&self, session: &Session, id: &MasterKeyId) -> Result<Option<ObjectHandle>> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Label(id.as_str().as_bytes().to_vec()),
        ];
        let found = session.find_objects(&template).map_err(|e| self.err(e))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(KeyError::Provider {
                provider: self.describe(),
                reason: format!("{} AES keys carry the label {:?}; labels must be unique", found.len(), id.as_str()),
            }),
        }
    }

    /// The token's data objects holding state record `name`.
    fn records(&self, session: &Session, name: &str) -> Result<Vec<ObjectHandle>> {
        let template = [
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(record_label(name).into_bytes()),
        ];
        session.find_objects(&template).map_err(|e| self.err(e))
    }

    fn master(&self, session: &Session, id: &MasterKeyId) -> Result<ObjectHandle> {
        self.find(session, id)?
            .ok_or_else(|| KeyError::MasterKeyNotFound { master_key: id.to_string(), provider: self.describe() })
    }

    /// The token's view of a master key's protection: (`CKA_SENSITIVE`, `CKA_EXTRACTABLE`).
    ///
    /// # Errors
    /// [`KeyError::MasterKeyNotFound`] and token errors.
    pub fn master_key_protection(&self, id: &MasterKeyId) -> Result<(bool, bool)> {
        let session = self.session();
        let key = self.master(&session, id)?;
        let attrs = session
            .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
            .map_err(|e| self.err(e))?;
        let (mut sensitive, mut extractable) = (false, true);
        for a in attrs {
            match a {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                _ => {}
            }
        }
        Ok((sensitive, extractable))
    }
}

/// The label of the token object (a private data object of application `atrest`) holding state record `name`.
fn record_label(name: &str) -> String {
    format!("atrest-state-{name}")
}

fn describe(config: &Pkcs11Config) -> String {
    format!("PKCS#11 token {:?} via {}", config.token_label, config.module.display())
}

/// Maps a token error: lost devices and sessions are "unreachable", the rest a provider failure.
fn map_err(provider: &str, e: CkError) -> KeyError {
    match e {
        CkError::Pkcs11(
            RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::CryptokiNotInitialized,
            _,
        )
        | CkError::LibraryLoading(_) => {
            KeyError::ProviderUnreachable { provider: provider.to_owned(), reason: e.to_string() }
        }
        CkError::Pkcs11(RvError::UserNotLoggedIn | RvError::PinExpired | RvError::PinLocked, _) => {
            KeyError::WrongPin { provider: provider.to_owned() }
        }
        other => KeyError::Provider { provider: provider.to_owned(), reason: other.to_string() },
    }
}

/// A short-lived, extractable session key object.
fn session_key_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

impl KeyProvider for Pkcs11Provider {
    fn kind(&self) -> &'static str {
        "pkcs11"
    }

    fn describe(&self) -> String {
        describe(&self.config)
    }

    fn locator(&self) -> Option<String> {
        self.config.pin_source.is_some().then(|| self.config.to_string())
    }

    fn master_key_ids(&self) -> Result<Vec<MasterKeyId>> {
        let session = self.session();
        let template =
            [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(true)];
        let mut ids = Vec::new();
        for handle in session.find_objects(&template).map_err(|e| self.err(e))? {
            let attrs = session.get_attributes(handle, &[AttributeType::Label]).map_err(|e| self.err(e))?;
            for a in attrs {
                if let Attribute::Label(label) = a
                    && let Ok(label) = String::from_utf8(label)
                    && let Ok(id) = MasterKeyId::new(label)
                {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn create_master_key(&self, id: &MasterKeyId) -> Result<()> {
        let session = self.session();
        if self.find(&session, id)?.is_some() {
            return Err(KeyError::MasterKeyExists { master_key: id.to_string(), provider: self.describe() });
        }
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen((KEY_LEN as u64).into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Label(id.as_str().as_bytes().to_vec()),
        ];
        session.generate_key(&Mechanism::AesKeyGen, &template).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn wrap(&self, master: &MasterKeyId, key: &DataKey, _aad: &[u8]) -> Result<Vec<u8>> {
        let session = self.session();
        let kek = self.master(&session, master)?;
        let mut template = session_key_template();
        template.push(Attribute::Value(key.expose_secret().to_vec()));
        let object = session.create_object(&template);
        // The template's copy of the key is no longer needed, whatever the token answered.
        for a in &mut template {
            if let Attribute::Value(v) = a {
                v.zeroize();
            }
        }
        let object = object.map_err(|e| self.err(e))?;
        let wrapped = session.wrap_key(&Mechanism::AesKeyWrap, kek, object);
        let destroyed = session.destroy_object(object);
        let wrapped = wrapped.map_err(|e| self.err(e))?;
        destroyed.map_err(|e| self.err(e))?;
        Ok(wrapped)
    }

    fn unwrap(&self, master: &MasterKeyId, wrapped: &[u8], _aad: &[u8]) -> Result<DataKey> {
        let session = self.session();
        let kek = self.master(&session, master)?;
        let object = match session.unwrap_key(&Mechanism::AesKeyWrap, kek, wrapped, &session_key_template()) {
            Ok(object) => object,
            Err(CkError::Pkcs11(
                RvError::WrappedKeyInvalid
                | RvError::WrappedKeyLenRange
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::TemplateInconsistent,
                _,
            )) => return Err(KeyError::UnwrapFailed { master_key: master.to_string() }),
            // SoftHSM2 (and some HSMs) report a failed RFC 3394 integrity check as a general error. If the
            // session still answers, the token is fine and the wrapped key did not authenticate.
            Err(CkError::Pkcs11(RvError::GeneralError | RvError::FunctionFailed, _))
                if session.get_session_info().is_ok() =>
            {
                return Err(KeyError::UnwrapFailed { master_key: master.to_string() });
            }
            Err(e) => return Err(self.err(e)),
        };
        let attrs = session.get_attributes(object, &[AttributeType::Value]);
        let destroyed = session.destroy_object(object);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        let mut found = false;
        for a in attrs.map_err(|e| self.err(e))? {
            if let Attribute::Value(mut v) = a {
                if v.len() == KEY_LEN {
                    key.copy_from_slice(&v);
                    found = true;
                }
                v.zeroize();
            }
        }
        destroyed.map_err(|e| self.err(e))?;
        if !found {
            return Err(KeyError::UnwrapFailed { master_key: master.to_string() });
        }
        Ok(DataKey::from_zeroizing(key))
    }

    fn read_records(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let session = self.session();
        let mut out = Vec::new();
        for handle in self.records(&session, name)? {
            for a in session.get_attributes(handle, &[AttributeType::Value]).map_err(|e| self.err(e))? {
                if let Attribute::Value(v) = a {
                    out.push(v);
                }
            }
        }
        Ok(out)
    }

    /// Tokens may refuse to change a data object's value (SoftHSM2 does), so a new object is made and the old
    /// ones destroyed after it: an update cut short leaves two, which [`KeyProvider::read_records`] returns
    /// and the keyring merges.
    fn write_record(&self, name: &str, _master: &MasterKeyId, bytes: &[u8]) -> Result<()> {
        let session = self.session();
        let old = self.records(&session, name)?;
        let template = [
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Modifiable(false),
            Attribute::Label(record_label(name).into_bytes()),
            Attribute::Application(b"atrest".to_vec()),
            Attribute::Value(bytes.to_vec()),
        ];
        session.create_object(&template).map_err(|e| self.err(e))?;
        for handle in old {
            session.destroy_object(handle).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn retire_master_key(&self, id: &MasterKeyId) -> Result<()> {
        if !self.config.destroy_retired_master_keys {
            return Ok(());
        }
        let session = self.session();
        if let Some(key) = self.find(&session, id)? {
            session.destroy_object(key).map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}
