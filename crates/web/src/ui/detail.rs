//! `/torrents/{infohash}`: one torrent. Name, size, magnet, infohash, seen times, swarm,
//! type, tags, attributes, the files as a tree (directories collapse with `<details>`, no
//! script), the rules that fired, and for a logged-in user the delete-and-block and tags
//! forms.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use store::{FileEntry, InfoHash, Torrent};

use super::{Viewer, format, layout};
use crate::links::{detail_path, magnet};
use crate::{ApiError, AppState, Explanation};

/// Files shown per page of the tree.
const FILES_PER_PAGE: usize = 500;
/// Most tags one torrent may carry (the tags form).
const MAX_TAGS: usize = 32;

fn parse_hash(raw: &str) -> Result<InfoHash, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::param("infohash", "40 (v1) or 64 (v2) hexadecimal digits"))
}

pub(super) async fn page(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let back = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let viewer = match super::gate(&state, &headers, &back) {
        Ok(v) => v,
        Err(redirect) => return *redirect,
    };
    let pairs = super::query_pairs(uri.query());
    let hash = match parse_hash(&raw) {
        Ok(h) => h,
        Err(e) => return super::error_page(&viewer, &e, &back),
    };
    let files_page = match crate::params::last(&pairs, "files_page").map(str::trim) {
        None | Some("") => 1,
        Some(v) => match crate::params::parse_int::<usize>(v) {
            Ok(n) if n >= 1 => n,
            _ => {
                let e = ApiError::param("files_page", "a page number from 1");
                return super::error_page(&viewer, &e, &back);
            }
        },
    };
    let torrent = match state.data().read(move |s| s.get(&hash)).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            let e = ApiError::NotFound(format!(
                "No torrent {hash} here: it was deleted, is blocked, or was never stored."
            ));
            return super::error_page(&viewer, &e, &back);
        }
        Err(e) => return super::error_page(&viewer, &e, &back),
    };
    let explanation = state.ops().explain(&torrent);
    let body = render(&viewer, &torrent, &explanation, files_page, super::now());
    super::html(
        StatusCode::OK,
        &viewer,
        layout::page(&viewer, "Torrent", super::notice_text(&pairs), body),
    )
}

fn render(viewer: &Viewer, t: &Torrent, ex: &Explanation, files_page: usize, now: i64) -> Markup {
    let path = detail_path(&t.info_hash);
    html! {
        h1.torrent-name { bdi { (t.name) } }
        p.lead {
            a.button href=(magnet(&t.info_hash, &t.name, t.total_size)) { "Magnet link" }
        }
        dl.facts {
            dt { "Size" } dd { (format::size(t.total_size)) " " span.muted { "(" (format::count(t.total_size)) " bytes)" } }
            dt { "Files" } dd { (format::count(t.file_count)) }
            dt { "Infohash" } dd { code.hash { (t.info_hash) } }
            dt { "Type" } dd { (t.content_type.as_deref().map_or("unclassified".to_owned(), |c| c.replace('_', " "))) }
            dt { "Seeders / leechers" } dd {
                (super::search::swarm(t.seeders, t.leechers))
                @if let Some(at) = t.scraped_at {
                    " " span.muted { "(measured " (format::age(at, now)) " ago)" }
                } @else {
                    " " span.muted { "(never measured)" }
                }
            }
            dt { "First seen" } dd { (format::date(t.first_seen)) " " span.muted { "(" (format::age(t.first_seen, now)) " ago)" } }
            dt { "Last seen" } dd { (format::date(t.last_seen)) " " span.muted { "(" (format::age(t.last_seen, now)) " ago)" } }
            @if let Some(p) = t.piece_length {
                dt { "Piece length" } dd { (format::size(p)) }
            }
            dt { "Version" } dd {
                @match t.meta_version { Some(2) => "v2 / hybrid", Some(_) | None => "v1" }
                @if t.private { " · private" }
            }
            dt { "Tags" } dd {
                @if t.tags.is_empty() { span.muted { "none" } }
                @for tag in &t.tags { span.tag { bdi { (tag) } } " " }
            }
        }
        @if !t.attributes.is_empty() {
            h2 { "Attributes" }
            div.table-wrap {
                table.attrs {
                    thead { tr { th scope="col" { "Attribute" } th scope="col" { "Value" } } }
                    tbody {
                        @for (k, v) in &t.attributes {
                            tr { td { bdi { (k) } } td { bdi { (v) } } }
                        }
                    }
                }
            }
        }
        h2 { "Files" }
        (files(&path, t, files_page))
        h2 { "Rules" }
        (rules(ex))
        @if viewer.logged_in() {
            h2 { "Manage" }
            div.manage {
                form.tags method="post" action=(format!("{path}/tags")) {
                    input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or(""));
                    label { "Tags (space or comma separated) "
                        input name="tags" value=(t.tags.join(" ")) size="24" maxlength="2200";
                    }
                    button type="submit" { "Save tags" }
                }
                form.delete method="post" action=(format!("{path}/delete")) {
                    input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or(""));
                    button.danger type="submit" { "Delete and block" }
                    span.muted { " Removes it from the store; the crawler will never store it again." }
                }
            }
        }
    }
}

