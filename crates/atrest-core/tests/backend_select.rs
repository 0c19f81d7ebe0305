//! Backend selection: forcing by name through the API and through `ATREST_BACKEND`, and the errors for an
//! unknown or unsupported backend. Environment cases run in a child process, because the variable is read
//! once per process.

use std::process::Command;

use aead::KeyInit;
use atrest_core::backend::{self, BACKEND_ENV, PRIORITY};
use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, BackendError, Xaes256Gcm};

#[test]
fn soft_is_always_supported_and_listed_last() {
    let supported = backend::supported();
    assert_eq!(supported.last(), Some(&Backend::Soft));
    // The supported list keeps priority order.
    let positions: Vec<usize> = supported.iter().map(|b| PRIORITY.iter().position(|p| p == b).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{supported:?}");
    assert_eq!(backend::best_supported(), supported[0]);
}

#[test]
fn names_round_trip() {
    for b in PRIORITY {
        assert_eq!(b.name().parse::<Backend>().ok().is_some(), b.is_supported());
        if b.is_supported() {
            assert_eq!(Backend::from_name(&b.name().to_uppercase()).unwrap(), b);
        }
    }
}

#[test]
fn unknown_name_is_an_error_listing_supported_backends() {
    let err = Backend::from_name("rot13").unwrap_err();
    assert!(matches!(err, BackendError::Unknown { ref name, .. } if name == "rot13"));
    let msg = err.to_string();
    assert!(msg.contains("rot13") && msg.contains("soft"), "{msg}");
}

#[test]
fn forcing_an_unsupported_backend_is_an_error() {
    let unsupported: Vec<Backend> = PRIORITY.into_iter().filter(|b| !b.is_supported()).collect();
    // Every host lacks at least one architecture's backend.
    assert!(!unsupported.is_empty());
    for b in unsupported {
        let err = Backend::from_name(b.name()).unwrap_err();
        assert!(matches!(err, BackendError::Unsupported { backend, .. } if backend == b), "{err}");
        assert!(err.to_string().contains("soft"), "error lists the supported backends: {err}");
        assert!(Aes256Gcm::with_backend(&[0; 32], b).is_err());
        assert!(Aes128Gcm::with_backend(&[0; 16], b).is_err());
        assert!(Xaes256Gcm::with_backend(&[0; 32], b).is_err());
    }
}

#[test]
fn every_supported_backend_reports_itself() {
    for b in backend::supported() {
        assert_eq!(Aes256Gcm::with_backend(&[1; 32], b).unwrap().backend(), b);
        assert_eq!(Aes128Gcm::with_backend(&[1; 16], b).unwrap().backend(), b);
        assert_eq!(Xaes256Gcm::with_backend(&[1; 32], b).unwrap().backend(), b);
    }
}

/// Runs one ignored test of this binary in a child process with `ATREST_BACKEND` set.
fn child(test: &str, value: &str) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(BACKEND_ENV, value)
        .output()
        .unwrap()
}

#[test]
fn env_forces_each_supported_backend_including_keyinit() {
    for b in backend::supported() {
        let out = child("child_env_forces", b.name());
        assert!(out.status.success(), "{b}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
#[ignore = "run by env_forces_each_supported_backend_including_keyinit in a child process"]
fn child_env_forces() {
    let wanted: Backend = std::env::var(BACKEND_ENV).unwrap().parse().unwrap();
    assert_eq!(backend::default_backend().unwrap(), wanted);
    assert_eq!(Aes256Gcm::new(&[2; 32].into()).backend(), wanted);
    assert_eq!(Aes128Gcm::new(&[2; 16].into()).backend(), wanted);
    assert_eq!(Xaes256Gcm::new(&[2; 32].into()).backend(), wanted);
    assert_eq!(Aes256Gcm::try_new(&[2; 32]).unwrap().backend(), wanted);
}

#[test]
fn env_with_an_unusable_backend_is_a_clean_error() {
    let mut values = vec!["no-such-backend".to_owned()];
    values.extend(PRIORITY.into_iter().filter(|b| !b.is_supported()).map(|b| b.name().to_owned()));
    for value in values {
        let out = child("child_env_rejects", &value);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "ATREST_BACKEND={value}: {stdout}");
    }
}

#[test]
#[ignore = "run by env_with_an_unusable_backend_is_a_clean_error in a child process"]
fn child_env_rejects() {
    let err = backend::default_backend().unwrap_err();
    assert!(matches!(err, BackendError::Environment { .. }), "{err}");
    assert!(err.to_string().contains(BACKEND_ENV), "{err}");
    assert!(Aes256Gcm::try_new(&[0; 32]).is_err());
    assert!(Xaes256Gcm::try_new(&[0; 32]).is_err());
    // KeyInit cannot return an error: it refuses loudly rather than run an unverified backend.
    let panicked = std::panic::catch_unwind(|| Aes256Gcm::new(&[0; 32].into())).is_err();
    assert!(panicked, "KeyInit accepted an unusable ATREST_BACKEND");
    // A backend named through the API still works.
    assert_eq!(Aes256Gcm::with_backend(&[0; 32], Backend::Soft).unwrap().backend(), Backend::Soft);
}
