//! `GET /v1/health` (no token: liveness only), `GET /v1/info` and `GET /metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::collections::policy_json;
use super::{ApiError, Shared};
use crate::auth::Caller;

/// `GET /v1/health`: the server is up and accepting requests. Says nothing about the store's contents.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /v1/info`: version, backend, store figures, and the collections the caller may see. Key ids and
/// states (never key bytes) only for admin tokens.
pub(crate) async fn info(State(s): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let info = s
        .blocking(move |s| {
            let st = s.store.stats()?;
            let policies = s.store.collections();
            let collections: Vec<Value> = st
                .collections
                .iter()
                .filter(|c| caller.scope.covers(&c.name))
                .map(|c| {
                    let policy = policies.iter().find(|(n, _)| *n == c.name).map(|(_, p)| policy_json(p));
                    json!({ "name": c.name, "documents": c.documents, "index": policy })
                })
                .collect();
            let mut info = json!({
                "version": env!("CARGO_PKG_VERSION"),
                "store_id": st.store_id,
                "backend": st.backend,
                "page_size": st.page_size,
                "segments": st.segments,
                "bytes_on_disk": st.bytes_on_disk,
                "generation": st.generation,
                "uptime_seconds": s.started.elapsed().as_secs(),
                "collections": collections,
                "token": { "id": caller.id.to_string(), "read_only": caller.scope.read_only,
                           "collections": caller.scope.collections },
            });
            if caller.scope.is_admin() {
                info["key_source"] = st.key_source.into();
                info["keys"] = st
                    .keys
                    .iter()
                    .map(|k| {
                        json!({ "id": k.id, "scope": format!("{:?}", k.scope), "state": format!("{:?}", k.state),
                                     "master_key": k.master_key.to_string(), "created": k.created })
                    })
                    .collect();
            }
            Ok(info)
        })
        .await?;
    Ok(Json(info))
}

/// `GET /metrics`: any valid token. Store gauges are read at scrape time.
pub(crate) async fn metrics(State(s): State<Shared>, _caller: Caller) -> Result<Response, ApiError> {
    let st = s.blocking(|s| Ok(s.store.stats()?)).await?;
    let text = s.metrics.render(&st);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
