//! The JSON API under `/api/v1`, described by the OpenAPI spec at `/api/v1/openapi.json`.
//!
//! - [`search`]: `GET /api/v1/search`, a page of results with facets and a cursor.
//! - [`torrents`]: `GET /api/v1/torrents/{infohash}` (with its files, paged) and
//!   `GET /api/v1/torrents/{infohash}/explain`.
//! - [`stats`]: `GET /api/v1/stats`.
//! - [`writes`]: `DELETE /api/v1/torrents/{infohash}`, `PUT /api/v1/torrents/{infohash}/tags`,
//!   `POST /api/v1/reclassify`.
//! - [`openapi`]: the spec, generated from these handlers and their types.
//!
//! Every answer is JSON, errors included (`{"error": {"code", "message", "parameter"}}`, see
//! [`ApiError`]): an unknown path under `/api/v1` is a JSON 404 and a method a route does not
//! serve a JSON 405 with `Allow`. Reads need what [`AppState::require_read`] needs, writes
//! what [`AppState::require_write`] needs; the spec itself is open. Times are Unix seconds.
//!
//! Routes are added through [`Routes`], which remembers each (method, path) it serves: a
//! test compares that list with the spec's, so an undocumented route cannot slip in.

mod openapi;
mod search;
mod stats;
mod torrents;
mod writes;

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any};
use serde::Serialize;
use store::InfoHash;

use crate::{ApiError, AppState};

/// The API's routes.
pub(crate) fn routes() -> Router<AppState> {
    api().finish()
}

/// Every route the API serves, each through [`Routes`] so it is listed.
fn api() -> Routes {
    Routes::default()
        .get("/api/v1/search", search::search)
        .get("/api/v1/torrents/{infohash}", torrents::torrent)
        .delete("/api/v1/torrents/{infohash}", writes::delete_torrent)
        .get("/api/v1/torrents/{infohash}/explain", torrents::explain)
        .put("/api/v1/torrents/{infohash}/tags", writes::set_tags)
        .post("/api/v1/reclassify", writes::reclassify)
        .get("/api/v1/stats", stats::stats)
        .get("/api/v1/openapi.json", openapi::openapi_json)
}

/// A router that remembers what it serves, one [`MethodRouter`] per path (so each path gets
/// one JSON 405 fallback).
#[derive(Default)]
struct Routes {
    paths: BTreeMap<&'static str, MethodRouter<AppState>>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, h: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let mr = match self.paths.remove(path) {
            Some(mr) => mr.on(filter, h),
            None => axum::routing::on(filter, h),
        };
        self.paths.insert(path, mr);
        self.served.push((method, path));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, h)
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, h)
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, h)
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, h)
    }

    /// The router: the served paths (a JSON 405 for other methods), and a JSON 404 for any
    /// other path under `/api/v1`.
    fn finish(self) -> Router<AppState> {
        let mut router = Router::new();
        for (path, mr) in self.paths {
            router = router.route(path, mr.fallback(method_not_allowed));
        }
        router
            .route("/api/v1", any(not_found))
            .route("/api/v1/", any(not_found))
            .route("/api/v1/{*rest}", any(not_found))
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such API endpoint (the spec is at /api/v1/openapi.json)".into())
}

