//! Reading a segment from a page on, 256 pages per read, each read opened as one batch across threads.
//! Replay (which stops at the first page that is missing, torn or does not authenticate) and `verify`
//! (which reports every such page and goes on) both walk segments with it.

use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::pages::{BodyHeader, PageCodec};
use crate::storage::{Storage, read_exact_at};
use atrest_core::page::PageHeader;

/// Pages read and opened per I/O.
pub(crate) const SCAN_PAGES: usize = 256;

/// One page as the scanner found it.
pub(crate) enum Scanned<'b> {
    /// It opened: its key id, body header and payload.
    Page { no: u64, key_id: u32, head: BodyHeader, payload: &'b [u8] },
    /// It did not open, or its body header is invalid: why, and the key id its header names if readable.
    Bad { no: u64, key_id: Option<u32>, detail: String },
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// Every page from the start was visited.
    Complete,
    /// The visitor stopped at this page.
    Stopped(u64),
    /// The file ends with a partial page at this page number (after visiting every whole page).
    PartialPage(u64),
}

/// Visits the pages of segment `seg` from page `start`; `visit` returns `false` to stop.
pub(crate) fn scan_segment(
    storage: &dyn Storage,
    codec: &PageCodec,
    seg: u64,
    start: u64,
    visit: &mut dyn FnMut(Scanned<'_>) -> Result<bool>,
) -> Result<ScanEnd> {
    let name = seg_name(seg);
    let file = storage.open(&name, false).map_err(StoreError::io("opening", storage.describe(&name)))?;
    let size = codec.size.bytes();
    let len = file.len().map_err(StoreError::io("reading the length of", storage.describe(&name)))?;
    let pages = len / size as u64;
    let mut buf = vec![0u8; SCAN_PAGES * size];
    let mut no = start;
    while no < pages {
        let n = ((pages - no) as usize).min(SCAN_PAGES);
        let chunk = &mut buf[..n * size];
        let got = read_exact_at(&*file, chunk, no * size as u64)
            .map_err(StoreError::io("reading", storage.describe(&name)))?;
        let whole = got / size;
        let key_ids: Vec<Option<u32>> = chunk[..whole * size]
            .chunks_exact(size)
            .map(|p| PageHeader::parse_prefix(p).ok().map(|h| h.key_id))
            .collect();
        let results = codec.open_run(seg, no, &mut chunk[..whole * size]);
        for (i, r) in results.into_iter().enumerate() {
            let page_no = no + i as u64;
            let body = &chunk[i * size..(i + 1) * size][codec.size.body_range()];
            let seen = match r {
                // A key that cannot be had now is no damage: the scan fails rather than end the log here.
                Err(e) if let Some(k) = crate::pages::key_unavailable(&e) => return Err(StoreError::Keys(k)),
                Err(e) => Scanned::Bad { no: page_no, key_id: key_ids[i], detail: e.to_string() },
                Ok((kind, key_id)) => match BodyHeader::read(body, kind) {
                    Ok(head) => Scanned::Page {
                        no: page_no,
                        key_id,
                        head,
                        payload: &body[crate::pages::BODY_HEADER..crate::pages::BODY_HEADER + head.used],
                    },
                    Err(d) => Scanned::Bad { no: page_no, key_id: Some(key_id), detail: d.into() },
                },
            };
            if !visit(seen)? {
                return Ok(ScanEnd::Stopped(page_no));
            }
        }
        if whole < n {
            // The file shrank while it was read.
            return Ok(ScanEnd::PartialPage(no + whole as u64));
        }
        no += n as u64;
    }
    if len % size as u64 != 0 {
        return Ok(ScanEnd::PartialPage(pages));
    }
    Ok(ScanEnd::Complete)
}
