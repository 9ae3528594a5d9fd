//! The web UI: server-rendered HTML (maud), one file per page.
//!
//! | route | page |
//! |---|---|
//! | `GET /` | search ([`search`]) |
//! | `GET /torrents/{infohash}`, `POST .../delete`, `POST .../tags` | torrent detail ([`detail`]) |
//! | `GET /dashboard` | crawler and store status ([`dashboard`]) |
//! | `GET /saved`, `POST /saved`, `POST /saved/delete` | saved searches ([`saved`]) |
//! | `GET /login`, `POST /login`, `POST /logout` | sessions ([`login`]) |
//! | `GET /assets/style.css` | the stylesheet, compiled into the binary |
//!
//! Everything works without JavaScript (there is none): links and forms only. The strict
//! Content-Security-Policy forbids inline scripts and styles, so the markup carries classes
//! and presentation attributes only. Every value a stranger controls (torrent and file names,
//! attributes, tags, the query echoed in the search box) goes through maud's escaping, and
//! names sit in `<bdi>` so a right-to-left override cannot flip the page around them.
//!
//! Who sees what: when reads need the key and the request has neither the key nor a session,
//! every page redirects to `/login?next=...`. Writes (delete, tags, logout) need a session and
//! its CSRF token in the form. Saved searches are writes too, but when reads are open an
//! anonymous visitor may keep them: the form then carries a token bound to a random
//! `SameSite=Strict` cookie, which another site can neither read nor send.

mod dashboard;
mod detail;
mod format;
mod layout;
mod login;
mod saved;
mod search;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;
use rand::RngCore as _;

use crate::auth::Access;
use crate::{ApiError, AppState};

/// The cookie that binds an anonymous visitor's CSRF token (saved searches on open servers).
const ANON_COOKIE: &str = "bitagent_csrf";

/// The stylesheet.
const STYLE_CSS: &str = include_str!("../../assets/style.css");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(search::page))
        .route("/torrents/{infohash}", get(detail::page))
        .route("/torrents/{infohash}/delete", post(detail::delete))
        .route("/torrents/{infohash}/tags", post(detail::tags))
        .route("/dashboard", get(dashboard::page))
        .route("/saved", get(saved::page).post(saved::save))
        .route("/saved/delete", post(saved::delete))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/assets/style.css", get(style))
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE_CSS,
    )
        .into_response()
}

/// Who is looking, and what their forms carry.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// How the request proved itself.
    pub(crate) access: Access,
    /// The token this viewer's forms carry (`None`: the viewer cannot write).
    pub(crate) csrf: Option<String>,
    /// A `Set-Cookie` the response must carry (a new anonymous CSRF cookie).
    pub(crate) set_cookie: Option<String>,
    /// Reads are open to anyone.
    pub(crate) open_reads: bool,
    /// Saved searches are on.
    pub(crate) saved_enabled: bool,
}

impl Viewer {
    /// Logged in (a session) or holding the key.
    pub(crate) fn logged_in(&self) -> bool {
        self.access != Access::Anonymous
    }

    /// May keep saved searches (logged in, or anyone when reads are open).
    pub(crate) fn may_save(&self) -> bool {
        self.saved_enabled && (self.logged_in() || self.open_reads) && self.csrf.is_some()
    }
}

/// The viewer of a request, without any gate.
pub(crate) fn viewer(state: &AppState, headers: &HeaderMap) -> Viewer {
    let access = state.auth().access(headers, None);
    let open_reads = state.0.options.open_reads;
    let saved_enabled = state.0.options.saved_searches.is_some();
    let (csrf, set_cookie) = match &access {
        Access::Session(s) => (Some(state.auth().csrf_token(s)), None),
        // A key in a header (scripts, curl): writes need no token.
        Access::Key => (Some(String::new()), None),
        Access::Anonymous if open_reads && saved_enabled => match anon_cookie(headers) {
            Some(c) => (Some(anon_token(state, &c)), None),
            None => {
                let mut bytes = [0u8; 16];
                rand::rng().fill_bytes(&mut bytes);
                let c = hex::encode(bytes);
                let cookie = format!("{ANON_COOKIE}={c}; Path=/; HttpOnly; SameSite=Strict");
                (Some(anon_token(state, &c)), Some(cookie))
            }
        },
        Access::Anonymous => (None, None),
    };
    Viewer {
        access,
        csrf,
        set_cookie,
        open_reads,
        saved_enabled,
    }
}

/// The viewer of a page that reads: when reads need the key and the request has none, a
/// redirect to the login form that comes back to `path_and_query`.
pub(crate) fn gate(
    state: &AppState,
    headers: &HeaderMap,
    path_and_query: &str,
) -> Result<Viewer, Box<Response>> {
    let v = viewer(state, headers);
    if v.access == Access::Anonymous && !v.open_reads {
        return Err(Box::new(to_login(path_and_query)));
    }
    Ok(v)
}

/// A redirect to `/login?next=<path_and_query>`.
pub(crate) fn to_login(path_and_query: &str) -> Response {
    let mut loc = String::from("/login?next=");
    crate::links::percent_encode(path_and_query, &mut loc);
    see_other(&loc)
}

