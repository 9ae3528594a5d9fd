//! The JSON API over real sockets: every endpoint, paging, filters, sorts, errors naming
//! their parameter, auth, the rate limit, hostile names and malformed input.

mod support;

use std::collections::HashSet;
use std::num::NonZeroU32;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use store::{FileEntry, TorrentRecord};
use support::{KEY, TestServer, corpus, record};
use web::Options;

/// One answer: status, headers and the body as JSON (every API answer is JSON).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

async fn call(
    client: &Client,
    method: Method,
    url: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut req = client.request(method.clone(), url);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    assert!(
        status != StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {url}: 500 {text}"
    );
    let ct = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let json = if method == Method::HEAD {
        Value::Null
    } else {
        assert_eq!(
            ct.as_deref(),
            Some("application/json"),
            "{method} {url}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
    };
    Answer {
        status,
        headers,
        json,
    }
}

async fn get(client: &Client, url: &str) -> Answer {
    call(client, Method::GET, url, None, None).await
}

/// A 400 naming `param`.
#[track_caller]
fn assert_bad(a: &Answer, param: &str, what: &str) {
    assert_eq!(a.status, 400, "{what}: {}", a.json);
    assert_eq!(a.json["error"]["code"], "bad_parameter", "{what}");
    assert_eq!(a.json["error"]["parameter"], param, "{what}: {}", a.json);
    assert!(!a.json["error"]["message"].as_str().unwrap().is_empty());
}

fn hex(r: &TorrentRecord) -> String {
    r.info_hash.to_hex()
}

fn names(a: &Answer) -> Vec<String> {
    a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Percent-encodes a query value (everything but unreserved characters).
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

/// Every page of a search (at most 50 pages), checking each page's size and that no
/// infohash repeats; returns the items in order.
async fn walk(client: &Client, server: &TestServer, query: &str, limit: usize) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut url = server.url(&format!("/api/v1/search?{query}&limit={limit}"));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", enc(c)));
        }
        let a = get(client, &url).await;
        assert_eq!(a.status, 200, "{url}: {}", a.json);
        let page = a.json["items"].as_array().unwrap();
        assert!(page.len() <= limit);
        for i in page {
            assert!(
                seen.insert(i["infohash"].as_str().unwrap().to_owned()),
                "{query}: {} twice",
                i["infohash"]
            );
            items.push(i.clone());
        }
        match a.json["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page.len(), limit, "only a full page has a next page");
                cursor = Some(c.to_owned());
            }
            None => {
                assert!(a.json["next_cursor"].is_null());
                return items;
            }
        }
    }
    panic!("{query}: more than 50 pages");
}

