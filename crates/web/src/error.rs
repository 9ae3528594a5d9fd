//! The API's error type and its JSON shape.
//!
//! A malformed parameter is a 400 that names it; a missing key is a 401, a bad CSRF token a
//! 403, an unknown torrent a 404, a client over its rate a 429; a store that cannot answer
//! (busy, damaged) a 503. Handlers never panic on input: every parse returns one of these.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Everything a handler can answer instead of what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter that does not parse or is out of range.
    #[error("invalid parameter {param}: {reason}")]
    BadParam {
        /// The parameter's name as the client sent it (`min_size`, `q`, `cursor`, ...).
        param: String,
        /// What is wrong, and what would be right.
        reason: String,
    },
    /// A missing or wrong API key (or session).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the request is refused (a missing or wrong CSRF token).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (a torrent not in the store).
    #[error("{0}")]
    NotFound(String),
    /// The client sent too many requests; retry after the given seconds.
    #[error("too many requests; retry in {0} s")]
    TooManyRequests(u64),
    /// The store or the writer cannot answer now.
    #[error("{0}")]
    Unavailable(String),
    /// A bug: logged, and answered without details.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A [`BadParam`](Self::BadParam).
    pub fn param(param: &str, reason: impl Into<String>) -> Self {
        Self::BadParam {
            param: param.to_owned(),
            reason: reason.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadParam { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadParam { .. } => "bad_parameter",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::TooManyRequests(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The message shown to the client (internal details stay in the log).
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error (logged)".to_owned(),
            e => e.to_string(),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::EmptyQuery => Self::param("q", "the query has no word to search for"),
            store::Error::BadQuery(why) => Self::param("q", why),
            store::Error::BadCursor(_) => Self::param(
                "cursor",
                "not a cursor this server issued for this search (start again without it)",
            ),
            e => Self::Unavailable(format!("the database cannot answer now: {e}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error answering a request");
        }
        let mut body =
            json!({ "error": { "code": self.code(), "message": self.public_message() } });
        if let Self::BadParam { param, .. } = &self {
            body["error"]["parameter"] = json!(param);
        }
        let mut resp = (self.status(), Json(body)).into_response();
        if let Self::TooManyRequests(secs) = self
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        if let Self::Unauthorized(_) = self {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"bitagent\""),
            );
        }
        resp
    }
}
