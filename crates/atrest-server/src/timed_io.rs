//! A connection whose reads or writes make no progress for a while is closed: an idle HTTP/2 connection, a
//! client that stops reading its response, a peer that vanished without a FIN. (HTTP/1's idle and header
//! timeouts are hyper's; stalled request bodies are the handlers'.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `S` with a stall timeout on each direction.
pub(crate) struct TimedIo<S> {
    inner: S,
    timeout: Duration,
    read_stall: Option<Pin<Box<Sleep>>>,
    write_stall: Option<Pin<Box<Sleep>>>,
}

impl<S> TimedIo<S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> TimedIo<S> {
        TimedIo { inner, timeout, read_stall: None, write_stall: None }
    }
}

/// `Ready(Err)` once the stall timer of a pending operation fires; starts it on the first pending poll.
fn stalled(timer: &mut Option<Pin<Box<Sleep>>>, timeout: Duration, cx: &mut Context<'_>) -> Poll<io::Error> {
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *timer = None;
            Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "no progress on the connection"))
        }
        Poll::Pending => Poll::Pending,
    }
}

use std::future::Future;

/// Passes `poll` through, clearing the stall timer on progress and starting or checking it while pending.
fn watch<T>(
    poll: Poll<io::Result<T>>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    timeout: Duration,
    cx: &mut Context<'_>,
) -> Poll<io::Result<T>> {
    match poll {
        Poll::Ready(r) => {
            *timer = None;
            Poll::Ready(r)
        }
        Poll::Pending => stalled(timer, timeout, cx).map(Err),
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        watch(Pin::new(&mut this.inner).poll_read(cx, buf), &mut this.read_stall, this.timeout, cx)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        watch(Pin::new(&mut this.inner).poll_write(cx, buf), &mut this.write_stall, this.timeout, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        watch(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs), &mut this.write_stall, this.timeout, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        watch(Pin::new(&mut this.inner).poll_flush(cx), &mut this.write_stall, this.timeout, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_stalled_read_times_out_and_progress_resets_the_timer() {
        let (client, server) = tokio::io::duplex(64);
        let mut timed = TimedIo::new(server, Duration::from_secs(10));
        let mut client = client;
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(8)).await;
            client.write_all(b"x").await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(client);
        });
        let mut buf = [0u8; 4];
        assert_eq!(timed.read(&mut buf).await.unwrap(), 1, "8 s is within the timeout");
        let err = timed.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        writer.abort();
    }
}
