//! # atrest-bench
//!
//! The harness behind `atrest bench`: proves (or disproves) that the full encrypted store runs at the disk's
//! speed. One run measures, on the same machine and directory:
//!
//! - page sealing and opening per crypto backend ([`crypto`]);
//! - the store: durable bulk ingest of generated JSON documents ([`docgen`]) with indexing off and with the
//!   default indexing, random gets and a cold full scan ([`store_run`]);
//! - the disk itself with the same number of bytes: `O_DIRECT` and `fdatasync` writes, a cold read ([`disk`]);
//! - the store's CPU-bound ceiling on a RAM file system, where the CPU goes, and what limits the store
//!   ([`analysis`]).
//!
//! [`run`] returns a [`Report`], printed as tables or as JSON (with a `ratios` object).

pub mod analysis;
pub mod cpu;
pub mod crypto;
pub mod disk;
pub mod docgen;
mod error;
mod keys;
mod progress;
pub mod report;
mod run;
pub mod scale;
mod size;
pub mod store_run;

pub use error::BenchError;
pub use report::Report;
pub use run::{BenchOptions, run, run_and_print};
pub use size::parse_size;