#[tokio::test]
async fn search_items_carry_every_field() {
    let records = corpus();
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    let a = get(&client, &server.url("/api/v1/search?q=bunny")).await;
    assert_eq!(a.status, 200);
    let mut got = names(&a);
    got.sort();
    assert_eq!(got, ["Big Buck Bunny 1080p", "Big Buck Bunny 720p trailer"]);
    assert_eq!(a.json["total"], 2);
    assert_eq!(a.json["total_is_estimate"], false);
    assert!(a.json["next_cursor"].is_null());
    assert_eq!(
        a.json["facets"],
        json!([{"content_type": "movie", "count": 2}])
    );
    let item = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "Big Buck Bunny 1080p")
        .unwrap();
    let r = &records[0];
    assert_eq!(
        *item,
        json!({
            "infohash": hex(r),
            "name": "Big Buck Bunny 1080p",
            "size": 700u64 << 20,
            "files": 1,
            "seeders": 40,
            "leechers": 20,
            "scraped_at": 1_700_003_600,
            "content_type": "movie",
            "tags": ["hd"],
            "attributes": {"resolution": "1080p", "year": "2008"},
            "first_seen": 1_700_003_600,
            "last_seen": 1_700_003_600,
            "magnet": format!(
                "magnet:?xt=urn:btih:{}&dn=Big%20Buck%20Bunny%201080p&xl={}",
                hex(r),
                700u64 << 20
            ),
        })
    );
    // Never scraped, unclassified: nulls, not zeros.
    let a = get(
        &client,
        &server.url(&format!("/api/v1/search?q={}", hex(&records[2]))),
    )
    .await;
    let item = &a.json["items"][0];
    assert_eq!(item["name"], "Sintel 2160p HDR");
    assert!(
        item["seeders"].is_null() && item["leechers"].is_null() && item["scraped_at"].is_null()
    );
    assert_eq!(item["attributes"], json!({}));
    let a = get(
        &client,
        &server.url(&format!("/api/v1/search?q={}", hex(&records[7]))),
    )
    .await;
    assert!(a.json["items"][0]["content_type"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn cursors_walk_every_page_once() {
    let mut records = corpus();
    for n in 13..=60u8 {
        records.push(record(
            n,
            &format!("Filler torrent number {n}"),
            u64::from(n) << 20,
            (n % 3 != 0).then_some(u32::from(n)),
            Some(if n % 2 == 0 { "movie" } else { "software" }),
        ));
    }
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    // Everything, newest first, in pages of 7.
    let all = walk(&client, &server, "q=", 7).await;
    assert_eq!(all.len(), records.len());
    let want: HashSet<String> = records.iter().map(hex).collect();
    let got: HashSet<String> = all
        .iter()
        .map(|i| i["infohash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
    // A word query across pages.
    let filler = walk(&client, &server, "q=filler", 5).await;
    assert_eq!(filler.len(), 48);
    // Sorted pages stay sorted across page boundaries.
    let by_size = walk(&client, &server, "sort=size&order=asc", 9).await;
    assert_eq!(by_size.len(), records.len());
    let sizes: Vec<u64> = by_size
        .iter()
        .map(|i| i["size"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    let by_name = walk(&client, &server, "q=filler&sort=name", 10).await;
    let names: Vec<&str> = by_name
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    // Filtered pages.
    let movies = walk(&client, &server, "type=movie&sort=seeders", 4).await;
    assert_eq!(
        movies.len(),
        records
            .iter()
            .filter(|r| r.content_type.as_deref() == Some("movie"))
            .count()
    );
    assert!(movies.iter().all(|i| i["content_type"] == "movie"));
    server.stop().await;
}

#[tokio::test]
async fn each_filter_narrows() {
    let records = corpus();
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    // The names a filter should keep, computed from the corpus.
    let expect = |keep: &dyn Fn(&TorrentRecord) -> bool| -> Vec<String> {
        let mut v: Vec<String> = records
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.name.clone())
            .collect();
        v.sort();
        v
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "type=movie",
            expect(&|r| r.content_type.as_deref() == Some("movie")),
        ),
        (
            "type=music",
            expect(&|r| r.content_type.as_deref() == Some("music")),
        ),
        ("tag=hd", expect(&|r| r.tags.iter().any(|t| t == "hd"))),
        ("min_size=1G", expect(&|r| r.total_size >= 1 << 30)),
        ("max_size=2MiB", expect(&|r| r.total_size <= 2 << 20)),
        (
            "min_size=100M&max_size=1GB",
            expect(&|r| (100 << 20..=1 << 30).contains(&r.total_size)),
        ),
        (
            "min_seeders=100",
            expect(&|r| r.seeders.is_some_and(|s| s >= 100)),
        ),
        ("min_files=2", Vec::new()),
        ("max_files=1", expect(&|_| true)),
        ("since=1700021600", expect(&|r| r.seen_at >= 1_700_021_600)),
        (
            "until=2023-11-14T23:13:20Z",
            expect(&|r| r.seen_at <= 1_700_003_600),
        ),
        (
            "since=2023-11-15&until=2023-11-15T00:40:00Z",
            expect(&|r| (1_700_006_400..=1_700_008_800).contains(&r.seen_at)),
        ),
        (
            "q=show&type=tv_show&min_seeders=1",
            vec!["Some Show S01E02 720p".to_owned()],
        ),
    ];
    for (query, want) in cases {
        let a = get(
            &client,
            &server.url(&format!("/api/v1/search?{query}&limit=100")),
        )
        .await;
        assert_eq!(a.status, 200, "{query}: {}", a.json);
        let mut got = names(&a);
        got.sort();
        assert_eq!(got, want, "{query}");
        assert_eq!(a.json["total"], want.len() as u64, "{query}");
    }
    // Facets count the matches by type (with no type filter they add up to the total).
    let a = get(&client, &server.url("/api/v1/search?limit=1")).await;
    assert_eq!(a.json["total"], 12);
    let facets = a.json["facets"].as_array().unwrap();
    let counts: Vec<u64> = facets
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most first: {counts:?}"
    );
    let mut got: Vec<String> = facets.iter().map(Value::to_string).collect();
    got.sort();
    let mut want: Vec<String> = [
        json!({"content_type": "movie", "count": 3}),
        json!({"content_type": "music", "count": 3}),
        json!({"content_type": "software", "count": 2}),
        json!({"content_type": "tv_show", "count": 2}),
        json!({"content_type": null, "count": 2}),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    want.sort();
    assert_eq!(got, want);
    // A word query's facets count its matches only.
    let a = get(&client, &server.url("/api/v1/search?q=show")).await;
    assert_eq!(
        a.json["facets"],
        json!([{"content_type": "tv_show", "count": 2}])
    );
    server.stop().await;
}

#[tokio::test]
async fn each_sort_orders() {
    let server = TestServer::start(&corpus(), true).await;
    let client = Client::new();
    let field = |a: &Answer, f: &str| -> Vec<Value> {
        a.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i[f].clone())
            .collect()
    };
    for (sort, fieldname) in [
        ("seeders", "seeders"),
        ("size", "size"),
        ("files", "files"),
        ("first_seen", "first_seen"),
        ("last_seen", "last_seen"),
        ("name", "name"),
    ] {
        for order in ["asc", "desc"] {
            let a = get(
                &client,
                &server.url(&format!(
                    "/api/v1/search?sort={sort}&order={order}&limit=100"
                )),
            )
            .await;
            assert_eq!(a.status, 200);
            let v = field(&a, fieldname);
            assert_eq!(v.len(), 12);
            // null (never scraped) counts as fewest.
            let key = |x: &Value| -> (i64, String) {
                match x {
                    Value::Null => (-1, String::new()),
                    Value::Number(n) => (n.as_i64().unwrap(), String::new()),
                    Value::String(s) => (0, s.clone()),
                    _ => unreachable!(),
                }
            };
            let ok = v.windows(2).all(|w| {
                let (a, b) = (key(&w[0]), key(&w[1]));
                if order == "asc" { a <= b } else { a >= b }
            });
            assert!(ok, "sort={sort}&order={order}: {v:?}");
        }
    }
    // Defaults: most seeders first; names A to Z.
    let a = get(&client, &server.url("/api/v1/search?sort=seeders&limit=2")).await;
    assert_eq!(
        names(&a),
        ["Ubuntu 24.04 desktop amd64", "Debian 12 netinst"]
    );
    let a = get(&client, &server.url("/api/v1/search?sort=name&limit=1")).await;
    assert_eq!(names(&a), ["\"><svg onload=alert(2)>"]);
    // Relevance: a name match ranks first.
    let a = get(
        &client,
        &server.url("/api/v1/search?q=ubuntu&sort=relevance"),
    )
    .await;
    assert_eq!(names(&a)[0], "Ubuntu 24.04 desktop amd64");
    server.stop().await;
}

#[tokio::test]
async fn malformed_parameters_are_400s_naming_them() {
    let server = TestServer::start(&corpus(), true).await;
    let client = Client::new();
    let long_q = "a".repeat(10 * 1024);
    let cases: Vec<(String, &str)> = vec![
        ("min_size=lots".into(), "min_size"),
        ("min_size=-1".into(), "min_size"),
        ("max_size=1e400".into(), "max_size"),
        ("max_size=99999999999999999999999T".into(), "max_size"),
        ("min_size=2G&max_size=1G".into(), "max_size"),
        ("min_seeders=-3".into(), "min_seeders"),
        ("min_seeders=99999999999999999999".into(), "min_seeders"),
        ("min_files=1.5".into(), "min_files"),
        ("max_files=x".into(), "max_files"),
        ("min_files=5&max_files=2".into(), "max_files"),
        ("since=2024-02-30".into(), "since"),
        ("until=yesterday".into(), "until"),
        ("since=2024-01-02&until=2024-01-01".into(), "until"),
        ("sort=popularity".into(), "sort"),
        ("order=up".into(), "order"),
        ("limit=0".into(), "limit"),
        ("limit=101".into(), "limit"),
        ("limit=100000000000000000000000".into(), "limit"),
        ("limit=-1".into(), "limit"),
        ("type=%3Cscript%3E".into(), "type"),
        ("tag=a%20b".into(), "tag"),
        ("cursor=a%20b".into(), "cursor"),
        ("cursor=not-a-cursor".into(), "cursor"),
        (format!("cursor={}", "c".repeat(300)), "cursor"),
        ("q=%FF".into(), "q"),
        ("q=abc%C3%28".into(), "q"),
        ("type=%FE".into(), "type"),
        (format!("q={long_q}"), "q"),
    ];
    for (query, param) in cases {
        let a = get(&client, &server.url(&format!("/api/v1/search?{query}"))).await;
        assert_bad(&a, param, &query[..query.len().min(80)]);
    }
    // Bad infohashes on every route that takes one.
    for bad in [
        "xyz",
        "0123456789abcdef0123456789abcdef0123456",
        "0123456789abcdef0123456789abcdef012345678",
        "0123456789abcdef0123456789abcdef0123456g",
        "%FF%FE",
        "%00",
        "%20%20",
    ] {
        for path in [
            format!("/api/v1/torrents/{bad}"),
            format!("/api/v1/torrents/{bad}/explain"),
        ] {
            let a = get(&client, &server.url(&path)).await;
            assert_bad(&a, "infohash", &path);
        }
        let a = call(
            &client,
            Method::DELETE,
            &server.url(&format!("/api/v1/torrents/{bad}")),
            Some(KEY),
            None,
        )
        .await;
        assert_bad(&a, "infohash", bad);
        let a = call(
            &client,
            Method::PUT,
            &server.url(&format!("/api/v1/torrents/{bad}/tags")),
            Some(KEY),
            Some(r#"{"tags":[]}"#),
        )
        .await;
        assert_bad(&a, "infohash", bad);
    }
    let h = hex(&corpus()[0]);
    for (query, param) in [
        ("files_limit=0", "files_limit"),
        ("files_limit=1001", "files_limit"),
        ("files_limit=many", "files_limit"),
        ("files_offset=-1", "files_offset"),
        ("files_offset=1e3", "files_offset"),
        ("files_offset=%FF", "files_offset"),
    ] {
        let a = get(
            &client,
            &server.url(&format!("/api/v1/torrents/{h}?{query}")),
        )
        .await;
        assert_bad(&a, param, query);
    }
    server.stop().await;
}

/// Whatever a stranger types into `q` is a page of results or a 400 naming `q`: never a
/// 500, never a hang.
#[tokio::test]
async fn hostile_queries_never_break_the_server() {
    let server = TestServer::start(&corpus(), true).await;
    let client = Client::new();
    for q in [
        "\"",
        "\"\"",
        "\"unterminated phrase",
        "-",
        "--",
        "-bunny",
        "*",
        "**",
        "a*",
        "OR",
        "a OR",
        "OR OR OR",
        "(",
        ")",
        "NEAR(a b)",
        "a:b",
        "^",
        "{}",
        "\u{0}",
        "\u{202e}",
        "<img src=x onerror=alert(1)>",
        "]]>",
        "'; DROP TABLE torrents; --",
        "%",
        "%%",
        "\u{feff}bunny",
        "🐇",
        "bunny AND NOT",
        "\\",
        "a\"b\"c",
        "+",
        "&",
        "=",
    ] {
        let url = server.url(&format!("/api/v1/search?q={}", enc(q)));
        let a = get(&client, &url).await;
        match a.status.as_u16() {
            200 => assert!(a.json["items"].is_array(), "{q:?}"),
            400 => assert_eq!(a.json["error"]["parameter"], "q", "{q:?}: {}", a.json),
            s => panic!("{q:?}: {s} {}", a.json),
        }
    }
    // Raw bytes the URL parser lets through.
    for raw in ["q=%", "q=%2", "q=%%41", "q=a&q", "&&&", "=", "q==="] {
        let a = get(&client, &server.url(&format!("/api/v1/search?{raw}"))).await;
        assert!(matches!(a.status.as_u16(), 200 | 400), "{raw}: {}", a.json);
    }
    server.stop().await;
}

#[tokio::test]
async fn hostile_names_round_trip_exactly() {
    let records = corpus();
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    let listed = walk(&client, &server, "q=", 5).await;
    for r in &records {
        let item = listed.iter().find(|i| i["infohash"] == hex(r)).unwrap();
        assert_eq!(item["name"], r.name.as_str());
        let a = get(
            &client,
            &server.url(&format!("/api/v1/torrents/{}", hex(r))),
        )
        .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json["name"], r.name.as_str());
        assert_eq!(
            a.json["files"]["items"][0]["path"],
            r.files[0].path.as_str()
        );
        // The magnet carries the name percent-encoded: nothing a stranger wrote is raw in it.
        let magnet = a.json["magnet"].as_str().unwrap();
        assert!(
            magnet.contains(&format!("&dn={}", enc(&r.name))),
            "{magnet}"
        );
        assert!(!magnet.contains(['<', '>', '"', ' ', '\'']), "{magnet}");
    }
    server.stop().await;
}

#[tokio::test]
async fn torrent_detail_pages_its_files() {
    let mut records = corpus();
    let mut big = record(40, "Big Archive", 0, Some(4), Some("software"));
    big.files = (0..1_200u64)
        .map(|i| FileEntry {
            path: format!("Big Archive/part {i:04}.bin"),
            size: i + 1,
        })
        .collect();
    big.file_count = 1_200;
    big.total_size = big.files.iter().map(|f| f.size).sum();
    records.push(big.clone());
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    let h = hex(&big);
    let a = get(&client, &server.url(&format!("/api/v1/torrents/{h}"))).await;
    assert_eq!(a.status, 200);
    let files = &a.json["files"];
    assert_eq!(files["total"], 1_200);
    assert_eq!(files["stored"], 1_000);
    assert_eq!(files["offset"], 0);
    assert_eq!(files["limit"], 100);
    assert_eq!(files["items"].as_array().unwrap().len(), 100);
    assert_eq!(files["next_offset"], 100);
    // Walk every stored file in pages of 300.
    let mut paths = Vec::new();
    let mut offset = Some(0u64);
    for _ in 0..10 {
        let Some(o) = offset else { break };
        let a = get(
            &client,
            &server.url(&format!(
                "/api/v1/torrents/{h}?files_offset={o}&files_limit=300"
            )),
        )
        .await;
        assert_eq!(a.json["files"]["offset"], o);
        for f in a.json["files"]["items"].as_array().unwrap() {
            paths.push(f["path"].as_str().unwrap().to_owned());
        }
        offset = a.json["files"]["next_offset"].as_u64();
    }
    assert_eq!(offset, None);
    let want: Vec<String> = big.files[..1_000].iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, want);
    // Past the end: an empty page.
    let a = get(
        &client,
        &server.url(&format!(
            "/api/v1/torrents/{h}?files_offset=5000&files_limit=1000"
        )),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json["files"]["items"], json!([]));
    assert!(a.json["files"]["next_offset"].is_null());
    let a = get(
        &client,
        &server.url(&format!(
            "/api/v1/torrents/{h}?files_offset=18446744073709551615"
        )),
    )
    .await;
    assert_eq!(a.status, 200);
    // The rest of the detail.
    let r = &records[0];
    let a = get(
        &client,
        &server.url(&format!("/api/v1/torrents/{}", hex(r).to_uppercase())),
    )
    .await;
    assert_eq!(a.status, 200);
    let d = &a.json;
    assert_eq!(d["infohash"], hex(r));
    assert_eq!(d["size"], r.total_size);
    assert_eq!(d["private"], false);
    assert_eq!(d["piece_length"], 1 << 18);
    assert_eq!(d["meta_version"], 1);
    assert_eq!(d["seeders"], 40);
    assert_eq!(d["content_type"], "movie");
    assert_eq!(d["tags"], json!(["hd"]));
    assert_eq!(
        d["attributes"],
        json!({"resolution": "1080p", "year": "2008"})
    );
    assert_eq!(d["classified_rev"], "test");
    assert!(
        d["magnet"]
            .as_str()
            .unwrap()
            .starts_with(&format!("magnet:?xt=urn:btih:{}&dn=", hex(r)))
    );
    // Unknown: a JSON 404.
    let unknown = "00000000000000000000000000000000000000ff";
    for path in [
        format!("/api/v1/torrents/{unknown}"),
        format!("/api/v1/torrents/{unknown}/explain"),
    ] {
        let a = get(&client, &server.url(&path)).await;
        assert_eq!(a.status, 404, "{path}");
        assert_eq!(a.json["error"]["code"], "not_found");
    }
    server.stop().await;
}

#[tokio::test]
async fn explain_says_what_the_rules_say() {
    let records = corpus();
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    let a = get(
        &client,
        &server.url(&format!("/api/v1/torrents/{}/explain", hex(&records[0]))),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json,
        json!({
            "rules_rev": "test",
            "content_type": "movie",
            "tags": ["hd"],
            "fired": ["test_rule"],
            "drop": null,
            "errors": [],
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn stats_count_the_store_and_the_crawler() {
    let records = corpus();
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    let a = get(&client, &server.url("/api/v1/stats")).await;
    assert_eq!(a.status, 200);
    let s = &a.json;
    assert_eq!(s["torrents"], 12);
    assert_eq!(s["files"], 12);
    assert_eq!(s["file_rows"], 12);
    assert_eq!(s["blocked"], 0);
    assert_eq!(
        s["scraped"],
        records.iter().filter(|r| r.scraped_at.is_some()).count()
    );
    assert!(s["db_bytes"].as_u64().unwrap() > 0);
    assert!(s["crawler"].is_null());
    let by_type = s["by_content_type"].as_array().unwrap();
    assert_eq!(
        by_type
            .iter()
            .map(|t| t["count"].as_u64().unwrap())
            .sum::<u64>(),
        12
    );
    assert!(by_type.contains(&json!({"content_type": "software", "count": 2})));
    assert!(by_type.contains(&json!({"content_type": null, "count": 2})));
    // A crawler runs: its status, and rates (no history yet: since its start).
    *server.ops.crawler.lock().unwrap() = Some(web::CrawlerStatus {
        uptime_secs: 600,
        persisted: 300,
        sampled: 6_000,
        routing_table_nodes: 150,
        fetch_outcomes: vec![("ok".into(), 300), ("timeout".into(), 20)],
        ..Default::default()
    });
    let a = get(&client, &server.url("/api/v1/stats")).await;
    let c = &a.json["crawler"];
    assert_eq!(c["status"]["persisted"], 300);
    assert_eq!(c["status"]["routing_table_nodes"], 150);
    assert_eq!(c["rates"]["window_secs"], 600);
    assert_eq!(c["rates"]["persisted_per_minute"], 30.0);
    assert_eq!(c["rates"]["sampled_per_minute"], 600.0);
    server.stop().await;
}

#[tokio::test]
async fn reads_need_the_key_unless_open() {
    let records = corpus();
    let h = hex(&records[0]);
    let reads = [
        "/api/v1/search?q=bunny".to_owned(),
        format!("/api/v1/torrents/{h}"),
        format!("/api/v1/torrents/{h}/explain"),
        "/api/v1/stats".to_owned(),
    ];
    let closed = TestServer::start(&records, false).await;
    let client = Client::new();
    for path in &reads {
        let a = get(&client, &closed.url(path)).await;
        assert_eq!(a.status, 401, "{path}");
        assert_eq!(a.json["error"]["code"], "unauthorized");
        assert!(a.headers.contains_key("www-authenticate"));
        let a = call(
            &client,
            Method::GET,
            &closed.url(path),
            Some("wrong-key"),
            None,
        )
        .await;
        assert_eq!(a.status, 401, "{path} with a wrong key");
        let a = call(&client, Method::GET, &closed.url(path), Some(KEY), None).await;
        assert_eq!(a.status, 200, "{path} with X-Api-Key");
        let r = client
            .get(closed.url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} with Bearer");
        // A forged session cookie is nobody.
        let r = client
            .get(closed.url(path))
            .header("cookie", format!("{}=00ff00ff", web::SESSION_COOKIE))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a forged session");
    }
    // The spec is open: it describes, it reads nothing.
    let a = get(&client, &closed.url("/api/v1/openapi.json")).await;
    assert_eq!(a.status, 200);
    closed.stop().await;
    let open = TestServer::start(&records, true).await;
    for path in &reads {
        let a = get(&client, &open.url(path)).await;
        assert_eq!(a.status, 200, "{path} on an open server");
    }
    open.stop().await;
}

#[tokio::test]
async fn writes_need_the_key_even_when_reads_are_open() {
    let records = corpus();
    let server = TestServer::start(&records, true).await;
    let client = Client::new();
    let (h0, h1) = (hex(&records[0]), hex(&records[1]));
    let writes = [
        (Method::DELETE, format!("/api/v1/torrents/{h0}"), None),
        (
            Method::PUT,
            format!("/api/v1/torrents/{h0}/tags"),
            Some(r#"{"tags":["x"]}"#),
        ),
        (Method::POST, "/api/v1/reclassify".to_owned(), None),
    ];
    for (m, path, body) in &writes {
        for key in [None, Some("wrong-key"), Some("")] {
            let a = call(&client, m.clone(), &server.url(path), key, *body).await;
            assert_eq!(a.status, 401, "{m} {path} with {key:?}");
            assert_eq!(a.json["error"]["code"], "unauthorized");
        }
        let r = client
            .request(m.clone(), server.url(path))
            .header("cookie", format!("{}=00ff00ff", web::SESSION_COOKIE))
            .header("x-csrf-token", "00")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{m} {path} with a forged session");
    }
    // Nothing changed.
    let a = get(&client, &server.url(&format!("/api/v1/torrents/{h0}"))).await;
    assert_eq!(a.json["tags"], json!(["hd"]));
    // Tags, with X-Api-Key.
    let a = call(
        &client,
        Method::PUT,
        &server.url(&format!("/api/v1/torrents/{h1}/tags")),
        Some(KEY),
        Some(r#"{"tags":["watched","b-side","watched","été"]}"#),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json,
        json!({"infohash": h1, "tags": ["b-side", "watched", "été"]})
    );
    let a = get(&client, &server.url(&format!("/api/v1/torrents/{h1}"))).await;
    assert_eq!(a.json["tags"], json!(["b-side", "watched", "été"]));
    assert_eq!(a.json["content_type"], "movie", "the type stays");
    let a = get(&client, &server.url("/api/v1/search?tag=watched")).await;
    assert_eq!(names(&a), ["Big Buck Bunny 720p trailer"]);
    // Bad bodies.
    let url = server.url(&format!("/api/v1/torrents/{h1}/tags"));
    for (body, param) in [
        ("{", "body"),
        ("", "body"),
        ("tags=hd", "body"),
        (r#"{"tags":"hd"}"#, "tags"),
        (r#"{"tags":[1,2]}"#, "tags"),
        (r#"{"tag":["hd"]}"#, "tags"),
        (r#"{"tags":[""]}"#, "tags"),
        (r#"{"tags":["<script>"]}"#, "tags"),
    ] {
        let a = call(&client, Method::PUT, &url, Some(KEY), Some(body)).await;
        assert_bad(&a, param, body);
    }
    let too_many =
        json!({"tags": (0..33).map(|i| format!("t{i}")).collect::<Vec<_>>()}).to_string();
    let a = call(&client, Method::PUT, &url, Some(KEY), Some(&too_many)).await;
    assert_bad(&a, "tags", "33 tags");
    let r = client
        .put(&url)
        .header("x-api-key", KEY)
        .body(vec![0xFFu8, 0xFE, b'{'])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A body over the server's 64 KiB limit is refused before it is read.
    let huge = format!(r#"{{"tags":["{}"]}}"#, "a".repeat(100 << 10));
    let r = client
        .put(&url)
        .header("x-api-key", KEY)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Tags on a torrent not stored: 404.
    let unknown = "00000000000000000000000000000000000000ff";
    let a = call(
        &client,
        Method::PUT,
        &server.url(&format!("/api/v1/torrents/{unknown}/tags")),
        Some(KEY),
        Some(r#"{"tags":["x"]}"#),
    )
    .await;
    assert_eq!(a.status, 404);
    // Delete with Bearer: gone, blocked, and again is a no-op.
    let del = |h: String| {
        let client = client.clone();
        let url = server.url(&format!("/api/v1/torrents/{h}"));
        async move {
            let r = client.delete(url).bearer_auth(KEY).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        del(h0.clone()).await,
        json!({"infohash": h0, "was_stored": true, "newly_blocked": true})
    );
    let a = get(&client, &server.url(&format!("/api/v1/torrents/{h0}"))).await;
    assert_eq!(a.status, 404);
    let a = get(&client, &server.url("/api/v1/search?q=bunny")).await;
    assert_eq!(names(&a), ["Big Buck Bunny 720p trailer"]);
    assert_eq!(
        del(h0.clone()).await,
        json!({"infohash": h0, "was_stored": false, "newly_blocked": false})
    );
    // An unknown hash is blocked all the same.
    assert_eq!(
        del(unknown.to_owned()).await,
        json!({"infohash": unknown, "was_stored": false, "newly_blocked": true})
    );
    let a = get(&client, &server.url("/api/v1/stats")).await;
    assert_eq!(
        (a.json["torrents"].clone(), a.json["blocked"].clone()),
        (json!(11), json!(2))
    );
    // Reclassify.
    let a = call(
        &client,
        Method::POST,
        &server.url("/api/v1/reclassify"),
        Some(KEY),
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json,
        json!({"reclassified": 0, "dropped": 0, "rules_rev": "test"})
    );
    server.stop().await;
}

#[tokio::test]
async fn searches_over_the_rate_get_429() {
    let mut options = Options::new(KEY);
    options.open_reads = true;
    options.searches_per_sec = NonZeroU32::MIN; // 1/s, a burst of 4
    let server = TestServer::start_with(&corpus(), options).await;
    let client = Client::new();
    let url = server.url("/api/v1/search?q=bunny");
    let mut statuses = Vec::new();
    // The burst is 4 and one more is allowed per second: 20 requests would need 16 s to
    // pass without a 429. Stop at the first.
    for _ in 0..20 {
        let a = get(&client, &url).await;
        statuses.push(a.status.as_u16());
        if a.status == 429 {
            assert_eq!(a.json["error"]["code"], "rate_limited");
            let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=2).contains(&wait), "{wait}");
            break;
        }
        assert_eq!(a.status, 200);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses.len() >= 5, "the burst of 4 passes: {statuses:?}");
    // Other endpoints are not searches.
    let a = get(&client, &server.url("/api/v1/stats")).await;
    assert_eq!(a.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let server = TestServer::start(&corpus(), true).await;
    let client = Client::new();
    let h = hex(&corpus()[0]);
    for path in [
        "/api/v1".to_owned(),
        "/api/v1/".to_owned(),
        "/api/v1/nothing".to_owned(),
        "/api/v1/search/".to_owned(),
        "/api/v1/torrents".to_owned(),
        format!("/api/v1/torrents/{h}/files"),
        format!("/api/v1/torrents/{h}/explain/more"),
        "/api/v1/%FF".to_owned(),
    ] {
        let a = get(&client, &server.url(&path)).await;
        assert_eq!(a.status, 404, "{path}");
        assert_eq!(a.json["error"]["code"], "not_found", "{path}");
    }
    for (m, path, allow) in [
        (Method::POST, "/api/v1/search".to_owned(), "GET,HEAD"),
        (Method::DELETE, "/api/v1/stats".to_owned(), "GET,HEAD"),
        (
            Method::PATCH,
            format!("/api/v1/torrents/{h}"),
            "GET,HEAD,DELETE",
        ),
        (Method::GET, format!("/api/v1/torrents/{h}/tags"), "PUT"),
        (Method::GET, "/api/v1/reclassify".to_owned(), "POST"),
        (Method::PUT, "/api/v1/openapi.json".to_owned(), "GET,HEAD"),
    ] {
        let a = call(&client, m.clone(), &server.url(&path), Some(KEY), None).await;
        assert_eq!(a.status, 405, "{m} {path}");
        assert_eq!(a.json["error"]["code"], "method_not_allowed");
        let mut got: Vec<&str> = a.headers["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        let mut want: Vec<&str> = allow.split(',').collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{m} {path}");
    }
    server.stop().await;
}

/// The served spec parses as OpenAPI 3, documents the key, and every operation it lists is
/// routed (the unit test `the_spec_lists_every_route_served` checks the other direction).
#[tokio::test]
async fn the_spec_describes_what_is_served() {
    let records = corpus();
    let server = TestServer::start(&records, false).await;
    let client = Client::new();
    let a = get(&client, &server.url("/api/v1/openapi.json")).await;
    assert_eq!(a.status, 200);
    let spec = a.json;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        spec["components"]["securitySchemes"]["api_key"]["in"],
        "header"
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["api_key"]["name"],
        "X-Api-Key"
    );
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let search_params: Vec<&str> = spec["paths"]["/api/v1/search"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
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
        "cursor",
    ] {
        assert!(
            search_params.contains(&p),
            "{p} undocumented: {search_params:?}"
        );
    }
    // Every schema a response references exists.
    let text = spec.to_string();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(schemas.contains_key(name), "{name} referenced, not defined");
    }
    // Probe each documented operation on a stored torrent, the delete last.
    let h = hex(&records[3]);
    let mut operations: Vec<(Method, &String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase().parse().unwrap(), path));
        }
    }
    operations.sort_by_key(|(m, _)| *m == Method::DELETE);
    for (m, path) in &operations {
        let url = server.url(&path.replace("{infohash}", &h));
        let body = (*m == Method::PUT).then_some(r#"{"tags":["probe"]}"#);
        let a = call(&client, m.clone(), &url, Some(KEY), body).await;
        assert!(
            a.status.is_success(),
            "{m} {path}: documented, but answers {} {}",
            a.status,
            a.json
        );
    }
    assert_eq!(operations.len(), 8);
    server.stop().await;
}
