//! `/saved`: saved searches, each with its link and its RSS feed.
//!
//! They live in one small JSON file ([`Options::saved_searches`](crate::Options)):
//! `{"searches": [{"name": "...", "query": "q=...&type=..."}]}`, the query in the canonical
//! form of [`search_pairs`](super::search_pairs) (only search parameters, validated when
//! saved). Every change rewrites the file whole, atomically (a temporary file in the same
//! directory, synced, then renamed over it), under one lock. At most [`MAX_SAVED`] entries,
//! names at most [`MAX_NAME_CHARS`] characters. A file that does not parse is reported on
//! the page and left alone: nothing overwrites it until the user fixes or removes it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html;
use serde::{Deserialize, Serialize};

use super::{Viewer, layout};
use crate::{ApiError, AppState};

/// Most saved searches kept.
pub(crate) const MAX_SAVED: usize = 200;
/// Longest name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 100;
/// Longest canonical query string, in bytes.
const MAX_QUERY_BYTES: usize = 2_048;
/// A larger file is not ours (and is not read whole).
const MAX_FILE_BYTES: u64 = 4 << 20;

/// One read-modify-write of the file at a time (in this process).
static FILE_LOCK: Mutex<()> = Mutex::new(());

/// One saved search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedSearch {
    /// What the user called it.
    pub(crate) name: String,
    /// The search's canonical query string (without `?`).
    pub(crate) query: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedFile {
    searches: Vec<SavedSearch>,
}

/// The saved searches in `path` (none if the file does not exist yet); `Err`: the file is
/// unreadable or damaged, with why.
pub(crate) fn load(path: &Path) -> Result<Vec<SavedSearch>, String> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "it is {len} bytes, larger than saved searches ever are"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let file: SavedFile =
        serde_json::from_str(&text).map_err(|e| format!("it is not valid: {e}"))?;
    if file.searches.len() > MAX_SAVED {
        return Err(format!(
            "it holds {} searches, more than the {MAX_SAVED} kept",
            file.searches.len()
        ));
    }
    Ok(file.searches)
}

/// Writes `searches` to `path` atomically.
fn store(path: &Path, searches: &[SavedSearch]) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(&SavedFile {
        searches: searches.to_vec(),
    })
    .map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    let out = write();
    if out.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    out
}

/// Runs `change` on the list under the lock and writes the result (if `change` succeeds).
async fn modify<T: Send + 'static>(
    path: PathBuf,
    change: impl FnOnce(&mut Vec<SavedSearch>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || {
        let _guard = FILE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = load(&path).map_err(|why| damaged(&path, &why))?;
        let out = change(&mut list)?;
        store(&path, &list).map_err(|e| {
            tracing::error!(path = %path.display(), error = %e, "cannot write saved searches");
            ApiError::Unavailable(format!("cannot write the saved searches file: {e}"))
        })?;
        Ok(out)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("saved searches task: {e}")))?
}

fn damaged(path: &Path, why: &str) -> ApiError {
    tracing::error!(path = %path.display(), why, "the saved searches file is damaged");
    ApiError::Unavailable(format!(
        "The saved searches file is damaged ({why}). It is left as it is: fix or remove it \
         (see the server's log for its path)."
    ))
}

/// The RSS link of a search: `/feed?<query>`, with the key when reads need it and the
/// viewer holds it (a feed reader cannot log in).
pub(crate) fn feed_link(state: &AppState, viewer: &Viewer, query: &str) -> String {
    let mut link = format!("/feed?{query}");
    if viewer.logged_in() && !viewer.open_reads {
        link.push_str(if query.is_empty() {
            "apikey="
        } else {
            "&apikey="
        });
        crate::links::percent_encode(&state.0.options.api_key, &mut link);
    }
    link
}

fn disabled() -> ApiError {
    ApiError::NotFound("Saved searches are off on this server.".into())
}

