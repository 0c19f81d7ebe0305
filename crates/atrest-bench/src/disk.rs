//! The disk itself, measured in the same directory with the same number of bytes as the store wrote.
//!
//! Passes over one file: sequential writes with `O_DIRECT` (the `dd oflag=direct` reference, no page cache)
//! ended by one `fdatasync`; the same with an `fdatasync` after every block (durable per block: shows what the
//! device's cache flush costs); buffered sequential writes with an `fdatasync` after every block (the pattern
//! of the store's group commit); and a sequential read, with `O_DIRECT` where the file system allows it,
//! otherwise buffered after asking the kernel to drop the file's cached pages. A file system that refuses
//! `O_DIRECT` (tmpfs, some FUSE mounts) gets a note instead of a number for that pass.

use std::fs::{File, OpenOptions};
use std::io;
use std::num::NonZeroU64;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Instant;

use rustix::fs::{Advice, OFlags, fadvise};
use serde::Serialize;

use crate::cpu::mb_s;
use crate::error::BenchError;

/// Alignment that satisfies `O_DIRECT` on every common device (logical blocks of 512 B or 4 KiB).
const ALIGN: usize = 4096;

/// What the disk did.
#[derive(Debug, Clone, Serialize)]
pub struct DiskRates {
    /// Bytes written and read by each pass.
    pub bytes: u64,
    /// Size of each write and read call.
    pub block_bytes: usize,
    /// Sequential write with `O_DIRECT`, then one `fdatasync`; `None` if the file system refused `O_DIRECT`.
    pub write_direct_mb_s: Option<f64>,
    /// `O_DIRECT` sequential write with an `fdatasync` after every block; `None` if refused.
    pub write_direct_sync_each_mb_s: Option<f64>,
    /// Buffered sequential write with an `fdatasync` after every block.
    pub write_fdatasync_mb_s: f64,
    /// Sequential read from a cold cache.
    pub read_mb_s: f64,
    /// How the read bypassed the cache: `"O_DIRECT"` or `"buffered after fadvise(DONTNEED)"`.
    pub read_mode: String,
    /// Anything a reader of the numbers should know (e.g. O_DIRECT refused).
    pub notes: Vec<String>,
}

impl DiskRates {
    /// The sequential write rate the store is compared with: `O_DIRECT` where it worked, else the
    /// `fdatasync` pass.
    pub fn write_reference_mb_s(&self) -> f64 {
        self.write_direct_mb_s.unwrap_or(self.write_fdatasync_mb_s)
    }
}

/// A heap buffer of `len` bytes starting at an [`ALIGN`]-aligned address, filled with incompressible bytes.
struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let mut raw = vec![0u8; len + ALIGN];
        let start = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        let mut rng = crate::docgen::Rng::new(0x0D15_C0DE);
        for chunk in raw.chunks_mut(8) {
            let r = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        AlignedBuf { raw, start, len }
    }
    fn as_slice(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> BenchError + 'a {
    move |source| BenchError::Io { what, path: path.to_owned(), source }
}

/// Whether an open error means "this file system does not do O_DIRECT".
fn refuses_direct(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
}

