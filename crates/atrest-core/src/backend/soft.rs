//! The portable backend: AES-GCM from RustCrypto's constant-time `aes` block cipher and `ghash` universal
//! hash, in two passes (CTR, then GHASH over the ciphertext). It contains no `unsafe` and is the reference
//! every hardware backend is tested against.

use aead::inout::InOutBuf;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use zeroize::Zeroize;

use crate::gcm::{Tag, length_block};

/// How many counter blocks are encrypted per call into the block cipher (lets it use its parallel path).
const PAR_BLOCKS: usize = 8;

enum Cipher {
    Aes128(aes::Aes128),
    Aes256(aes::Aes256),
}

impl Cipher {
    fn encrypt_blocks(&self, blocks: &mut [aes::Block]) {
        match self {
            Cipher::Aes128(c) => c.encrypt_blocks(blocks),
            Cipher::Aes256(c) => c.encrypt_blocks(blocks),
        }
    }
}

/// An expanded AES-GCM key for the portable backend. The `aes` and `ghash` crates zeroize their state on
/// drop (their `zeroize` features are on); `h` is wiped here.
pub(crate) struct GcmKey {
    cipher: Cipher,
    h: [u8; 16],
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        self.h.zeroize();
    }
}

impl GcmKey {
    /// Expands a 16- or 32-byte AES key. The caller has checked the length.
    pub(crate) fn new(key: &[u8]) -> GcmKey {
        let cipher = match key.len() {
            16 => Cipher::Aes128(aes::Aes128::new(&Array::try_from(key).expect("16-byte key"))),
            32 => Cipher::Aes256(aes::Aes256::new(&Array::try_from(key).expect("32-byte key"))),
            n => unreachable!("AES key length {n} was checked by the caller"),
        };
        let mut h = [aes::Block::default()];
        cipher.encrypt_blocks(&mut h);
        let key = GcmKey { cipher, h: h[0].into() };
        h[0].as_mut_slice().zeroize();
        key
    }

    /// Encrypts the buffer and returns the tag.
    pub(crate) fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        let data = buf.into_out_with_copied_in();
        self.ctr_xor(nonce, data);
        self.tag(nonce, aad, data)
    }

    /// Decrypts the buffer and returns the tag computed over the ciphertext; the caller compares it.
    pub(crate) fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        let data = buf.into_out_with_copied_in();
        let tag = self.tag(nonce, aad, data);
        self.ctr_xor(nonce, data);
        tag
    }

    /// XORs `data` with the keystream that starts at counter 2 (counter 1 masks the tag).
    fn ctr_xor(&self, nonce: &[u8; 12], data: &mut [u8]) {
        let mut counter: u32 = 2;
        let mut ks = [aes::Block::default(); PAR_BLOCKS];
        for chunk in data.chunks_mut(16 * PAR_BLOCKS) {
            let blocks = chunk.len().div_ceil(16);
            for block in &mut ks[..blocks] {
                block[..12].copy_from_slice(nonce);
                block[12..].copy_from_slice(&counter.to_be_bytes());
                counter = counter.wrapping_add(1);
            }
            self.cipher.encrypt_blocks(&mut ks[..blocks]);
            for (d, k) in chunk.chunks_mut(16).zip(&ks) {
                for (x, y) in d.iter_mut().zip(k.iter()) {
                    *x ^= y;
                }
            }
        }
        ks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
    }

    /// GHASH(H, A, C) XOR E(K, J0).
    fn tag(&self, nonce: &[u8; 12], aad: &[u8], ciphertext: &[u8]) -> Tag {
        let mut ghash = GHash::new(&self.h.into());
        ghash.update_padded(aad);
        ghash.update_padded(ciphertext);
        ghash.update(&[length_block(aad.len(), ciphertext.len()).into()]);
        let mut s = ghash.finalize();
        let mut j0 = [aes::Block::default()];
        j0[0][..12].copy_from_slice(nonce);
        j0[0][15] = 1;
        self.cipher.encrypt_blocks(&mut j0);
        let mut tag = [0u8; 16];
        for (t, (a, b)) in tag.iter_mut().zip(s.iter().zip(j0[0].iter())) {
            *t = a ^ b;
        }
        s.as_mut_slice().zeroize();
        j0[0].as_mut_slice().zeroize();
        tag
    }
}
