//! `GET /api/v1/search`.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::{Extensions, HeaderMap};
use axum::{Json, response::IntoResponse, response::Response};
use serde::Serialize;
use store::Hit;

use super::TypeCount;
use crate::{ApiError, AppState, links, params, server};

/// A page of search results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SearchResponse {
    /// The hits, in the requested order.
    pub(crate) items: Vec<Item>,
    /// Pass as `cursor` (with the same other parameters) for the next page; `null` on the
    /// last page.
    #[schema(required = true)]
    pub(crate) next_cursor: Option<String>,
    /// How many torrents match (within the store's search window for broad queries).
    pub(crate) total: u64,
    /// Whether `total` and `facets` were counted over a bounded window of the matches (or
    /// estimated) rather than exactly.
    pub(crate) total_is_estimate: bool,
    /// Matching torrents by content type, most first (`null`: unclassified).
    pub(crate) facets: Vec<TypeCount>,
}

/// One torrent in a result page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Item {
    /// The v1 infohash, 40 lowercase hex digits.
    #[schema(example = "0123456789abcdef0123456789abcdef01234567")]
    pub(crate) infohash: String,
    /// The torrent's name, as its metadata gives it (any Unicode: treat as text).
    pub(crate) name: String,
    /// Total size in bytes.
    pub(crate) size: u64,
    /// Number of files.
    pub(crate) files: u64,
    /// Seeders at `scraped_at`; `null`: never measured.
    #[schema(required = true)]
    pub(crate) seeders: Option<u32>,
    /// Leechers at `scraped_at`; `null`: never measured.
    #[schema(required = true)]
    pub(crate) leechers: Option<u32>,
    /// When the swarm was measured (Unix seconds); `null`: never.
    #[schema(required = true)]
    pub(crate) scraped_at: Option<i64>,
    /// Content type from the rules (`movie`, `tv_show`, ...); `null`: unclassified.
    #[schema(required = true)]
    pub(crate) content_type: Option<String>,
    /// Tags, sorted.
    pub(crate) tags: Vec<String>,
    /// Attributes from the rules (`resolution`, `year`, `season`, ...), by name.
    pub(crate) attributes: BTreeMap<String, String>,
    /// When first seen (Unix seconds).
    pub(crate) first_seen: i64,
    /// When last seen (Unix seconds).
    pub(crate) last_seen: i64,
    /// A magnet link with the name (`dn`) and size (`xl`).
    pub(crate) magnet: String,
}

impl From<Hit> for Item {
    fn from(h: Hit) -> Self {
        Self {
            infohash: h.info_hash.to_hex(),
            magnet: links::magnet(&h.info_hash, &h.name, h.total_size),
            name: h.name,
            size: h.total_size,
            files: h.file_count,
            seeders: h.seeders,
            leechers: h.leechers,
            scraped_at: h.scraped_at,
            content_type: h.content_type,
            tags: h.tags,
            attributes: h.attributes.into_iter().collect(),
            first_seen: h.first_seen,
            last_seen: h.last_seen,
        }
    }
}

/// The search parameters, for the spec (the handler reads them with
/// [`params::search_request`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SearchParams {
    /// Words, in the query syntax of docs/search.md: `"exact phrase"`, `-exclude`,
    /// `a OR b`, `prefix*`; 40 hex digits find that infohash. At most 512 bytes. Empty or
    /// absent: the newest torrents matching the other parameters.
    q: Option<String>,
    /// Only this content type (`movie`, `tv_show`, `music`, ...).
    r#type: Option<String>,
    /// Only torrents with this tag.
    tag: Option<String>,
    /// Total size at least: bytes, or with a unit (`700MB`, `1.5GiB`, `2G`; powers of 1024).
    min_size: Option<String>,
    /// Total size at most (as `min_size`).
    max_size: Option<String>,
    /// At least this many seeders (leaves out torrents never measured when above 0).
    min_seeders: Option<u32>,
    /// At least this many files.
    min_files: Option<u64>,
    /// At most this many files.
    max_files: Option<u64>,
    /// First seen at or after: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, Unix seconds, or an
    /// age (`90m`, `24h`, `7d`, `2w`).
    since: Option<String>,
    /// First seen at or before (as `since`).
    until: Option<String>,
    /// `relevance` (default), `seeders`, `size`, `files`, `first_seen`, `last_seen`, `name`.
    sort: Option<String>,
    /// `asc` or `desc`; default `asc` for `name`, `desc` otherwise.
    order: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (opaque).
    cursor: Option<String>,
}

/// Searches the stored torrents.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "read",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of results", body = SearchResponse),
        (status = 400, description = "A parameter is malformed (named in `error.parameter`)", body = super::openapi::ErrorBody),
        (status = 401, description = "Reads need the API key on this server", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many searches from this address; see Retry-After", body = super::openapi::ErrorBody),
        (status = 503, description = "The database cannot answer now", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    RawQuery(raw): RawQuery,
) -> Response {
    match run(&state, &headers, &ext, raw.as_deref()).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    headers: &HeaderMap,
    ext: &Extensions,
    raw: Option<&str>,
) -> Result<SearchResponse, ApiError> {
    state.require_read(headers, None)?;
    let pairs = params::query_pairs(raw)?;
    let mut request = params::search_request(&pairs, super::now())?;
    request.count = true;
    state.check_rate(server::client_ip(ext))?;
    let page = state.data().read(move |s| s.search_page(&request)).await?;
    Ok(SearchResponse {
        items: page.hits.into_iter().map(Item::from).collect(),
        next_cursor: page.next_cursor,
        total: page.total,
        total_is_estimate: page.estimated,
        facets: TypeCount::list(page.facets),
    })
}
