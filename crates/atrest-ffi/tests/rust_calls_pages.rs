//! The page layer and keyring entry points called from Rust, so Miri checks their raw-pointer handling (run by
//! scripts/test.d/30-miri.sh): contexts with extra bytes, in-place and copying seals, batches with one status
//! per page, the lookup callback, AES-128-GCM, and every out-pointer and NULL.
#![allow(unsafe_code)] // calling the C ABI is the point of this test

use std::cell::Cell;
use std::ffi::{CStr, c_int, c_void};
use std::ptr;

use atrest_core::page::{HEADER_LEN, OVERHEAD};
use atrest_ffi::*;

const PAGE: usize = 4096;
const KEY: [u8; 32] = [0x24; 32];

/// The lookup callback: key 5 is KEY; `ctx` points to a `Cell` holding the status to return (Ok: have it).
unsafe extern "C" fn lookup(ctx: *mut c_void, key_id: u32, key_out: *mut u8) -> c_int {
    // SAFETY: the test passes a pointer to a Cell<AtrestStatus> that outlives the opener, used on one thread.
    let answer = unsafe { (*ctx.cast::<Cell<AtrestStatus>>()).get() };
    if key_id == 7 {
        return 99; // not a status at all: the opener must take it as an unavailable key
    }
    if key_id != 5 {
        return AtrestStatus::UnknownKey as c_int;
    }
    if answer == AtrestStatus::Ok {
        // SAFETY: the opener passes 32 writable bytes.
        unsafe { key_out.copy_from_nonoverlapping(KEY.as_ptr(), 32) };
    }
    answer as c_int
}

fn ctx(page_no: u64, extra: &[u8]) -> AtrestPageCtx {
    AtrestPageCtx { file_id: 2, page_no, extra: extra.as_ptr(), extra_len: extra.len() }
}

