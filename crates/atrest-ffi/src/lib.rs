//! C ABI over atrest-core, declared in `include/atrest.h`.
//!
//! This crate is the FFI leaf: it is the one place outside the architecture backends where `unsafe` is
//! allowed, because every entry point takes raw pointers from C. Each block states what the header's contract
//! guarantees about those pointers. Null pointers are checked and reported, never dereferenced.
//!
//! Modules: this file holds the status codes, the pointer helpers and the raw AEADs; [`page`] the sealed-page
//! layer (sealers with writer epochs, openers with a key-lookup callback, batches); [`keyring`] the keyring
//! with a local key file.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char};
use std::slice;

use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, OpenError, SealError, Xaes256Gcm};

pub mod keyring;
pub mod page;
mod status;

pub use keyring::*;
pub use page::*;
pub use status::atrest_last_error;

/// Result of every call; mirrors `atrest_status` in the header.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtrestStatus {
    /// Success.
    Ok = 0,
    /// A required pointer was NULL.
    NullPointer = 1,
    /// The message did not verify; the buffer was zeroed.
    Authentication = 2,
    /// The message or AAD exceeds GCM's limits.
    TooLong = 3,
    /// Unknown backend name, or one this CPU cannot run.
    Backend = 4,
    /// The backend name (or another string argument) is not UTF-8.
    InvalidUtf8 = 5,
    /// The page buffer is shorter than the part that had to be read.
    PageTruncated = 6,
    /// The page does not start with the page magic.
    PageBadMagic = 7,
    /// The page's format version is not one this library reads.
    PageUnsupportedVersion = 8,
    /// The page names an unknown algorithm.
    PageUnknownAlgorithm = 9,
    /// The page kind (in the header, or the one given to seal) is unknown.
    PageUnknownKind = 10,
    /// The header's page size code is not 12..=16.
    PageUnsupportedSize = 11,
    /// A page buffer length that is not a power of two from 4096 to 65536.
    PageInvalidSize = 12,
    /// The page buffer is not the size its header declares.
    PageBadSize = 13,
    /// The body to seal is not exactly the page's capacity.
    PageBadBodySize = 14,
    /// The page's key id is unknown to the key lookup.
    UnknownKey = 15,
    /// The page's key was destroyed.
    KeyDestroyed = 16,
    /// The key exists but cannot be had now (key service unreachable); retrying may succeed.
    KeyUnavailable = 17,
    /// The operating system's random number generator failed.
    Random = 18,
    /// A keyring or key-file error; `atrest_last_error` says which.
    Keyring = 19,
    /// An argument is out of range (a scope name, a batch index); `atrest_last_error` says which.
    InvalidArgument = 20,
}

/// An XAES-256-GCM key handle (`atrest_xaes` in C).
pub struct AtrestXaes(Xaes256Gcm);
/// An AES-256-GCM key handle (`atrest_aes256` in C).
pub struct AtrestAes256(Aes256Gcm);
/// An AES-128-GCM key handle (`atrest_aes128` in C).
pub struct AtrestAes128(Aes128Gcm);

/// A static description of `status`.
#[unsafe(no_mangle)]
pub extern "C" fn atrest_status_message(status: AtrestStatus) -> *const c_char {
    let msg: &'static CStr = match status {
        AtrestStatus::Ok => c"ok",
        AtrestStatus::NullPointer => c"a required pointer was NULL",
        AtrestStatus::Authentication => c"authentication failed",
        AtrestStatus::TooLong => c"message or associated data exceeds the GCM limit",
        AtrestStatus::Backend => c"unknown backend, or one this CPU cannot run",
        AtrestStatus::InvalidUtf8 => c"a string argument is not UTF-8",
        AtrestStatus::PageTruncated => c"page truncated",
        AtrestStatus::PageBadMagic => c"not a sealed page: bad magic",
        AtrestStatus::PageUnsupportedVersion => c"unsupported page format version",
        AtrestStatus::PageUnknownAlgorithm => c"unknown page algorithm",
        AtrestStatus::PageUnknownKind => c"unknown page kind",
        AtrestStatus::PageUnsupportedSize => c"unsupported page size code in the header",
        AtrestStatus::PageInvalidSize => c"page buffer length is not a power of two from 4096 to 65536",
        AtrestStatus::PageBadSize => c"page buffer is not the size its header declares",
        AtrestStatus::PageBadBodySize => c"page body is not exactly the page capacity",
        AtrestStatus::UnknownKey => c"unknown key id",
        AtrestStatus::KeyDestroyed => c"the key was destroyed",
        AtrestStatus::KeyUnavailable => c"the key is unavailable (key service unreachable)",
        AtrestStatus::Random => c"the OS random number generator failed",
        AtrestStatus::Keyring => c"keyring error (see atrest_last_error)",
        AtrestStatus::InvalidArgument => c"invalid argument (see atrest_last_error)",
    };
    msg.as_ptr()
}

