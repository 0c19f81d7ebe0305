//! The keyring in C: a data directory's wrapped data keys under a master key held in a local key file.
//! Declared in `include/atrest.h` under "Keyring".
//!
//! A C engine gets the whole key hierarchy from here: the active key of a scope, rotation, keys by id for
//! reading, and sealers and openers bound to the keyring (so rotation and destroyed keys reach them). Scopes
//! are named by the engine (`Scope::Named`); NULL means the keyring's store-wide scope.

use std::ffi::{CStr, c_char, c_int};
use std::path::Path;
use std::sync::Arc;

use atrest_core::page::Opener;
use atrest_keys::{Keyring, LocalKeyFileProvider, MasterKeyId, Scope, ScopeName, SystemClock};

use crate::AtrestStatus;
use crate::page::{AtrestOpener, AtrestSealer};
use crate::status::{fail, key_status};

/// An open keyring (`atrest_keyring`); shareable between threads.
#[derive(Debug)]
pub struct AtrestKeyring(Arc<Keyring>);

/// The master key a keyring created here is wrapped under.
const FIRST_MASTER_KEY: &str = "m1";

/// Reads a required UTF-8 path or name argument.
///
/// # Safety
/// `s` is NULL or NUL-terminated.
unsafe fn text<'a>(s: *const c_char) -> Result<&'a str, AtrestStatus> {
    if s.is_null() {
        return Err(AtrestStatus::NullPointer);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(s) }.to_str().map_err(|_| AtrestStatus::InvalidUtf8)
}

/// Reads a scope argument: NULL is the store-wide scope, anything else a named scope.
///
/// # Safety
/// `scope` is NULL or NUL-terminated.
unsafe fn scope(scope: *const c_char) -> Result<Scope, AtrestStatus> {
    if scope.is_null() {
        return Ok(Scope::Store);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let name = unsafe { text(scope)? };
    ScopeName::new(name).map(Scope::Named).map_err(|e| key_status(&e))
}

/// Borrows a keyring handle.
///
/// # Safety
/// `kr` is NULL or a live handle.
unsafe fn keyring<'a>(kr: *const AtrestKeyring) -> Result<&'a Arc<Keyring>, AtrestStatus> {
    // SAFETY: NULL or a live handle by the caller's contract.
    unsafe { kr.as_ref() }.map(|k| &k.0).ok_or(AtrestStatus::NullPointer)
}

/// Writes a key to the caller's 32-byte buffer.
///
/// # Safety
/// `out` is NULL or 32 writable bytes.
unsafe fn put_key(out: *mut u8, key: &[u8; 32]) -> Result<(), AtrestStatus> {
    if out.is_null() {
        return Err(AtrestStatus::NullPointer);
    }
    // SAFETY: 32 writable bytes by the caller's contract.
    unsafe { out.cast::<[u8; 32]>().write_unaligned(*key) };
    Ok(())
}

fn open_or_create(dir: &Path, key_file: &Path, create: bool) -> Result<Keyring, AtrestStatus> {
    if create {
        std::fs::create_dir_all(dir).map_err(|e| fail(AtrestStatus::Keyring, format!("{}: {e}", dir.display())))?;
    }
    let provider = if key_file.exists() || !create {
        LocalKeyFileProvider::open(key_file, dir)
    } else {
        let first = MasterKeyId::new(FIRST_MASTER_KEY).expect("a valid master-key id");
        LocalKeyFileProvider::create(key_file, dir, &first)
    }
    .map_err(|e| key_status(&e))?;
    let provider = Arc::new(provider);
    if Keyring::path_in(dir).exists() || !create {
        return Keyring::open(dir, provider, Arc::new(SystemClock)).map_err(|e| key_status(&e));
    }
    let master = atrest_keys::KeyProvider::master_key_ids(&*provider)
        .map_err(|e| key_status(&e))?
        .into_iter()
        .next()
        .ok_or_else(|| {
        fail(AtrestStatus::Keyring, format!("key file {} holds no master key", key_file.display()))
    })?;
    Keyring::create(dir, provider, &master, Arc::new(SystemClock)).map_err(|e| key_status(&e))
}

/// Opens the keyring of `data_dir` with the master key in `key_file` (or, if `create` is non-zero, creates
/// what is missing: the directory, the key file, the keyring); see the header.
///
/// # Safety
/// `data_dir` and `key_file` NUL-terminated, `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_open_local(
    data_dir: *const c_char,
    key_file: *const c_char,
    create: c_int,
    out: *mut *mut AtrestKeyring,
) -> AtrestStatus {
    crate::status((|| {
        if out.is_null() {
            return Err(AtrestStatus::NullPointer);
        }
        // SAFETY: NUL-terminated strings by the header's contract; NULLs are rejected.
        let (dir, key_file) = unsafe { (text(data_dir)?, text(key_file)?) };
        let keyring = open_or_create(Path::new(dir), Path::new(key_file), create != 0)?;
        let handle = Box::into_raw(Box::new(AtrestKeyring(Arc::new(keyring))));
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(handle) };
        Ok(())
    })())
}

