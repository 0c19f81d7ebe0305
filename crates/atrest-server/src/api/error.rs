//! What a failed request is answered with: a status and a JSON body `{"error": "..."}` that says what is
//! wrong (plus fields a client can act on, such as the limit that was exceeded). Store errors map to the
//! status a client can act on: its own mistakes are 4xx, the server's trouble 5xx.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use atrest_store::StoreError;

/// An error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    extra: Map<String, Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), extra: Map::new(), retry_after: None }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 413 naming the limit.
    pub(crate) fn too_large(what: &str, limit: u64) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("{what} is more than {limit} bytes (the limit)"))
            .with("limit", limit.into())
    }

    /// 503 with Retry-After: the server is at its limit of requests in flight.
    pub(crate) fn busy(in_flight: usize) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the server is busy ({in_flight} operations in flight, its limit); retry shortly"),
        )
        .retry_after(1)
    }

    pub(crate) fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

/// The status a store error is answered with.
pub(crate) fn status_of(e: &StoreError) -> StatusCode {
    use StoreError as E;
    match e {
        E::NoSuchCollection { .. } | E::NoSuchDocument { .. } => StatusCode::NOT_FOUND,
        E::CollectionExists { .. } => StatusCode::CONFLICT,
        E::DocumentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        E::EmptyId
        | E::IdTooLong { .. }
        | E::IdControlCharacter { .. }
        | E::InvalidJson(_)
        | E::NotAnObject
        | E::NotAScalar
        | E::BadPointer { .. }
        | E::BadCollectionName { .. }
        | E::BadAttachmentName { .. }
        | E::NotIndexed { .. }
        | E::InBatch { .. } => StatusCode::BAD_REQUEST,
        E::Keys(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let status = status_of(&e);
        let mut err = ApiError::new(status, e.to_string());
        if let StoreError::DocumentTooLarge { max, .. } = e {
            err = err.with("limit", (max as u64).into());
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            err = err.retry_after(5);
        }
        err
    }
}

impl From<crate::auth::TokenError> for ApiError {
    fn from(e: crate::auth::TokenError) -> ApiError {
        match e {
            crate::auth::TokenError::Store(e) => e.into(),
            e @ crate::auth::TokenError::BadCollection { .. } => ApiError::bad_request(e.to_string()),
            e => ApiError::internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".to_owned(), Value::String(self.message));
        body.extend(self.extra);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
