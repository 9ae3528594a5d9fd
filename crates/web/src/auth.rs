//! Who may do what: the API key, UI sessions and CSRF tokens.
//!
//! - Writes always need the key: an `X-Api-Key` header, `Authorization: Bearer KEY`, or a UI
//!   session (the login form checks the key and sets an HttpOnly, SameSite=Strict cookie).
//!   A write made with a session cookie must also carry the session's CSRF token (form field
//!   `csrf`, or header `X-CSRF-Token`): a cookie alone proves nothing about who built the
//!   request.
//! - Reads need the same unless reads are open ([`Options::open_reads`](crate::Options):
//!   loopback-only servers, or `--public-read`). Torznab and RSS clients cannot send headers
//!   and pass the key as `apikey=`.
//!
//! Keys and tokens are compared in constant time. Sessions live in memory (a restart logs
//! everyone out), expire after 7 days, and at most 1,000 are kept (the oldest go first).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The UI session cookie's name.
pub const SESSION_COOKIE: &str = "bitagent_session";
/// The header that carries a CSRF token on API writes made with a session cookie.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_SESSIONS: usize = 1_000;

/// How a request proved itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// Nothing (or something wrong).
    Anonymous,
    /// The key, in a header or `apikey=`: may read and write.
    Key,
    /// A UI session: may read; may write with its CSRF token.
    Session(String),
}

pub(crate) struct Auth {
    key: String,
    /// Makes CSRF tokens unguessable without the server's memory.
    secret: [u8; 32],
    sessions: Mutex<HashMap<String, Instant>>,
}

impl Auth {
    pub(crate) fn new(key: &str) -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self {
            key: key.to_owned(),
            secret,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `candidate` is the key (constant time in the key's length).
    pub(crate) fn is_key(&self, candidate: &str) -> bool {
        !self.key.is_empty() && constant_time_eq(candidate.as_bytes(), self.key.as_bytes())
    }

    /// What the request carries: a key header wins over a cookie; `apikey` is the query's.
    pub(crate) fn access(&self, headers: &HeaderMap, apikey: Option<&str>) -> Access {
        let header_key = headers
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            });
        if header_key.or(apikey).is_some_and(|k| self.is_key(k.trim())) {
            return Access::Key;
        }
        match session_cookie(headers) {
            Some(s) if self.session_valid(&s) => Access::Session(s),
            _ => Access::Anonymous,
        }
    }

    /// A new session after a successful login.
    pub(crate) fn new_session(&self) -> String {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let now = Instant::now();
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.retain(|_, exp| *exp > now);
        while s.len() >= MAX_SESSIONS {
            let Some(oldest) = s.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) else {
                break;
            };
            s.remove(&oldest);
        }
        s.insert(token.clone(), now + SESSION_TTL);
        token
    }

    /// Ends a session (logout).
    pub(crate) fn end_session(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    fn session_valid(&self, token: &str) -> bool {
        let s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.get(token).is_some_and(|exp| *exp > Instant::now())
    }

    /// The CSRF token of a session (derived, so nothing more is stored).
    pub(crate) fn csrf_token(&self, session: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(b"csrf");
        h.update(session.as_bytes());
        hex::encode(&h.finalize()[..16])
    }

    /// Whether `token` is the session's CSRF token.
    pub(crate) fn csrf_ok(&self, session: &str, token: &str) -> bool {
        constant_time_eq(self.csrf_token(session).as_bytes(), token.as_bytes())
    }
}

impl crate::AppState {
    /// What the request may do, checked for a read: open reads let anyone in; otherwise the
    /// key or a session. `apikey` is the query's `apikey=` (Torznab, RSS).
    pub(crate) fn require_read(
        &self,
        headers: &HeaderMap,
        apikey: Option<&str>,
    ) -> Result<Access, crate::ApiError> {
        let access = self.0.auth.access(headers, apikey);
        if access == Access::Anonymous && !self.0.options.open_reads {
            return Err(crate::ApiError::Unauthorized(
                "this server needs an API key to read: X-Api-Key header, Authorization: Bearer, \
                 apikey= (Torznab, RSS) or a login"
                    .into(),
            ));
        }
        Ok(access)
    }

    /// Checks a write: the key, or a session with its CSRF token (`csrf`: the form field or
    /// the `X-CSRF-Token` header).
    pub(crate) fn require_write(
        &self,
        headers: &HeaderMap,
        csrf: Option<&str>,
    ) -> Result<(), crate::ApiError> {
        match self.0.auth.access(headers, None) {
            Access::Key => Ok(()),
            Access::Session(s) => {
                let token = csrf.or_else(|| headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
                if token.is_some_and(|t| self.0.auth.csrf_ok(&s, t)) {
                    Ok(())
                } else {
                    Err(crate::ApiError::Forbidden(
                        "missing or wrong CSRF token (reload the page and try again)".into(),
                    ))
                }
            }
            Access::Anonymous => Err(crate::ApiError::Unauthorized(
                "writes need the API key (X-Api-Key or Authorization: Bearer) or a login".into(),
            )),
        }
    }

    /// The auth state (sessions, CSRF tokens).
    pub(crate) fn auth(&self) -> &Auth {
        &self.0.auth
    }
}

/// The session cookie's value, if the request has one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value for a new session (HttpOnly, SameSite=Strict, path /). `secure`
/// adds `Secure` (behind TLS).
pub(crate) fn session_set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn session_clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_key_in_any_of_its_places() {
        let a = Auth::new("sekrit");
        assert_eq!(
            a.access(&headers(&[("x-api-key", "sekrit")]), None),
            Access::Key
        );
        assert_eq!(
            a.access(&headers(&[("authorization", "Bearer sekrit")]), None),
            Access::Key
        );
        assert_eq!(a.access(&HeaderMap::new(), Some("sekrit")), Access::Key);
        for wrong in ["sekri", "sekrit2", "", "SEKRIT"] {
            assert_eq!(
                a.access(&headers(&[("x-api-key", wrong)]), Some(wrong)),
                Access::Anonymous,
                "{wrong:?}"
            );
        }
        // An empty configured key never matches (not even an empty candidate).
        assert!(!Auth::new("").is_key(""));
    }

    #[test]
    fn sessions_and_their_csrf_tokens() {
        let a = Auth::new("k");
        let s = a.new_session();
        let cookie = format!("other=1; {SESSION_COOKIE}={s}");
        assert_eq!(
            a.access(&headers(&[("cookie", &cookie)]), None),
            Access::Session(s.clone())
        );
        let t = a.csrf_token(&s);
        assert!(a.csrf_ok(&s, &t));
        assert!(!a.csrf_ok(&s, &t[1..]));
        assert!(
            !a.csrf_ok(&a.new_session(), &t),
            "a token belongs to its session"
        );
        a.end_session(&s);
        assert_eq!(
            a.access(&headers(&[("cookie", &cookie)]), None),
            Access::Anonymous
        );
        // A forged session id is nobody.
        let forged = format!("{SESSION_COOKIE}=00ff");
        assert_eq!(
            a.access(&headers(&[("cookie", &forged)]), None),
            Access::Anonymous
        );
    }
}