/// `GET /saved`.
pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let back = uri
        .path_and_query()
        .map_or("/saved", |p| p.as_str())
        .to_owned();
    let viewer = match super::gate(&state, &headers, &back) {
        Ok(v) => v,
        Err(redirect) => return *redirect,
    };
    let Some(path) = state.0.options.saved_searches.clone() else {
        return super::error_page(&viewer, &disabled(), &back);
    };
    let loaded = tokio::task::spawn_blocking(move || {
        let _guard = FILE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        load(&path).map_err(|why| damaged(&path, &why))
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::Internal(format!("saved searches task: {e}"))));
    let list = match loaded {
        Ok(l) => l,
        Err(e) => return super::error_page(&viewer, &e, &back),
    };
    let pairs = super::query_pairs(uri.query());
    let body = html! {
        h1 { "Saved searches" }
        @if list.is_empty() {
            p.muted { "None yet. Search, then use “Save this search” under the results." }
        } @else {
            div.table-wrap {
                table.saved {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Search" }
                        th scope="col" { "Feed" }
                        @if viewer.may_save() { th scope="col" { span.visually-hidden { "Delete" } } }
                    } }
                    tbody {
                        @for s in &list {
                            tr {
                                td { a.saved-name href=(format!("/?{}", s.query)) { bdi { (s.name) } } }
                                td.query {
                                    @for (k, v) in super::query_pairs(Some(&s.query)) {
                                        span.param { span.muted { (k) "=" } bdi { (v) } } " "
                                    }
                                }
                                td { a.feed href=(feed_link(&state, &viewer, &s.query)) { "RSS" } }
                                @if viewer.may_save() {
                                    td {
                                        form.inline method="post" action="/saved/delete" {
                                            input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or(""));
                                            input type="hidden" name="name" value=(s.name);
                                            button.link type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { (list.len()) " of at most " (MAX_SAVED) "." }
        }
    };
    super::html(
        StatusCode::OK,
        &viewer,
        layout::page(&viewer, "Saved searches", super::notice_text(&pairs), body),
    )
}

/// `POST /saved` (`name`, `query`, `csrf`): saves (or replaces, by name) a search.
pub(super) async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let viewer = super::viewer(&state, &headers);
    let form = super::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let field = |k| crate::params::last(&form, k).unwrap_or("");
    let back = format!("/?{}", field("query"));
    let Some(path) = state.0.options.saved_searches.clone() else {
        return super::error_page(&viewer, &disabled(), "/");
    };
    if let Err(e) = super::check_saved_write(&state, &headers, Some(field("csrf"))) {
        return super::error_page(&viewer, &e, &back);
    }
    let entry = match validate(field("name"), field("query")) {
        Ok(e) => e,
        Err(e) => return super::error_page(&viewer, &e, &back),
    };
    let saved = modify(path, move |list| {
        if let Some(old) = list.iter_mut().find(|s| s.name == entry.name) {
            *old = entry;
        } else if list.len() >= MAX_SAVED {
            return Err(ApiError::param(
                "name",
                format!("{MAX_SAVED} searches are saved already, the most kept: delete one first"),
            ));
        } else {
            list.push(entry);
        }
        Ok(())
    })
    .await;
    match saved {
        Ok(()) => super::see_other("/saved?notice=saved"),
        Err(e) => super::error_page(&viewer, &e, &back),
    }
}

/// A saved search from the form: a name (trimmed, 1 to [`MAX_NAME_CHARS`] characters, no
/// control characters) and a query that is a valid search, kept in canonical form.
fn validate(name: &str, query: &str) -> Result<SavedSearch, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::param("name", "give the search a name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::param(
            "name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::param("name", "no control characters"));
    }
    let pairs = super::query_pairs(Some(query.trim_start_matches('?')));
    crate::params::search_request(&pairs, super::now())?;
    let canonical = super::encode_pairs(
        super::search_pairs(&pairs)
            .iter()
            .map(|(k, v)| (*k, v.as_str())),
    );
    if canonical.len() > MAX_QUERY_BYTES {
        return Err(ApiError::param(
            "query",
            format!("longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    Ok(SavedSearch {
        name: name.to_owned(),
        query: canonical,
    })
}

/// `POST /saved/delete` (`name`, `csrf`).
pub(super) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let viewer = super::viewer(&state, &headers);
    let form = super::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let Some(path) = state.0.options.saved_searches.clone() else {
        return super::error_page(&viewer, &disabled(), "/");
    };
    if let Err(e) = super::check_saved_write(&state, &headers, crate::params::last(&form, "csrf")) {
        return super::error_page(&viewer, &e, "/saved");
    }
    let name = crate::params::last(&form, "name")
        .unwrap_or("")
        .trim()
        .to_owned();
    let removed = modify(path, move |list| {
        let before = list.len();
        list.retain(|s| s.name != name);
        if list.len() == before {
            return Err(ApiError::NotFound("No saved search by that name.".into()));
        }
        Ok(())
    })
    .await;
    match removed {
        Ok(()) => super::see_other("/saved?notice=unsaved"),
        Err(e) => super::error_page(&viewer, &e, "/saved"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_queries_are_checked_and_canonical() {
        let s = validate(
            "  films ",
            "?cursor=o20&q=big+buck&type=movie&apikey=k&min_size=",
        )
        .unwrap();
        assert_eq!(s.name, "films");
        assert_eq!(s.query, "q=big%20buck&type=movie");
        for (name, query, param) in [
            ("", "q=x", "name"),
            (&*"n".repeat(101), "q=x", "name"),
            ("a\u{7}b", "q=x", "name"),
            ("ok", "min_size=lots", "min_size"),
            ("ok", "sort=popularity", "sort"),
        ] {
            match validate(name, query) {
                Err(ApiError::BadParam { param: p, .. }) => assert_eq!(p, param, "{name} {query}"),
                other => panic!("{name:?} {query:?}: {other:?}"),
            }
        }
        assert!(validate(&"n".repeat(100), "").is_ok());
    }

    #[test]
    fn the_file_round_trips_and_a_damaged_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saved.json");
        assert_eq!(load(&path), Ok(Vec::new()));
        let list = vec![SavedSearch {
            name: "a \"b\" <c>".into(),
            query: "q=x".into(),
        }];
        store(&path, &list).unwrap();
        assert_eq!(load(&path), Ok(list));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::write(&path, "{ not json").unwrap();
        assert!(load(&path).unwrap_err().contains("not valid"));
    }
}