fn backend_name(b: Backend) -> *const c_char {
    let name: &'static CStr = match b {
        Backend::VaesAvx512 => c"vaes-avx512",
        Backend::VaesAvx2 => c"vaes-avx2",
        Backend::Aesni => c"aesni",
        Backend::Armv8 => c"armv8",
        _ => c"soft",
    };
    name.as_ptr()
}

/// Resolves the optional backend name.
///
/// # Safety
/// `name` is NULL or points to a NUL-terminated string (header contract).
pub(crate) unsafe fn backend_from(name: *const c_char) -> Result<Backend, AtrestStatus> {
    if name.is_null() {
        return atrest_core::backend::default_backend().map_err(|_| AtrestStatus::Backend);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract; only read for this call.
    let name = unsafe { CStr::from_ptr(name) }.to_str().map_err(|_| AtrestStatus::InvalidUtf8)?;
    Backend::from_name(name).map_err(|_| AtrestStatus::Backend)
}

/// Reads a fixed-size array argument.
///
/// # Safety
/// `p` is NULL or points to `N` readable bytes.
pub(crate) unsafe fn array<const N: usize>(p: *const u8) -> Result<[u8; N], AtrestStatus> {
    if p.is_null() {
        return Err(AtrestStatus::NullPointer);
    }
    // SAFETY: non-null and N readable bytes by the caller's contract; [u8; N] has alignment 1.
    Ok(unsafe { *p.cast::<[u8; N]>() })
}

/// Borrows an optional input slice (`NULL` allowed only when `len == 0`).
///
/// # Safety
/// `p` points to `len` readable bytes that stay valid and unaliased by writers for the call.
pub(crate) unsafe fn input<'a>(p: *const u8, len: usize) -> Result<&'a [u8], AtrestStatus> {
    match (p.is_null(), len) {
        (_, 0) => Ok(&[]),
        (true, _) => Err(AtrestStatus::NullPointer),
        // SAFETY: non-null, `len` readable bytes by the caller's contract.
        (false, _) => Ok(unsafe { slice::from_raw_parts(p, len) }),
    }
}

/// Borrows the in-place buffer (`NULL` allowed only when `len == 0`).
///
/// # Safety
/// `p` points to `len` writable bytes not otherwise accessed during the call.
pub(crate) unsafe fn buffer<'a>(p: *mut u8, len: usize) -> Result<&'a mut [u8], AtrestStatus> {
    match (p.is_null(), len) {
        (_, 0) => Ok(&mut []),
        (true, _) => Err(AtrestStatus::NullPointer),
        // SAFETY: non-null, `len` writable bytes, exclusive for the call by the caller's contract.
        (false, _) => Ok(unsafe { slice::from_raw_parts_mut(p, len) }),
    }
}

fn seal_status(e: SealError) -> AtrestStatus {
    match e {
        SealError::MessageTooLong { .. } | SealError::AadTooLong { .. } => AtrestStatus::TooLong,
        SealError::LengthMismatch { .. } => AtrestStatus::NullPointer,
    }
}

fn open_status(e: OpenError) -> AtrestStatus {
    match e {
        OpenError::Authentication => AtrestStatus::Authentication,
        OpenError::MessageTooLong { .. } | OpenError::AadTooLong { .. } => AtrestStatus::TooLong,
        OpenError::LengthMismatch { .. } => AtrestStatus::NullPointer,
    }
}

pub(crate) fn status(r: Result<(), AtrestStatus>) -> AtrestStatus {
    r.err().unwrap_or(AtrestStatus::Ok)
}

macro_rules! key_functions {
    (
        $handle:ident,
        $inner:ident,
        $key:literal,
        $nonce:literal,
        $new:ident,
        $free:ident,
        $backend:ident,
        $seal:ident,
        $open:ident
    ) => {
        /// Builds a key; see the header.
        ///
        /// # Safety
        /// `key` points to the key's length in bytes, `backend` is NULL or a NUL-terminated string, `out` is NULL or writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new(key: *const u8, backend: *const c_char, out: *mut *mut $handle) -> AtrestStatus {
            status((|| {
                if out.is_null() {
                    return Err(AtrestStatus::NullPointer);
                }
                // SAFETY: the header requires the key's length in readable bytes at `key`; NULL is rejected inside.
                let mut bytes = unsafe { array::<$key>(key) }?;
                // SAFETY: NULL or NUL-terminated by the header's contract.
                let backend = unsafe { backend_from(backend) }?;
                let built = $inner::with_backend(&bytes, backend).map_err(|_| AtrestStatus::Backend);
                bytes.fill(0);
                let handle = Box::into_raw(Box::new($handle(built?)));
                // SAFETY: `out` is non-null and writable by the header's contract.
                unsafe { out.write(handle) };
                Ok(())
            })())
        }

        /// Frees a key (NULL is ignored); the key material is zeroized.
        ///
        /// # Safety
        /// `key` is NULL or a handle from the matching `_new` that has not been freed.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $free(key: *mut $handle) {
            if !key.is_null() {
                // SAFETY: a live handle made by Box::into_raw in `_new`, freed once by the caller's contract.
                drop(unsafe { Box::from_raw(key) });
            }
        }

        /// The backend's static name, or NULL for a NULL handle.
        ///
        /// # Safety
        /// `key` is NULL or a live handle.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $backend(key: *const $handle) -> *const c_char {
            // SAFETY: NULL or a live handle by the caller's contract; only read.
            match unsafe { key.as_ref() } {
                Some(k) => backend_name(k.0.backend()),
                None => std::ptr::null(),
            }
        }

        /// Seals `buf` in place and writes the tag; see the header.
        ///
        /// # Safety
        /// Pointers as described in the header: `nonce` readable, `aad`/`buf` valid for their lengths, `tag`
        /// 16 writable bytes, none overlapping `buf`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $seal(
            key: *const $handle,
            nonce: *const u8,
            aad: *const u8,
            aad_len: usize,
            buf: *mut u8,
            len: usize,
            tag: *mut u8,
        ) -> AtrestStatus {
            status((|| {
                // SAFETY: NULL or a live handle by the caller's contract.
                let key = unsafe { key.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
                if tag.is_null() {
                    return Err(AtrestStatus::NullPointer);
                }
                // SAFETY: each pointer is valid for its length by the header's contract; NULLs are rejected.
                let (nonce, aad, buf) = unsafe { (array::<$nonce>(nonce)?, input(aad, aad_len)?, buffer(buf, len)?) };
                let t = key.0.seal_in_place(&nonce, aad, buf).map_err(seal_status)?;
                // SAFETY: `tag` is non-null and has 16 writable bytes by the header's contract.
                unsafe { tag.cast::<[u8; 16]>().write_unaligned(t) };
                Ok(())
            })())
        }

        /// Opens `buf` in place if `tag` verifies, else zeroes it; see the header.
        ///
        /// # Safety
        /// As for the seal function, with `tag` 16 readable bytes.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $open(
            key: *const $handle,
            nonce: *const u8,
            aad: *const u8,
            aad_len: usize,
            buf: *mut u8,
            len: usize,
            tag: *const u8,
        ) -> AtrestStatus {
            status((|| {
                // SAFETY: NULL or a live handle by the caller's contract.
                let key = unsafe { key.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
                // SAFETY: `nonce` and `tag` point to their fixed sizes by the header's contract; NULL is rejected.
                let (nonce, tag) = unsafe { (array::<$nonce>(nonce)?, array::<16>(tag)?) };
                // SAFETY: `aad` and `buf` are valid for their lengths by the header's contract; NULLs are rejected.
                let (aad, buf) = unsafe { (input(aad, aad_len)?, buffer(buf, len)?) };
                key.0.open_in_place(&nonce, aad, buf, &tag).map_err(open_status)
            })())
        }
    };
}

key_functions!(
    AtrestXaes,
    Xaes256Gcm,
    32,
    24,
    atrest_xaes_new,
    atrest_xaes_free,
    atrest_xaes_backend,
    atrest_xaes_seal,
    atrest_xaes_open
);
key_functions!(
    AtrestAes256,
    Aes256Gcm,
    32,
    12,
    atrest_aes256_new,
    atrest_aes256_free,
    atrest_aes256_backend,
    atrest_aes256_seal,
    atrest_aes256_open
);
key_functions!(
    AtrestAes128,
    Aes128Gcm,
    16,
    12,
    atrest_aes128_new,
    atrest_aes128_free,
    atrest_aes128_backend,
    atrest_aes128_seal,
    atrest_aes128_open
);
