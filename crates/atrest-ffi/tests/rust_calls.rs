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
