//! Torznab at `/torznab/api`, for Prowlarr, Sonarr, Radarr and the like (`docs/torznab.md`).
//!
//! - `t=caps`: [`caps`]; `t=search|tvsearch|movie|music|book`: [`search`], answered as an
//!   RSS 2.0 feed with `torznab:attr` elements (see [`crate::rss::item`]).
//! - The key comes as `apikey=` when reads need it.
//! - Errors are `<error code=".." description=".."/>` with HTTP 200, so every client reads
//!   the code from the body whatever it does with error statuses: 100 wrong or missing key,
//!   200 a missing parameter, 201 an invalid one (both name it), 203 an unknown `t=`, 900
//!   the rest.
//!   Over the per-IP search rate the answer is HTTP 429 with `Retry-After` (the clients back
//!   off on it) and error 900 "Request limit reached"; a store that cannot answer is 503
//!   with error 900.

mod caps;
mod categories;
mod search;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::params::last;
use crate::rss::{RSS_CONTENT_TYPE, base_url, item, open_channel};
use crate::xml::Xml;
use crate::{ApiError, AppState};

/// Items per answer when the request gives no `limit` (the caps' `default`).
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// Most items per answer (the caps' `max`); larger limits are clamped.
pub(crate) const MAX_LIMIT: usize = 100;
/// How deep `offset` paging goes: no item past the first 1,000 matches is returned (an
/// offset at or past it gets an empty page, so clients stop paging).
pub(crate) const MAX_DEPTH: usize = 1_000;
/// Store pages (of 100 hits) one request may walk through its filters.
pub(crate) const MAX_SCAN_PAGES: usize = 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/torznab/api", get(api))
        .route("/torznab/api/", get(api))
        .route("/torznab", get(api))
        .route("/torznab/", get(api))
}

/// A Torznab error: its code, description, the parameter it is about, and the HTTP status.
#[derive(Debug)]
pub(crate) struct TorznabError {
    pub(crate) code: u16,
    pub(crate) description: String,
    pub(crate) param: Option<String>,
    status: StatusCode,
    retry_after: Option<u64>,
}

impl TorznabError {
    fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            param: None,
            status: StatusCode::OK,
            retry_after: None,
        }
    }

    /// 200: a required parameter is missing.
    pub(crate) fn missing(param: &str, why: &str) -> Self {
        let mut e = Self::new(200, format!("Missing parameter ({param}): {why}"));
        e.param = Some(param.to_owned());
        e
    }

    /// 201: a parameter does not parse or is out of range.
    pub(crate) fn invalid(param: &str, why: impl std::fmt::Display) -> Self {
        let mut e = Self::new(201, format!("Incorrect parameter ({param}): {why}"));
        e.param = Some(param.to_owned());
        e
    }
}

impl From<ApiError> for TorznabError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::BadParam { param, reason } => Self::invalid(&param, reason),
            ApiError::Unauthorized(_) | ApiError::Forbidden(_) => Self::new(
                100,
                "Incorrect user credentials: this server needs its API key as apikey=",
            ),
            ApiError::TooManyRequests(secs) => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(secs),
                ..Self::new(900, "Request limit reached")
            },
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error answering a Torznab request");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    ..Self::new(900, "internal error (logged)")
                }
            }
            e => Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..Self::new(900, e.public_message())
            },
        }
    }
}

impl IntoResponse for TorznabError {
    fn into_response(self) -> Response {
        let mut x = Xml::new();
        let code = self.code.to_string();
        x.empty(
            "error",
            &[("code", &code), ("description", &self.description)],
        );
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            x.finish(),
        )
            .into_response();
        if let Some(v) = self.retry_after.and_then(|s| s.to_string().parse().ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// The search functions and what they are called in the answer's title.
const FUNCTIONS: &[&str] = &["search", "tvsearch", "movie", "music", "book"];

async fn api(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match answer(&state, &headers, &ext, &pairs).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    ext: &Extensions,
    pairs: &[(String, String)],
) -> Result<Response, TorznabError> {
    state.require_read(headers, last(pairs, "apikey"))?;
    let t = last(pairs, "t")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            TorznabError::missing("t", "caps, search, tvsearch, movie, music or book")
        })?;
    if t == "caps" {
        return Ok(xml_response(caps::caps(), "application/xml; charset=utf-8"));
    }
    // `tv-search`-style and `audio` spellings some clients use.
    let function = match t {
        "tv-search" => "tvsearch",
        "movie-search" => "movie",
        "audio" | "music-search" | "audio-search" => "music",
        "book-search" => "book",
        t => t,
    };
    if !FUNCTIONS.contains(&function) {
        let mut shown: String = t.chars().take(32).collect();
        if shown.len() < t.len() {
            shown.push('…');
        }
        return Err(TorznabError::new(
            203,
            format!(
                "Function not available: t={shown} (caps, search, tvsearch, movie, music, book)"
            ),
        ));
    }
    let search = search::Search::parse(pairs, function)?;
    state.check_rate(crate::server::client_ip(ext))?;
    let runner = search.clone();
    let hits = state.data().read(move |s| runner.run(s)).await?;
    let base = base_url(headers);
    let mut x = Xml::new();
    let title = if search.text.is_empty() {
        "BitAgent".to_owned()
    } else {
        format!("BitAgent: {}", search.text)
    };
    open_channel(&mut x, true, &title, &base);
    for hit in &hits {
        item(&mut x, hit, &base, Some(categories::of_hit(hit)));
    }
    Ok(xml_response(x.finish(), RSS_CONTENT_TYPE))
}

fn xml_response(body: String, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
