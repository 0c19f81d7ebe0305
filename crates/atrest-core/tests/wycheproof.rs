//! Every Wycheproof `aes_gcm` vector, valid and invalid, on every backend.
//!
//! atrest offers 96-bit nonces with 128-bit tags and AES-128/256 keys; groups with other parameters (other
//! IV or tag sizes, AES-192) cannot be expressed through this API and are counted as skipped. The test asserts
//! how many vectors ran, so a data or parameter change cannot quietly empty it.

mod common;

use common::{Gcm, backends};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[test]
fn wycheproof_aes_gcm_on_every_backend() {
    let set = TestSet::load(TestName::AesGcm).expect("wycheproof aes_gcm data");
    for backend in backends() {
        let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
        for group in &set.test_groups {
            let usable = group.nonce_size == 96 && group.tag_size == 128 && matches!(group.key_size, 128 | 256);
            for test in &group.tests {
                if !usable {
                    skipped += 1;
                    continue;
                }
                let at = format!("{backend} tcId {} ({})", test.tc_id, test.comment);
                let key = Gcm::new(&test.key, backend);
                let nonce: [u8; 12] = test.nonce.as_slice().try_into().unwrap();
                let tag: [u8; 16] = test.tag.as_slice().try_into().unwrap();
                let mut buf = test.ct.to_vec();
                let opened = key.open_in_place(&nonce, &test.aad, &mut buf, &tag);
                match test.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        valid += 1;
                        opened.unwrap_or_else(|e| panic!("{at}: valid vector failed to open: {e}"));
                        assert_eq!(buf, *test.pt, "{at}: plaintext");
                        let mut sealed = test.pt.to_vec();
                        let got = key.seal_in_place(&nonce, &test.aad, &mut sealed).unwrap();
                        assert_eq!(sealed, *test.ct, "{at}: ciphertext");
                        assert_eq!(got, tag, "{at}: tag");
                    }
                    TestResult::Invalid => {
                        invalid += 1;
                        assert_eq!(opened, Err(atrest_core::OpenError::Authentication), "{at}: invalid vector opened");
                        assert!(buf.iter().all(|&b| b == 0), "{at}: plaintext released after failure");
                    }
                }
            }
        }
        assert!(valid >= 75, "{backend}: only {valid} valid vectors ran");
        assert!(invalid >= 30, "{backend}: only {invalid} invalid vectors ran");
        println!("{backend}: {valid} valid, {invalid} invalid, {skipped} skipped (unsupported parameters)");
    }
}
