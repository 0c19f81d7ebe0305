//! The HTTP routes. Only the unauthenticated liveness check exists so far: every other route of the API
//! needs bearer-token authentication, whose tokens live in the store's sealed catalog, and comes with it.

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use serde_json::{Value, json};

pub(crate) fn router() -> Router {
    Router::new().route("/v1/health", get(health)).fallback(not_found)
}

/// `GET /v1/health`: the server is up and accepting requests. Says nothing about the store's contents.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn not_found(uri: Uri) -> (StatusCode, Json<Value>) {
    (StatusCode::NOT_FOUND, Json(json!({ "error": "no such route", "path": uri.path() })))
}
