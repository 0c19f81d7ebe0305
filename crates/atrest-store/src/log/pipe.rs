//! The log writer's I/O thread: while one batch is being written, the next is packed and sealed, so the
//! disk and the CPUs work at the same time. At most one write is in flight; every write is awaited before a
//! sync, a segment switch, or the end of a commit, so ordering and error reporting stay those of inline
//! writes.

use crate::log::aligned::AlignedBuf;
use crate::storage::StorageFile;
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

struct WriteJob {
    file: Arc<dyn StorageFile>,
    buf: AlignedBuf,
    offset: u64,
}

/// A background writer with one write in flight at most.
pub(crate) struct IoPipe {
    tx: SyncSender<WriteJob>,
    rx: Receiver<(AlignedBuf, io::Result<()>)>,
    in_flight: bool,
}

impl IoPipe {
    /// Starts the thread; it ends when the pipe is dropped.
    pub(crate) fn start() -> io::Result<IoPipe> {
        let (tx, jobs) = sync_channel::<WriteJob>(1);
        let (done, rx) = sync_channel(1);
        std::thread::Builder::new().name("atrest-log-writer".into()).spawn(move || {
            for job in jobs {
                let r = job.file.write_at(job.buf.as_slice(), job.offset);
                if done.send((job.buf, r)).is_err() {
                    break;
                }
            }
        })?;
        Ok(IoPipe { tx, rx, in_flight: false })
    }

    /// Queues a write after waiting for the previous one; returns the previous write's buffer for reuse.
    pub(crate) fn submit(
        &mut self,
        file: Arc<dyn StorageFile>,
        buf: AlignedBuf,
        offset: u64,
    ) -> io::Result<Option<AlignedBuf>> {
        let back = self.wait()?;
        self.tx.send(WriteJob { file, buf, offset }).map_err(|_| io::Error::other("log writer thread ended"))?;
        self.in_flight = true;
        Ok(back)
    }

    /// Waits for the write in flight, if any; returns its buffer.
    pub(crate) fn wait(&mut self) -> io::Result<Option<AlignedBuf>> {
        if !self.in_flight {
            return Ok(None);
        }
        self.in_flight = false;
        let (buf, r) = self.rx.recv().map_err(|_| io::Error::other("log writer thread ended"))?;
        r.map(|()| Some(buf))
    }
}
