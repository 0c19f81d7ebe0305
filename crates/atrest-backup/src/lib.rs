//! # atrest-backup
//!
//! Encrypted, incremental backups of an atrest store, with verify and restore.
//!
//! A backup is a consistent snapshot of the store's files (taken while writes go on) copied to a **target**:
//! a local directory, or any store the `object_store` crate reaches (S3, Azure and GCS behind this crate's
//! `aws`, `azure` and `gcp` features). The files are copied exactly as stored, so everything stays sealed;
//! they are cut into chunks named by their SHA-256, so a second backup uploads only the chunks the target
//! lacks. Each backup has a sealed manifest listing its files, sizes and digests, sealed under the store's
//! own data key: reading it needs the master key from its provider. The backup carries the keyring, which
//! holds only wrapped keys.
//!
//! ```text
//! TARGET/backups/<id>          sealed manifest (see [`manifest`])
//! TARGET/objects/<sha256>      chunks of the store's files, as stored
//! TARGET/store-id              the one store whose backups the target holds (see [`owner`])
//! TARGET/lock                  a local target's writer lock
//! ```
//!
//! - [`backup`] a live store; [`run_schedule`] for periodic backups with retention ([`prune`]).
//! - [`verify_backup`] checks every digest and opens every page; problems are reported by file name.
//! - [`restore`] into an empty directory, verified page by page before it reports success.
//!
//! The design (layout, manifest, incremental upload, retention, restore) is in docs/design.md, "Backups".

mod codec;
pub mod digest;
mod error;
mod fetch;
pub mod layout;
pub mod manifest;
pub mod owner;
mod restore;
mod retention;
mod schedule;
mod source;
mod store;
mod target;
mod upload;
mod verify;

pub use digest::Digest;
pub use error::{BackupError, Result};
pub use fetch::{read_backup_header, recorded_provider};
pub use restore::{RestoreReport, restore};
pub use retention::{PrunePlan, plan as plan_retention, prune};
pub use schedule::{RunReport, Schedule, StopSignal, parse_interval, run_schedule};
pub use source::{ReadAt, Snapshot, SnapshotFile};
pub use store::{backup, snapshot};
pub use target::{ObjectInfo, Target, TargetLock};
pub use upload::{BackupReport, backup_snapshot, list_backups, read_manifest};
pub use verify::{Problem, ProblemKind, VerifyBackupReport, verify_backup};
