//! Helpers shared by the test binaries; each uses a different subset.
#![allow(dead_code)]

pub mod https;
pub mod pki;
pub mod pump;
pub mod records;
pub mod tls;