/// A directory of the file tree.
#[derive(Default)]
struct Dir<'a> {
    dirs: BTreeMap<&'a str, Self>,
    files: Vec<(&'a str, u64)>,
    size: u64,
    count: u64,
}

impl<'a> Dir<'a> {
    fn insert(&mut self, f: &'a FileEntry) {
        let mut parts: Vec<&str> = f.path.split('/').filter(|p| !p.is_empty()).collect();
        let leaf = parts.pop().unwrap_or("");
        let mut d = self;
        d.size = d.size.saturating_add(f.size);
        d.count += 1;
        for p in parts {
            d = d.dirs.entry(p).or_default();
            d.size = d.size.saturating_add(f.size);
            d.count += 1;
        }
        d.files.push((leaf, f.size));
    }
}

fn files(path: &str, t: &Torrent, files_page: usize) -> Markup {
    let stored = t.files.len();
    let pages = stored.div_ceil(FILES_PER_PAGE).max(1);
    let page = files_page.min(pages);
    let start = (page - 1) * FILES_PER_PAGE;
    let shown = &t.files[start.min(stored)..(start + FILES_PER_PAGE).min(stored)];
    let mut root = Dir::default();
    for f in shown {
        root.insert(f);
    }
    // Small trees open fully; large ones show their top level.
    let open_depth = if shown.len() <= 50 { usize::MAX } else { 1 };
    html! {
        @if stored == 0 {
            p.muted { "No file list stored." }
        } @else {
            @if pages > 1 || (t.file_count as usize) > stored {
                p.note {
                    "Showing files " (start + 1) "–" (start + shown.len()) " of " (format::count(stored as u64)) " stored"
                    @if (t.file_count as usize) > stored {
                        "; this torrent has " (format::count(t.file_count)) " files and the store keeps the first " (format::count(stored as u64))
                    }
                    "."
                }
            }
            ul.tree { (tree(&root, 0, open_depth)) }
            @if pages > 1 {
                nav.pager aria-label="File pages" {
                    @if page > 1 { a href=(format!("{path}?files_page={}", page - 1)) { "« Previous files" } }
                    span.muted { "page " (page) " of " (pages) }
                    @if page < pages { a rel="next" href=(format!("{path}?files_page={}", page + 1)) { "More files »" } }
                }
            }
        }
    }
}

fn tree(d: &Dir<'_>, depth: usize, open_depth: usize) -> Markup {
    html! {
        @for (name, sub) in &d.dirs {
            li.dir {
                details open[depth < open_depth] {
                    summary {
                        bdi.fname { (name) } " "
                        span.muted { (format::size(sub.size)) ", " (format::count(sub.count)) @if sub.count == 1 { " file" } @else { " files" } }
                    }
                    ul { (tree(sub, depth + 1, open_depth)) }
                }
            }
        }
        @for (name, size) in &d.files {
            li.file {
                bdi.fname { @if name.is_empty() { "(no name)" } @else { (name) } }
                " " span.muted { (format::size(*size)) }
            }
        }
    }
}

