//! Torznab over a real socket: caps, every `t=`, categories, season/episode, paging,
//! attributes, errors and the API key, parsed with a real XML parser.

mod support;

use std::collections::BTreeMap;

use store::TorrentRecord;
use support::{KEY, TestServer, corpus, record};

const NS: &str = "http://torznab.com/schemas/2015/feed";

/// The shared corpus plus torrents with season/episode, daily dates, formats and a name
/// with characters XML cannot carry.
fn lab() -> Vec<TorrentRecord> {
    let mut v = corpus();
    let mut add = |n: u8,
                   name: &str,
                   ct: Option<&str>,
                   seeders: Option<u32>,
                   attrs: &[(&str, &str)],
                   tags: &[&str]| {
        let mut r = record(n, name, u64::from(n) << 20, seeders, ct);
        r.attributes = attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        r.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        v.push(r);
    };
    add(
        13,
        "Some Show S01E04 2160p",
        Some("tv_show"),
        Some(9),
        &[("episode", "4"), ("resolution", "2160p"), ("season", "1")],
        &[],
    );
    add(
        14,
        "Daily Show 2024.03.15 720p",
        Some("tv_show"),
        Some(4),
        &[("resolution", "720p"), ("year", "2024")],
        &[],
    );
    add(
        15,
        "Daily Show 2024.03.16 720p",
        Some("tv_show"),
        Some(4),
        &[("resolution", "720p"), ("year", "2024")],
        &[],
    );
    add(
        16,
        "Some Show S02E02 480p",
        Some("tv_show"),
        None,
        &[("episode", "2"), ("resolution", "480p"), ("season", "2")],
        &[],
    );
    add(
        17,
        "ctl\u{1}name\u{FFFF}end\u{1b}[0m\u{FFFE}",
        None,
        None,
        &[],
        &[],
    );
    add(
        18,
        "Some Artist - Album (2001) MP3 320",
        Some("music"),
        Some(2),
        &[("audio", "mp3"), ("year", "2001")],
        &[],
    );
    add(
        19,
        "Some Artist - Live FLAC 24bit",
        Some("music"),
        Some(2),
        &[("audio", "flac")],
        &["lossless"],
    );
    add(
        20,
        "A Novel Audiobook",
        Some("audiobook"),
        Some(1),
        &[],
        &[],
    );
    add(21, "A Novel epub", Some("ebook"), Some(1), &[], &[]);
    v
}

