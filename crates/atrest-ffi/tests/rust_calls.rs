//! The exported functions called from Rust: results match atrest-core's own API byte for byte.
#![allow(unsafe_code)] // calling the C ABI is the point of this test

use std::ptr;

use atrest_core::Xaes256Gcm;
use atrest_ffi::*;

#[test]
fn ffi_seal_matches_the_rust_api() {
    let key = [9u8; 32];
    let nonce = [4u8; 24];
    let mut handle = ptr::null_mut();
    // SAFETY: valid pointers to a 32-byte key and a writable out-pointer; NULL backend means default.
    assert_eq!(unsafe { atrest_xaes_new(key.as_ptr(), ptr::null(), &mut handle) }, AtrestStatus::Ok);
    let mut buf = b"some page bytes".to_vec();
    let mut tag = [0u8; 16];
    // SAFETY: every pointer is valid for its stated length; the handle is live.
    let st = unsafe {
        atrest_xaes_seal(handle, nonce.as_ptr(), b"ad".as_ptr(), 2, buf.as_mut_ptr(), buf.len(), tag.as_mut_ptr())
    };
    assert_eq!(st, AtrestStatus::Ok);
    let mut expected = b"some page bytes".to_vec();
    let expected_tag = Xaes256Gcm::try_new(&key).unwrap().seal_in_place(&nonce, b"ad", &mut expected).unwrap();
    assert_eq!((buf, tag), (expected, expected_tag));
    // SAFETY: the handle came from atrest_xaes_new and is freed once.
    unsafe { atrest_xaes_free(handle) };
}

#[test]
fn ffi_open_tamper_and_null_handling() {
    let key = [3u8; 32];
    let nonce = [8u8; 12];
    let mut handle = ptr::null_mut();
    // SAFETY: a 32-byte key, a NUL-terminated backend name and a writable out-pointer.
    assert_eq!(unsafe { atrest_aes256_new(key.as_ptr(), c"soft".as_ptr(), &mut handle) }, AtrestStatus::Ok);
    let mut buf = vec![0x42u8; 100];
    let mut tag = [0u8; 16];
    // SAFETY: every pointer is valid for its stated length; the handle is live.
    let seal =
        unsafe { atrest_aes256_seal(handle, nonce.as_ptr(), ptr::null(), 0, buf.as_mut_ptr(), 100, tag.as_mut_ptr()) };
    assert_eq!(seal, AtrestStatus::Ok);
    let sealed = buf.clone();
    // SAFETY: as above.
    let open =
        unsafe { atrest_aes256_open(handle, nonce.as_ptr(), ptr::null(), 0, buf.as_mut_ptr(), 100, tag.as_ptr()) };
    assert_eq!(open, AtrestStatus::Ok);
    assert_eq!(buf, vec![0x42u8; 100]);

    let mut bad = sealed.clone();
    bad[7] ^= 0x10;
    // SAFETY: as above.
    let open =
        unsafe { atrest_aes256_open(handle, nonce.as_ptr(), ptr::null(), 0, bad.as_mut_ptr(), 100, tag.as_ptr()) };
    assert_eq!(open, AtrestStatus::Authentication);
    assert!(bad.iter().all(|&b| b == 0), "no plaintext released");

    // NULL pointers are reported, never dereferenced.
    // SAFETY: NULL where the header allows the function to reject it.
    unsafe {
        assert_eq!(
            atrest_aes256_seal(ptr::null(), nonce.as_ptr(), ptr::null(), 0, ptr::null_mut(), 0, tag.as_mut_ptr()),
            AtrestStatus::NullPointer
        );
        assert_eq!(
            atrest_aes256_seal(handle, nonce.as_ptr(), ptr::null(), 0, ptr::null_mut(), 5, tag.as_mut_ptr()),
            AtrestStatus::NullPointer
        );
        assert_eq!(
            atrest_aes256_open(handle, ptr::null(), ptr::null(), 0, buf.as_mut_ptr(), 100, tag.as_ptr()),
            AtrestStatus::NullPointer
        );
        assert!(atrest_aes256_backend(ptr::null()).is_null());
        assert_eq!(std::ffi::CStr::from_ptr(atrest_aes256_backend(handle)).to_str().unwrap(), "soft");
        let mut none = ptr::null_mut();
        assert_eq!(atrest_aes256_new(key.as_ptr(), c"nope".as_ptr(), &mut none), AtrestStatus::Backend);
        assert!(none.is_null());
        assert_eq!(atrest_aes256_new(ptr::null(), ptr::null(), &mut none), AtrestStatus::NullPointer);
        atrest_aes256_free(handle);
        atrest_aes256_free(ptr::null_mut());
    }
}
