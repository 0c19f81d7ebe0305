//! XAES-256-GCM (C2SP, <https://c2sp.org/XAES-256-GCM>): AES-256-GCM under a subkey derived from the first
//! 12 bytes of a 24-byte nonce, so nonces can be drawn at random without GCM's 2^32-message limit.
//!
//! Derivation (NIST SP 800-108r1 counter-mode KDF with CMAC-AES-256, one block per half):
//! `L = AES(K, 0^128)`, `K1 = L << 1` (XOR `0x87` into the last byte if L's top bit was set),
//! `Kx = AES(K, K1 ^ [0,1,'X',0] || N[..12]) || AES(K, K1 ^ [0,2,'X',0] || N[..12])`, then
//! AES-256-GCM with key `Kx` and nonce `N[12..]`. `K1` is computed once per key.
//!
//! A writer that keeps one 12-byte prefix and counts in the other 12 bytes pays the derivation once: derived
//! keys (their schedules and GHASH powers) are cached per prefix, bounded, and zeroized when evicted.

use std::sync::{Arc, Mutex, PoisonError};

use aead::consts::{U24, U32};
use aead::inout::InOutBuf;
use aead::{AeadCore, AeadInOut, Key, KeyInit, KeySizeUser, Nonce, TagPosition};
use aes::cipher::{Array, BlockCipherEncrypt};
use zeroize::{Zeroize, Zeroizing};

use crate::Aes256Gcm;
use crate::backend::dispatch::GcmKey;
use crate::backend::{self, Backend};
use crate::error::{BackendError, OpenError, SealError};
use crate::gcm::Tag;

/// Length of an XAES-256-GCM nonce.
pub const XAES_NONCE_LEN: usize = 24;
/// Length of the nonce prefix that selects the derived subkey.
pub const XAES_PREFIX_LEN: usize = 12;
/// How many derived subkeys a key keeps; the least recently used one is dropped (and zeroized) first.
pub const SUBKEY_CACHE_CAPACITY: usize = 16;

/// XAES-256-GCM: a 256-bit key, a 192-bit nonce that may be random, a 128-bit tag.
pub struct Xaes256Gcm {
    backend: Backend,
    cipher: aes::Aes256,
    k1: [u8; 16],
    cache: Mutex<Vec<([u8; XAES_PREFIX_LEN], Arc<Aes256Gcm>)>>,
}

impl Drop for Xaes256Gcm {
    fn drop(&mut self) {
        self.k1.zeroize();
    }
}

impl Xaes256Gcm {
    /// Key length in bytes.
    pub const KEY_LEN: usize = 32;

    /// Builds a key on the default backend (`ATREST_BACKEND`, else the best one the host supports).
    ///
    /// # Errors
    /// When `ATREST_BACKEND` names an unknown backend or one this host cannot run.
    pub fn try_new(key: &[u8; 32]) -> Result<Self, BackendError> {
        Self::with_backend(key, backend::default_backend()?)
    }

    /// Builds a key whose derived subkeys run on `backend`.
    ///
    /// # Errors
    /// [`BackendError::Unsupported`] when this host cannot run `backend`.
    pub fn with_backend(key: &[u8; 32], backend: Backend) -> Result<Self, BackendError> {
        let backend = backend.check_supported()?;
        let cipher = <aes::Aes256 as aes::cipher::KeyInit>::new(&Array::from(*key));
        let mut l = aes::Block::default();
        cipher.encrypt_block(&mut l);
        let mut k1 = [0u8; 16];
        let msb = l[0] >> 7;
        for i in 0..16 {
            let next = if i + 1 < 16 { l[i + 1] >> 7 } else { 0 };
            k1[i] = (l[i] << 1) | next;
        }
        // Constant-time conditional XOR of the CMAC constant.
        k1[15] ^= 0x87 & 0u8.wrapping_sub(msb);
        l.as_mut_slice().zeroize();
        Ok(Xaes256Gcm { backend, cipher, k1, cache: Mutex::new(Vec::with_capacity(SUBKEY_CACHE_CAPACITY)) })
    }