/// A JSON 405 in [`ApiError`]'s shape (axum adds the `Allow` header).
async fn method_not_allowed(method: Method) -> Response {
    let body = serde_json::json!({ "error": {
        "code": "method_not_allowed",
        "message": format!("{method} is not served here (see the Allow header)"),
    }});
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// The `{infohash}` of a path: 40 hex digits, or a 400 naming `infohash`.
fn infohash(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<InfoHash, ApiError> {
    let bad = || ApiError::param("infohash", "40 hex digits (a v1 infohash)");
    let axum::extract::Path(s) = path.map_err(|_| bad())?;
    s.parse().map_err(|_| bad())
}

/// The current time in Unix seconds.
fn now() -> store::UnixSeconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Torrents of one content type (`null`: unclassified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub(crate) struct TypeCount {
    /// The content type; `null` counts the unclassified.
    #[schema(required = true)]
    pub(crate) content_type: Option<String>,
    /// How many.
    pub(crate) count: u64,
}

impl TypeCount {
    fn list(counts: Vec<(Option<String>, u64)>) -> Vec<Self> {
        counts
            .into_iter()
            .map(|(content_type, count)| Self {
                content_type,
                count,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::query_pairs;

    #[test]
    fn query_pairs_decode_and_name_what_is_not_utf8() {
        let p = query_pairs(Some("q=a+b%20c%26&x&type=movie&&bad=%G1%2")).unwrap();
        assert_eq!(
            p,
            [
                ("q".to_owned(), "a b c&".to_owned()),
                ("x".to_owned(), String::new()),
                ("type".to_owned(), "movie".to_owned()),
                ("bad".to_owned(), "%G1%2".to_owned()),
            ]
        );
        assert!(matches!(query_pairs(Some("limit=5&q=%FF")),
            Err(ApiError::BadParam { param, .. }) if param == "q"));
        // A name that is not UTF-8 is not ours: ignored.
        assert_eq!(query_pairs(Some("%FF=1")).unwrap(), []);
        assert_eq!(query_pairs(Some("q=%E2%80%AE")).unwrap()[0].1, "\u{202e}");
        assert_eq!(query_pairs(None).unwrap(), []);
    }

    /// A server state over an empty in-memory store, reads closed, key `k`.
    pub(super) fn state_with(ops: std::sync::Arc<dyn crate::Ops>) -> AppState {
        let data = crate::Data::new(
            std::sync::Arc::new(|| {
                Ok(Box::new(store::SqliteStore::open_in_memory()?) as Box<dyn store::Store>)
            }),
            1,
        );
        let mut registry = prometheus_client::registry::Registry::default();
        let http = crate::HttpMetrics::register(&mut registry);
        AppState::new(
            data,
            ops,
            crate::Options::new("k"),
            std::sync::Arc::new(registry),
            http,
        )
    }

    /// Ops that only count what they were asked (the router test needs no real writer).
    #[derive(Debug, Default)]
    struct CountingOps(std::sync::atomic::AtomicUsize);

    impl crate::Ops for CountingOps {
        fn delete_and_block(&self, h: Vec<InfoHash>) -> crate::OpsFuture<usize> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move { Ok(h.len()) })
        }
        fn set_tags(&self, _: InfoHash, _: Vec<String>) -> crate::OpsFuture<bool> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Ok(true) })
        }
        fn reclassify(&self) -> crate::OpsFuture<crate::ReclassifyReport> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { Ok(crate::ReclassifyReport::default()) })
        }
        fn explain(&self, _: &store::Torrent) -> crate::Explanation {
            crate::Explanation::default()
        }
        fn crawler(&self) -> Option<crate::CrawlerStatus> {
            None
        }
    }

    /// A UI session may write through the API only with its CSRF token (the integration
    /// tests cannot log in without the UI's login form, so this runs the router in process).
    #[tokio::test]
    async fn a_session_writes_only_with_its_csrf_token() {
        use std::sync::Arc;
        use std::sync::atomic::Ordering;

        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt as _;

        let ops = Arc::new(CountingOps::default());
        let state = state_with(ops.clone());
        let session = state.auth().new_session();
        let csrf = state.auth().csrf_token(&session);
        let router = crate::router(state);
        let cookie = format!("{}={session}", crate::SESSION_COOKIE);
        let h = "0123456789abcdef0123456789abcdef01234567";
        let requests = |token: Option<&str>| {
            [
                ("DELETE", format!("/api/v1/torrents/{h}"), ""),
                (
                    "PUT",
                    format!("/api/v1/torrents/{h}/tags"),
                    r#"{"tags":["a"]}"#,
                ),
                ("POST", "/api/v1/reclassify".to_owned(), ""),
            ]
            .map(|(m, uri, body)| {
                let mut r = Request::builder()
                    .method(m)
                    .uri(uri)
                    .header("cookie", &cookie);
                if let Some(t) = token {
                    r = r.header("x-csrf-token", t);
                }
                r.body(Body::from(body)).unwrap()
            })
        };
        let wrong = "0".repeat(csrf.len());
        for token in [None, Some(wrong.as_str()), Some("")] {
            for req in requests(token) {
                let what = format!("{} {} with {token:?}", req.method(), req.uri());
                let resp = router.clone().oneshot(req).await.unwrap();
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{what}");
            }
        }
        assert_eq!(ops.0.load(Ordering::SeqCst), 0, "nothing was written");
        for req in requests(Some(&csrf)) {
            let what = format!("{} {}", req.method(), req.uri());
            let resp = router.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{what}");
        }
        assert_eq!(ops.0.load(Ordering::SeqCst), 3);
        // The same session reads (reads are closed on this server).
        let req = Request::get("/api/v1/stats")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap();
        assert_eq!(router.oneshot(req).await.unwrap().status(), StatusCode::OK);
    }
}