/// Frees a keyring (NULL is ignored); sealers and openers made from it stay valid.
///
/// # Safety
/// `kr` is NULL or a live handle, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_free(kr: *mut AtrestKeyring) {
    if !kr.is_null() {
        // SAFETY: made by Box::into_raw in atrest_keyring_open_local, freed once by the caller's contract.
        drop(unsafe { Box::from_raw(kr) });
    }
}

/// The active key of `scope` (made first if the scope has none): its id and its 32 bytes.
///
/// # Safety
/// `kr` live, `scope` NULL or NUL-terminated, `id_out` writable, `key_out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_active_key(
    kr: *const AtrestKeyring,
    scope_name: *const c_char,
    id_out: *mut u32,
    key_out: *mut u8,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: valid handle and scope by the header's contract.
        let (kr, scope) = unsafe { (keyring(kr)?, scope(scope_name)?) };
        if id_out.is_null() {
            return Err(AtrestStatus::NullPointer);
        }
        let (id, key) = kr.active_key(scope).map_err(|e| key_status(&e))?;
        // SAFETY: 32 writable bytes at `key_out`, writable `id_out`, by the header's contract.
        unsafe {
            put_key(key_out, key.expose_secret())?;
            id_out.write(id);
        }
        Ok(())
    })())
}

/// The 32 bytes of data key `id` (active or decrypt-only).
///
/// # Safety
/// `kr` live, `key_out` 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_key(kr: *const AtrestKeyring, id: u32, key_out: *mut u8) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: NULL or a live handle by the header's contract.
        let kr = unsafe { keyring(kr)? };
        let key = kr.key(id).map_err(|e| key_status(&e))?;
        // SAFETY: 32 writable bytes at `key_out` by the header's contract.
        unsafe { put_key(key_out, key.expose_secret()) }
    })())
}

/// Makes a new active key for `scope`; the old one stays readable. Writes the new id to `id_out` (if not NULL).
///
/// # Safety
/// `kr` live, `scope` NULL or NUL-terminated, `id_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_rotate(
    kr: *const AtrestKeyring,
    scope_name: *const c_char,
    id_out: *mut u32,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: valid handle and scope by the header's contract.
        let (kr, scope) = unsafe { (keyring(kr)?, scope(scope_name)?) };
        let (id, _) = kr.rotate_data_key(scope).map_err(|e| key_status(&e))?;
        // SAFETY: NULL or writable by the header's contract.
        if let Some(out) = unsafe { id_out.as_mut() } {
            *out = id;
        }
        Ok(())
    })())
}

/// The sealer of `scope`'s active key; ask again after a rotation. Free it with `atrest_sealer_free`.
///
/// # Safety
/// `kr` live, `scope` NULL or NUL-terminated, `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_sealer(
    kr: *const AtrestKeyring,
    scope_name: *const c_char,
    out: *mut *mut AtrestSealer,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: valid handle and scope by the header's contract.
        let (kr, scope) = unsafe { (keyring(kr)?, scope(scope_name)?) };
        if out.is_null() {
            return Err(AtrestStatus::NullPointer);
        }
        let sealer = kr.sealer(scope).map_err(|e| key_status(&e))?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(AtrestSealer(sealer)))) };
        Ok(())
    })())
}

/// An opener whose keys are the keyring's. Free it with `atrest_opener_free`.
///
/// # Safety
/// `kr` live, `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_keyring_opener(kr: *const AtrestKeyring, out: *mut *mut AtrestOpener) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: NULL or a live handle by the header's contract.
        let kr = unsafe { keyring(kr)? };
        if out.is_null() {
            return Err(AtrestStatus::NullPointer);
        }
        let opener = AtrestOpener(Opener::new(Box::new(Arc::clone(kr))));
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(opener))) };
        Ok(())
    })())
}
