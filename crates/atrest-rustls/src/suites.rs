//! The AES-GCM cipher suites, one set per atrest-core backend.
//!
//! A suite takes its hash, HKDF (TLS 1.3), PRF and signature schemes (TLS 1.2) and confidentiality limit
//! from the ring provider's suite of the same name, and only its AEAD from here. rustls wants suites as
//! `&'static` values, and a suite carries the backend its keys are built on, so each backend's set is
//! built the first time it is asked for and then kept for the life of the process (a few hundred bytes per
//! backend, at most one set per entry of [`PRIORITY`]).

use std::sync::OnceLock;

use atrest_core::Backend;
use atrest_core::BackendError;
use atrest_core::backend::{PRIORITY, supported};
use rustls::crypto::CipherSuiteCommon;
use rustls::crypto::ring::cipher_suite as ring_suites;
use rustls::{SupportedCipherSuite, Tls12CipherSuite, Tls13CipherSuite};

use crate::record_key::KeySize;
use crate::tls12::Tls12Gcm;
use crate::tls13::Tls13Gcm;

/// Each backend's suites, indexed like [`PRIORITY`].
static SUITES: [OnceLock<&'static [SupportedCipherSuite]>; PRIORITY.len()] =
    [const { OnceLock::new() }; PRIORITY.len()];

/// The AES-GCM cipher suites with record protection on `backend`, in rustls' order of preference: TLS 1.3
/// AES-256 then AES-128; TLS 1.2 ECDHE-ECDSA then ECDHE-RSA, AES-256 before AES-128.
///
/// # Errors
/// [`BackendError::Unsupported`] when this host cannot run `backend`.
pub fn cipher_suites(backend: Backend) -> Result<&'static [SupportedCipherSuite], BackendError> {
    let backend = backend.check_supported()?;
    let slot = PRIORITY
        .iter()
        .position(|b| *b == backend)
        .ok_or_else(|| BackendError::Unsupported { backend, supported: supported() })?;
    Ok(SUITES[slot].get_or_init(|| build(backend)))
}

/// The atrest-core backend that protects records of `suite`, or `None` when `suite` is not one of this
/// crate's (for example a ring or aws-lc-rs suite of the same name).
pub fn suite_backend(suite: SupportedCipherSuite) -> Option<Backend> {
    PRIORITY.iter().zip(&SUITES).find_map(|(backend, slot)| {
        let ours = slot.get()?;
        ours.iter().any(|s| same_suite_object(*s, suite)).then_some(*backend)
    })
}

/// Whether two suite values are the same object, not just the same IANA suite.
fn same_suite_object(a: SupportedCipherSuite, b: SupportedCipherSuite) -> bool {
    match (a, b) {
        (SupportedCipherSuite::Tls13(a), SupportedCipherSuite::Tls13(b)) => std::ptr::eq(a, b),
        (SupportedCipherSuite::Tls12(a), SupportedCipherSuite::Tls12(b)) => std::ptr::eq(a, b),
        _ => false,
    }
}

fn build(backend: Backend) -> &'static [SupportedCipherSuite] {
    let tls13 = |base: SupportedCipherSuite, size: KeySize| -> SupportedCipherSuite {
        let SupportedCipherSuite::Tls13(base) = base else { unreachable!("ring's TLS 1.3 suite constants") };
        SupportedCipherSuite::Tls13(leak(Tls13CipherSuite {
            common: common(&base.common),
            hkdf_provider: base.hkdf_provider,
            aead_alg: leak(Tls13Gcm { size, backend }),
            // No QUIC: its packet and header protection would not run on atrest-core.
            quic: None,
        }))
    };
    let tls12 = |base: SupportedCipherSuite, size: KeySize| -> SupportedCipherSuite {
        let SupportedCipherSuite::Tls12(base) = base else { unreachable!("ring's TLS 1.2 suite constants") };
        SupportedCipherSuite::Tls12(leak(Tls12CipherSuite {
            common: common(&base.common),
            prf_provider: base.prf_provider,
            kx: base.kx,
            sign: base.sign,
            aead_alg: leak(Tls12Gcm { size, backend }),
        }))
    };
    use KeySize::{Aes128, Aes256};
    leak([
        tls13(ring_suites::TLS13_AES_256_GCM_SHA384, Aes256),
        tls13(ring_suites::TLS13_AES_128_GCM_SHA256, Aes128),
        tls12(ring_suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, Aes256),
        tls12(ring_suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Aes128),
        tls12(ring_suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, Aes256),
        tls12(ring_suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, Aes128),
    ])
}

fn common(base: &CipherSuiteCommon) -> CipherSuiteCommon {
    CipherSuiteCommon {
        suite: base.suite,
        hash_provider: base.hash_provider,
        confidentiality_limit: base.confidentiality_limit,
    }
}

/// Keeps `value` for the life of the process, as rustls' `&'static` suites require. Called a bounded
/// number of times: once per suite object per backend, under the backend's [`OnceLock`].
fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}
