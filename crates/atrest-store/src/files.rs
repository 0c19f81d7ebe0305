//! Every file of a data directory, named in one place.
//!
//! ```text
//! ATREST                 plaintext format file: magic, format version, page size, store id
//! LOCK                   the owner's lock (flock) and, as text, who holds it: pid and command
//! keyring                wrapped data keys (atrest-keys); no key in the clear
//! MANIFEST               sealed manifest and catalog, replaced atomically through MANIFEST.tmp
//! seg-<16 hex>.atr       a log segment: sealed commit batches (documents, attachments)
//! run-<16 hex>.atr       an immutable sorted run of one collection's id map or index (sealed)
//! idx-<16 hex>.atr       format version 1 only: a collection's whole index (migrated, then removed)
//! ```
//!
//! The hex number is the file id that every page of the file is bound to. Names carry only numbers: no
//! collection name, id or other user data ever appears in a file name.

/// The plaintext format file.
pub const FORMAT_FILE: &str = "ATREST";
/// The lock file the owning process holds.
pub const LOCK_FILE: &str = "LOCK";
/// The sealed manifest.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// The manifest being written, renamed over [`MANIFEST_FILE`] once durable.
pub(crate) const MANIFEST_TMP: &str = "MANIFEST.tmp";
/// The keyring of wrapped data keys, when the keys live in the data directory.
pub const KEYRING_FILE: &str = "keyring";

/// The file id that binds the manifest's pages.
pub(crate) const MANIFEST_FILE_ID: u64 = 0;

/// What a file of the data directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Format,
    Lock,
    Manifest,
    ManifestTmp,
    Keyring,
    Segment(u64),
    Run(u64),
    /// A format-version-1 index file.
    V1Index(u64),
    Other,
}

/// The file name of log segment `id`.
pub(crate) fn seg_name(id: u64) -> String {
    format!("seg-{id:016x}.atr")
}

/// The file name of run `id`.
pub(crate) fn run_name(id: u64) -> String {
    format!("run-{id:016x}.atr")
}

/// The file name of a format-version-1 index file.
pub(crate) fn v1_index_name(id: u64) -> String {
    format!("idx-{id:016x}.atr")
}

fn numbered(name: &str, prefix: &str) -> Option<u64> {
    let hex = name.strip_prefix(prefix)?.strip_suffix(".atr")?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Classifies a file name.
pub(crate) fn classify(name: &str) -> FileKind {
    match name {
        FORMAT_FILE => FileKind::Format,
        LOCK_FILE => FileKind::Lock,
        MANIFEST_FILE => FileKind::Manifest,
        MANIFEST_TMP => FileKind::ManifestTmp,
        KEYRING_FILE => FileKind::Keyring,
        _ => {
            if let Some(id) = numbered(name, "seg-") {
                FileKind::Segment(id)
            } else if let Some(id) = numbered(name, "run-") {
                FileKind::Run(id)
            } else if let Some(id) = numbered(name, "idx-") {
                FileKind::V1Index(id)
            } else {
                FileKind::Other
            }
        }
    }
}

/// Whether `name` belongs in a copy of the store (a snapshot or backup): the format file, the manifest, the
/// keyring, segments and runs. The lock, temporary files and anything else do not.
pub fn is_store_file(name: &str) -> bool {
    matches!(
        classify(name),
        FileKind::Format | FileKind::Manifest | FileKind::Keyring | FileKind::Segment(_) | FileKind::Run(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_store_files_are_copied() {
        assert_eq!(classify(&seg_name(0x1f)), FileKind::Segment(0x1f));
        assert_eq!(classify(&run_name(u64::MAX)), FileKind::Run(u64::MAX));
        assert_eq!(classify(&v1_index_name(7)), FileKind::V1Index(7));
        assert_eq!(classify("seg-1.atr"), FileKind::Other);
        assert_eq!(classify("run-000000000000000g.atr"), FileKind::Other);
        for n in [FORMAT_FILE, MANIFEST_FILE, KEYRING_FILE, &seg_name(1), &run_name(2)] {
            assert!(is_store_file(n), "{n}");
        }
        for n in [LOCK_FILE, MANIFEST_TMP, &v1_index_name(3), "notes.txt"] {
            assert!(!is_store_file(n), "{n}");
        }
    }
}