    /// The backend the derived subkeys run on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The AES-256-GCM key for nonces that start with `prefix`, from the cache or derived now.
    ///
    /// A sealer that fixes the prefix can hold this key and seal with nonce suffixes directly.
    pub fn subkey(&self, prefix: &[u8; XAES_PREFIX_LEN]) -> Arc<Aes256Gcm> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pos) = cache.iter().position(|(p, _)| p == prefix) {
            let entry = cache.remove(pos);
            let key = Arc::clone(&entry.1);
            cache.insert(0, entry);
            return key;
        }
        let key = Arc::new(self.derive(prefix));
        if cache.len() == SUBKEY_CACHE_CAPACITY {
            cache.pop();
        }
        cache.insert(0, (*prefix, Arc::clone(&key)));
        key
    }

    /// Derives the subkey for `prefix` without touching the cache.
    pub fn derive(&self, prefix: &[u8; XAES_PREFIX_LEN]) -> Aes256Gcm {
        let mut blocks = [aes::Block::default(); 2];
        for (i, block) in blocks.iter_mut().enumerate() {
            block[..4].copy_from_slice(&[0, i as u8 + 1, b'X', 0]);
            block[4..].copy_from_slice(prefix);
            for (b, k) in block.iter_mut().zip(&self.k1) {
                *b ^= k;
            }
        }
        self.cipher.encrypt_blocks(&mut blocks);
        let mut kx = Zeroizing::new([0u8; 32]);
        kx[..16].copy_from_slice(&blocks[0]);
        kx[16..].copy_from_slice(&blocks[1]);
        blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
        let key = GcmKey::new(self.backend, &kx[..]).expect("backend was checked when the key was built");
        Aes256Gcm::from_gcm_key(key)
    }

    fn split(nonce: &[u8; XAES_NONCE_LEN]) -> (&[u8; 12], &[u8; 12]) {
        let (prefix, suffix) = nonce.split_at(XAES_PREFIX_LEN);
        (prefix.try_into().expect("12 bytes"), suffix.try_into().expect("12 bytes"))
    }

    /// Encrypts `buf` in place and returns the detached tag.
    ///
    /// # Errors
    /// When the message or AAD exceeds GCM's limits; `buf` is untouched then.
    pub fn seal_in_place(&self, nonce: &[u8; XAES_NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag, SealError> {
        let (prefix, suffix) = Self::split(nonce);
        self.subkey(prefix).seal_in_place(suffix, aad, buf)
    }

    /// Encrypts `plaintext` into `out` (same length) and returns the detached tag.
    ///
    /// # Errors
    /// When the lengths differ or exceed GCM's limits.
    pub fn seal_into(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<Tag, SealError> {
        let (prefix, suffix) = Self::split(nonce);
        self.subkey(prefix).seal_into(suffix, aad, plaintext, out)
    }

    /// Decrypts `buf` in place if `tag` verifies.
    ///
    /// # Errors
    /// [`OpenError::Authentication`] if anything was altered; `buf` is zeroed then.
    pub fn open_in_place(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &Tag,
    ) -> Result<(), OpenError> {
        let (prefix, suffix) = Self::split(nonce);
        self.subkey(prefix).open_in_place(suffix, aad, buf, tag)
    }

    /// Decrypts `ciphertext` into `out` (same length) if `tag` verifies.
    ///
    /// # Errors
    /// [`OpenError::Authentication`] if anything was altered; `out` is zeroed then.
    pub fn open_into(
        &self,
        nonce: &[u8; XAES_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), OpenError> {
        let (prefix, suffix) = Self::split(nonce);
        self.subkey(prefix).open_into(suffix, aad, ciphertext, out, tag)
    }
}

impl std::fmt::Debug for Xaes256Gcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Xaes256Gcm").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl KeySizeUser for Xaes256Gcm {
    type KeySize = U32;
}

impl KeyInit for Xaes256Gcm {
    /// # Panics
    /// When `ATREST_BACKEND` names an unknown backend or one this host cannot run; use
    /// [`Xaes256Gcm::try_new`] to handle that as an error.
    fn new(key: &Key<Self>) -> Self {
        Self::try_new(key.as_ref()).unwrap_or_else(|e| panic!("atrest-core: {e}"))
    }
}

impl AeadCore for Xaes256Gcm {
    type NonceSize = U24;
    type TagSize = aead::consts::U16;
    const TAG_POSITION: TagPosition = TagPosition::Postfix;
}

impl AeadInOut for Xaes256Gcm {
    fn encrypt_inout_detached(
        &self,
        nonce: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
    ) -> aead::Result<aead::Tag<Self>> {
        let (prefix, suffix) = Self::split(nonce.as_ref());
        let key = self.subkey(prefix);
        let nonce = Array::from(*suffix);
        key.encrypt_inout_detached(&nonce, associated_data, buffer)
    }

    fn decrypt_inout_detached(
        &self,
        nonce: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
        tag: &aead::Tag<Self>,
    ) -> aead::Result<()> {
        let (prefix, suffix) = Self::split(nonce.as_ref());
        let key = self.subkey(prefix);
        let nonce = Array::from(*suffix);
        key.decrypt_inout_detached(&nonce, associated_data, buffer, tag)
    }
}
