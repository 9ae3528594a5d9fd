//! The web UI over real sockets: every page, escaping of hostile names, login, logout and
//! CSRF, the redirect to the login form, 400 pages for bad parameters, paging, and saved
//! searches with their file's bounds.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use support::{KEY, TestServer, corpus};
use web::{CrawlerStatus, Options};

/// A client that shows redirects instead of following them (and keeps no cookies: each
/// request carries exactly what the test gives it).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A server over the hostile corpus with saved searches in `dir`.
async fn server_with_saved(open_reads: bool, dir: &tempfile::TempDir) -> (TestServer, PathBuf) {
    let path = dir.path().join("saved-searches.json");
    let mut options = Options::new(KEY);
    options.open_reads = open_reads;
    options.saved_searches = Some(path.clone());
    options.history_every = Duration::from_millis(20);
    (TestServer::start_with(&corpus(), options).await, path)
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
    content_type: String,
    csp: Option<String>,
}

async fn send(req: reqwest::RequestBuilder) -> Page {
    let r = req.send().await.unwrap();
    let header = |name| {
        r.headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let location = header(LOCATION);
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let csp = header(reqwest::header::CONTENT_SECURITY_POLICY);
    let cookies = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let status = r.status();
    Page {
        status,
        location,
        cookies,
        body: r.text().await.unwrap(),
        content_type,
        csp,
    }
}

async fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> Page {
    let mut req = client().get(server.url(path));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    send(req).await
}

async fn post(
    server: &TestServer,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Page {
    let mut body = String::new();
    for (k, v) in form {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(&enc(k));
        body.push('=');
        body.push_str(&enc(v));
    }
    let mut req = client()
        .post(server.url(path))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    send(req).await
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `name=value` of a `Set-Cookie`.
fn cookie_pair(set_cookie: &[String], name: &str) -> Option<String> {
    set_cookie
        .iter()
        .filter_map(|c| c.split(';').next())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value of the first `attr="..."` after `marker` in `html`, unescaped.
fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let rest = &html[at..];
    let start = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = rest[start..].find('"')? + start;
    Some(unescape(&rest[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn csrf(html: &str) -> String {
    attr_after(html, "name=\"csrf\"", "value").expect("a form with a csrf field")
}

/// Logs in; returns the session cookie (`name=value`) and the CSRF token of its forms.
async fn login(server: &TestServer) -> (String, String) {
    let p = post(server, "/login", None, &[("key", KEY), ("next", "/")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let set = p
        .cookies
        .iter()
        .find(|c| c.starts_with("bitagent_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = cookie_pair(&p.cookies, "bitagent_session").unwrap();
    let page = get(server, "/", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    (cookie.clone(), csrf(&page.body))
}

fn hash_of(n: u8) -> String {
    let mut h = [0u8; 20];
    h[0] = n;
    h[19] = 0xAB;
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The markup a hostile name would inject if it were not escaped.
const INJECTED: [&str; 4] = ["<img", "<details open ontoggle", "\"><svg", "<svg onload"];

/// Every tag's name and attribute names, in order (values skipped; our values are always
/// double-quoted and escaped text never holds a raw `"`).
fn tags(html: &str) -> Vec<(String, Vec<String>)> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        while i < b.len() && b[i] != b'>' {
            if b[i].is_ascii_whitespace() || b[i] == b'/' {
                i += 1;
                continue;
            }
            let a = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
                i += 1;
            }
            attrs.push(html[a..i].to_ascii_lowercase());
            if b.get(i) == Some(&b'=') {
                i += 1;
                if b.get(i) == Some(&b'"') {
                    i += 1 + html[i + 1..].find('"').unwrap_or(html.len() - i - 1) + 1;
                } else {
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                }
            }
        }
        out.push((name, attrs));
    }
    out
}

fn assert_escaped(page: &str, what: &str) {
    for bad in INJECTED {
        assert!(!page.contains(bad), "{what}: raw {bad:?} in the page");
    }
    let tags = tags(page);
    assert!(tags.len() > 20, "{what}: the scanner sees the page's tags");
    for (name, attrs) in &tags {
        assert!(
            !["img", "script", "iframe", "object", "embed"].contains(&name.as_str()),
            "{what}: a <{name}>"
        );
        if let Some(ev) = attrs.iter().find(|a| a.starts_with("on")) {
            panic!("{what}: <{name} {ev}=...> (an event handler)");
        }
        if name == "svg" {
            assert!(
                attrs.contains(&"class".to_owned()),
                "{what}: an <svg> that is not a chart"
            );
        }
    }
    for (i, _) in page.match_indices("<svg") {
        assert!(
            page[i..].starts_with("<svg class=\"chart\""),
            "{what}: an <svg> that is not a chart"
        );
    }
}

#[test]
fn the_tag_scanner_finds_handlers() {
    let t = tags("<p class=\"a onload=x\">x</p><img src=x onerror=alert(1)><br/>");
    assert_eq!(t[0], ("p".to_owned(), vec!["class".to_owned()]));
    assert_eq!(t[1].1, vec!["src".to_owned(), "onerror".to_owned()]);
    assert_eq!(t[2].0, "br");
}

#[tokio::test]
async fn every_page_answers_with_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server_with_saved(true, &dir).await;

    let p = get(&server, "/", None).await;
    assert_eq!(p.status, 200);
    assert!(
        p.content_type.starts_with("text/html"),
        "{}",
        p.content_type
    );
    let csp = p.csp.unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(p.body.contains("<meta name=\"viewport\""));
    assert!(p.body.contains("<input type=\"search\" name=\"q\""));
    assert!(
        p.body.contains("12 results"),
        "the newest listing counts all 12"
    );
    assert!(
        p.body.contains("href=\"/?type=movie\""),
        "a facet link per type"
    );
    assert!(p.body.contains("Save this search"));
    assert!(
        p.body.contains("href=\"/feed?\""),
        "the RSS link of the search"
    );

    let p = get(&server, "/?q=bunny", None).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("Big Buck Bunny 1080p") && p.body.contains("Big Buck Bunny 720p trailer")
    );
    assert!(!p.body.contains("Ubuntu"), "only matches");
    assert!(
        p.body.contains("value=\"bunny\""),
        "the query is echoed in the box"
    );
    assert!(
        p.body
            .contains(&format!("href=\"/torrents/{}\"", hash_of(1)))
    );
    assert!(p.body.contains("magnet:?xt=urn:btih:"));
    assert!(p.body.contains("700 MiB") && p.body.contains("40 / 20"));

    // Filters: a type and a size range.
    let p = get(&server, "/?type=software&min_size=1G", None).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("Ubuntu 24.04") && !p.body.contains("Debian 12"),
        "{}",
        p.body
    );
    // Never scraped: a dash.
    let p = get(&server, "/?q=sintel", None).await;
    assert!(p.body.contains("<td class=\"num\">—</td>"), "{}", p.body);

    let p = get(&server, &format!("/torrents/{}", hash_of(1)), None).await;
    assert_eq!(p.status, 200);
    for want in [
        "Big Buck Bunny 1080p",
        &hash_of(1),
        "resolution",
        "2008",
        "test_rule",
        "file 1.bin",
        "<details open>",
        "magnet:?xt=urn:btih:",
        "hd",
    ] {
        assert!(p.body.contains(want), "detail page lacks {want:?}");
    }
    assert!(
        !p.body.contains("Delete and block"),
        "anonymous: no write forms"
    );

    let p = get(&server, "/dashboard", None).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("No crawler in this process"));
    assert!(
        p.body.contains("Torrents") && p.body.contains(">12<"),
        "store stats"
    );

    // With a crawler, its status and (once the history has points) the charts.
    *server.ops.crawler.lock().unwrap() = Some(CrawlerStatus {
        uptime_secs: 3_700,
        routing_table_nodes: 321,
        crawl_table: [10, 20, 30],
        sampling: true,
        sampled: 5_000,
        persisted: 77,
        fetch_outcomes: vec![("ok".into(), 70), ("no_peers".into(), 9)],
        disk_budget: Some(1 << 30),
        ..CrawlerStatus::default()
    });
    let mut charted = None;
    for _ in 0..200 {
        let p = get(&server, "/dashboard", None).await;
        if p.body.contains("<svg class=\"chart\"") {
            charted = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = charted.expect("the chart appears once the history has points");
    for want in [
        "321 nodes",
        "Crawl table",
        "no peers",
        "Persisted",
        "budget",
        "<rect",
        "<polyline",
    ] {
        assert!(p.body.contains(want), "dashboard lacks {want:?}");
    }

    let p = get(&server, "/saved", None).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Saved searches"));
    let p = get(&server, "/login", None).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("type=\"password\" name=\"key\""));

    let p = get(&server, "/assets/style.css", None).await;
    assert_eq!(p.status, 200);
    assert!(p.content_type.starts_with("text/css"));
    assert!(p.body.contains(".table-wrap"));
    server.stop().await;
}

#[tokio::test]
async fn hostile_names_are_escaped_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server_with_saved(false, &dir).await;
    let (cookie, token) = login(&server).await;
    // A saved search whose name and query are hostile too.
    let p = post(
        &server,
        "/saved",
        Some(&cookie),
        &[
            ("csrf", &token),
            ("name", "<img src=x onerror=alert(9)> \u{202e}evil"),
            ("query", "q=%3Csvg+onload%3Dalert(1)%3E"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let mut pages = vec![
        "/".to_owned(),
        "/?q=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E".to_owned(),
        "/?q=%22%3E%3Csvg+onload%3Dalert(2)%3E".to_owned(),
        "/?q=details+ontoggle".to_owned(),
        "/?q=evil".to_owned(),
        "/dashboard".to_owned(),
        "/saved".to_owned(),
        "/?min_size=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E".to_owned(),
    ];
    pages.extend((8..=11).map(|n| format!("/torrents/{}", hash_of(n))));
    for path in &pages {
        let p = get(&server, path, Some(&cookie)).await;
        assert!(p.status == 200 || p.status == 400, "{path}: {}", p.status);
        assert_escaped(&p.body, path);
    }
    // The names are there, as escaped text inside <bdi>.
    let p = get(&server, "/", Some(&cookie)).await;
    for escaped in [
        "<bdi>&lt;img src=x onerror=alert(1)&gt;</bdi>",
        "<bdi>&quot;&gt;&lt;svg onload=alert(2)&gt;</bdi>",
        "<bdi>]]&gt; &amp; &lt;details open ontoggle=alert(3)&gt;</bdi>",
        "<bdi>evil\u{202e}4pm.exe 'quoted'</bdi>",
    ] {
        assert!(p.body.contains(escaped), "search page lacks {escaped:?}");
    }
    let p = get(&server, &format!("/torrents/{}", hash_of(8)), Some(&cookie)).await;
    assert!(
        p.body.contains(
            "<h1 class=\"torrent-name\"><bdi>&lt;img src=x onerror=alert(1)&gt;</bdi></h1>"
        )
    );
    // The query is echoed as an attribute value, escaped.
    let p = get(
        &server,
        "/?q=%22%3E%3Csvg+onload%3Dalert(2)%3E",
        Some(&cookie),
    )
    .await;
    assert!(
        p.body
            .contains("value=\"&quot;&gt;&lt;svg onload=alert(2)&gt;\""),
        "{}",
        p.body
    );
    server.stop().await;
}

#[tokio::test]
async fn closed_reads_redirect_to_login_and_writes_need_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let (server, path) = server_with_saved(false, &dir).await;
    let detail = format!("/torrents/{}", hash_of(2));

    // Without a session every page sends the browser to the login form, and back after.
    for (page, next) in [
        ("/", "%2F"),
        ("/?q=big%20buck", "%2F%3Fq%3Dbig%2520buck"),
        (detail.as_str(), &*format!("%2Ftorrents%2F{}", hash_of(2))),
        ("/dashboard", "%2Fdashboard"),
        ("/saved", "%2Fsaved"),
    ] {
        let p = get(&server, page, None).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(
            p.location.as_deref(),
            Some(&*format!("/login?next={next}")),
            "{page}"
        );
    }
    // A wrong key is refused; the right one goes to `next`, but only on this server.
    let p = post(
        &server,
        "/login",
        None,
        &[("key", "wrong"), ("next", "/dashboard")],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.cookies.is_empty() && p.body.contains("not the API key"));
    let p = post(
        &server,
        "/login",
        None,
        &[("key", KEY), ("next", "/dashboard")],
    )
    .await;
    assert_eq!(p.location.as_deref(), Some("/dashboard"));
    let p = post(
        &server,
        "/login",
        None,
        &[("key", KEY), ("next", "/?q=caf\u{e9}")],
    )
    .await;
    assert_eq!(
        p.location.as_deref(),
        Some("/?q=caf%C3%A9"),
        "non-ASCII next"
    );
    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let p = post(&server, "/login", None, &[("key", KEY), ("next", evil)]).await;
        assert_eq!(p.location.as_deref(), Some("/"), "{evil}");
    }

    let (cookie, token) = login(&server).await;
    let p = get(&server, &detail, Some(&cookie)).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Delete and block") && p.body.contains("Log out"));
    assert_eq!(csrf(&p.body), token);

    // Writes: no cookie, no token, a wrong token, another session's token: refused.
    let del = format!("{detail}/delete");
    let p = post(&server, &del, None, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location.unwrap().starts_with("/login?next="));
    let p = post(&server, &del, Some(&cookie), &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.content_type.starts_with("text/html") && p.body.contains("CSRF"));
    let p = post(
        &server,
        &del,
        Some(&cookie),
        &[("csrf", "0123456789abcdef0123456789abcdef")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let (_, other_token) = login(&server).await;
    let p = post(&server, &del, Some(&cookie), &[("csrf", &other_token)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&server, &detail, Some(&cookie)).await.status,
        200,
        "still there"
    );

    // Tags, then delete with the right token.
    let p = post(
        &server,
        &format!("{detail}/tags"),
        Some(&cookie),
        &[("csrf", &token), ("tags", "trailer, hd")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = get(&server, &p.location.unwrap(), Some(&cookie)).await;
    assert!(
        p.body
            .contains("<span class=\"tag\"><bdi>trailer</bdi></span>")
    );
    assert!(p.body.contains("Tags saved."));
    let p = post(
        &server,
        &format!("{detail}/tags"),
        Some(&cookie),
        &[("csrf", &token), ("tags", "<b>")],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("tags"));

    let p = post(&server, &del, Some(&cookie), &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/?notice=deleted"));
    let p = get(&server, "/?notice=deleted&q=trailer", Some(&cookie)).await;
    assert!(p.body.contains("Deleted."));
    assert!(!p.body.contains("720p trailer"), "gone from search");
    let p = get(&server, &detail, Some(&cookie)).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.content_type.starts_with("text/html") && p.body.contains("deleted"));

    // The RSS link of a saved search carries the key for a logged-in user (reads need it).
    let p = post(
        &server,
        "/saved",
        Some(&cookie),
        &[("csrf", &token), ("name", "films"), ("query", "type=movie")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = get(&server, "/saved", Some(&cookie)).await;
    assert!(
        p.body
            .contains(&format!("href=\"/feed?type=movie&amp;apikey={KEY}\"")),
        "{}",
        p.body
    );
    assert!(path.exists());

    // Logout needs the token too; after it the cookie is nobody.
    let p = post(&server, "/logout", Some(&cookie), &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = post(&server, "/logout", Some(&cookie), &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.cookies
            .iter()
            .any(|c| c.starts_with("bitagent_session=;") && c.contains("Max-Age=0"))
    );
    let p = get(&server, "/", Some(&cookie)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    server.stop().await;
}

#[tokio::test]
async fn bad_parameters_give_a_400_page() {
    let server = TestServer::start(&corpus(), true).await;
    for (query, param) in [
        ("min_size=lots", "min_size"),
        ("sort=popularity", "sort"),
        ("order=up", "order"),
        ("since=yesterday", "since"),
        ("type=%3Cscript%3E", "type"),
        ("limit=1000", "limit"),
        ("cursor=zzz", "cursor"),
        ("min_size=2G&max_size=1G", "max_size"),
    ] {
        let p = get(&server, &format!("/?{query}"), None).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            p.content_type.starts_with("text/html"),
            "{query}: {}",
            p.content_type
        );
        assert!(
            p.body.contains(&format!("invalid parameter {param}")),
            "{query}: {}",
            p.body
        );
        assert!(
            p.body.contains("<input type=\"search\" name=\"q\""),
            "the form stays"
        );
    }
    let p = get(&server, "/torrents/not-a-hash", None).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("infohash"));
    let p = get(&server, &format!("/torrents/{}", "ab".repeat(20)), None).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("No torrent"));
    let p = get(
        &server,
        &format!("/torrents/{}?files_page=0", hash_of(1)),
        None,
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("files_page"));
    server.stop().await;
}

#[tokio::test]
async fn paging_follows_the_cursor() {
    let server = TestServer::start(&corpus(), true).await;
    let mut path = "/?limit=5".to_owned();
    let mut seen = Vec::new();
    for page in 0..10 {
        let p = get(&server, &path, None).await;
        assert_eq!(p.status, 200, "{path}");
        let mut rest = p.body.as_str();
        while let Some(i) = rest.find("<a class=\"name\" href=\"/torrents/") {
            let start = i + "<a class=\"name\" href=\"/torrents/".len();
            seen.push(rest[start..start + 40].to_owned());
            rest = &rest[start..];
        }
        if page > 0 {
            assert!(p.body.contains("First page"));
        }
        match attr_after(&p.body, "rel=\"next\"", "href") {
            Some(next) => {
                assert!(
                    next.contains("limit=5") && next.contains("cursor="),
                    "{next}"
                );
                path = next;
            }
            None => break,
        }
    }
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((seen.len(), distinct.len()), (12, 12), "every torrent once");
    server.stop().await;
}

#[tokio::test]
async fn saved_searches_round_trip_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let (server, path) = server_with_saved(true, &dir).await;
    // An anonymous visitor on an open server gets a cookie-bound token.
    let p = get(&server, "/?q=bunny&type=movie&cursor=", None).await;
    let anon = cookie_pair(&p.cookies, "bitagent_csrf").expect("a token cookie");
    let token = csrf(&p.body);
    assert_eq!(
        attr_after(&p.body, "name=\"query\"", "value").as_deref(),
        Some("q=bunny&type=movie")
    );

    let save = |name: &'static str, token: String, cookie: Option<String>| {
        let server = &server;
        async move {
            post(
                server,
                "/saved",
                cookie.as_deref(),
                &[
                    ("csrf", &token),
                    ("name", name),
                    ("query", "q=bunny&type=movie"),
                ],
            )
            .await
        }
    };
    assert_eq!(
        save("Bunnies", token.clone(), None).await.status,
        StatusCode::FORBIDDEN,
        "no cookie"
    );
    assert_eq!(
        save("Bunnies", "00".into(), Some(anon.clone()))
            .await
            .status,
        StatusCode::FORBIDDEN,
        "wrong token"
    );
    let p = save("Bunnies", token.clone(), Some(anon.clone())).await;
    assert_eq!(
        (p.status, p.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/saved?notice=saved"))
    );

    let p = get(&server, "/saved?notice=saved", Some(&anon)).await;
    assert!(p.body.contains("Search saved."));
    assert!(p.body.contains("<bdi>Bunnies</bdi>"));
    assert!(p.body.contains("href=\"/?q=bunny&amp;type=movie\""));
    assert!(
        p.body.contains("href=\"/feed?q=bunny&amp;type=movie\""),
        "open reads: no key in the link"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["searches"][0]["name"], "Bunnies");
    assert_eq!(file["searches"][0]["query"], "q=bunny&type=movie");

    // Bounds: names, invalid searches, and the number kept.
    let long: String = "n".repeat(101);
    let p = post(
        &server,
        "/saved",
        Some(&anon),
        &[("csrf", &token), ("name", &long), ("query", "q=x")],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("invalid parameter name"));
    let p = post(
        &server,
        "/saved",
        Some(&anon),
        &[
            ("csrf", &token),
            ("name", "bad"),
            ("query", "min_size=lots"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("min_size"));
    let full: Vec<serde_json::Value> = (0..200)
        .map(|i| serde_json::json!({"name": format!("s{i}"), "query": "q=x"}))
        .collect();
    std::fs::write(&path, serde_json::json!({ "searches": full }).to_string()).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    let p = save("one too many", token.clone(), Some(anon.clone())).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("200 searches are saved already"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "unchanged");
    // Replacing one by its name still works when full; deleting makes room.
    let p = post(
        &server,
        "/saved",
        Some(&anon),
        &[("csrf", &token), ("name", "s7"), ("query", "q=y")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = post(
        &server,
        "/saved/delete",
        Some(&anon),
        &[("csrf", &token), ("name", "s0")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let list = file["searches"].as_array().unwrap();
    assert_eq!(list.len(), 199);
    assert!(
        list.iter()
            .any(|s| s["name"] == "s7" && s["query"] == "q=y")
    );
    let p = post(
        &server,
        "/saved/delete",
        Some(&anon),
        &[("csrf", &token), ("name", "s0")],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = post(&server, "/saved/delete", Some(&anon), &[("name", "s1")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "delete needs the token");

    // A damaged file is reported and left alone.
    std::fs::write(&path, "{ \"searches\": [ oops").unwrap();
    let p = get(&server, "/saved", Some(&anon)).await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(p.body.contains("damaged"), "{}", p.body);
    let p = save("Bunnies", token.clone(), Some(anon.clone())).await;
    assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{ \"searches\": [ oops"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left");
    server.stop().await;
}

#[tokio::test]
async fn saved_searches_off_is_a_404_page() {
    let server = TestServer::start(&corpus(), true).await;
    let p = get(&server, "/saved", None).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("Saved searches are off"));
    let p = get(&server, "/", None).await;
    assert!(!p.body.contains("Save this search") && !p.body.contains("href=\"/saved\""));
    server.stop().await;
}

#[tokio::test]
async fn a_huge_file_list_is_paged_with_a_note() {
    let mut big = support::record(20, "Huge <pack>", 0, None, None);
    big.files = (0..1_200u64)
        .map(|i| store::FileEntry {
            path: format!("pack/disc {}/track {i:04}.flac", i / 100),
            size: 1 << 20,
        })
        .collect();
    big.file_count = 1_200;
    big.total_size = 1_200 << 20;
    let server = TestServer::start(&[big], true).await;
    let path = format!("/torrents/{}", hash_of(20));
    let p = get(&server, &path, None).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains(
            "this torrent has 1\u{202f}200 files and the store keeps the first 1\u{202f}000"
        ),
        "{}",
        p.body
    );
    assert!(
        p.body
            .contains("Showing files 1–500 of 1\u{202f}000 stored")
    );
    assert_eq!(p.body.matches("<li class=\"file\">").count(), 500);
    assert!(p.body.contains("track 0000.flac") && !p.body.contains("track 0500.flac"));
    // A large tree shows its top level open and folds the rest.
    assert!(
        p.body
            .contains("<details open><summary><bdi class=\"fname\">pack</bdi>")
    );
    assert!(
        p.body
            .contains("<details><summary><bdi class=\"fname\">disc 0</bdi>")
    );
    let next = attr_after(&p.body, "rel=\"next\"", "href").unwrap();
    assert_eq!(next, format!("{path}?files_page=2"));
    let p = get(&server, &next, None).await;
    assert_eq!(p.body.matches("<li class=\"file\">").count(), 500);
    assert!(p.body.contains("track 0500.flac") && p.body.contains("track 0999.flac"));
    assert!(p.body.contains("Previous files") && !p.body.contains("rel=\"next\""));
    server.stop().await;
}

#[tokio::test]
async fn hostile_files_attributes_and_tags_are_text() {
    let mut t = support::record(30, "plain name", 10, Some(1), Some("movie"));
    t.files = vec![
        store::FileEntry {
            path: "<svg onload=alert(6)>/<img src=x onerror=alert(7)>.txt".into(),
            size: 5,
        },
        store::FileEntry {
            path: "\"quoted\"/\u{202e}gpj.exe".into(),
            size: 5,
        },
    ];
    t.attributes = vec![("<b>key".into(), "<details open ontoggle=alert(8)>".into())];
    t.tags = vec!["x\"><img src=x onerror=alert(9)>".into()];
    let server = TestServer::start(&[t], true).await;
    let p = get(&server, &format!("/torrents/{}", hash_of(30)), None).await;
    assert_eq!(p.status, 200);
    assert_escaped(&p.body, "detail with hostile files");
    for escaped in [
        "<bdi class=\"fname\">&lt;svg onload=alert(6)&gt;</bdi>",
        "<bdi class=\"fname\">&lt;img src=x onerror=alert(7)&gt;.txt</bdi>",
        "<bdi class=\"fname\">\u{202e}gpj.exe</bdi>",
        "<td><bdi>&lt;b&gt;key</bdi></td><td><bdi>&lt;details open ontoggle=alert(8)&gt;</bdi></td>",
        "<bdi>x&quot;&gt;&lt;img src=x onerror=alert(9)&gt;</bdi>",
    ] {
        assert!(p.body.contains(escaped), "lacks {escaped:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let server = TestServer::start(&corpus(), true).await;
    let req = client()
        .post(server.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(format!("key={KEY}&next=%2F"));
    let p = send(req).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.cookies
            .iter()
            .any(|c| c.starts_with("bitagent_session=") && c.ends_with("; Secure"))
    );
    let p = post(&server, "/login", None, &[("key", KEY)]).await;
    assert!(p.cookies.iter().all(|c| !c.contains("Secure")));
    server.stop().await;
}
