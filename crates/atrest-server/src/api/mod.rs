//! The HTTP API: its routes (one table, which the OpenAPI test reads too), the state every handler shares,
//! and how store calls leave the async runtime (a bounded number at a time on the blocking pool, so that
//! concurrent writes reach the store together and share its group commits).

mod admin;
mod attachments;
mod body;
mod collections;
mod docs;
mod error;
mod import;
mod query;
mod status;
mod tokens;

use std::sync::Arc;
use std::time::Instant;

use atrest_store::Store;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use tokio::sync::Semaphore;

pub(crate) use error::ApiError;

use crate::auth::{FailureLimiter, TokenTable};
use crate::metrics::Metrics;
use crate::options::HttpLimits;

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) store: Arc<Store>,
    pub(crate) tokens: TokenTable,
    pub(crate) limiter: FailureLimiter,
    pub(crate) limits: HttpLimits,
    pub(crate) metrics: Metrics,
    /// One permit per store operation in flight.
    permits: Arc<Semaphore>,
    /// Writes to one document take its stripe, so a conditional write's check and write are one step.
    stripes: Vec<std::sync::Mutex<()>>,
    pub(crate) started: Instant,
    /// Where `POST /v1/admin/backup` writes.
    pub(crate) backup_target: Option<String>,
}

pub(crate) type Shared = Arc<AppState>;

/// Stripes of the per-document write lock: enough that concurrent writers to different documents rarely
/// share one (which would make one of them wait for the other's commit).
const STRIPES: usize = 4096;

impl AppState {
    pub(crate) fn new(store: Arc<Store>, tokens: TokenTable, limits: HttpLimits) -> AppState {
        AppState {
            store,
            tokens,
            limiter: FailureLimiter::new(limits.auth_failure_burst, limits.auth_failures_per_second),
            permits: Arc::new(Semaphore::new(limits.max_in_flight)),
            metrics: Metrics::default(),
            limits,
            stripes: (0..STRIPES).map(|_| std::sync::Mutex::new(())).collect(),
            started: Instant::now(),
            backup_target: None,
        }
    }

    /// Runs `f` on the blocking pool, or answers 503 when `max_in_flight` operations are running already.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permits.clone().try_acquire_owned().map_err(|_| ApiError::busy(self.limits.max_in_flight))?;
        let state = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let result = f(&state);
            // The state goes before the permit: once every permit is back, no task holds the store.
            drop(state);
            drop(permit);
            result
        });
        task.await.unwrap_or_else(|_| Err(ApiError::internal("the operation failed unexpectedly")))
    }

    /// Waits until no store operation is in flight (each holds a permit).
    pub(crate) async fn quiesce(&self) {
        let all = u32::try_from(self.limits.max_in_flight).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }

    /// The write lock of document `id` in collection `c`.
    pub(crate) fn stripe(&self, c: &str, id: &str) -> std::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (c, id).hash(&mut h);
        self.stripes[(h.finish() as usize) % STRIPES].lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every route of the API: method, path (axum and OpenAPI spell parameters alike, `{c}`) and handler.
fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Shared>)> {
    vec![
        ("GET", "/v1/health", get(status::health)),
        ("GET", "/v1/info", get(status::info)),
        ("GET", "/metrics", get(status::metrics)),
        ("GET", "/v1/collections", get(collections::list)),
        ("POST", "/v1/collections/{c}", post(collections::create)),
        ("DELETE", "/v1/collections/{c}", delete(collections::drop)),
        ("PUT", "/v1/collections/{c}/docs/{id}", put(docs::put)),
        ("GET", "/v1/collections/{c}/docs/{id}", get(docs::get)),
        ("DELETE", "/v1/collections/{c}/docs/{id}", delete(docs::delete)),
        ("GET", "/v1/collections/{c}/docs", get(query::scan)),
        ("GET", "/v1/collections/{c}/find", get(query::find)),
        ("POST", "/v1/collections/{c}/import", post(import::import_lines)),
        ("PUT", "/v1/collections/{c}/docs/{id}/attachments/{name}", put(attachments::put)),
        ("GET", "/v1/collections/{c}/docs/{id}/attachments/{name}", get(attachments::get)),
        ("DELETE", "/v1/collections/{c}/docs/{id}/attachments/{name}", delete(attachments::delete)),
        ("POST", "/v1/admin/backup", post(admin::backup)),
        ("POST", "/v1/admin/rotate", post(admin::rotate)),
        ("POST", "/v1/admin/tokens", post(tokens::create)),
        ("GET", "/v1/admin/tokens", get(tokens::list)),
        ("DELETE", "/v1/admin/tokens/{id}", delete(tokens::revoke)),
    ]
}

/// The routes as `(METHOD, path)`, in the order they are registered.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes().into_iter().map(|(m, p, _)| (m, p)).collect()
}

pub(crate) fn router(state: Shared) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<Shared>)> = Vec::new();
    for (_, path, handler) in routes() {
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, methods)) => *methods = std::mem::take(methods).merge(handler),
            None => by_path.push((path, handler)),
        }
    }
    let router = by_path.into_iter().fold(Router::new(), |r, (path, methods)| r.route(path, methods));
    router
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn_with_state(state.clone(), body::buffer_small))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// Counts every request by route, method and status, and times it.
async fn track(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("(no route)");
    state.metrics.request(route, method.as_str(), response.status().as_u16(), start.elapsed());
    if response.status().is_server_error() {
        crate::log::line(format_args!("{method} {route}: {}", response.status()));
    }
    response
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route").with("path", uri.path().into())
}
