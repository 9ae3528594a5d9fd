//! The writes: `DELETE /api/v1/torrents/{infohash}`, `PUT /api/v1/torrents/{infohash}/tags`,
//! `POST /api/v1/reclassify`. Each needs the API key, or a UI session with its CSRF token
//! in `X-CSRF-Token`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Json, response::IntoResponse, response::Response};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, ReclassifyReport};

/// Most tags one torrent may carry.
const MAX_TAGS: usize = 32;
/// Longest tag, in bytes.
const MAX_TAG_BYTES: usize = 64;

/// What a delete did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Deleted {
    /// The infohash.
    pub(crate) infohash: String,
    /// Whether the torrent was stored (and is now deleted).
    pub(crate) was_stored: bool,
    /// Whether the hash was newly blocked (`false`: it was blocked already).
    pub(crate) newly_blocked: bool,
}

/// A torrent's new tags.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tags {
    /// At most 32 tags, each 1 to 64 bytes of letters, digits, `_`, `-` and `.`; the store
    /// keeps them as a set (sorted, without duplicates). An empty list removes every tag.
    #[schema(example = json!(["hd", "favourite"]))]
    pub(crate) tags: Vec<String>,
}

/// The tags a torrent now carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TagsSet {
    /// The infohash.
    pub(crate) infohash: String,
    /// Its tags, sorted, without duplicates.
    pub(crate) tags: Vec<String>,
}

/// Deletes a torrent and blocks its infohash, so the crawler never stores it again. A hash
/// that is not stored is blocked all the same (to keep a known-bad torrent out before it is
/// found): the answer says whether it was stored.
#[utoipa::path(
    delete,
    path = "/api/v1/torrents/{infohash}",
    tag = "write",
    params(("infohash" = String, Path, description = "40 hex digits")),
    responses(
        (status = 200, description = "Deleted (if stored) and blocked", body = Deleted),
        (status = 400, description = "`infohash` is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "No API key (or session)", body = super::openapi::ErrorBody),
        (status = 403, description = "A session without its CSRF token", body = super::openapi::ErrorBody),
        (status = 503, description = "The writer cannot answer now", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn delete_torrent(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let run = async {
        state.require_write(&headers, None)?;
        let hash = super::infohash(path)?;
        let was_stored = state
            .data()
            .read(move |s| Ok(s.get(&hash)?.is_some()))
            .await?;
        let newly = state.ops().delete_and_block(vec![hash]).await?;
        Ok::<_, ApiError>(Deleted {
            infohash: hash.to_hex(),
            was_stored,
            newly_blocked: newly > 0,
        })
    };
    match run.await {
        Ok(d) => Json(d).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Replaces a stored torrent's tags (its content type and attributes stay). The body is
/// JSON, whatever its `Content-Type` says.
#[utoipa::path(
    put,
    path = "/api/v1/torrents/{infohash}/tags",
    tag = "write",
    params(("infohash" = String, Path, description = "40 hex digits")),
    request_body(content = Tags, content_type = "application/json"),
    responses(
        (status = 200, description = "The tags now", body = TagsSet),
        (status = 400, description = "`infohash`, `body` or `tags` is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "No API key (or session)", body = super::openapi::ErrorBody),
        (status = 403, description = "A session without its CSRF token", body = super::openapi::ErrorBody),
        (status = 404, description = "Not stored", body = super::openapi::ErrorBody),
        (status = 503, description = "The writer cannot answer now", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn set_tags(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        state.require_write(&headers, None)?;
        let hash = super::infohash(path)?;
        let body = body.map_err(|e| ApiError::param("body", format!("cannot be read: {e}")))?;
        let tags = parse_tags(&body)?;
        if !state.ops().set_tags(hash, tags.clone()).await? {
            return Err(ApiError::NotFound(format!("torrent {hash} is not stored")));
        }
        let mut tags = tags;
        tags.sort();
        tags.dedup();
        Ok(TagsSet {
            infohash: hash.to_hex(),
            tags,
        })
    };
    match run.await {
        Ok(t) => Json(t).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Classifies again every torrent the current rules have not classified.
#[utoipa::path(
    post,
    path = "/api/v1/reclassify",
    tag = "write",
    responses(
        (status = 200, description = "What was done", body = ReclassifyReport),
        (status = 401, description = "No API key (or session)", body = super::openapi::ErrorBody),
        (status = 403, description = "A session without its CSRF token", body = super::openapi::ErrorBody),
        (status = 503, description = "No rules in this process, or the writer cannot answer now", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn reclassify(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let run = async {
        state.require_write(&headers, None)?;
        Ok::<_, ApiError>(state.ops().reclassify().await?)
    };
    match run.await {
        Ok(r) => Json(r).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `{"tags": [...]}`, checked: a body that is not JSON is a 400 naming `body`; a JSON
/// value without a valid `tags` list, one naming `tags`.
fn parse_tags(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::param(
            "body",
            format!("not JSON ({e}); send {{\"tags\": [\"name\", ...]}}"),
        )
    })?;
    let Tags { tags } = serde_json::from_value(value).map_err(|_| {
        ApiError::param(
            "tags",
            "send a JSON object {\"tags\": [\"name\", ...]} (a list of strings)",
        )
    })?;
    if tags.len() > MAX_TAGS {
        return Err(ApiError::param("tags", format!("at most {MAX_TAGS} tags")));
    }
    for t in &tags {
        if t.is_empty()
            || t.len() > MAX_TAG_BYTES
            || !t
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(ApiError::param(
                "tags",
                format!(
                    "each tag is 1 to {MAX_TAG_BYTES} bytes of letters, digits, '_', '-' or '.'"
                ),
            ));
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param_of(r: Result<Vec<String>, ApiError>) -> String {
        match r {
            Err(ApiError::BadParam { param, .. }) => param,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tags_are_checked() {
        assert_eq!(
            parse_tags(br#"{"tags":["hd","x.y-z_1","\u00e9t\u00e9"]}"#)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(parse_tags(br#"{"tags":[]}"#).unwrap(), Vec::<String>::new());
        for bad in [&b"{"[..], b"", b"tags=hd", b"\xff"] {
            assert_eq!(param_of(parse_tags(bad)), "body", "{bad:?}");
        }
        let many = format!(r#"{{"tags":[{}]}}"#, vec!["\"a\""; 33].join(","));
        let long = format!(r#"{{"tags":["{}"]}}"#, "a".repeat(65));
        for bad in [
            r#"{"tags":"hd"}"#,
            r#"{"tags":[1]}"#,
            r#"{"tag":["hd"]}"#,
            r#"["hd"]"#,
            r#"{"tags":[""]}"#,
            r#"{"tags":["a b"]}"#,
            r#"{"tags":["<b>"]}"#,
            many.as_str(),
            long.as_str(),
        ] {
            assert_eq!(param_of(parse_tags(bad.as_bytes())), "tags", "{bad}");
        }
    }
}
