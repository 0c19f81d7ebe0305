//! The segment writer: places a packed batch at the end of the active segment, seals it, and writes it
//! with one large aligned write (through the background writer when a commit spans several batches).
//!
//! A segment file is a sequence of sealed pages (`seg-<id>.atr`, the id is its page-binding file id). Once
//! the writer moves to a new segment, the old one is synced and never written again, so a backup can copy it
//! as is. A batch never spans segments.

use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::log::aligned::AlignedBuf;
use crate::log::batch::BatchBuf;
use crate::log::pipe::IoPipe;
use crate::pages::PageCodec;
use crate::storage::{Storage, StorageFile};
use std::sync::Arc;

/// How many batch buffers the writer keeps for reuse.
const SPARES: usize = 2;

/// The writer's position: the active segment and its next page.
pub(crate) struct LogWriter {
    pub(crate) seg: u64,
    pub(crate) file: Arc<dyn StorageFile>,
    pub(crate) next_page: u64,
    pub(crate) max_pages: u64,
    /// Highest batch number appended so far, and the highest made durable.
    pub(crate) appended: u64,
    pub(crate) synced: u64,
    /// Buffers of earlier batches, reused by the next ones (at most [`SPARES`]: one being written, one being
    /// packed), so that steady ingest neither allocates nor page-faults its batch buffers.
    pub(crate) spare: Vec<AlignedBuf>,
    /// The background writer (started on the first commit of more than one batch).
    pub(crate) pipe: Option<IoPipe>,
}

impl LogWriter {
    /// Places, seals and writes a finished batch; returns (segment, first page, key ids used) and a buffer to
    /// reuse. With `overlap`, the write is handed to the background writer and may still be in flight on
    /// return (see [`LogWriter::wait`]). Not yet durable.
    pub(crate) fn append(
        &mut self,
        storage: &dyn Storage,
        codec: &PageCodec,
        mut batch: BatchBuf,
        new_seg: &mut dyn FnMut() -> u64,
        overlap: bool,
    ) -> Result<(u64, u64, Vec<u32>, Option<AlignedBuf>)> {
        let n = batch.pages() as u64;
        if self.next_page > 0 && self.next_page + n > self.max_pages {
            self.roll(storage, new_seg())?;
        }
        let page = codec.size.bytes();
        let mut keys = Vec::new();
        for run in batch.runs.clone() {
            let range = run.first * page..(run.first + run.count) * page;
            let first = self.next_page + run.first as u64;
            keys.push(codec.seal_run_here(run.scope, self.seg, first, &mut batch.buf.as_mut_slice()[range])?);
        }
        let name = seg_name(self.seg);
        let io = StoreError::io("writing segment", storage.describe(&name));
        let offset = self.next_page * page as u64;
        let buf = batch.into_buf();
        let back = if overlap {
            if self.pipe.is_none() {
                self.pipe = Some(IoPipe::start().map_err(StoreError::io("starting the log writer for", name.clone()))?);
            }
            let pipe = self.pipe.as_mut().expect("started above");
            pipe.submit(self.file.clone(), buf, offset).map_err(io)?
        } else {
            self.wait(storage)?;
            self.file.write_at(buf.as_slice(), offset).map_err(io)?;
            Some(buf)
        };
        let at = (self.seg, self.next_page, keys, back);
        self.next_page += n;
        Ok(at)
    }

    /// Waits for a background write in flight; its buffer becomes the spare.
    pub(crate) fn wait(&mut self, storage: &dyn Storage) -> Result<()> {
        if let Some(pipe) = &mut self.pipe
            && let Some(buf) =
                pipe.wait().map_err(StoreError::io("writing segment", storage.describe(&seg_name(self.seg))))?
        {
            self.keep(buf);
        }
        Ok(())
    }

    /// Keeps `buf` for reuse if fewer than [`SPARES`] are kept.
    pub(crate) fn keep(&mut self, buf: AlignedBuf) {
        if self.spare.len() < SPARES {
            self.spare.push(buf);
        }
    }

    /// Makes everything appended durable.
    pub(crate) fn sync(&mut self, storage: &dyn Storage) -> Result<()> {
        self.wait(storage)?;
        self.file.sync_data().map_err(StoreError::io("syncing segment", storage.describe(&seg_name(self.seg))))?;
        self.synced = self.appended;
        Ok(())
    }

    /// Syncs the active segment and starts segment `id` (durably created).
    pub(crate) fn roll(&mut self, storage: &dyn Storage, id: u64) -> Result<()> {
        self.sync(storage)?;
        let name = seg_name(id);
        let file =
            storage.open_log(&name, true).map_err(StoreError::io("creating segment", storage.describe(&name)))?;
        file.set_len(0).map_err(StoreError::io("creating segment", storage.describe(&name)))?;
        storage.sync_dir().map_err(StoreError::io("syncing directory for", storage.describe(&name)))?;
        self.file = Arc::from(file);
        self.seg = id;
        self.next_page = 0;
        Ok(())
    }
}
