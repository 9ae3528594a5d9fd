//! `/`: the search page. A GET form (so every search is a URL to share and bookmark),
//! content-type facets with counts, filters and sort, a result table, keyset paging, and
//! "Save this search" when saved searches are on.

use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use store::{Hit, SearchPage, SortKey};

use super::{Viewer, format, layout};
use crate::links::{detail_path, magnet};
use crate::{ApiError, AppState};

pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    uri: Uri,
) -> Response {
    let back = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let viewer = match super::gate(&state, &headers, &back) {
        Ok(v) => v,
        Err(redirect) => return *redirect,
    };
    let pairs = super::query_pairs(uri.query());
    let now = super::now();
    let result = match crate::params::search_request(&pairs, now) {
        Ok(mut req) => match state.check_rate(crate::server::client_ip(&ext)) {
            Ok(()) => {
                req.count = true;
                state.data().read(move |s| s.search_page(&req)).await
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(e @ ApiError::BadParam { .. }) => e.status(),
        Err(e) => return super::error_page(&viewer, e, &back),
    };
    let body = render(&state, &viewer, &pairs, &result, now);
    let title = match crate::params::last(&pairs, "q").filter(|q| !q.trim().is_empty()) {
        Some(_) => "Search results",
        None => "Search",
    };
    super::html(
        status,
        &viewer,
        layout::page(&viewer, title, super::notice_text(&pairs), body),
    )
}

fn render(
    state: &AppState,
    viewer: &Viewer,
    pairs: &[(String, String)],
    result: &Result<SearchPage, ApiError>,
    now: i64,
) -> Markup {
    let search = super::search_pairs(pairs);
    let get = |k: &str| crate::params::last(pairs, k).unwrap_or("");
    let filters_set = [
        "type",
        "min_size",
        "max_size",
        "min_seeders",
        "since",
        "sort",
        "order",
    ]
    .iter()
    .any(|k| !get(k).trim().is_empty());
    let facets: &[(Option<String>, u64)] = match result {
        Ok(p) => &p.facets,
        Err(_) => &[],
    };
    let mut types: Vec<&str> = facets.iter().filter_map(|(t, _)| t.as_deref()).collect();
    let cur_type = get("type").trim();
    if !cur_type.is_empty() && !types.contains(&cur_type) {
        types.push(cur_type);
    }
    html! {
        h1.visually-hidden { "Search" }
        form.search method="get" action="/" role="search" {
            div.searchrow {
                input type="search" name="q" value=(get("q")) placeholder="Search names and files"
                    aria-label="Search words" maxlength="512";
                button type="submit" { "Search" }
            }
            details.filters open[filters_set] {
                summary { "Filters and sort" }
                div.grid {
                    label { "Type"
                        select name="type" {
                            option value="" { "any" }
                            @for t in &types {
                                option value=(t) selected[*t == cur_type] { (t) }
                            }
                        }
                    }
                    label { "Min size"
                        input name="min_size" value=(get("min_size")) placeholder="700MB" size="8";
                    }
                    label { "Max size"
                        input name="max_size" value=(get("max_size")) placeholder="4GiB" size="8";
                    }
                    label { "Min seeders"
                        input type="number" min="0" name="min_seeders" value=(get("min_seeders"));
                    }
                    label { "Since"
                        input name="since" value=(get("since")) placeholder="7d or 2024-01-31" size="10";
                    }
                    label { "Sort"
                        select name="sort" {
                            @for (name, _) in SortKey::ALL {
                                option value=(name) selected[get("sort") == name] { (name.replace('_', " ")) }
                            }
                        }
                    }
                    label { "Order"
                        select name="order" {
                            option value="" { "default" }
                            option value="desc" selected[get("order") == "desc"] { "descending" }
                            option value="asc" selected[get("order") == "asc"] { "ascending" }
                        }
                    }
                }
                // Conditions the form has no field for are kept as they came.
                @for k in ["tag", "min_files", "max_files", "until", "limit"] {
                    @if !get(k).trim().is_empty() {
                        input type="hidden" name=(k) value=(get(k));
                    }
                }
            }
        }
        @match result {
            Err(e) => {
                p.error role="alert" { (e.public_message()) }
                p { a href="/" { "Start a new search" } }
            }
            Ok(page) => {
                (facet_links(&search, facets, cur_type))
                (summary(page))
                @if !page.hits.is_empty() {
                    (table(&page.hits, now))
                }
                (pager(&search, pairs, page))
                (feed_and_save(state, viewer, &search))
            }
        }
    }
}

/// Links that narrow the search to one content type (and one back to all of them).
fn facet_links(
    search: &[(&'static str, String)],
    facets: &[(Option<String>, u64)],
    cur_type: &str,
) -> Markup {
    let with_type = |t: Option<&str>| {
        let mut p: Vec<(&str, &str)> = search
            .iter()
            .filter(|(k, _)| *k != "type")
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        if let Some(t) = t {
            p.push(("type", t));
        }
        format!("/?{}", super::encode_pairs(p))
    };
    let all: u64 = facets.iter().map(|(_, n)| n).sum();
    html! {
        @if !facets.is_empty() {
            nav.facets aria-label="Content types" {
                a href=(with_type(None)) aria-current=[cur_type.is_empty().then_some("true")] {
                    "all " span.count { (format::count(all)) }
                }
                @for (t, n) in facets {
                    @match t {
                        Some(t) => a href=(with_type(Some(t))) aria-current=[(t == cur_type).then_some("true")] {
                            (t.replace('_', " ")) " " span.count { (format::count(*n)) }
                        },
                        None => span.facet-none { "unclassified " span.count { (format::count(*n)) } },
                    }
                }
            }
        }
    }
}

fn summary(page: &SearchPage) -> Markup {
    html! {
        p.summary {
            @if page.hits.is_empty() {
                "No torrents match."
            } @else if page.estimated {
                "About " (format::count(page.total)) " results "
                span.muted { "(an estimate: counted over the most recent matches)" }
            } @else {
                (format::count(page.total)) @if page.total == 1 { " result" } @else { " results" }
            }
        }
    }
}

/// The result table (scrolls sideways in its own box on a narrow screen).
pub(super) fn table(hits: &[Hit], now: i64) -> Markup {
    html! {
        div.table-wrap {
            table.results {
                thead { tr {
                    th scope="col" { "Name" }
                    th.num scope="col" { "Size" }
                    th.num.opt scope="col" { "Files" }
                    th.num scope="col" title="seeders / leechers" { "S / L" }
                    th scope="col" { "Age" }
                    th.opt scope="col" { "Type" }
                    th scope="col" { "Magnet" }
                } }
                tbody {
                    @for h in hits {
                        tr {
                            td.name { a.name href=(detail_path(&h.info_hash)) { bdi { (h.name) } } }
                            td.num { (format::size(h.total_size)) }
                            td.num.opt { (format::count(h.file_count)) }
                            td.num { (swarm(h.seeders, h.leechers)) }
                            td title=(format::date(h.first_seen)) { (format::age(h.first_seen, now)) }
                            td.opt { (h.content_type.as_deref().map_or("—".to_owned(), |t| t.replace('_', " "))) }
                            td { a.magnet href=(magnet(&h.info_hash, &h.name, h.total_size)) { "magnet" } }
                        }
                    }
                }
            }
        }
    }
}

/// `40 / 20`, or `—` when never scraped.
pub(super) fn swarm(seeders: Option<u32>, leechers: Option<u32>) -> String {
    match (seeders, leechers) {
        (Some(s), l) => format!("{s} / {}", l.unwrap_or(0)),
        (None, _) => "—".to_owned(),
    }
}

fn pager(
    search: &[(&'static str, String)],
    pairs: &[(String, String)],
    page: &SearchPage,
) -> Markup {
    let first = format!(
        "/?{}",
        super::encode_pairs(search.iter().map(|(k, v)| (*k, v.as_str())))
    );
    let next = page.next_cursor.as_deref().map(|c| {
        let mut p: Vec<(&str, &str)> = search.iter().map(|(k, v)| (*k, v.as_str())).collect();
        p.push(("cursor", c));
        format!("/?{}", super::encode_pairs(p))
    });
    let paged = crate::params::last(pairs, "cursor").is_some_and(|c| !c.trim().is_empty());
    html! {
        @if paged || next.is_some() {
            nav.pager aria-label="Pages" {
                @if paged { a href=(first) { "« First page" } }
                @if let Some(n) = next { a rel="next" href=(n) { "Next page »" } }
            }
        }
    }
}

/// The search's RSS link, and the form that saves it.
fn feed_and_save(state: &AppState, viewer: &Viewer, search: &[(&'static str, String)]) -> Markup {
    let query = super::encode_pairs(search.iter().map(|(k, v)| (*k, v.as_str())));
    let feed = super::saved::feed_link(state, viewer, &query);
    let default_name = search
        .iter()
        .find(|(k, _)| *k == "q")
        .map_or("newest", |(_, v)| v.as_str());
    let default_name: String = default_name
        .chars()
        .take(super::saved::MAX_NAME_CHARS)
        .collect();
    html! {
        div.actions {
            a.feed href=(feed) { "RSS feed of this search" }
            @if viewer.may_save() {
                form.save method="post" action="/saved" {
                    input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or(""));
                    input type="hidden" name="query" value=(query);
                    label { "Save this search as "
                        input name="name" value=(default_name) required maxlength="100" size="16";
                    }
                    button type="submit" { "Save" }
                }
            }
        }
    }
}