#[test]
fn pages_seal_open_and_batch_through_the_c_abi() {
    let answer = Cell::new(AtrestStatus::Ok);
    let mut sealer = ptr::null_mut();
    let mut opener = ptr::null_mut();
    // SAFETY: a 32-byte key, a NUL-terminated backend name, writable out-pointers, a callback and a context
    // that outlive the opener.
    unsafe {
        assert_eq!(atrest_sealer_new(KEY.as_ptr(), 5, c"soft".as_ptr(), &mut sealer), AtrestStatus::Ok);
        assert_eq!(atrest_sealer_key_id(sealer), 5);
        let ctx_ptr = std::ptr::from_ref(&answer).cast_mut().cast::<c_void>();
        assert_eq!(atrest_opener_new(Some(lookup), ctx_ptr, c"soft".as_ptr(), &mut opener), AtrestStatus::Ok);
        assert_eq!(atrest_opener_new(None, ctx_ptr, ptr::null(), &mut opener), AtrestStatus::NullPointer);
        assert_eq!(atrest_sealer_new(ptr::null(), 5, ptr::null(), &mut sealer), AtrestStatus::NullPointer);
    }
    let generation = 9u64.to_be_bytes();
    let body = vec![0x61u8; PAGE - OVERHEAD];
    let mut page = vec![0u8; PAGE];
    let mut opened = AtrestOpened::default();
    // SAFETY: live handles; every pointer is valid for the length passed with it; body and page do not overlap.
    unsafe {
        let c = ctx(1, &generation);
        assert_eq!(
            atrest_seal_page(sealer, 1, &c, body.as_ptr(), body.len(), page.as_mut_ptr(), PAGE),
            AtrestStatus::Ok
        );
        let sealed = page.clone();
        assert_eq!(atrest_open_page(opener, &c, page.as_mut_ptr(), PAGE, &mut opened), AtrestStatus::Ok);
        assert_eq!((opened.kind, opened.key_id, opened.body_len), (1, 5, PAGE - OVERHEAD));
        assert_eq!(page[HEADER_LEN..PAGE - 16], body[..]);
        page.copy_from_slice(&sealed);
        let other = ctx(2, &generation);
        assert_eq!(
            atrest_open_page(opener, &other, page.as_mut_ptr(), PAGE, ptr::null_mut()),
            AtrestStatus::Authentication
        );
        page.copy_from_slice(&sealed);
        answer.set(AtrestStatus::KeyUnavailable);
        assert_eq!(
            atrest_open_page(opener, &c, page.as_mut_ptr(), PAGE, ptr::null_mut()),
            AtrestStatus::KeyUnavailable
        );
        answer.set(AtrestStatus::Ok);
        let mut seven = page.clone();
        seven[8..12].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(
            atrest_open_page(opener, &c, seven.as_mut_ptr(), PAGE, ptr::null_mut()),
            AtrestStatus::KeyUnavailable
        );
        assert_eq!(
            atrest_open_page(opener, ptr::null(), page.as_mut_ptr(), PAGE, ptr::null_mut()),
            AtrestStatus::NullPointer
        );
        assert_eq!(
            atrest_seal_page(sealer, 9, &c, ptr::null(), 0, page.as_mut_ptr(), PAGE),
            AtrestStatus::PageUnknownKind
        );
        assert!(!CStr::from_ptr(atrest_last_error()).to_bytes().is_empty());
    }

    // A batch of two pages sealed in place, then opened with one of them moved.
    let mut pages = vec![0x33u8; 2 * PAGE];
    let (a, b) = pages.split_at_mut(PAGE);
    let mut jobs = [
        AtrestSealJob { kind: 2, ctx: ctx(10, &[]), page: a.as_mut_ptr(), page_len: PAGE },
        AtrestSealJob { kind: 2, ctx: ctx(11, &[]), page: b.as_mut_ptr(), page_len: PAGE },
    ];
    let mut failed = usize::MAX;
    // SAFETY: the jobs' pages are disjoint halves of `pages`; `failed` is writable.
    unsafe {
        assert_eq!(atrest_seal_batch(sealer, jobs.as_mut_ptr(), 2, &mut failed), AtrestStatus::Ok);
        assert_eq!(atrest_seal_batch(sealer, ptr::null_mut(), 1, &mut failed), AtrestStatus::NullPointer);
        jobs[1].page_len = 100;
        assert_eq!(atrest_seal_batch(sealer, jobs.as_mut_ptr(), 2, &mut failed), AtrestStatus::PageInvalidSize);
        assert_eq!(failed, 1);
    }
    let (a, b) = pages.split_at_mut(PAGE);
    let blank = |c, page: &mut [u8]| AtrestOpenJob {
        ctx: c,
        page: page.as_mut_ptr(),
        page_len: PAGE,
        status: AtrestStatus::NullPointer,
        kind: 0,
        key_id: 0,
    };
    let mut open = [blank(ctx(10, &[]), a), blank(ctx(99, &[]), b)];
    // SAFETY: as above.
    unsafe {
        assert_eq!(atrest_open_batch(opener, open.as_mut_ptr(), 2), AtrestStatus::Authentication);
    }
    assert_eq!((open[0].status, open[0].kind, open[0].key_id), (AtrestStatus::Ok, 2, 5));
    assert_eq!(open[1].status, AtrestStatus::Authentication);
    assert!(pages[HEADER_LEN..PAGE - 16].iter().all(|&x| x == 0x33));

    // SAFETY: handles from the _new functions, each freed once; NULL is ignored.
    unsafe {
        atrest_sealer_free(sealer);
        atrest_opener_free(opener);
        atrest_sealer_free(ptr::null_mut());
        atrest_opener_free(ptr::null_mut());
    }
}

