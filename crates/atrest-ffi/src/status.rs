//! Turning Rust errors into C statuses, and the thread's last error message for the statuses that need more
//! words than a code (keyring and argument errors).

use std::cell::RefCell;
use std::ffi::{CString, c_char};

use atrest_core::page::PageError;
use atrest_keys::KeyError;

use crate::AtrestStatus;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error and returns `status`.
pub(crate) fn fail(status: AtrestStatus, message: impl std::fmt::Display) -> AtrestStatus {
    let text = message.to_string().replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::new(text).unwrap_or_default());
    status
}

/// The message of the last failing call on this thread that set one (keyring, key-file and argument errors,
/// and page errors), or an empty string. Valid until the next atrest call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn atrest_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// One status per page error.
pub(crate) fn page_status(e: &PageError) -> AtrestStatus {
    let status = match e {
        PageError::Truncated { .. } => AtrestStatus::PageTruncated,
        PageError::BadMagic { .. } => AtrestStatus::PageBadMagic,
        PageError::UnsupportedVersion { .. } => AtrestStatus::PageUnsupportedVersion,
        PageError::UnknownAlgorithm { .. } => AtrestStatus::PageUnknownAlgorithm,
        PageError::UnknownKind { .. } => AtrestStatus::PageUnknownKind,
        PageError::UnsupportedPageSize { .. } => AtrestStatus::PageUnsupportedSize,
        PageError::InvalidPageSize { .. } => AtrestStatus::PageInvalidSize,
        PageError::BadSize { .. } => AtrestStatus::PageBadSize,
        PageError::BadBodySize { .. } => AtrestStatus::PageBadBodySize,
        PageError::UnknownKey { .. } => AtrestStatus::UnknownKey,
        PageError::KeyDestroyed { .. } => AtrestStatus::KeyDestroyed,
        PageError::KeyUnavailable { .. } => AtrestStatus::KeyUnavailable,
        PageError::Authentication => AtrestStatus::Authentication,
        PageError::Random(_) => AtrestStatus::Random,
        PageError::Backend(_) => AtrestStatus::Backend,
        PageError::Seal(_) => AtrestStatus::TooLong,
        _ => AtrestStatus::InvalidArgument,
    };
    fail(status, e)
}

/// The status of a keyring error: the key-level ones a C caller handles have their own codes.
pub(crate) fn key_status(e: &KeyError) -> AtrestStatus {
    let status = match e {
        KeyError::UnknownKey { .. } => AtrestStatus::UnknownKey,
        KeyError::KeyDestroyed { .. } => AtrestStatus::KeyDestroyed,
        KeyError::ProviderUnreachable { .. } | KeyError::KeyServiceUnavailable { .. } => AtrestStatus::KeyUnavailable,
        KeyError::Random(_) => AtrestStatus::Random,
        KeyError::InvalidScopeName { .. } => AtrestStatus::InvalidArgument,
        _ => AtrestStatus::Keyring,
    };
    fail(status, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_service_outages_are_unavailable_keys_and_other_keyring_errors_say_keyring() {
        let lease = KeyError::KeyServiceUnavailable {
            provider: "kmip 127.0.0.1:5696".into(),
            key_id: 3,
            lease_secs: 900,
            reason: "connection refused".into(),
        };
        assert_eq!(key_status(&lease), AtrestStatus::KeyUnavailable);
        let down = KeyError::ProviderUnreachable { provider: "pkcs11".into(), reason: "no token".into() };
        assert_eq!(key_status(&down), AtrestStatus::KeyUnavailable);
        assert_eq!(key_status(&KeyError::KeyDestroyed { key_id: 4 }), AtrestStatus::KeyDestroyed);
        assert_eq!(key_status(&KeyError::UnknownKey { key_id: 5 }), AtrestStatus::UnknownKey);
        let missing = KeyError::KeyringMissing { path: "/data/keyring".into() };
        assert_eq!(key_status(&missing), AtrestStatus::Keyring);
        // The words go to atrest_last_error.
        // SAFETY: atrest_last_error returns this thread's NUL-terminated message.
        let message = unsafe { std::ffi::CStr::from_ptr(atrest_last_error()) };
        assert!(message.to_str().unwrap().contains("/data/keyring"), "{message:?}");
    }
}
