//! The portable backend: AES-GCM from RustCrypto's constant-time `aes` block cipher and `ghash` universal
//! hash, in two passes (CTR, then GHASH over the ciphertext). It contains no `unsafe` and is the reference
//! every hardware backend is tested against.

use aead::inout::InOutBuf;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use zeroize::Zeroize;

use super::detect::Portable;
use crate::gcm::{Kernel, Xi};

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
/// drop (their `zeroize` features are on).
pub(crate) struct GcmKey {
    cipher: Cipher,
    /// GHASH keyed with `H`, never updated: each call hashes on a clone of it.
    ghash: GHash,
}

impl Kernel for GcmKey {
    type Proof = Portable;

    fn new(key: &[u8], _: Portable) -> GcmKey {
        let cipher = match key.len() {
            16 => Cipher::Aes128(aes::Aes128::new(&Array::try_from(key).expect("16-byte key"))),
            32 => Cipher::Aes256(aes::Aes256::new(&Array::try_from(key).expect("32-byte key"))),
            n => unreachable!("AES key length {n} was checked by the caller"),
        };
        let mut h = [aes::Block::default()];
        cipher.encrypt_blocks(&mut h);
        let ghash = GHash::new(&h[0]);
        h[0].as_mut_slice().zeroize();
        GcmKey { cipher, ghash }
    }

    fn encrypt_xor(&self, block: &[u8; 16], x: &mut [u8; 16]) {
        let mut b = [aes::Block::from(*block)];
        self.cipher.encrypt_blocks(&mut b);
        for (x, k) in x.iter_mut().zip(b[0].iter()) {
            *x ^= k;
        }
        b[0].as_mut_slice().zeroize();
    }

    /// GHASH continued from `xi`: hashing `xi ^ b1, b2, ...` from a zero state gives the same value as
    /// hashing `b1, b2, ...` from state `xi`.
    fn ghash(&self, xi: &mut Xi, blocks: &[u8]) {
        let (blocks, rest) = blocks.as_chunks::<16>();
        debug_assert!(rest.is_empty());
        let Some((first, others)) = blocks.split_first() else { return };
        let mut ghash = self.ghash.clone();
        let mut b = *first;
        for (x, y) in b.iter_mut().zip(xi.to_be_bytes()) {
            *x ^= y;
        }
        ghash.update(&[b.into()]);
        b.zeroize();
        for block in others {
            ghash.update(&[(*block).into()]);
        }
        let mut s = ghash.finalize();
        *xi = u128::from_be_bytes(s.into());
        s.as_mut_slice().zeroize();
    }

    fn seal_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        let data = buf.into_out_with_copied_in();
        self.ctr_xor(nonce, data);
        self.ghash(xi, data);
    }

    fn open_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        let data = buf.into_out_with_copied_in();
        self.ghash(xi, data);
        self.ctr_xor(nonce, data);
    }
}

impl GcmKey {
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
}