fn rules(ex: &Explanation) -> Markup {
    html! {
        dl.facts {
            dt { "Rules revision" } dd { code { (ex.rules_rev) } }
            dt { "Type now" } dd { (ex.content_type.as_deref().unwrap_or("none")) }
            dt { "Tags now" } dd {
                @if ex.tags.is_empty() { span.muted { "none" } }
                @for tag in &ex.tags { span.tag { bdi { (tag) } } " " }
            }
            dt { "Fired" } dd {
                @if ex.fired.is_empty() { span.muted { "no rule" } }
                @else { ol.fired { @for r in &ex.fired { li { code { (r) } } } } }
            }
            @if let Some(d) = &ex.drop {
                dt { "Would drop" } dd.error { "yes, by " code { (d) } }
            }
            @if !ex.errors.is_empty() {
                dt { "Errors" } dd { ul { @for e in &ex.errors { li.error { (e) } } } }
            }
        }
    }
}

/// `POST /torrents/{infohash}/delete`: deletes and blocks, then back to search.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let viewer = super::viewer(&state, &headers);
    let form = super::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let back = format!("/torrents/{}", raw.trim());
    if let Err(e) = state.require_write(&headers, crate::params::last(&form, "csrf")) {
        return super::error_page(&viewer, &e, &back);
    }
    let hash = match parse_hash(&raw) {
        Ok(h) => h,
        Err(e) => return super::error_page(&viewer, &e, "/"),
    };
    match state.ops().delete_and_block(vec![hash]).await {
        Ok(_) => super::see_other("/?notice=deleted"),
        Err(e) => super::error_page(&viewer, &ApiError::from(e), &back),
    }
}

/// `POST /torrents/{infohash}/tags`: replaces the tags, then back to the page.
pub(super) async fn tags(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let viewer = super::viewer(&state, &headers);
    let form = super::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let back = format!("/torrents/{}", raw.trim());
    if let Err(e) = state.require_write(&headers, crate::params::last(&form, "csrf")) {
        return super::error_page(&viewer, &e, &back);
    }
    let hash = match parse_hash(&raw) {
        Ok(h) => h,
        Err(e) => return super::error_page(&viewer, &e, "/"),
    };
    let tags = match parse_tags(crate::params::last(&form, "tags").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return super::error_page(&viewer, &e, &back),
    };
    match state.ops().set_tags(hash, tags).await {
        Ok(true) => super::see_other(&format!("{}?notice=tags", detail_path(&hash))),
        Ok(false) => super::error_page(
            &viewer,
            &ApiError::NotFound(format!("No torrent {hash} here.")),
            &back,
        ),
        Err(e) => super::error_page(&viewer, &ApiError::from(e), &back),
    }
}

/// Tags as typed: separated by spaces or commas; each letters, digits, `_ - .`, at most 64;
/// at most [`MAX_TAGS`]; sorted and distinct.
fn parse_tags(s: &str) -> Result<Vec<String>, ApiError> {
    let mut tags: Vec<String> = s
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = tags.iter().find(|t| {
        t.len() > 64
            || !t
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    }) {
        let shown: String = bad.chars().take(64).collect();
        return Err(ApiError::param(
            "tags",
            format!("{shown:?}: a tag is letters, digits, '_', '-' or '.', at most 64"),
        ));
    }
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(ApiError::param("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse() {
        assert_eq!(parse_tags(" hd, x264  hd ").unwrap(), vec!["hd", "x264"]);
        assert!(parse_tags("").unwrap().is_empty());
        assert!(
            matches!(parse_tags("ok <b>"), Err(ApiError::BadParam { param, .. }) if param == "tags")
        );
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&many.join(" ")).is_err());
    }

    #[test]
    fn the_tree_nests_paths() {
        let files = [
            FileEntry {
                path: "a/b/c.txt".into(),
                size: 1,
            },
            FileEntry {
                path: "a/d.txt".into(),
                size: 2,
            },
            FileEntry {
                path: "e.txt".into(),
                size: 4,
            },
            FileEntry {
                path: "a//f.txt".into(),
                size: 8,
            },
        ];
        let mut root = Dir::default();
        for f in &files {
            root.insert(f);
        }
        assert_eq!((root.size, root.count), (15, 4));
        let a = &root.dirs["a"];
        assert_eq!((a.size, a.count), (11, 3));
        assert_eq!(a.files, vec![("d.txt", 2), ("f.txt", 8)]);
        assert_eq!(a.dirs["b"].files, vec![("c.txt", 1)]);
        assert_eq!(root.files, vec![("e.txt", 4)]);
        let html = tree(&root, 0, usize::MAX).into_string();
        assert!(html.contains("<details open>"), "{html}");
    }
}
