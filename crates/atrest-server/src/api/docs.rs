//! `PUT|GET|DELETE /v1/collections/{c}/docs/{id}`: one document, with an ETag (a digest of its bytes) and
//! conditional writes (`If-Match`, `If-None-Match`) for optimistic concurrency. A write holds the document's
//! stripe lock across its check and its commit, so two conditional writes of one document cannot both pass
//! against the same version; writes to different documents still reach the store together.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, AppState, Shared, body};
use crate::auth::Caller;

/// A document's entity tag: the first 128 bits of SHA-256 of its bytes, quoted.
pub(crate) fn etag(doc: &[u8]) -> String {
    let digest = Sha256::digest(doc);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// `If-Match` / `If-None-Match` of a request.
#[derive(Debug, Default)]
struct Preconditions {
    if_match: Option<Vec<String>>,
    if_none_match: Option<Vec<String>>,
}

impl Preconditions {
    fn from(headers: &HeaderMap) -> Result<Preconditions, ApiError> {
        let list = |name: header::HeaderName| -> Result<Option<Vec<String>>, ApiError> {
            let values: Vec<&HeaderValue> = headers.get_all(&name).iter().collect();
            if values.is_empty() {
                return Ok(None);
            }
            let mut tags = Vec::new();
            for v in values {
                let v = v.to_str().map_err(|_| ApiError::bad_request(format!("{name} is not ASCII")))?;
                tags.extend(
                    v.split(',').map(|t| t.trim().trim_start_matches("W/").to_owned()).filter(|t| !t.is_empty()),
                );
            }
            Ok(Some(tags))
        };
        Ok(Preconditions { if_match: list(header::IF_MATCH)?, if_none_match: list(header::IF_NONE_MATCH)? })
    }

    fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Whether a write may go ahead given the current document's tag (`None`: no document).
    fn allow_write(&self, current: Option<&str>) -> bool {
        let listed = |tags: &Vec<String>| current.is_some_and(|c| tags.iter().any(|t| t == "*" || t == c));
        self.if_match.as_ref().is_none_or(listed) && !self.if_none_match.as_ref().is_some_and(listed)
    }
}

fn precondition_failed(current: Option<&str>) -> ApiError {
    let e = ApiError::new(StatusCode::PRECONDITION_FAILED, "the document does not match the request's precondition");
    e.with("etag", current.map_or(serde_json::Value::Null, |t| t.into()))
}

/// The current tag of a document, when a precondition needs it.
fn current_tag(s: &AppState, c: &str, id: &str, pre: &Preconditions) -> Result<Option<String>, ApiError> {
    if pre.is_empty() {
        return Ok(None);
    }
    Ok(s.store.get(c, id)?.map(|d| etag(&d)))
}

/// `PUT`: stores the body as document `id` (creating the collection with the default index policy if it
/// does not exist). 204 with the new ETag.
pub(crate) async fn put(
    State(s): State<Shared>,
    caller: Caller,
    Path((c, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.write(&c)?;
    let pre = Preconditions::from(&headers)?;
    let doc = body::read(&headers, body, "document", s.limits.max_document, s.limits.body_stall).await?;
    let tag = etag(&doc);
    let len = doc.len() as u64;
    s.blocking(move |s| {
        let _stripe = s.stripe(&c, &id);
        let current = current_tag(s, &c, &id, &pre)?;
        if !pre.allow_write(current.as_deref()) {
            return Err(precondition_failed(current.as_deref()));
        }
        s.store.ensure_collection(&c)?;
        s.store.put(&c, &id, doc)?;
        Ok(())
    })
    .await?;
    s.metrics.document_bytes(len);
    Ok((StatusCode::NO_CONTENT, [(header::ETAG, tag)]).into_response())
}

/// `GET`: the document, with its ETag; 304 when `If-None-Match` names it.
pub(crate) async fn get(
    State(s): State<Shared>,
    caller: Caller,
    Path((c, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.read(&c)?;
    let pre = Preconditions::from(&headers)?;
    let (c2, id2) = (c.clone(), id.clone());
    let doc = s.blocking(move |s| Ok(s.store.get(&c2, &id2)?)).await?;
    let Some(doc) = doc else {
        return Err(ApiError::not_found(format!("no document {id:?} in collection {c:?}")));
    };
    let tag = etag(&doc);
    if pre.if_none_match.as_ref().is_some_and(|tags| tags.iter().any(|t| t == "*" || *t == tag)) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    Ok((StatusCode::OK, [(header::ETAG, tag), (header::CONTENT_TYPE, "application/json".to_owned())], doc)
        .into_response())
}

/// `DELETE`: removes the document and its attachments; 204, or 404 when there was none.
pub(crate) async fn delete(
    State(s): State<Shared>,
    caller: Caller,
    Path((c, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.write(&c)?;
    let pre = Preconditions::from(&headers)?;
    let (c2, id2) = (c.clone(), id.clone());
    let existed = s
        .blocking(move |s| {
            let _stripe = s.stripe(&c2, &id2);
            let current = current_tag(s, &c2, &id2, &pre)?;
            if !pre.allow_write(current.as_deref()) {
                return Err(precondition_failed(current.as_deref()));
            }
            Ok(s.store.delete(&c2, &id2)?)
        })
        .await?;
    if !existed {
        return Err(ApiError::not_found(format!("no document {id:?} in collection {c:?}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(if_match: Option<&[&str]>, if_none_match: Option<&[&str]>) -> Preconditions {
        let own = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect();
        Preconditions { if_match: if_match.map(own), if_none_match: if_none_match.map(own) }
    }

    #[test]
    fn preconditions_follow_rfc_9110() {
        let tag = etag(b"{}");
        assert_eq!(tag.len(), 34);
        assert!(pre(None, None).allow_write(None));
        assert!(pre(Some(&[&tag]), None).allow_write(Some(&tag)));
        assert!(!pre(Some(&[&tag]), None).allow_write(Some("\"other\"")));
        assert!(!pre(Some(&["*"]), None).allow_write(None), "If-Match: * needs a document");
        assert!(pre(None, Some(&["*"])).allow_write(None), "If-None-Match: * creates only");
        assert!(!pre(None, Some(&["*"])).allow_write(Some(&tag)));
        assert!(!pre(None, Some(&[&tag])).allow_write(Some(&tag)));
    }
}
