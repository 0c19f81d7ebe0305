//! How a backup target is laid out, and how backups are named.
//!
//! ```text
//! TARGET/
//!   backups/<id>          one sealed manifest per backup (see `manifest`); <id> sorts by time
//!   objects/<sha256 hex>  content-addressed chunks of the store's files, exactly as stored (already sealed)
//! ```
//!
//! Every file of a snapshot is cut into chunks of [`CHUNK_BYTES`] at fixed offsets, and each chunk is stored
//! once under its digest. An append-only segment that grew since the last backup therefore shares all its full
//! chunks with the earlier backup, and only the new tail is uploaded.

/// Folder of the sealed backup manifests.
pub const BACKUPS_DIR: &str = "backups";
/// Folder of the content-addressed chunks.
pub const OBJECTS_DIR: &str = "objects";
/// Chunk size: files are cut at multiples of this offset.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The object name of backup `id`'s manifest.
pub fn manifest_name(id: &str) -> String {
    format!("{BACKUPS_DIR}/{id}")
}

/// Whether `id` is a well-formed backup id: 1 to 64 ASCII letters, digits, `.`, `-` or `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A new backup id: UTC time to the millisecond, then 8 random hex digits so two backups made in the same
/// millisecond still differ. Ids sort in time order.
///
/// # Errors
/// When the OS random number generator fails.
pub fn new_id(unix_ms: u64) -> crate::Result<String> {
    let mut r = [0u8; 4];
    getrandom::fill(&mut r).map_err(|e| crate::BackupError::Random(e.to_string()))?;
    Ok(format!("{}-{}", format_utc(unix_ms), hex::encode(r)))
}

/// `YYYYMMDDTHHMMSS.mmmZ` for a Unix time in milliseconds.
pub fn format_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, unix_ms % 1000)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_times() {
        assert_eq!(format_utc(0), "19700101T000000.000Z");
        // 2000-02-29 12:34:56.789 UTC = 951827696789 ms.
        assert_eq!(format_utc(951_827_696_789), "20000229T123456.789Z");
        // 2026-11-30 03:46:00 UTC.
        assert_eq!(format_utc(1_796_010_360_000), "20261130T034600.000Z");
    }

    #[test]
    fn ids_sort_by_time_and_validate() {
        let a = new_id(1_000).unwrap();
        let b = new_id(2_000).unwrap();
        assert!(a < b);
        assert!(valid_id(&a) && valid_id(&b));
        assert!(!valid_id("") && !valid_id("../x") && !valid_id("a/b") && !valid_id(&"x".repeat(65)));
    }
}
