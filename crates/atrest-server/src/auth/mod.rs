//! Bearer-token authentication: tokens (their format, hashing and records in the store's sealed catalog),
//! the per-address limit on failed attempts, and the extractor every authenticated route takes.

mod limiter;
mod token;
mod tokens;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

pub use token::{Scope, TokenId, TokenInfo};
pub use tokens::{NewToken, TokenError, create_token, list_tokens, revoke_token};

pub(crate) use limiter::FailureLimiter;
pub(crate) use tokens::TokenTable;

use crate::api::{ApiError, Shared};
use crate::log;

/// The client's address, put on every request by the listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) IpAddr);

/// An authenticated caller: the token's id and scope.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) id: TokenId,
    pub(crate) scope: Scope,
}

impl Caller {
    /// 403 unless the token may read collection `c`.
    pub(crate) fn read(&self, c: &str) -> Result<(), ApiError> {
        if self.scope.covers(c) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("token {} has no access to collection {c:?}", self.id)))
        }
    }

    /// 403 unless the token may write collection `c`.
    pub(crate) fn write(&self, c: &str) -> Result<(), ApiError> {
        self.read(c)?;
        if self.scope.read_only {
            return Err(ApiError::forbidden(format!("token {} is read-only", self.id)));
        }
        Ok(())
    }

    /// 403 unless the token may run store-wide administration (read-write over all collections).
    pub(crate) fn admin(&self) -> Result<(), ApiError> {
        if self.scope.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "token {} may not do this: it needs a read-write token for all collections",
                self.id
            )))
        }
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Caller, ApiError> {
        let ip = parts.extensions.get::<Peer>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0);
        let now = Instant::now();
        if let Err(wait) = state.limiter.check(ip, now) {
            return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed authentication attempts")
                .retry_after(wait.as_secs_f64().ceil() as u64));
        }
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("missing Authorization: Bearer TOKEN"));
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .and_then(|t| token::Presented::parse(t.trim()));
        let Some(presented) = presented else {
            state.limiter.failed(ip, now);
            log::line(format_args!("auth: refused a malformed token from {ip}"));
            return Err(unauthorized("the Authorization header does not hold an atrest token"));
        };
        match state.tokens.check(&presented) {
            Some(scope) => Ok(Caller { id: presented.id, scope }),
            None => {
                state.limiter.failed(ip, now);
                log::line(format_args!("auth: refused token {} from {ip} (unknown id or wrong secret)", presented.id));
                Err(unauthorized("unknown or revoked token"))
            }
        }
    }
}
