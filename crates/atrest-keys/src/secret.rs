//! Secret key material: zeroized on drop, never shown by `Debug`, exposed only by an explicit call.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{KeyError, Result, random};

/// Length of every data key and master key in bytes (AES-256 / XAES-256-GCM).
pub const KEY_LEN: usize = 32;

/// A 256-bit data key (DEK): the key the store seals pages with.
///
/// It lives unwrapped only in memory; `Debug` prints `DataKey(<redacted>)`, and the bytes are zeroized when the
/// last clone is dropped. Read them with [`DataKey::expose_secret`], which makes each use visible in review.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// Wraps raw key bytes (taken by value; the caller's copy is the caller's to zeroize).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        DataKey(Zeroizing::new(bytes))
    }

    /// Takes key bytes that are already in a zeroizing buffer, without another copy.
    pub(crate) fn from_zeroizing(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        DataKey(bytes)
    }

    /// Draws a fresh key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`KeyError::Random`] when the generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        random(&mut key[..])?;
        Ok(DataKey(key))
    }

    /// The key bytes, for building a cipher.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// The bytes live in a `Zeroizing` buffer, so dropping a `DataKey` clears them.
impl zeroize::ZeroizeOnDrop for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Master-key (KEK) bytes held in process memory by the local-file and in-memory providers. HSM-backed
/// providers never produce one: their master keys do not leave the token.
#[derive(Clone)]
pub struct MasterKeyMaterial(Zeroizing<[u8; KEY_LEN]>);

impl MasterKeyMaterial {
    /// Wraps raw master-key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        MasterKeyMaterial(Zeroizing::new(bytes))
    }

    /// Draws a fresh master key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`KeyError::Random`] when the generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        random(&mut key[..])?;
        Ok(MasterKeyMaterial(key))
    }

    /// The key bytes.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// The bytes live in a `Zeroizing` buffer, so dropping the material clears it.
impl zeroize::ZeroizeOnDrop for MasterKeyMaterial {}

impl fmt::Debug for MasterKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKeyMaterial(<redacted>)")
    }
}

/// The name of a master key inside its provider: a PKCS#11 label, a line of the local key file.
///
/// Ids are printable ASCII without spaces, 1 to 64 bytes, so they fit a key file line, a token label and an
/// error message unchanged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasterKeyId(String);

impl MasterKeyId {
    /// Longest id accepted (a PKCS#11 label has no fixed limit, but tokens often cut at 32 or 64 bytes).
    pub const MAX_LEN: usize = 64;

    /// Checks and wraps an id.
    ///
    /// # Errors
    /// [`KeyError::InvalidMasterKeyId`] when it is empty, longer than [`Self::MAX_LEN`], or holds anything but
    /// printable ASCII without spaces.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        match label_problem(&id, Self::MAX_LEN) {
            Some(reason) => Err(KeyError::InvalidMasterKeyId { master_key: id, reason }),
            None => Ok(MasterKeyId(id)),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKeyId({:?})", self.0)
    }
}

impl fmt::Display for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with a label that is stored in the clear and shown in messages (a master-key id, a scope
/// name): it must be 1 to `max` bytes of printable ASCII without spaces.
pub(crate) fn label_problem(label: &str, max: usize) -> Option<&'static str> {
    if label.is_empty() {
        Some("it is empty")
    } else if label.len() > max {
        Some("it is too long")
    } else if !label.bytes().all(|b| b.is_ascii_graphic()) {
        Some("only printable ASCII without spaces is allowed")
    } else {
        None
    }
}
