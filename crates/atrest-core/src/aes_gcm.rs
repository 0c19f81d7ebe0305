//! `Aes128Gcm` and `Aes256Gcm`: AES-GCM with caller-supplied 96-bit nonces and 128-bit tags.

use aead::consts::{U12, U16, U32};
use aead::inout::InOutBuf;
use aead::{AeadCore, AeadInOut, Key, KeyInit, KeySizeUser, Nonce, TagPosition};

use crate::backend::dispatch::GcmKey;
use crate::backend::{self, Backend};
use crate::error::{BackendError, OpenError, SealError};
use crate::gcm::Tag;

macro_rules! aes_gcm_type {
    ($name:ident, $key_len:literal, $key_size:ty, $bits:literal) => {
        #[doc = concat!("AES-", $bits, "-GCM with a 96-bit nonce and a 128-bit tag.")]
        ///
        /// The backend is chosen when the key is built and never changes; the expanded key is zeroized on
        /// drop. The caller owns nonce uniqueness: never seal two messages with one (key, nonce) pair. For
        /// random or counter-free nonces use [`Xaes256Gcm`](crate::Xaes256Gcm).
        pub struct $name {
            key: GcmKey,
        }

        impl $name {
            /// Key length in bytes.
            pub const KEY_LEN: usize = $key_len;

            /// Builds a key on the default backend (`ATREST_BACKEND`, else the best one the host supports).
            ///
            /// # Errors
            /// When `ATREST_BACKEND` names an unknown backend or one this host cannot run.
            pub fn try_new(key: &[u8; $key_len]) -> Result<Self, BackendError> {
                Self::with_backend(key, backend::default_backend()?)
            }

            /// Builds a key on a named backend.
            ///
            /// # Errors
            /// [`BackendError::Unsupported`] when this host cannot run `backend`; its code never runs then.
            pub fn with_backend(key: &[u8; $key_len], backend: Backend) -> Result<Self, BackendError> {
                Ok(Self { key: GcmKey::new(backend, key)? })
            }

            /// The backend this key runs on.
            pub fn backend(&self) -> Backend {
                self.key.backend()
            }

            /// Encrypts `buf` in place and returns the detached tag.
            ///
            /// # Errors
            /// When the message or AAD exceeds GCM's limits; `buf` is untouched then.
            pub fn seal_in_place(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<Tag, SealError> {
                self.key.seal(nonce, aad, buf.into())
            }

            /// Encrypts `plaintext` into `out` (same length) and returns the detached tag.
            ///
            /// # Errors
            /// When the lengths differ or exceed GCM's limits.
            pub fn seal_into(
                &self,
                nonce: &[u8; 12],
                aad: &[u8],
                plaintext: &[u8],
                out: &mut [u8],
            ) -> Result<Tag, SealError> {
                let (input, output) = (plaintext.len(), out.len());
                let buf = InOutBuf::new(plaintext, out).map_err(|_| SealError::LengthMismatch { input, output })?;
                self.key.seal(nonce, aad, buf)
            }

            /// Decrypts `buf` in place if `tag` verifies.
            ///
            /// # Errors
            /// [`OpenError::Authentication`] if anything was altered; `buf` is zeroed then.
            pub fn open_in_place(
                &self,
                nonce: &[u8; 12],
                aad: &[u8],
                buf: &mut [u8],
                tag: &Tag,
            ) -> Result<(), OpenError> {
                self.key.open(nonce, aad, buf.into(), tag)
            }

            /// Decrypts `ciphertext` into `out` (same length) if `tag` verifies.
            ///
            /// # Errors
            /// [`OpenError::Authentication`] if anything was altered; `out` is zeroed then.
            pub fn open_into(
                &self,
                nonce: &[u8; 12],
                aad: &[u8],
                ciphertext: &[u8],
                out: &mut [u8],
                tag: &Tag,
            ) -> Result<(), OpenError> {
                let (input, output) = (ciphertext.len(), out.len());
                let buf = InOutBuf::new(ciphertext, out).map_err(|_| OpenError::LengthMismatch { input, output })?;
                self.key.open(nonce, aad, buf, tag)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("backend", &self.backend()).finish_non_exhaustive()
            }
        }

        impl KeySizeUser for $name {
            type KeySize = $key_size;
        }

        impl KeyInit for $name {
            /// # Panics
            /// When `ATREST_BACKEND` names an unknown backend or one this host cannot run: this trait
            /// cannot return the error, and silently ignoring a pinned backend would be worse. Use
            #[doc = concat!("[`", stringify!($name), "::try_new`] to handle it.")]
            fn new(key: &Key<Self>) -> Self {
                let key: &[u8; $key_len] = key.as_ref();
                Self::try_new(key).unwrap_or_else(|e| panic!("atrest-core: {e}"))
            }
        }

        impl AeadCore for $name {
            type NonceSize = U12;
            type TagSize = U16;
            const TAG_POSITION: TagPosition = TagPosition::Postfix;
        }

        impl AeadInOut for $name {
            fn encrypt_inout_detached(
                &self,
                nonce: &Nonce<Self>,
                associated_data: &[u8],
                buffer: InOutBuf<'_, '_, u8>,
            ) -> aead::Result<aead::Tag<Self>> {
                self.key.seal(nonce.as_ref(), associated_data, buffer).map(Into::into).map_err(|_| aead::Error)
            }

            fn decrypt_inout_detached(
                &self,
                nonce: &Nonce<Self>,
                associated_data: &[u8],
                buffer: InOutBuf<'_, '_, u8>,
                tag: &aead::Tag<Self>,
            ) -> aead::Result<()> {
                self.key.open(nonce.as_ref(), associated_data, buffer, tag.as_ref()).map_err(|_| aead::Error)
            }
        }
    };
}

aes_gcm_type!(Aes128Gcm, 16, U16, "128");
aes_gcm_type!(Aes256Gcm, 32, U32, "256");

impl Aes256Gcm {
    pub(crate) fn from_gcm_key(key: GcmKey) -> Self {
        Aes256Gcm { key }
    }
}
