//! `/login` and `/logout`: the API key in a form buys a session cookie (HttpOnly,
//! SameSite=Strict); logging out ends it. After login the browser goes back to `next`, but
//! only to a path on this server.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use maud::{Markup, html};

use super::{Viewer, layout};
use crate::AppState;
use crate::auth::{Access, session_clear_cookie, session_set_cookie};

/// `next` if it is a path on this server (`/...`, not `//host` or `/\host`, which browsers
/// read as another host), else `/`.
pub(crate) fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if local { next } else { "/" }
}

fn form(next: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.login method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { "API key "
                input type="password" name="key" autocomplete="current-password" required autofocus size="32";
            }
            button type="submit" { "Log in" }
        }
        p.muted {
            "The key is printed when the server first starts; "
            code { "bitagent config api-key" } " shows it again."
        }
    }
}

/// `GET /login?next=...`.
pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let viewer = super::viewer(&state, &headers);
    let pairs = super::query_pairs(uri.query());
    let next = safe_next(crate::params::last(&pairs, "next").unwrap_or("/"));
    let body = if viewer.logged_in() {
        html! {
            h1 { "Logged in" }
            p { "You are logged in. " a href=(next) { "Continue" } }
        }
    } else {
        form(next, None)
    };
    super::html(
        StatusCode::OK,
        &viewer,
        layout::page(&viewer, "Log in", super::notice_text(&pairs), body),
    )
}

/// `POST /login` (`key`, `next`).
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    body: Bytes,
) -> Response {
    let viewer = super::viewer(&state, &headers);
    let form_pairs = super::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let next = safe_next(crate::params::last(&form_pairs, "next").unwrap_or("/")).to_owned();
    // Guesses count against the client's search rate.
    if let Err(e) = state.check_rate(crate::server::client_ip(&ext)) {
        return super::error_page(&viewer, &e, "/login");
    }
    let key = crate::params::last(&form_pairs, "key").unwrap_or("").trim();
    if !state.auth().is_key(key) {
        return failed(&viewer, &next);
    }
    let token = state.auth().new_session();
    let mut resp = super::see_other(&next);
    // Behind a TLS-terminating proxy the cookie is marked Secure (never sent in the clear).
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    if let Ok(v) = HeaderValue::from_str(&session_set_cookie(&token, https)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn failed(viewer: &Viewer, next: &str) -> Response {
    // The page the wrong key came from is anonymous now, whatever it was.
    let anon = Viewer {
        access: Access::Anonymous,
        csrf: None,
        set_cookie: None,
        ..viewer.clone()
    };
    super::html(
        StatusCode::UNAUTHORIZED,
        &anon,
        layout::page(
            &anon,
            "Log in",
            None,
            form(next, Some("That is not the API key.")),
        ),
    )
}

/// `POST /logout` (`csrf`).
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let viewer = super::viewer(&state, &headers);
    let form_pairs = super::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let Access::Session(session) = &viewer.access else {
        return super::see_other("/login");
    };
    if let Err(e) = state.require_write(&headers, crate::params::last(&form_pairs, "csrf")) {
        return super::error_page(&viewer, &e, "/");
    }
    state.auth().end_session(session);
    let to = if state.0.options.open_reads {
        "/?notice=logged_out"
    } else {
        "/login?notice=logged_out"
    };
    let mut resp = super::see_other(to);
    if let Ok(v) = HeaderValue::from_str(&session_clear_cookie()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next("/torrents/ab?x=1"), "/torrents/ab?x=1");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
            "/a b",
            "/\t/x",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
