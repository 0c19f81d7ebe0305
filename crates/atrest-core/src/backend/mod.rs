//! The backend registry: every AES-GCM implementation by name, highest priority first.
//!
//! A backend is the whole AEAD over a buffer (AES-CTR and GHASH together), not a block cipher, so a fast path
//! can run both in one pass; the rest of GCM is one frame all backends share ([`crate::gcm`]). The CPU is
//! probed once ([`detect`]); a hardware backend's key can only be built from a token that the probe hands
//! out, so no code path can run instructions the CPU lacks. The backend is chosen when a key is built and
//! each call dispatches once, on an enum ([`dispatch`]).
//!
//! Selection order: a backend named explicitly through the API; else the `ATREST_BACKEND` environment
//! variable (read once per process); else the first entry of [`PRIORITY`] that this host supports.

#[cfg(all(target_arch = "aarch64", target_endian = "little"))]
pub(crate) mod aarch64;
pub(crate) mod detect;
pub(crate) mod dispatch;
#[cfg(test)]
mod kernel_tests;
pub(crate) mod soft;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

use std::fmt;
use std::sync::OnceLock;

use crate::error::BackendError;

pub use detect::CpuFeatures;

/// The environment variable that pins a backend for every key built afterwards in this process.
pub const BACKEND_ENV: &str = "ATREST_BACKEND";

/// An AES-GCM implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Backend {
    /// VAES + VPCLMULQDQ on 512-bit registers (x86_64 with AVX-512 F/BW/VL and OS-enabled ZMM and opmask
    /// state).
    VaesAvx512,
    /// VAES + VPCLMULQDQ on 256-bit registers (x86_64 with AVX2 and OS-enabled YMM state).
    VaesAvx2,
    /// AES-NI + PCLMULQDQ on 128-bit registers (x86_64).
    Aesni,
    /// ARMv8 Cryptography Extensions: AES + PMULL (aarch64).
    Armv8,
    /// Portable Rust, constant-time, no `unsafe` of its own. Always available.
    Soft,
}

/// Every backend, highest priority first. Auto-selection takes the first one the host supports.
pub const PRIORITY: [Backend; 5] =
    [Backend::VaesAvx512, Backend::VaesAvx2, Backend::Aesni, Backend::Armv8, Backend::Soft];

impl Backend {
    /// The backend's stable name, as accepted by [`Backend::from_name`] and `ATREST_BACKEND`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::VaesAvx512 => "vaes-avx512",
            Backend::VaesAvx2 => "vaes-avx2",
            Backend::Aesni => "aesni",
            Backend::Armv8 => "armv8",
            Backend::Soft => "soft",
        }
    }

    /// Looks a backend up by name and checks that this host can run it.
    ///
    /// # Errors
    /// [`BackendError::Unknown`] for a name that is not in [`PRIORITY`], [`BackendError::Unsupported`] for a
    /// backend this CPU cannot run. Both list the backends the host does support.
    pub fn from_name(name: &str) -> Result<Backend, BackendError> {
        let wanted = name.trim().to_ascii_lowercase();
        let backend = PRIORITY
            .into_iter()
            .find(|b| b.name() == wanted)
            .ok_or_else(|| BackendError::Unknown { name: name.to_owned(), supported: supported() })?;
        backend.check_supported()
    }

    /// Whether this host can run the backend (and this build contains it).
    pub fn is_supported(self) -> bool {
        dispatch::allowed(self, &CpuFeatures::get())
    }

    /// Returns `self` if the host can run it.
    ///
    /// # Errors
    /// [`BackendError::Unsupported`] otherwise.
    pub fn check_supported(self) -> Result<Backend, BackendError> {
        if self.is_supported() {
            Ok(self)
        } else {
            Err(BackendError::Unsupported { backend: self, supported: supported() })
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::from_name(s)
    }
}

/// The backends this host supports, highest priority first. Never empty: `soft` always runs.
pub fn supported() -> Vec<Backend> {
    PRIORITY.into_iter().filter(|b| b.is_supported()).collect()
}

/// The highest-priority backend this host supports, ignoring `ATREST_BACKEND`.
pub fn best_supported() -> Backend {
    PRIORITY.into_iter().find(|b| b.is_supported()).unwrap_or(Backend::Soft)
}

/// The backend a key gets when none is named: `ATREST_BACKEND` if set, else [`best_supported`].
///
/// # Errors
/// When `ATREST_BACKEND` is set to an unknown backend or one this host cannot run. The variable is read once
/// per process, so the answer never changes.
pub fn default_backend() -> Result<Backend, BackendError> {
    static FROM_ENV: OnceLock<Result<Option<Backend>, BackendError>> = OnceLock::new();
    let forced = FROM_ENV.get_or_init(|| match std::env::var(BACKEND_ENV) {
        Ok(value) if !value.trim().is_empty() => Backend::from_name(&value)
            .map(Some)
            .map_err(|reason| BackendError::Environment { value, reason: Box::new(reason) }),
        _ => Ok(None),
    });
    match forced {
        Ok(Some(backend)) => Ok(*backend),
        Ok(None) => Ok(best_supported()),
        Err(e) => Err(e.clone()),
    }
}
