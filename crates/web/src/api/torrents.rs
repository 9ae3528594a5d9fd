//! `GET /api/v1/torrents/{infohash}` and `GET /api/v1/torrents/{infohash}/explain`.

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::{Json, response::IntoResponse, response::Response};
use serde::Serialize;
use store::{InfoHash, Torrent};

use crate::{ApiError, AppState, Explanation, links, params};

/// Files per page when the request does not say.
const DEFAULT_FILES_LIMIT: usize = 100;
/// Most files per page.
const MAX_FILES_LIMIT: usize = 1_000;

/// A stored torrent with a page of its files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TorrentDetail {
    /// The v1 infohash, 40 lowercase hex digits.
    pub(crate) infohash: String,
    /// The torrent's name (any Unicode: treat as text).
    pub(crate) name: String,
    /// Total size in bytes.
    pub(crate) size: u64,
    /// BEP-27 private flag.
    pub(crate) private: bool,
    /// Piece length in bytes; `null` when the metadata has none.
    #[schema(required = true)]
    pub(crate) piece_length: Option<u64>,
    /// BEP-52 meta version (2 for v2 and hybrid torrents); `null` for v1.
    #[schema(required = true)]
    pub(crate) meta_version: Option<u8>,
    /// Seeders at `scraped_at`; `null`: never measured.
    #[schema(required = true)]
    pub(crate) seeders: Option<u32>,
    /// Leechers at `scraped_at`; `null`: never measured.
    #[schema(required = true)]
    pub(crate) leechers: Option<u32>,
    /// When the swarm was measured (Unix seconds); `null`: never.
    #[schema(required = true)]
    pub(crate) scraped_at: Option<i64>,
    /// When first seen (Unix seconds).
    pub(crate) first_seen: i64,
    /// When last seen (Unix seconds).
    pub(crate) last_seen: i64,
    /// Content type from the rules; `null`: unclassified.
    #[schema(required = true)]
    pub(crate) content_type: Option<String>,
    /// Tags, sorted.
    pub(crate) tags: Vec<String>,
    /// Attributes from the rules, by name.
    pub(crate) attributes: BTreeMap<String, String>,
    /// The rules revision that classified it; `null`: never classified.
    #[schema(required = true)]
    pub(crate) classified_rev: Option<String>,
    /// A magnet link with the name (`dn`) and size (`xl`).
    pub(crate) magnet: String,
    /// A page of its files.
    pub(crate) files: FilesPage,
}

/// A page of a torrent's files, in the metadata's order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FilesPage {
    /// Files in the torrent.
    pub(crate) total: u64,
    /// Files the store keeps (the first ones; at most 1,000 per torrent): pages reach
    /// only these.
    pub(crate) stored: u64,
    /// Index of the first file of this page.
    pub(crate) offset: u64,
    /// The page size asked for.
    pub(crate) limit: u64,
    /// `files_offset` of the next page; `null` on the last stored page.
    #[schema(required = true)]
    pub(crate) next_offset: Option<u64>,
    /// The files.
    pub(crate) items: Vec<File>,
}

/// One file of a torrent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct File {
    /// Path inside the torrent, components joined with `/` (any Unicode: treat as text).
    pub(crate) path: String,
    /// Size in bytes.
    pub(crate) size: u64,
}

/// The file paging parameters, for the spec.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct FilesParams {
    /// Index of the first file (default 0).
    files_offset: Option<u64>,
    /// Files per page, 1 to 1000 (default 100).
    files_limit: Option<u32>,
}

/// One torrent with its classification and a page of its files.
#[utoipa::path(
    get,
    path = "/api/v1/torrents/{infohash}",
    tag = "read",
    params(("infohash" = String, Path, description = "40 hex digits"), FilesParams),
    responses(
        (status = 200, description = "The torrent", body = TorrentDetail),
        (status = 400, description = "`infohash`, `files_offset` or `files_limit` is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "Reads need the API key on this server", body = super::openapi::ErrorBody),
        (status = 404, description = "Not stored", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn torrent(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let run = async {
        state.require_read(&headers, None)?;
        let hash = super::infohash(path)?;
        let pairs = params::query_pairs(raw.as_deref())?;
        let offset = number(&pairs, "files_offset")?.unwrap_or(0);
        let limit = number(&pairs, "files_limit")?.unwrap_or(DEFAULT_FILES_LIMIT as u64);
        if limit == 0 || limit > MAX_FILES_LIMIT as u64 {
            return Err(ApiError::param(
                "files_limit",
                format!("1 to {MAX_FILES_LIMIT}"),
            ));
        }
        let t = get(&state, hash).await?;
        Ok(detail(t, offset, limit))
    };
    match run.await {
        Ok(d) => Json(d).into_response(),
        Err(e) => e.into_response(),
    }
}

/// What the current rules say about a stored torrent: its type and tags now, the rules
/// that fired, whether one would drop it.
#[utoipa::path(
    get,
    path = "/api/v1/torrents/{infohash}/explain",
    tag = "read",
    params(("infohash" = String, Path, description = "40 hex digits")),
    responses(
        (status = 200, description = "The rules' verdict", body = Explanation),
        (status = 400, description = "`infohash` is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "Reads need the API key on this server", body = super::openapi::ErrorBody),
        (status = 404, description = "Not stored", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn explain(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let run = async {
        state.require_read(&headers, None)?;
        let hash = super::infohash(path)?;
        let t = get(&state, hash).await?;
        Ok::<_, ApiError>(state.ops().explain(&t))
    };
    match run.await {
        Ok(e) => Json(e).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The stored torrent, or a 404.
pub(super) async fn get(state: &AppState, hash: InfoHash) -> Result<Torrent, ApiError> {
    state
        .data()
        .read(move |s| s.get(&hash))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("torrent {hash} is not stored")))
}

fn number(pairs: &[(String, String)], key: &str) -> Result<Option<u64>, ApiError> {
    params::last(pairs, key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| params::parse_int::<u64>(v).map_err(|e| ApiError::param(key, e)))
        .transpose()
}

fn detail(t: Torrent, offset: u64, limit: u64) -> TorrentDetail {
    let stored = t.files.len() as u64;
    let start = usize::try_from(offset.min(stored)).unwrap_or(usize::MAX);
    let items: Vec<File> = t
        .files
        .into_iter()
        .skip(start)
        .take(usize::try_from(limit).unwrap_or(MAX_FILES_LIMIT))
        .map(|f| File {
            path: f.path,
            size: f.size,
        })
        .collect();
    let end = start as u64 + items.len() as u64;
    TorrentDetail {
        infohash: t.info_hash.to_hex(),
        magnet: links::magnet(&t.info_hash, &t.name, t.total_size),
        name: t.name,
        size: t.total_size,
        private: t.private,
        piece_length: t.piece_length,
        meta_version: t.meta_version,
        seeders: t.seeders,
        leechers: t.leechers,
        scraped_at: t.scraped_at,
        first_seen: t.first_seen,
        last_seen: t.last_seen,
        content_type: t.content_type,
        tags: t.tags,
        attributes: t.attributes.into_iter().collect(),
        classified_rev: t.classified_rev,
        files: FilesPage {
            total: t.file_count.max(stored),
            stored,
            offset,
            limit,
            next_offset: (end < stored && !items.is_empty()).then_some(end),
            items,
        },
    }
}