#[test]
fn aes128_through_the_c_abi() {
    let mut key = ptr::null_mut();
    let mut buf = [0u8; 16];
    let mut tag = [0u8; 16];
    // SAFETY: a 16-byte key, 12-byte nonce, 16-byte buffer and tag; the handle is freed once.
    unsafe {
        assert_eq!(atrest_aes128_new([0u8; 16].as_ptr(), c"soft".as_ptr(), &mut key), AtrestStatus::Ok);
        let nonce = [0u8; 12];
        assert_eq!(
            atrest_aes128_seal(key, nonce.as_ptr(), ptr::null(), 0, buf.as_mut_ptr(), 16, tag.as_mut_ptr()),
            AtrestStatus::Ok
        );
        // McGrew and Viega, GCM test case 2.
        assert_eq!(hex(&buf), "0388dace60b6a392f328c2b971b2fe78");
        assert_eq!(hex(&tag), "ab6e47d42cec13bdf53a67b21257bddf");
        assert_eq!(
            atrest_aes128_open(key, nonce.as_ptr(), ptr::null(), 0, buf.as_mut_ptr(), 16, tag.as_ptr()),
            AtrestStatus::Ok
        );
        assert_eq!(buf, [0u8; 16]);
        assert_eq!(CStr::from_ptr(atrest_aes128_backend(key)).to_str().unwrap(), "soft");
        atrest_aes128_free(key);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn keyring_through_the_c_abi() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::ffi::CString::new(dir.path().join("data").to_str().unwrap()).unwrap();
    let key_file = std::ffi::CString::new(dir.path().join("keys/master.key").to_str().unwrap()).unwrap();
    let mut kr = ptr::null_mut();
    let (mut id, mut id2) = (0u32, 0u32);
    let (mut k, mut k1) = ([0u8; 32], [0u8; 32]);
    let mut sealer = ptr::null_mut();
    let mut opener = ptr::null_mut();
    // SAFETY: NUL-terminated paths and names, writable out-pointers and 32-byte key buffers; handles freed once.
    unsafe {
        assert_eq!(atrest_keyring_open_local(data.as_ptr(), key_file.as_ptr(), 0, &mut kr), AtrestStatus::Keyring);
        assert_eq!(atrest_keyring_open_local(data.as_ptr(), key_file.as_ptr(), 1, &mut kr), AtrestStatus::Ok);
        assert_eq!(atrest_keyring_active_key(kr, c"db".as_ptr(), &mut id, k1.as_mut_ptr()), AtrestStatus::Ok);
        assert_eq!(atrest_keyring_active_key(kr, ptr::null(), &mut id2, k.as_mut_ptr()), AtrestStatus::Ok);
        assert_ne!(id, id2, "the store-wide scope has its own key");
        assert_eq!(
            atrest_keyring_active_key(kr, c"db".as_ptr(), ptr::null_mut(), k.as_mut_ptr()),
            AtrestStatus::NullPointer
        );
        assert_eq!(atrest_keyring_rotate(kr, c"db".as_ptr(), &mut id2), AtrestStatus::Ok);
        assert_eq!(atrest_keyring_rotate(kr, c"db".as_ptr(), ptr::null_mut()), AtrestStatus::Ok);
        assert_eq!(atrest_keyring_key(kr, id, k.as_mut_ptr()), AtrestStatus::Ok);
        assert_eq!(k, k1);
        assert_eq!(atrest_keyring_key(kr, 4000, k.as_mut_ptr()), AtrestStatus::UnknownKey);
        assert_eq!(atrest_keyring_key(ptr::null(), id, k.as_mut_ptr()), AtrestStatus::NullPointer);
        assert_eq!(atrest_keyring_sealer(kr, c"db".as_ptr(), &mut sealer), AtrestStatus::Ok);
        assert_eq!(atrest_sealer_key_id(sealer), id2 + 1);
        assert_eq!(atrest_keyring_opener(kr, &mut opener), AtrestStatus::Ok);
        let mut page = vec![0u8; PAGE];
        let c = ctx(1, &[]);
        assert_eq!(atrest_seal_page(sealer, 1, &c, ptr::null(), 0, page.as_mut_ptr(), PAGE), AtrestStatus::Ok);
        atrest_keyring_free(kr);
        // The opener keeps the keyring alive.
        assert_eq!(atrest_open_page(opener, &c, page.as_mut_ptr(), PAGE, ptr::null_mut()), AtrestStatus::Ok);
        atrest_sealer_free(sealer);
        atrest_opener_free(opener);
        atrest_keyring_free(ptr::null_mut());
    }
}
