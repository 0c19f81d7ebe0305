//! Decodes arbitrary bytes as a sealed page. It must never panic; every structural error must agree with the
//! unauthenticated header parser; a page that fails authentication must come back with its body zeroed; and
//! whatever opens must re-seal (under a fresh nonce) to a page that opens to the same plaintext.

#![no_main]

use std::sync::OnceLock;

use atrest_core::page::{HEADER_LEN, PAGE_TAG_LEN, PageError, PageHeader, Sealer};
use atrest_fuzz::{CONTEXT, key, opener};
use libfuzzer_sys::fuzz_target;

type KeyMap = std::collections::HashMap<u32, std::sync::Arc<atrest_core::Xaes256Gcm>>;

fuzz_target!(|data: &[u8]| {
    static OPENER: OnceLock<atrest_core::page::Opener<KeyMap>> = OnceLock::new();
    let opener = OPENER.get_or_init(opener);

    let parsed = PageHeader::parse(data);
    let mut page = data.to_vec();
    match opener.open(&mut page, &CONTEXT) {
        Ok(opened) => {
            let header = parsed.expect("a page that opens has a valid header");
            assert_eq!((opened.kind, opened.key_id, opened.size), (header.kind, header.key_id, header.size));
            assert_eq!(opened.body.len(), header.size.capacity());
            let plaintext = opened.body.to_vec();

            let sealer = Sealer::with_key(key(header.key_id).expect("opened, so the key exists"), header.key_id)
                .expect("OS RNG");
            let mut resealed = vec![0u8; header.size.bytes()];
            sealer.seal(header.kind, &CONTEXT, &plaintext, &mut resealed).expect("re-seal");
            assert_ne!(PageHeader::parse(&resealed).unwrap().nonce, header.nonce, "a fresh nonce");
            let reopened = opener.open(&mut resealed, &CONTEXT).expect("re-sealed page opens");
            assert_eq!(reopened.kind, header.kind);
            assert_eq!(reopened.body, &plaintext[..]);
        }
        Err(PageError::Authentication) => {
            let header = parsed.expect("authentication is only tried on a valid header");
            assert!(page[HEADER_LEN..page.len() - PAGE_TAG_LEN].iter().all(|&b| b == 0), "body zeroed");
            assert_eq!(page[..HEADER_LEN], data[..HEADER_LEN], "header untouched");
            assert!(header.key_id == 1 || header.key_id == 0xffff_fffe);
        }
        Err(PageError::UnknownKey { id }) => {
            assert_eq!(parsed.expect("key lookup follows a valid header").key_id, id);
            assert_eq!(page, data, "nothing decrypted");
        }
        Err(structural) => {
            assert_eq!(parsed.expect_err("structural errors come from the header"), structural);
            assert_eq!(page, data, "nothing decrypted");
        }
    }
});