/// Measures the disk under `dir` with `bytes` (rounded up to whole blocks of `block_bytes`, itself rounded
/// up to the alignment). The scratch file is removed afterwards.
///
/// # Errors
/// [`BenchError::Io`] naming the scratch file when a write, sync or read fails.
pub fn measure(dir: &Path, bytes: u64, block_bytes: usize) -> Result<DiskRates, BenchError> {
    let block = block_bytes.max(ALIGN).next_multiple_of(ALIGN);
    let blocks = bytes.div_ceil(block as u64).max(1);
    let total = blocks * block as u64;
    let path = dir.join("atrest-bench-disk.tmp");
    let mut buf = AlignedBuf::new(block);
    let mut notes = Vec::new();
    let result = (|| {
        let direct = write_pass(&path, &buf, blocks, Mode::Direct)?;
        if direct.is_none() {
            notes.push(format!("{} refused O_DIRECT (tmpfs or similar): direct-I/O passes skipped", dir.display()));
        }
        let direct_each = match direct {
            Some(_) => write_pass(&path, &buf, blocks, Mode::DirectSyncEach)?,
            None => None,
        };
        let synced = write_pass(&path, &buf, blocks, Mode::BufferedSyncEach)?.unwrap_or_default();
        let (read, read_mode) = read_pass(&path, &mut buf, blocks, direct.is_some())?;
        Ok::<_, BenchError>(DiskRates {
            bytes: total,
            block_bytes: block,
            write_direct_mb_s: direct.map(|d| mb_s(total, d)),
            write_direct_sync_each_mb_s: direct_each.map(|d| mb_s(total, d)),
            write_fdatasync_mb_s: mb_s(total, synced),
            read_mb_s: mb_s(total, read),
            read_mode,
            notes: std::mem::take(&mut notes),
        })
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// How a write pass writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `O_DIRECT`, one `fdatasync` at the end.
    Direct,
    /// `O_DIRECT`, `fdatasync` after every block.
    DirectSyncEach,
    /// Through the page cache, `fdatasync` after every block.
    BufferedSyncEach,
}

/// Writes `blocks` blocks from the start of a fresh file; `None` if `O_DIRECT` was asked and refused.
fn write_pass(
    path: &Path,
    buf: &AlignedBuf,
    blocks: u64,
    mode: Mode,
) -> Result<Option<std::time::Duration>, BenchError> {
    let direct = mode != Mode::BufferedSyncEach;
    let _ = std::fs::remove_file(path);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if direct {
        options.custom_flags(OFlags::DIRECT.bits() as i32);
    }
    let file = match options.open(path) {
        Err(e) if direct && refuses_direct(&e) => return Ok(None),
        r => r.map_err(io_err(path, "create the disk scratch file"))?,
    };
    let start = Instant::now();
    let block = buf.len as u64;
    for i in 0..blocks {
        match file.write_all_at(buf.as_slice(), i * block) {
            Err(e) if direct && i == 0 && refuses_direct(&e) => return Ok(None),
            r => r.map_err(io_err(path, "write the disk scratch file"))?,
        }
        if mode != Mode::Direct {
            file.sync_data().map_err(io_err(path, "fdatasync the disk scratch file"))?;
        }
    }
    if mode == Mode::Direct {
        file.sync_data().map_err(io_err(path, "fdatasync the disk scratch file"))?;
    }
    Ok(Some(start.elapsed()))
}

/// Reads the file back sequentially from a cold cache.
fn read_pass(
    path: &Path,
    buf: &mut AlignedBuf,
    blocks: u64,
    direct: bool,
) -> Result<(std::time::Duration, String), BenchError> {
    let mut options = OpenOptions::new();
    options.read(true);
    if direct {
        options.custom_flags(OFlags::DIRECT.bits() as i32);
    }
    let file = options.open(path).map_err(io_err(path, "open the disk scratch file"))?;
    let mode = if direct {
        "O_DIRECT".to_owned()
    } else {
        drop_cache(&file).map_err(io_err(path, "drop the scratch file's cached pages"))?;
        "buffered after fadvise(DONTNEED)".to_owned()
    };
    let block = buf.len as u64;
    let start = Instant::now();
    for i in 0..blocks {
        read_full(&file, buf.as_mut_slice(), i * block).map_err(io_err(path, "read the disk scratch file"))?;
    }
    Ok((start.elapsed(), mode))
}

/// Reads exactly `buf.len()` bytes at `offset`.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Asks the kernel to drop the clean cached pages of `file` (written data must be synced first).
pub fn drop_cache(file: &File) -> io::Result<()> {
    fadvise(file, 0, None::<NonZeroU64>, Advice::DontNeed).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_pass_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rates = measure(dir.path(), 300_000, 64 * 1024).expect("disk measurement");
        assert_eq!(rates.bytes, 5 * 64 * 1024, "rounded up to whole blocks");
        assert!(rates.write_fdatasync_mb_s.is_finite() && rates.write_fdatasync_mb_s > 0.0);
        assert!(rates.read_mb_s.is_finite() && rates.read_mb_s > 0.0);
        match rates.write_direct_mb_s {
            Some(r) => {
                assert!(r > 0.0 && rates.read_mode == "O_DIRECT");
                assert!(rates.write_direct_sync_each_mb_s.is_some_and(|r| r > 0.0));
            }
            None => assert!(!rates.notes.is_empty(), "a refused O_DIRECT is explained"),
        }
        assert!(rates.write_reference_mb_s() > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "scratch file removed");
    }

    #[test]
    fn aligned_buffer_is_aligned() {
        let buf = AlignedBuf::new(3 * ALIGN);
        assert_eq!(buf.as_slice().as_ptr() as usize % ALIGN, 0);
        assert_eq!(buf.as_slice().len(), 3 * ALIGN);
    }
}
