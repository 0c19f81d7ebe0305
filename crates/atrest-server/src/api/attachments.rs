//! `PUT|GET|DELETE /v1/collections/{c}/docs/{id}/attachments/{name}`: attachment bytes streamed both ways.
//! A PUT hands the request body to the store as it arrives (sealed in chunks, never held whole); a GET
//! streams the opened chunks back with the length announced first. The store call runs on the blocking
//! pool for the whole transfer and holds one in-flight permit.

use std::io::Read;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::body::{BodyReader, check_length};
use super::{ApiError, Shared};
use crate::auth::Caller;

/// Bytes per chunk of a streamed answer.
const CHUNK: usize = 256 << 10;

/// `PUT`: stores the body as the attachment; 200 with its length.
pub(crate) async fn put(
    State(s): State<Shared>,
    caller: Caller,
    Path((c, id, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.write(&c)?;
    check_length(&headers, "attachment", s.limits.max_attachment)?;
    let mut reader = BodyReader::new(body, s.limits.max_attachment, s.limits.body_stall);
    let (result, reader) = s
        .blocking(move |s| {
            let result = s.store.attach(&c, &id, &name, &mut reader);
            Ok((result, reader))
        })
        .await?;
    let bytes = match result {
        Ok(n) => n,
        // A body cut short is the client's doing; say that rather than what the store made of it.
        Err(e) => return Err(reader.cut_error("attachment").unwrap_or_else(|| e.into())),
    };
    s.metrics.attachment_bytes(bytes);
    Ok(Json(json!({ "bytes": bytes })))
}

/// `GET`: the attachment's bytes as `application/octet-stream`, with Content-Length.
pub(crate) async fn get(
    State(s): State<Shared>,
    caller: Caller,
    Path((c, id, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.read(&c)?;
    let (head_tx, head_rx) = oneshot::channel::<Result<u64, ApiError>>();
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let state = s.clone();
    let streaming = async move {
        state
            .blocking(move |s| {
                let opened = (|| {
                    let len = s.store.attachments(&c, &id)?.into_iter().find(|(n, _)| *n == name).map(|(_, len)| len);
                    let reader = s.store.attachment_reader(&c, &id, &name)?;
                    match (len, reader) {
                        (Some(len), Some(reader)) => Ok((len, reader)),
                        _ => Err(ApiError::not_found(format!("no attachment {name:?} on document {id:?} in {c:?}"))),
                    }
                })();
                let mut reader = match opened {
                    Ok((len, reader)) => {
                        let _ = head_tx.send(Ok(len));
                        reader
                    }
                    Err(e) => {
                        let _ = head_tx.send(Err(e));
                        return Ok(());
                    }
                };
                loop {
                    let mut buf = vec![0u8; CHUNK];
                    let chunk = match reader.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => {
                            buf.truncate(n);
                            Ok(Bytes::from(buf))
                        }
                        Err(e) => Err(e),
                    };
                    let failed = chunk.is_err();
                    // The client went away: stop reading.
                    if tx.blocking_send(chunk).is_err() || failed {
                        return Ok(());
                    }
                }
            })
            .await
    };
    // The transfer runs on its own; its outcome is in the stream.
    let task = tokio::spawn(streaming);
    let len = match head_rx.await {
        Ok(head) => head?,
        // The operation never started (503) or failed before its head.
        Err(_) => {
            return Err(task.await.ok().and_then(Result::err).unwrap_or_else(|| ApiError::internal("attachment")));
        }
    };
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let headers =
        [(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CONTENT_LENGTH, len.to_string())];
    Ok((StatusCode::OK, headers, Body::from_stream(stream)).into_response())
}

/// `DELETE`: removes the attachment; 204, or 404.
pub(crate) async fn delete(
    State(s): State<Shared>,
    caller: Caller,
    Path((c, id, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.write(&c)?;
    let (c2, id2, name2) = (c.clone(), id.clone(), name.clone());
    if s.blocking(move |s| Ok(s.store.detach(&c2, &id2, &name2)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no attachment {name:?} on document {id:?} in {c:?}")))
    }
}
