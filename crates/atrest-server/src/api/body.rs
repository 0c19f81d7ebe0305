//! Request bodies under limits: whole (a document, a small JSON request) or streamed into a blocking reader
//! (an import, an attachment). A body over its limit is refused with 413 naming the limit, from its
//! Content-Length when it has one, else as soon as the bytes pass the limit; a client that stalls
//! mid-body for longer than the stall timeout gets 408.

use std::io::Read;
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;

use super::ApiError;

fn stalled(what: &str, after: Duration) -> ApiError {
    ApiError::new(StatusCode::REQUEST_TIMEOUT, format!("the {what} stalled: no bytes for {} s", after.as_secs()))
}

/// Refuses a body whose declared length is over `limit`.
pub(crate) fn check_length(headers: &HeaderMap, what: &str, limit: u64) -> Result<(), ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(ApiError::too_large(what, limit)),
        _ => Ok(()),
    }
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    what: &str,
    limit: u64,
    stall: Duration,
) -> Result<Vec<u8>, ApiError> {
    check_length(headers, what, limit)?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let mut out = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = body.into_data_stream();
    loop {
        match tokio::time::timeout(stall, stream.next()).await {
            Err(_) => return Err(stalled(what, stall)),
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => return Err(ApiError::bad_request(format!("reading the {what}: {e}"))),
            Ok(Some(Ok(chunk))) => {
                if out.len() as u64 + chunk.len() as u64 > limit {
                    return Err(ApiError::too_large(what, limit));
                }
                out.extend_from_slice(&chunk);
            }
        }
    }
}

/// Bodies up to this size are read before the request reaches its handler.
const SMALL_BODY: u64 = 64 << 10;

/// Reads a small body (declared by Content-Length) before the handler runs, so that an early answer (401,
/// 403, 404) never leaves it unread: HTTP/2 would then reset the stream, which some clients (curl 7.88)
/// report as a failed transfer instead of the answer.
pub(crate) async fn buffer_small(
    axum::extract::State(s): axum::extract::State<super::Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let Some(len) = declared.filter(|n| (1..=SMALL_BODY).contains(n)) else { return next.run(request).await };
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(s.limits.body_stall, axum::body::to_bytes(body, len as usize)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return ApiError::bad_request(format!("reading the request body: {e}")).into_response(),
        Err(_) => return stalled("request body", s.limits.body_stall).into_response(),
    };
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes))).await
}

/// Why a streamed body stopped early.
#[derive(Debug, Clone)]
pub(crate) enum Cut {
    TooLarge,
    Stalled,
    Failed(String),
}

/// A request body as a blocking [`Read`], for store calls that stream (run it on the blocking pool).
pub(crate) struct BodyReader {
    stream: BodyDataStream,
    runtime: tokio::runtime::Handle,
    chunk: Bytes,
    read: u64,
    limit: u64,
    stall: Duration,
    /// Set when the body was cut short; the handler turns it into the answer.
    pub(crate) cut: Option<Cut>,
}

impl BodyReader {
    /// Must be made inside the runtime (it keeps its handle to wait for chunks).
    pub(crate) fn new(body: Body, limit: u64, stall: Duration) -> BodyReader {
        BodyReader {
            stream: body.into_data_stream(),
            runtime: tokio::runtime::Handle::current(),
            chunk: Bytes::new(),
            read: 0,
            limit,
            stall,
            cut: None,
        }
    }

    /// Bytes read so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The answer for a body cut short, if it was.
    pub(crate) fn cut_error(&self, what: &str) -> Option<ApiError> {
        Some(match self.cut.as_ref()? {
            Cut::TooLarge => ApiError::too_large(what, self.limit),
            Cut::Stalled => stalled(what, self.stall),
            Cut::Failed(e) => ApiError::bad_request(format!("reading the {what}: {e}")),
        })
    }

    fn fail(&mut self, cut: Cut) -> std::io::Error {
        let e = std::io::Error::other(match &cut {
            Cut::TooLarge => format!("the body is more than {} bytes (the limit)", self.limit),
            Cut::Stalled => format!("the body stalled for {} s", self.stall.as_secs()),
            Cut::Failed(e) => e.clone(),
        });
        self.cut = Some(cut);
        e
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cut.is_some() {
            return Err(std::io::Error::other("the body was cut short"));
        }
        while self.chunk.is_empty() {
            let next = self.runtime.block_on(tokio::time::timeout(self.stall, self.stream.next()));
            match next {
                Err(_) => return Err(self.fail(Cut::Stalled)),
                Ok(None) => return Ok(0),
                Ok(Some(Err(e))) => return Err(self.fail(Cut::Failed(e.to_string()))),
                Ok(Some(Ok(chunk))) => {
                    self.read += chunk.len() as u64;
                    if self.read > self.limit {
                        return Err(self.fail(Cut::TooLarge));
                    }
                    self.chunk = chunk;
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}