/// What XML 1.0 can carry of a name (the rest is dropped by the server).
fn visible(s: &str) -> String {
    s.chars()
        .filter(|c| {
            matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Item {
    title: String,
    guid: String,
    link: String,
    comments: String,
    pub_date: String,
    size: String,
    enclosure: (String, String, String),
    attrs: Vec<(String, String)>,
}

impl Item {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn categories(&self) -> Vec<u32> {
        self.attrs
            .iter()
            .filter(|(k, _)| k == "category")
            .map(|(_, v)| v.parse().unwrap())
            .collect()
    }
}

fn child_text(n: roxmltree::Node<'_, '_>, name: &str) -> String {
    n.children()
        .find(|c| c.has_tag_name(name))
        .unwrap_or_else(|| panic!("no <{name}>"))
        .text()
        .unwrap_or("")
        .to_owned()
}

/// The items of a Torznab feed (checks the feed's shape on the way).
fn items(body: &str) -> Vec<Item> {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let rss = doc.root_element();
    assert!(rss.has_tag_name("rss"), "{body}");
    assert_eq!(rss.attribute("version"), Some("2.0"));
    assert_eq!(rss.lookup_namespace_uri(Some("torznab")), Some(NS));
    let channel = rss.children().find(|c| c.has_tag_name("channel")).unwrap();
    channel
        .children()
        .filter(|c| c.has_tag_name("item"))
        .map(|i| {
            let enc = i.children().find(|c| c.has_tag_name("enclosure")).unwrap();
            Item {
                title: child_text(i, "title"),
                guid: child_text(i, "guid"),
                link: child_text(i, "link"),
                comments: child_text(i, "comments"),
                pub_date: child_text(i, "pubDate"),
                size: child_text(i, "size"),
                enclosure: (
                    enc.attribute("url").unwrap().to_owned(),
                    enc.attribute("length").unwrap().to_owned(),
                    enc.attribute("type").unwrap().to_owned(),
                ),
                attrs: i
                    .children()
                    .filter(|c| c.has_tag_name((NS, "attr")))
                    .map(|a| {
                        (
                            a.attribute("name").unwrap().to_owned(),
                            a.attribute("value").unwrap().to_owned(),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `(code, description)` of an error answer (checks HTTP 200 and the XML type).
async fn error_of(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    let body = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).unwrap();
    let e = doc.root_element();
    assert!(e.has_tag_name("error"), "{url}: {body}");
    (
        e.attribute("code").unwrap().parse().unwrap(),
        e.attribute("description").unwrap().to_owned(),
    )
}

async fn get(client: &reqwest::Client, server: &TestServer, query: &str) -> String {
    let url = server.url(&format!("/torznab/api?{query}"));
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.contains("xml"), "{ct}");
    r.text().await.unwrap()
}

async fn guids(client: &reqwest::Client, server: &TestServer, query: &str) -> Vec<String> {
    items(&get(client, server, query).await)
        .into_iter()
        .map(|i| i.guid)
        .collect()
}

fn hash_of(records: &[TorrentRecord], n: u8) -> String {
    records[usize::from(n) - 1].info_hash.to_string()
}

fn hashes(records: &[TorrentRecord], ns: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = ns.iter().map(|n| hash_of(records, *n)).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn caps_lists_every_function_limit_and_category() {
    let server = TestServer::start(&lab(), false).await;
    let client = reqwest::Client::new();
    let body = get(&client, &server, &format!("t=caps&apikey={KEY}")).await;
    let doc = roxmltree::Document::parse(&body).unwrap();
    let caps = doc.root_element();
    assert!(caps.has_tag_name("caps"));
    let el = |name: &str| {
        caps.descendants()
            .find(|n| n.has_tag_name(name))
            .unwrap_or_else(|| panic!("no <{name}> in {body}"))
    };
    assert_eq!(el("server").attribute("title"), Some("BitAgent"));
    let limits = el("limits");
    let default: u32 = limits.attribute("default").unwrap().parse().unwrap();
    let max: u32 = limits.attribute("max").unwrap().parse().unwrap();
    assert_eq!((default, max), (100, 100));
    let searching = el("searching");
    let functions: BTreeMap<&str, (&str, &str)> = searching
        .children()
        .filter(|n| n.is_element())
        .map(|n| {
            (
                n.tag_name().name(),
                (
                    n.attribute("available").unwrap(),
                    n.attribute("supportedParams").unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(
        functions,
        BTreeMap::from([
            ("search", ("yes", "q")),
            ("tv-search", ("yes", "q,season,ep")),
            ("movie-search", ("yes", "q")),
            ("music-search", ("yes", "q,artist,album")),
            ("audio-search", ("yes", "q,artist,album")),
            ("book-search", ("yes", "q,author,title")),
        ])
    );
    let mut cats: BTreeMap<u32, (String, Vec<u32>)> = BTreeMap::new();
    for c in el("categories")
        .children()
        .filter(|n| n.has_tag_name("category"))
    {
        let id: u32 = c.attribute("id").unwrap().parse().unwrap();
        let subs = c
            .children()
            .filter(|n| n.has_tag_name("subcat"))
            .map(|s| {
                assert!(!s.attribute("name").unwrap().is_empty());
                s.attribute("id").unwrap().parse().unwrap()
            })
            .collect();
        cats.insert(id, (c.attribute("name").unwrap().to_owned(), subs));
    }
    let want: BTreeMap<u32, (&str, Vec<u32>)> = BTreeMap::from([
        (2000, ("Movies", vec![2030, 2040, 2045])),
        (3000, ("Audio", vec![3010, 3030, 3040])),
        (4000, ("PC", vec![4050])),
        (5000, ("TV", vec![5030, 5040, 5045])),
        (6000, ("XXX", vec![])),
        (7000, ("Books", vec![7020, 7030])),
        (8000, ("Other", vec![])),
    ]);
    assert_eq!(
        cats.iter()
            .map(|(k, (n, s))| (*k, (n.as_str(), s.clone())))
            .collect::<BTreeMap<_, _>>(),
        want
    );
    // The trailing-slash form Prowlarr builds from "URL .../torznab/" + "/api" also works.
    let again = get(&client, &server, &format!("t=caps&apikey={KEY}")).await;
    assert_eq!(again, body);
    let r = client
        .get(server.url(&format!("/torznab/api/?t=caps&apikey={KEY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), body);
    server.stop().await;
}

#[tokio::test]
async fn every_function_without_a_query_lists_the_newest() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let mut by_age: Vec<&TorrentRecord> = records.iter().collect();
    by_age.sort_by_key(|r| std::cmp::Reverse(r.seen_at));
    let newest: Vec<String> = by_age.iter().map(|r| r.info_hash.to_string()).collect();
    for t in [
        "search",
        "tvsearch",
        "movie",
        "music",
        "book",
        "tv-search",
        "audio",
    ] {
        let got = guids(&client, &server, &format!("t={t}")).await;
        assert_eq!(got, newest, "t={t}");
    }
    // What Sonarr's and Radarr's "Test" buttons send: their categories, no query.
    let tv = items(
        &get(
            &client,
            &server,
            "t=tvsearch&cat=5030,5040&extended=1&offset=0&limit=100",
        )
        .await,
    );
    assert!(!tv.is_empty());
    assert_eq!(
        tv[0].guid,
        hash_of(&records, 16),
        "the newest SD or HD episode first"
    );
    let movies = guids(
        &client,
        &server,
        "t=movie&cat=2000,2010,2030,2040,2045&extended=1",
    )
    .await;
    assert_eq!(
        movies,
        vec![
            hash_of(&records, 3),
            hash_of(&records, 2),
            hash_of(&records, 1)
        ]
    );
    // With words: what matches them.
    let q = guids(&client, &server, "t=search&q=big+buck+bunny").await;
    assert_eq!(sorted(q), hashes(&records, &[1, 2]));
    let music = guids(&client, &server, "t=music&artist=Some+Artist&album=Live").await;
    assert_eq!(music, vec![hash_of(&records, 19)]);
    let book = guids(&client, &server, "t=book&title=Novel&cat=7020").await;
    assert_eq!(book, vec![hash_of(&records, 21)]);
    server.stop().await;
}

#[tokio::test]
async fn categories_and_subcategories() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let cat = |c: &str| format!("t=search&cat={c}");
    for (c, want) in [
        ("2000", &[1, 2, 3][..]),
        // 1 is 1080p; 2 and 3 have no resolution attribute: unknown matches every subcategory.
        ("2040", &[1, 2, 3]),
        ("2045", &[2, 3]),
        // Sonarr's default: SD and HD episodes, and those of unknown resolution (7), not UHD (13).
        ("5030,5040", &[6, 7, 14, 15, 16]),
        ("5045", &[7, 13]),
        ("5030", &[7, 16]),
        ("3000", &[10, 11, 12, 18, 19, 20]),
        ("3010", &[10, 11, 12, 18]),
        ("3040", &[10, 11, 12, 19]),
        ("3030", &[20]),
        ("4000", &[4, 5]),
        ("4050", &[]),
        ("7000", &[21]),
        ("7030", &[]),
        ("8000", &[8, 9, 17]),
        ("2000,5045", &[1, 2, 3, 7, 13]),
        ("2045,8000", &[2, 3, 8, 9, 17]),
        // Numbers we do not serve match nothing; they do not widen a request.
        ("9999", &[]),
        ("2010,5070", &[]),
        ("3030,9999", &[20]),
    ] {
        let got = guids(&client, &server, &cat(c)).await;
        assert_eq!(sorted(got), hashes(&records, want), "cat={c}");
    }
    // Several content types come merged, newest first, and page like one list.
    let all = items(&get(&client, &server, "t=search").await);
    let movies_and_tv: Vec<String> = all
        .iter()
        .filter(|i| i.categories()[0] == 2000 || i.categories()[0] == 5000)
        .map(|i| i.guid.clone())
        .collect();
    assert_eq!(movies_and_tv.len(), 9);
    assert_eq!(
        guids(&client, &server, "t=search&cat=5000,2000").await,
        movies_and_tv
    );
    assert_eq!(
        guids(&client, &server, "t=search&cat=2000,5000&offset=3&limit=4").await,
        movies_and_tv[3..7]
    );
    // Each item carries its parent and, when known, its subcategory.
    let cats_of = |n: u8| {
        let h = hash_of(&records, n);
        all.iter().find(|i| i.guid == h).unwrap().categories()
    };
    for (n, want) in [
        (1, vec![2000, 2040]),
        (3, vec![2000]),
        (4, vec![4000]),
        (6, vec![5000, 5040]),
        (7, vec![5000]),
        (8, vec![8000]),
        (13, vec![5000, 5045]),
        (16, vec![5000, 5030]),
        (18, vec![3000, 3010]),
        (19, vec![3000, 3040]),
        (20, vec![3000, 3030]),
        (21, vec![7000, 7020]),
    ] {
        assert_eq!(cats_of(n), want, "record {n}");
    }
    server.stop().await;
}

#[tokio::test]
async fn season_episode_daily_and_ids() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    for (q, want) in [
        ("q=Some+Show&season=1&ep=2", &[6][..]),
        ("q=Some+Show&season=01&ep=02", &[6]),
        ("q=Some+Show&season=1", &[6, 13]),
        ("q=Some+Show&season=2", &[16]),
        ("q=Some+Show&ep=2", &[6, 16]),
        ("q=Some+Show&season=3", &[]),
        ("season=1&ep=4", &[13]),
        ("q=Daily+Show&season=2024&ep=03/15", &[14]),
        ("q=Daily+Show&season=2024&ep=3/16", &[15]),
        ("season=2024&ep=03/15&cat=5040", &[14]),
        ("q=Daily+Show&season=2023&ep=03/15", &[]),
        // Ids we do not have are accepted and ignored beside words...
        ("q=Some+Show&season=1&ep=2&imdbid=tt0000001&tvdbid=5", &[6]),
        // ...and alone they match nothing (never "the newest" for a precise question).
        ("imdbid=tt0000001", &[]),
        ("tvdbid=12345&season=1&ep=2", &[]),
    ] {
        let got = guids(&client, &server, &format!("t=tvsearch&{q}")).await;
        assert_eq!(sorted(got), hashes(&records, want), "{q}");
    }
    let movie = guids(
        &client,
        &server,
        "t=movie&q=Big+Buck+Bunny&imdbid=tt1254207",
    )
    .await;
    assert_eq!(sorted(movie), hashes(&records, &[1, 2]));
    let item =
        items(&get(&client, &server, "t=tvsearch&q=Some+Show&season=1&ep=2").await).remove(0);
    assert_eq!(
        (
            item.attr("season"),
            item.attr("episode"),
            item.attr("resolution")
        ),
        (Some("1"), Some("2"), Some("720p"))
    );
    server.stop().await;
}

#[tokio::test]
async fn offset_and_limit_page_through_the_same_list() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let all = guids(&client, &server, "t=search").await;
    assert_eq!(all.len(), records.len());
    for limit in [1, 5, 7] {
        let mut paged = Vec::new();
        for page in 0..30 {
            let got = guids(
                &client,
                &server,
                &format!("t=search&limit={limit}&offset={}", page * limit),
            )
            .await;
            assert!(got.len() <= limit);
            if got.is_empty() {
                break;
            }
            paged.extend(got);
        }
        assert_eq!(paged, all, "limit={limit}");
    }
    // Paging through a filtered list skips only matches.
    let tv = guids(&client, &server, "t=tvsearch&cat=5000").await;
    let second = guids(&client, &server, "t=tvsearch&cat=5000&offset=2&limit=2").await;
    assert_eq!(second, tv[2..4]);
    // Over the maximum: clamped, not refused; past the paging depth: an empty page.
    assert_eq!(guids(&client, &server, "t=search&limit=5000").await, all);
    assert!(
        guids(&client, &server, "t=search&offset=1000")
            .await
            .is_empty()
    );
    assert!(
        guids(&client, &server, "t=search&offset=99999999")
            .await
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test]
async fn items_carry_links_magnets_and_each_attribute_once() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let plain = items(&get(&client, &server, "t=search").await);
    let extended = items(&get(&client, &server, "t=search&extended=1").await);
    assert_eq!(plain.len(), records.len());
    for (a, b) in plain.iter().zip(&extended) {
        assert_eq!(
            a.attrs, b.attrs,
            "extended=1 gives every attribute either way"
        );
    }
    for r in &records {
        let h = r.info_hash.to_string();
        let it = extended.iter().find(|i| i.guid == h).unwrap();
        assert_eq!(it.title, visible(&r.name));
        let detail = server.url(&format!("/torrents/{h}"));
        assert_eq!((&it.link, &it.comments), (&detail, &detail));
        assert!(
            it.enclosure
                .0
                .starts_with(&format!("magnet:?xt=urn:btih:{h}&dn="))
        );
        assert_eq!(it.enclosure.1, r.total_size.to_string());
        assert_eq!(it.enclosure.2, "application/x-bittorrent");
        assert_eq!(it.size, r.total_size.to_string());
        assert_eq!(it.attr("size"), Some(it.size.as_str()));
        assert_eq!(it.attr("infohash"), Some(h.as_str()));
        assert_eq!(it.attr("magneturl"), Some(it.enclosure.0.as_str()));
        assert_eq!(it.attr("files"), Some("1"));
        // Never an attribute twice, except category.
        let mut names: Vec<&str> = it
            .attrs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| *k != "category")
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "{:?}", it.attrs);
        // Swarm counts only when measured (0 measured is still said).
        match r.seeders {
            Some(s) => {
                let l = s / 2;
                assert_eq!(it.attr("seeders"), Some(s.to_string().as_str()));
                assert_eq!(it.attr("leechers"), Some(l.to_string().as_str()));
                assert_eq!(it.attr("peers"), Some((s + l).to_string().as_str()));
            }
            None => {
                for k in ["seeders", "leechers", "peers"] {
                    assert_eq!(it.attr(k), None, "{k} of unscraped {:?}", r.name);
                }
            }
        }
    }
    let first = plain
        .iter()
        .find(|i| i.guid == hash_of(&records, 1))
        .unwrap();
    assert_eq!(first.pub_date, "Tue, 14 Nov 2023 23:13:20 +0000");
    assert_eq!(
        (
            first.attr("year"),
            first.attr("resolution"),
            first.attr("season")
        ),
        (Some("2008"), Some("1080p"), None)
    );
    // Behind a TLS proxy the links say https.
    let r = client
        .get(server.url("/torznab/api?t=search&limit=1"))
        .header("x-forwarded-proto", "https")
        .header("host", "bitagent.example:8443")
        .send()
        .await
        .unwrap();
    let it = items(&r.text().await.unwrap()).remove(0);
    assert_eq!(
        it.link,
        format!("https://bitagent.example:8443/torrents/{}", it.guid)
    );
    server.stop().await;
}

#[tokio::test]
async fn errors_have_their_codes() {
    let server = TestServer::start(&lab(), false).await;
    let client = reqwest::Client::new();
    let url = |q: &str| server.url(&format!("/torznab/api?{q}"));
    // Reads are closed: the key is required, for caps as for searches.
    for q in [
        "t=caps",
        "t=search",
        "t=search&apikey=wrong",
        "t=caps&apikey=",
    ] {
        assert_eq!(error_of(&client, &url(q)).await.0, 100, "{q}");
    }
    let k = format!("apikey={KEY}");
    for (q, code, param) in [
        (String::new(), 200, "t"),
        (format!("t=tvsearch&ep=03/15&{k}"), 200, "season"),
        (format!("t=search&cat=movies&{k}"), 201, "cat"),
        (format!("t=search&limit=ten&{k}"), 201, "limit"),
        (format!("t=search&limit=0&{k}"), 201, "limit"),
        (format!("t=search&offset=-1&{k}"), 201, "offset"),
        (format!("t=tvsearch&season=x&{k}"), 201, "season"),
        (format!("t=tvsearch&season=2024&ep=13/45&{k}"), 201, "ep"),
        (format!("t=search&q={}&{k}", "x".repeat(600)), 201, "q"),
        (format!("t=search&q=%22%22&{k}"), 201, "q"),
        // Not UTF-8: decoded lossily, no word left.
        (format!("t=search&q=%FF%FE&{k}"), 201, "q"),
        (format!("t=details&{k}"), 203, ""),
        (format!("t=%3Cscript%3E&{k}"), 203, ""),
    ] {
        let (got, description) = error_of(&client, &url(&format!("{q}&{k}"))).await;
        assert_eq!(got, code, "{q}: {description}");
        assert!(
            description.contains(&format!("({param})")) || param.is_empty(),
            "{q}: {description}"
        );
    }
    // The key opens everything.
    assert!(items(&get(&client, &server, &format!("t=search&{k}")).await).len() > 1);
    server.stop().await;
}

#[tokio::test]
async fn over_the_rate_is_a_429_with_error_900() {
    let mut options = web::Options::new(KEY);
    options.open_reads = true;
    options.searches_per_sec = std::num::NonZeroU32::new(1).unwrap();
    let server = TestServer::start_with(&lab(), options).await;
    let client = reqwest::Client::new();
    let mut limited = None;
    // A burst of 4 at 1/s: 20 searches in a row cannot all pass within the 10 s timeout.
    for _ in 0..20 {
        let r = client
            .get(server.url("/torznab/api?t=search&limit=1"))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let r = limited.expect("no search was limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).unwrap();
    let e = doc.root_element();
    assert!(e.has_tag_name("error"));
    assert_eq!(e.attribute("code"), Some("900"));
    assert_eq!(e.attribute("description"), Some("Request limit reached"));
    // Caps are not searches: still answered.
    let r = client
        .get(server.url("/torznab/api?t=caps"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn hostile_names_stay_text() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let body = get(&client, &server, "t=search").await;
    assert!(!body.contains("<img") && !body.contains("<svg") && !body.contains("<details"));
    assert!(!body.contains("CDATA"));
    let got = items(&body);
    for n in [8u8, 9, 10, 11, 17] {
        let r = &records[usize::from(n) - 1];
        let it = got
            .iter()
            .find(|i| i.guid == r.info_hash.to_string())
            .unwrap();
        assert_eq!(it.title, visible(&r.name), "record {n}");
    }
    let ctl = got
        .iter()
        .find(|i| i.guid == hash_of(&records, 17))
        .unwrap();
    assert_eq!(ctl.title, "ctlnameend[0m");
    server.stop().await;
}

#[tokio::test]
async fn a_year_ending_the_query_is_matched_on_the_year_attribute() {
    // What Radarr sends: `q=Title Year`. Names without the year still match; a torrent
    // known to be of another year does not, unless the number is in its name.
    let mut records = corpus();
    let mut remake = record(
        13,
        "Big Buck Bunny remake 1999",
        9 << 20,
        Some(1),
        Some("movie"),
    );
    remake.attributes = vec![("year".into(), "1999".into())];
    records.push(remake);
    let mut sequel = record(
        14,
        "Big Buck Bunny 2008 Returns 2011",
        9 << 20,
        Some(1),
        Some("movie"),
    );
    sequel.attributes = vec![("year".into(), "2011".into())];
    records.push(sequel);
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let got = guids(&client, &server, "t=movie&cat=2000&q=Big+Buck+Bunny+2008").await;
    assert_eq!(sorted(got), hashes(&records, &[1, 2, 14]));
    let got = guids(&client, &server, "t=search&q=Big+Buck+Bunny+1999").await;
    assert_eq!(sorted(got), hashes(&records, &[2, 13]));
    server.stop().await;
}
