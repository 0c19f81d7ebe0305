//! `POST /v1/collections/{c}/import`: a streamed JSON Lines body, imported in group-committed batches as it
//! arrives (see [`crate::import`]). The answer says how many documents were committed and, when a line was
//! refused, its number, why, and which lines were committed before it.

use std::io::BufReader;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::{BodyReader, check_length};
use super::error::status_of;
use super::{ApiError, Shared};
use crate::auth::Caller;
use crate::import::{Committed, ImportError, ImportEvent, ImportOptions, import};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    id_field: Option<String>,
    batch: Option<usize>,
    resume_from: Option<u64>,
}

/// The most documents per commit a client may ask for.
const MAX_BATCH: usize = 100_000;

fn committed_json(c: Committed) -> Value {
    json!({ "committed": c.documents, "committed_lines": c.lines.map(|(a, b)| vec![a, b]) })
}

pub(crate) async fn import_lines(
    State(s): State<Shared>,
    caller: Caller,
    Path(c): Path<String>,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.write(&c)?;
    let defaults = ImportOptions::default();
    let opts = ImportOptions {
        id_field: q.id_field.unwrap_or(defaults.id_field),
        batch: q.batch.unwrap_or(defaults.batch).clamp(1, MAX_BATCH),
        resume_from: q.resume_from.unwrap_or(1).max(1),
    };
    check_length(&headers, "import body", s.limits.max_import)?;
    let reader = BodyReader::new(body, s.limits.max_import, s.limits.body_stall);
    let (result, reader) = s
        .blocking(move |s| {
            s.store.ensure_collection(&c)?;
            let mut input = BufReader::with_capacity(1 << 20, reader);
            let result = import(&s.store, &c, &mut input, &opts, &mut |e| {
                if let ImportEvent::Committed(n) = e {
                    s.metrics.import_batch(n);
                }
            });
            Ok((result, input.into_inner()))
        })
        .await?;
    s.metrics.document_bytes(reader.bytes_read());
    match result {
        Ok(done) => Ok(Json(committed_json(done))),
        Err(e) => {
            let mut err = match &e {
                ImportError::Input { .. } => reader
                    .cut_error("import body")
                    .unwrap_or_else(|| ApiError::bad_request("reading the import body failed")),
                ImportError::Line { line, what, resume_from, source, .. } => {
                    let status = source
                        .as_deref()
                        .map(status_of)
                        .filter(StatusCode::is_server_error)
                        .unwrap_or(StatusCode::BAD_REQUEST);
                    ApiError::new(status, format!("line {line}: {what}"))
                        .with("line", (*line).into())
                        .with("resume_from", (*resume_from).into())
                }
            };
            let done = e.committed();
            err = err.with("committed", done.documents.into());
            err = err.with("committed_lines", committed_json(done)["committed_lines"].clone());
            err.message = format!("{}; {}", err.message, done.describe());
            Err(err)
        }
    }
}