/// A 303 to a local path. Bytes a header cannot carry (non-ASCII, controls) are
/// percent-encoded, so a `next` typed with accents still redirects (and nothing panics).
pub(crate) fn see_other(location: &str) -> Response {
    let mut loc = String::with_capacity(location.len());
    for b in location.bytes() {
        if b.is_ascii_graphic() {
            loc.push(b as char);
        } else {
            loc.push_str(&format!("%{b:02X}"));
        }
    }
    let value = HeaderValue::from_str(&loc).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response()
}

/// Checks a saved-search write: the key, a session with its CSRF token, or (reads open) an
/// anonymous visitor with the token bound to their cookie.
pub(crate) fn check_saved_write(
    state: &AppState,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<(), ApiError> {
    let access = state.auth().access(headers, None);
    if access == Access::Anonymous && state.0.options.open_reads {
        let ok = match (anon_cookie(headers), csrf) {
            (Some(c), Some(t)) => state.auth().csrf_ok(&anon_key(&c), t),
            _ => false,
        };
        return if ok {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "missing or wrong form token (reload the page and try again)".into(),
            ))
        };
    }
    state.require_write(headers, csrf)
}

fn anon_key(cookie: &str) -> String {
    format!("anonymous:{cookie}")
}

fn anon_token(state: &AppState, cookie: &str) -> String {
    state.auth().csrf_token(&anon_key(cookie))
}

fn anon_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| {
            *k == ANON_COOKIE && v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|(_, v)| v.to_owned())
}

/// An HTML response: the page, its status, no caching (forms carry tokens), and the
/// viewer's new cookie if any.
pub(crate) fn html(status: StatusCode, viewer: &Viewer, page: Markup) -> Response {
    let mut resp = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page.into_string(),
    )
        .into_response();
    if let Some(c) = &viewer.set_cookie
        && let Ok(v) = HeaderValue::from_str(c)
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// An error as a page: a friendly message in the layout with the error's status. A missing
/// login is a redirect to the login form instead (`back`: where to return).
pub(crate) fn error_page(viewer: &Viewer, err: &ApiError, back: &str) -> Response {
    if let ApiError::Unauthorized(_) = err {
        return to_login(back);
    }
    if let ApiError::Internal(detail) = err {
        tracing::error!(%detail, "internal error answering a page");
    }
    let title = match err {
        ApiError::BadParam { .. } => "Invalid request",
        ApiError::NotFound(_) => "Not found",
        ApiError::Forbidden(_) => "Refused",
        ApiError::TooManyRequests(_) => "Too many requests",
        ApiError::Unavailable(_) => "Unavailable",
        _ => "Error",
    };
    let body = layout::message(title, &err.public_message());
    let mut resp = html(
        err.status(),
        viewer,
        layout::page(viewer, title, None, body),
    );
    if let ApiError::TooManyRequests(secs) = err
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The query's pairs, decoded leniently for browsers (see [`crate::params::query_pairs_lossy`]).
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    crate::params::query_pairs_lossy(raw)
}

/// A query string from pairs, each percent-encoded.
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        crate::links::percent_encode(k, &mut out);
        out.push('=');
        crate::links::percent_encode(v, &mut out);
    }
    out
}

/// The parameters that make a search (what a saved search, a shared link and the RSS feed
/// keep), in this order.
pub(crate) const SEARCH_PARAMS: [&str; 13] = [
    "q",
    "type",
    "tag",
    "min_size",
    "max_size",
    "min_seeders",
    "min_files",
    "max_files",
    "since",
    "until",
    "sort",
    "order",
    "limit",
];

/// The search's own parameters from `pairs` (last value of each, empty ones dropped), in
/// [`SEARCH_PARAMS`] order: the canonical query string of a search.
pub(crate) fn search_pairs(pairs: &[(String, String)]) -> Vec<(&'static str, String)> {
    SEARCH_PARAMS
        .iter()
        .filter_map(|k| {
            crate::params::last(pairs, k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*k, v.to_owned()))
        })
        .collect()
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The fixed notices a redirect may ask for (`?notice=`): never text from the request.
pub(crate) fn notice_text(pairs: &[(String, String)]) -> Option<&'static str> {
    Some(match crate::params::last(pairs, "notice")? {
        "deleted" => "Deleted. Its infohash is blocked: the crawler will not store it again.",
        "tags" => "Tags saved.",
        "saved" => "Search saved.",
        "unsaved" => "Saved search deleted.",
        "logged_in" => "Logged in.",
        "logged_out" => "Logged out.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p = query_pairs(Some("q=a+b%26c&x&type=&bad=%zz%4"));
        assert_eq!(
            p,
            vec![
                ("q".into(), "a b&c".into()),
                ("x".into(), String::new()),
                ("type".into(), String::new()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(crate::params::decode_lossy("%E2%80%AE"), "\u{202e}");
        assert_eq!(crate::params::decode_lossy("%ff"), "\u{fffd}");
    }

    #[test]
    fn redirects_carry_only_header_safe_bytes() {
        let r = see_other("/?q=\u{e9}t\u{e9}&x=1");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/?q=%C3%A9t%C3%A9&x=1");
    }

    #[test]
    fn search_pairs_are_canonical() {
        let p = query_pairs(Some("cursor=o20&q=x&q=y&apikey=k&type=&sort=size"));
        assert_eq!(
            search_pairs(&p),
            vec![("q", "y".to_owned()), ("sort", "size".to_owned())]
        );
        assert_eq!(encode_pairs([("q", "a b&c")]), "q=a%20b%26c".to_owned());
    }
}
