//! `POST /v1/admin/backup` (an incremental, encrypted backup to the target the server was started with) and
//! `POST /v1/admin/rotate` (new active data keys). Admin tokens only.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared, body};
use crate::auth::Caller;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupRequest {
    /// Must be the server's target when given (a check for scripts that name it).
    target: Option<String>,
}

/// Backs the store up to the configured target while writes go on; 200 with the backup's figures.
pub(crate) async fn backup(
    State(s): State<Shared>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.admin()?;
    let bytes = body::read(&headers, body, "request", s.limits.max_request, s.limits.body_stall).await?;
    let req: BackupRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        BackupRequest::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("bad backup request: {e}")))?
    };
    let Some(target) = s.backup_target.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this server has no backup target: start it with --backup-target TARGET",
        ));
    };
    if req.target.as_ref().is_some_and(|t| *t != target) {
        return Err(ApiError::forbidden(format!("this server backs up only to its own target, {target}")));
    }
    let report = s
        .blocking(move |s| {
            let fail = |e: atrest_backup::BackupError| ApiError::internal(format!("backup to {target}: {e}"));
            let target = atrest_backup::Target::open(&target).map_err(fail)?;
            atrest_backup::backup(&s.store, &target).map_err(fail)
        })
        .await?;
    crate::log::line(format_args!("backup {} made by token {}", report.id, caller.id));
    Ok(Json(json!({
        "id": report.id,
        "files": report.files,
        "bytes": report.bytes,
        "objects_uploaded": report.objects_uploaded,
        "bytes_uploaded": report.bytes_uploaded,
        "objects_reused": report.objects_reused,
    })))
}

/// Makes new active data keys for the store and every collection; 200 with their ids.
pub(crate) async fn rotate(State(s): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.admin()?;
    let ids = s.blocking(|s| Ok(s.store.rotate()?)).await?;
    crate::log::line(format_args!("data keys rotated by token {}", caller.id));
    Ok(Json(json!({ "active_keys": ids })))
}
