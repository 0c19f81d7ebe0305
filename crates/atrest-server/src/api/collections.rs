//! `GET /v1/collections`, `POST /v1/collections/{c}` (create with an index policy), `DELETE
//! /v1/collections/{c}` (drop, destroying the collection's keys).

use atrest_store::IndexPolicy;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, Shared, body};
use crate::auth::Caller;

/// A policy as JSON: `"all"`, `"none"` or a list of JSON Pointers.
pub(crate) fn policy_json(p: &IndexPolicy) -> Value {
    match p {
        IndexPolicy::All => "all".into(),
        IndexPolicy::None => "none".into(),
        IndexPolicy::Paths(paths) => paths.clone().into(),
    }
}

fn parse_policy(v: &Value) -> Result<IndexPolicy, ApiError> {
    let bad = || ApiError::bad_request("\"index\" must be \"all\", \"none\" or a list of JSON Pointers");
    match v {
        Value::String(s) if s == "all" => Ok(IndexPolicy::All),
        Value::String(s) if s == "none" => Ok(IndexPolicy::None),
        Value::Array(items) => {
            let paths = items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>();
            let paths = paths.ok_or_else(bad)?;
            if let Some(p) = paths.iter().find(|p| !p.starts_with('/')) {
                return Err(ApiError::bad_request(format!("{p:?} is not a JSON Pointer (e.g. /address/city)")));
            }
            Ok(IndexPolicy::Paths(paths))
        }
        _ => Err(bad()),
    }
}

/// The collections the caller may see, with their policies and document counts.
pub(crate) async fn list(State(s): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let list = s
        .blocking(move |s| {
            let mut out = Vec::new();
            for (name, policy) in s.store.collections().into_iter().filter(|(n, _)| caller.scope.covers(n)) {
                let documents = s.store.count(&name)?;
                out.push(json!({ "name": name, "index": policy_json(&policy), "documents": documents }));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({ "collections": list })))
}

/// Creates collection `c`; the body `{"index": …}` is optional (default `"all"`). 201, or 409 if it exists.
pub(crate) async fn create(
    State(s): State<Shared>,
    caller: Caller,
    Path(c): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.write(&c)?;
    let bytes = body::read(&headers, body, "request", s.limits.max_request, s.limits.body_stall).await?;
    let policy = if bytes.iter().all(u8::is_ascii_whitespace) {
        IndexPolicy::All
    } else {
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
        match v.get("index") {
            Some(p) => parse_policy(p)?,
            None if v.is_object() => IndexPolicy::All,
            None => return Err(ApiError::bad_request("the body must be a JSON object like {\"index\": \"all\"}")),
        }
    };
    let answer = json!({ "name": c, "index": policy_json(&policy) });
    s.blocking(move |s| Ok(s.store.create_collection(&c, policy)?)).await?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Drops collection `c` and destroys its data keys. 204, or 404.
pub(crate) async fn drop(
    State(s): State<Shared>,
    caller: Caller,
    Path(c): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.write(&c)?;
    s.blocking(move |s| Ok(s.store.drop_collection(&c)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_and_bad_ones_say_why() {
        for p in [IndexPolicy::All, IndexPolicy::None, IndexPolicy::Paths(vec!["/a".into(), "/b/c".into()])] {
            assert_eq!(parse_policy(&policy_json(&p)).unwrap(), p);
        }
        assert!(parse_policy(&json!("some")).is_err());
        assert!(parse_policy(&json!([1])).is_err());
        let e = parse_policy(&json!(["a"])).unwrap_err();
        assert!(e.message.contains("JSON Pointer"), "{}", e.message);
    }
}
