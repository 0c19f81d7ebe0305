//! `GET /v1/collections/{c}/find?pointer=/a/b&value=JSON` (documents whose value at the pointer equals the
//! value, from the index) and `GET /v1/collections/{c}/docs?limit=N&after=TOKEN` (a scan in id order, a page
//! at a time, with a continuation token). Both answer `{"documents": [{"id": …, "doc": …}, …]}`, the stored
//! documents embedded as they are.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, Shared};
use crate::auth::Caller;

/// The largest page a scan returns.
pub(crate) const MAX_PAGE: usize = 1000;
/// A scan's page without `limit`.
const DEFAULT_PAGE: usize = 100;

/// `{"documents":[…]` with each document's bytes copied in as stored, then whatever `tail` adds and `}`.
fn documents_json(docs: &[(String, Vec<u8>)], tail: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(docs.iter().map(|(id, d)| id.len() + d.len() + 20).sum::<usize>() + 64);
    out.extend_from_slice(b"{\"documents\":[");
    for (i, (id, doc)) in docs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        out.extend_from_slice(serde_json::to_string(id).unwrap_or_default().as_bytes());
        out.extend_from_slice(b",\"doc\":");
        out.extend_from_slice(doc);
        out.push(b'}');
    }
    out.push(b']');
    out.extend_from_slice(tail.as_bytes());
    out.push(b'}');
    out
}

fn json_response(body: Vec<u8>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from(body)).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindQuery {
    pointer: String,
    value: String,
}

/// `find`: `value` is JSON (`42`, `true`, `"x"`), or else taken as a string.
pub(crate) async fn find(
    State(s): State<Shared>,
    caller: Caller,
    Path(c): Path<String>,
    Query(q): Query<FindQuery>,
) -> Result<Response, ApiError> {
    caller.read(&c)?;
    let value = serde_json::from_str(&q.value).unwrap_or(serde_json::Value::String(q.value));
    let docs = s.blocking(move |s| Ok(s.store.find(&c, &q.pointer, &value)?)).await?;
    let tail = format!(",\"count\":{}", docs.len());
    Ok(json_response(documents_json(&docs, &tail)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// The continuation token after id `id`: its bytes in hex (opaque to clients; safe in a query string).
fn token_after(id: &str) -> String {
    hex::encode(id)
}

/// The first id a page after `token` may hold (ids are compared as bytes; `\0` follows the id itself).
fn start_after(token: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("\"after\" is not a continuation token from an earlier page");
    let bytes = hex::decode(token).map_err(|_| bad())?;
    let mut id = String::from_utf8(bytes).map_err(|_| bad())?;
    id.push('\0');
    Ok(id)
}

/// `scan`: up to `limit` documents (default 100, at most 1000) after the token; `next` is the token of the
/// following page, `null` at the end.
pub(crate) async fn scan(
    State(s): State<Shared>,
    caller: Caller,
    Path(c): Path<String>,
    Query(q): Query<ScanQuery>,
) -> Result<Response, ApiError> {
    caller.read(&c)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!("limit must be 1 to {MAX_PAGE}")).with("limit", MAX_PAGE.into()));
    }
    let start = q.after.as_deref().map(start_after).transpose()?.unwrap_or_default();
    let (docs, last) = s
        .blocking(move |s| {
            let ids = s.store.ids(&c, &start, limit)?;
            let last = (ids.len() == limit).then(|| ids.last().cloned()).flatten();
            let mut docs = Vec::with_capacity(ids.len());
            for id in ids {
                // A document deleted since its id was listed is left out.
                if let Some(doc) = s.store.get(&c, &id)? {
                    docs.push((id, doc));
                }
            }
            Ok((docs, last))
        })
        .await?;
    let next = last.map_or("null".to_owned(), |id| format!("\"{}\"", token_after(&id)));
    Ok(json_response(documents_json(&docs, &format!(",\"next\":{next}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_and_bad_ones_are_refused() {
        assert_eq!(start_after(&token_after("a/b é")).unwrap(), "a/b é\0");
        assert!(start_after("zz").is_err());
        assert!(start_after("ff").is_err(), "not UTF-8");
    }

    #[test]
    fn documents_are_embedded_as_stored() {
        let docs = vec![("a\"".to_owned(), b"{\"x\": 1}".to_vec()), ("b".to_owned(), b"{}".to_vec())];
        let v: serde_json::Value = serde_json::from_slice(&documents_json(&docs, ",\"next\":null")).unwrap();
        assert_eq!(v["documents"][0]["id"], "a\"");
        assert_eq!(v["documents"][0]["doc"]["x"], 1);
        assert_eq!(v["documents"][1]["doc"], serde_json::json!({}));
        assert!(v["next"].is_null());
    }
}
