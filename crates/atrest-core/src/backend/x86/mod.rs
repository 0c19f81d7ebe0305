//! The x86_64 hardware backends: `vaes-avx2` (VAES + VPCLMULQDQ on 256-bit registers) and `aesni` (AES-NI +
//! PCLMULQDQ on 128-bit registers). Each is a whole AES-GCM that runs AES-CTR and GHASH in one pass.
//!
//! These are the only modules of the x86 build that contain `unsafe`: the intrinsics' target-feature
//! contracts and the raw in/out pointers of an [`InOutBuf`](aead::inout::InOutBuf). Keys are built only from
//! the tokens in [`detect`](super::detect), so holding a key proves the CPU runs its instructions.

pub(crate) mod aesni;
mod common;
pub(crate) mod cpu;
#[cfg(test)]
mod selection_tests;
pub(crate) mod vaes_avx2;
