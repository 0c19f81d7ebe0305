//! The x86_64 hardware backends: `vaes-avx512` (VAES + VPCLMULQDQ on 512-bit registers), `vaes-avx2` (the
//! same on 256-bit registers) and `aesni` (AES-NI + PCLMULQDQ on 128-bit registers). Each supplies the bulk stride of the shared GCM frame, running AES-CTR
//! and GHASH in one pass; [`aes`] and [`ghash`] hold the 128-bit building blocks they share.
//!
//! These are the only modules of the x86 build that contain `unsafe`: the intrinsics' target-feature
//! contracts and the raw in/out pointers of an [`InOutBuf`](aead::inout::InOutBuf). Keys are built only from
//! the tokens of [`cpu`], so holding a key proves the CPU runs its instructions.

mod aes;
pub(crate) mod aesni;
pub(crate) mod cpu;
mod ghash;
#[cfg(test)]
mod selection_tests;
pub(crate) mod vaes_avx2;
pub(crate) mod vaes_avx512;
