//! Run-time selection on aarch64 CPUs without the Cryptography Extensions.
//!
//! `scripts/test.d/40-aarch64.sh` runs this file under `qemu-aarch64 -cpu cortex-a57,neon=off,vfp=off` (a CPU
//! model that reports neither AES nor PMULL) with `ATREST_EXPECT_NO_ARM_CRYPTO=1`, once plainly and once with
//! `ATREST_BACKEND=armv8`. The variable is read once per process, so the two runs are separate processes
//! rather than child processes (a child of an emulated process would not run under the same CPU model).
//! Without `ATREST_EXPECT_NO_ARM_CRYPTO` these tests check only what holds on every host.

use atrest_core::backend::{self, BACKEND_ENV};
use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, BackendError, CpuFeatures, Xaes256Gcm};

fn expect_no_arm_crypto() -> bool {
    std::env::var("ATREST_EXPECT_NO_ARM_CRYPTO").as_deref() == Ok("1")
}

fn env_forces_armv8() -> bool {
    std::env::var(BACKEND_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("armv8"))
}

#[test]
fn armv8_support_follows_the_cpu_features() {
    let f = CpuFeatures::get();
    assert_eq!(Backend::Armv8.is_supported(), cfg!(target_arch = "aarch64") && f.arm_aes && f.arm_pmull, "{f:?}");
    if expect_no_arm_crypto() {
        assert!(!f.arm_aes && !f.arm_pmull, "this CPU model was expected to lack AES and PMULL: {f:?}");
    }
}

#[test]
fn without_crypto_extensions_auto_selection_falls_back_to_soft() {
    if !expect_no_arm_crypto() {
        return;
    }
    assert_eq!(backend::best_supported(), Backend::Soft);
    assert_eq!(backend::supported(), vec![Backend::Soft]);
    if !env_forces_armv8() {
        assert_eq!(backend::default_backend(), Ok(Backend::Soft));
        assert_eq!(Aes256Gcm::try_new(&[1; 32]).unwrap().backend(), Backend::Soft);
        assert_eq!(Aes128Gcm::try_new(&[1; 16]).unwrap().backend(), Backend::Soft);
        assert_eq!(Xaes256Gcm::try_new(&[1; 32]).unwrap().backend(), Backend::Soft);
    }
}

#[test]
fn without_crypto_extensions_naming_armv8_is_a_clean_error() {
    if !expect_no_arm_crypto() {
        return;
    }
    let unsupported = BackendError::Unsupported { backend: Backend::Armv8, supported: vec![Backend::Soft] };
    assert_eq!(Backend::from_name("armv8"), Err(unsupported.clone()));
    assert_eq!(Aes256Gcm::with_backend(&[1; 32], Backend::Armv8).err(), Some(unsupported.clone()));
    assert_eq!(Aes128Gcm::with_backend(&[1; 16], Backend::Armv8).err(), Some(unsupported.clone()));
    assert_eq!(Xaes256Gcm::with_backend(&[1; 32], Backend::Armv8).err(), Some(unsupported.clone()));
    let msg = unsupported.to_string();
    assert!(msg.contains("armv8") && msg.contains("soft"), "{msg}");
}

#[test]
fn without_crypto_extensions_forcing_armv8_through_the_environment_is_a_clean_error() {
    if !(expect_no_arm_crypto() && env_forces_armv8()) {
        return;
    }
    let err = Aes256Gcm::try_new(&[1; 32]).expect_err("ATREST_BACKEND=armv8 must be refused on this CPU");
    match &err {
        BackendError::Environment { value, reason } => {
            assert!(value.eq_ignore_ascii_case("armv8"), "{value}");
            assert!(matches!(**reason, BackendError::Unsupported { backend: Backend::Armv8, .. }), "{reason:?}");
        }
        other => panic!("expected an Environment error, got {other:?}"),
    }
    assert_eq!(backend::default_backend().err(), Some(err.clone()));
    assert_eq!(Xaes256Gcm::try_new(&[1; 32]).err(), Some(err));
    // Naming a backend through the API still works.
    assert_eq!(Aes256Gcm::with_backend(&[1; 32], Backend::Soft).unwrap().backend(), Backend::Soft);
}
