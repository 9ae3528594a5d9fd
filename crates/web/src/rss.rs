//! `/feed`: any search as an RSS 2.0 feed, newest first, with magnet enclosures; and the
//! channel and item writer Torznab shares.
//!
//! `/feed` takes the search parameters of the API and the UI (`q`, `type`, `tag`, ranges,
//! `sort`, `order`, `limit`, see [`crate::params`]); without `sort` it lists the newest
//! first, and without `limit` it holds 50 items. When reads need the key, pass it as
//! `apikey=` (feed readers cannot send headers). Each item links to the torrent's page here
//! (an absolute URL built from the request's `Host`, `https` when `X-Forwarded-Proto` says
//! so) and encloses its magnet link. Names are escaped text; characters XML 1.0 cannot carry
//! (control characters other than tab, newline and CR; U+FFFE, U+FFFF) are dropped.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use store::{Hit, SortKey};

use crate::links::{detail_path, magnet};
use crate::params::{self, last};
use crate::xml::{Xml, rfc822};
use crate::{ApiError, AppState};

/// Items in a feed when the request gives no `limit`.
const FEED_LIMIT: usize = 50;

/// The Torznab namespace.
pub(crate) const TORZNAB_NS: &str = "http://torznab.com/schemas/2015/feed";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/feed", get(feed))
}

async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match feed_xml(&state, &headers, &ext, &pairs).await {
        Ok(body) => ([(header::CONTENT_TYPE, RSS_CONTENT_TYPE)], body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The content type of RSS feeds and Torznab answers.
pub(crate) const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";

async fn feed_xml(
    state: &AppState,
    headers: &HeaderMap,
    ext: &Extensions,
    pairs: &[(String, String)],
) -> Result<String, ApiError> {
    state.require_read(headers, last(pairs, "apikey"))?;
    let mut req = params::search_request(pairs, now())?;
    if last(pairs, "sort").is_none_or(|s| s.trim().is_empty()) {
        req.sort = SortKey::FirstSeen;
    }
    if last(pairs, "limit").is_none_or(|s| s.trim().is_empty()) {
        req.limit = FEED_LIMIT;
    }
    req.count = false;
    state.check_rate(crate::server::client_ip(ext))?;
    let page = state.data().read(move |s| s.search_page(&req)).await?;
    let base = base_url(headers);
    let mut title = String::from("BitAgent");
    if let Some(q) = last(pairs, "q").filter(|q| !q.trim().is_empty()) {
        title.push_str(": ");
        title.push_str(q);
    }
    if let Some(t) = last(pairs, "type").filter(|t| !t.trim().is_empty()) {
        title.push_str(" [");
        title.push_str(t);
        title.push(']');
    }
    let mut x = Xml::new();
    open_channel(&mut x, false, &title, &base);
    for hit in &page.hits {
        item(&mut x, hit, &base, None);
    }
    Ok(x.finish())
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `scheme://host` of this server as the client reached it: the `Host` header (when it is
/// a plausible host\[:port\]; otherwise `localhost`), `https` when `X-Forwarded-Proto`'s
/// first value says so.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// Opens `<rss><channel>` with its title, link and description (`torznab`: declares the
/// Torznab namespace).
pub(crate) fn open_channel(x: &mut Xml, torznab: bool, title: &str, base: &str) {
    if torznab {
        x.open("rss", &[("version", "2.0"), ("xmlns:torznab", TORZNAB_NS)]);
    } else {
        x.open("rss", &[("version", "2.0")]);
    }
    x.open("channel", &[]);
    x.element("title", title);
    x.element("link", &format!("{base}/"));
    x.element(
        "description",
        "Torrents found in the DHT by BitAgent, newest first unless sorted otherwise",
    );
    x.element("generator", "BitAgent");
}

/// One `<item>`. `torznab`: the torrent's categories, and the item carries `torznab:attr`
/// elements (each name once, except `category`); without, a plain RSS item.
pub(crate) fn item(x: &mut Xml, hit: &Hit, base: &str, torznab: Option<(u32, Option<u32>)>) {
    let hash = hit.info_hash.to_string();
    let detail = format!("{base}{}", detail_path(&hit.info_hash));
    let magnet = magnet(&hit.info_hash, &hit.name, hit.total_size);
    let size = hit.total_size.to_string();
    x.open("item", &[]);
    x.element("title", &hit.name);
    x.open("guid", &[("isPermaLink", "false")]);
    x.text(&hash);
    x.close();
    x.element("link", &detail);
    x.element("comments", &detail);
    x.element("pubDate", &rfc822(hit.first_seen));
    x.element("size", &size);
    if torznab.is_none() {
        if let Some(t) = &hit.content_type {
            x.element("category", t);
        }
        x.element("description", &describe(hit));
    }
    x.empty(
        "enclosure",
        &[
            ("url", &magnet),
            ("length", &size),
            ("type", "application/x-bittorrent"),
        ],
    );
    if let Some((parent, sub)) = torznab {
        let mut attr = |name: &str, value: &str| {
            x.empty("torznab:attr", &[("name", name), ("value", value)]);
        };
        attr("category", &parent.to_string());
        if let Some(s) = sub {
            attr("category", &s.to_string());
        }
        attr("size", &size);
        attr("files", &hit.file_count.to_string());
        attr("infohash", &hash);
        attr("magneturl", &magnet);
        // Only what a scrape measured: a 0 we did not measure makes the *arr apps reject
        // the release.
        if let (Some(_), Some(seeders)) = (hit.scraped_at, hit.seeders) {
            attr("seeders", &seeders.to_string());
            if let Some(leechers) = hit.leechers {
                attr("leechers", &leechers.to_string());
            }
            let peers = u64::from(seeders) + u64::from(hit.leechers.unwrap_or(0));
            attr("peers", &peers.to_string());
        }
        for key in ["year", "season", "episode"] {
            if let Some(n) = number_attr(hit, key) {
                attr(key, &n.to_string());
            }
        }
        if let Some(r) = attribute(hit, "resolution") {
            attr("resolution", r);
        }
    }
    x.close();
}

/// An attribute's value, if the torrent has it.
pub(crate) fn attribute<'a>(hit: &'a Hit, key: &str) -> Option<&'a str> {
    hit.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A numeric attribute (`year`, `season`, `episode`), if present and a number.
pub(crate) fn number_attr(hit: &Hit, key: &str) -> Option<u32> {
    attribute(hit, key).and_then(|v| v.trim().parse().ok())
}

/// The plain feed's description: size, files, swarm, type.
fn describe(hit: &Hit) -> String {
    let mut d = format!(
        "{} bytes, {} file{}",
        hit.total_size,
        hit.file_count,
        if hit.file_count == 1 { "" } else { "s" }
    );
    match (hit.scraped_at, hit.seeders) {
        (Some(_), Some(s)) => {
            d.push_str(&format!(
                ", {s} seeders, {} leechers",
                hit.leechers.unwrap_or(0)
            ));
        }
        _ => d.push_str(", swarm not measured"),
    }
    if let Some(t) = &hit.content_type {
        d.push_str(", ");
        d.push_str(t);
    }
    d
}
