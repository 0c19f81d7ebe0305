//! `POST|GET /v1/admin/tokens`, `DELETE /v1/admin/tokens/{id}`: token management through a running server
//! (which owns the store, so `atrest --data DIR token …` cannot run beside it). Admin tokens only. The new
//! token's text is in the answer to its creation and nowhere else.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared, body};
use crate::auth::{Caller, Scope, TokenId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    collections: Vec<String>,
}

/// Makes a token; 201 with `{"token": …, "id": …, "read_only": …, "collections": […], "created": …}`.
pub(crate) async fn create(
    State(s): State<Shared>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.admin()?;
    let bytes = body::read(&headers, body, "request", s.limits.max_request, s.limits.body_stall).await?;
    let req: CreateRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        CreateRequest { read_only: false, collections: Vec::new() }
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("bad token request: {e}")))?
    };
    let scope = Scope { read_only: req.read_only, collections: req.collections };
    let new = s.blocking(move |s| Ok(s.tokens.create(&s.store, scope)?)).await?;
    crate::log::line(format_args!("token {} created by token {}", new.info.id, caller.id));
    let mut answer = serde_json::to_value(&new.info).unwrap_or_default();
    answer["token"] = new.token.into();
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Lists tokens (ids, scopes, creation times; never secrets or hashes).
pub(crate) async fn list(State(s): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.admin()?;
    let list = s.blocking(|s| Ok(crate::auth::list_tokens(&s.store)?)).await?;
    Ok(Json(json!({ "tokens": list })))
}

/// Revokes a token; 204, or 404.
pub(crate) async fn revoke(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let id = TokenId::parse(&id).ok_or_else(|| ApiError::bad_request(format!("{id:?} is not a token id")))?;
    if !s.blocking(move |s| Ok(s.tokens.revoke(&s.store, id)?)).await? {
        return Err(ApiError::not_found(format!("no token {id}")));
    }
    crate::log::line(format_args!("token {id} revoked by token {}", caller.id));
    Ok(StatusCode::NO_CONTENT)
}
