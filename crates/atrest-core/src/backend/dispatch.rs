//! Dispatch over the backends: an expanded key is an enum with one variant per backend, chosen when the key
//! is built; each call matches once and runs the shared GCM frame ([`crate::gcm`]) over that backend's
//! kernel.
//!
//! The table at the bottom is the only list of backends to kernels: one line per backend names its key
//! type (whose [`Kernel::Proof`] says which CPU features it needs) and the architecture it builds on. The
//! enum, the key constructor, the selection rule and the calls are all generated from it, so a new backend
//! is its module, its proof and one line here (plus its name in [`Backend`]).

use aead::inout::InOutBuf;

use super::Backend;
use super::detect::{CpuFeatures, Proof, prove};
use crate::error::{BackendError, OpenError, SealError};
use crate::gcm::{self, Kernel, Tag};

macro_rules! backends {
    ($($(#[$cfg:meta])* $variant:ident => $key:ty;)+) => {
        /// An expanded AES-GCM key bound to the backend chosen when it was built.
        pub(crate) enum GcmKey {
            $($(#[$cfg])* $variant($key),)+
        }

        impl GcmKey {
            /// Expands `key` (16 or 32 bytes, checked by the caller) for `backend`, if the CPU runs it.
            pub(crate) fn new(backend: Backend, key: &[u8]) -> Result<GcmKey, BackendError> {
                let unsupported = || BackendError::Unsupported { backend, supported: super::supported() };
                #[allow(unreachable_patterns)] // on architectures where every backend is built
                match backend {
                    $($(#[$cfg])* Backend::$variant => {
                        let proof = prove::<<$key as Kernel>::Proof>().ok_or_else(unsupported)?;
                        Ok(GcmKey::$variant(<$key as Kernel>::new(key, proof)))
                    })+
                    _ => Err(unsupported()),
                }
            }

            /// The backend this key runs on.
            pub(crate) fn backend(&self) -> Backend {
                match self {
                    $($(#[$cfg])* GcmKey::$variant(_) => Backend::$variant,)+
                }
            }

            /// Encrypts `buf` in place or from its input to its output, returning the tag.
            pub(crate) fn seal(
                &self,
                nonce: &[u8; 12],
                aad: &[u8],
                buf: InOutBuf<'_, '_, u8>,
            ) -> Result<Tag, SealError> {
                match self {
                    $($(#[$cfg])* GcmKey::$variant(k) => gcm::seal(k, nonce, aad, buf),)+
                }
            }

            /// Decrypts `buf` and verifies `tag`. On failure the output is zeroed and one opaque error
            /// returned.
            pub(crate) fn open(
                &self,
                nonce: &[u8; 12],
                aad: &[u8],
                buf: InOutBuf<'_, '_, u8>,
                tag: &Tag,
            ) -> Result<(), OpenError> {
                match self {
                    $($(#[$cfg])* GcmKey::$variant(k) => gcm::open(k, nonce, aad, buf, tag),)+
                }
            }
        }

        /// Whether `features` suffice for `backend` (and this build contains it): the selection rule alone,
        /// read from each backend's proof type, so tests can walk tables of feature combinations.
        pub(crate) fn allowed(backend: Backend, features: &CpuFeatures) -> bool {
            #[allow(unreachable_patterns)]
            match backend {
                $($(#[$cfg])* Backend::$variant => <<$key as Kernel>::Proof as Proof>::holds(features),)+
                _ => false,
            }
        }
    };
}

// Keys are boxed: they are 0.4 to 2 KiB of round keys and GHASH powers, and the enum stays one pointer.
backends! {
    #[cfg(target_arch = "x86_64")]
    VaesAvx512 => Box<super::x86::vaes_avx512::GcmKey>;
    #[cfg(target_arch = "x86_64")]
    VaesAvx2 => Box<super::x86::vaes_avx2::GcmKey>;
    #[cfg(target_arch = "x86_64")]
    Aesni => Box<super::x86::aesni::GcmKey>;
    #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
    Armv8 => Box<super::aarch64::GcmKey>;
    Soft => Box<super::soft::GcmKey>;
}
