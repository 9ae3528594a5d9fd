//! `/feed` over a real socket, parsed by a real XML parser: every hostile name survives as
//! text, newest first, filters, magnets, links and the API key.

mod support;

use store::TorrentRecord;
use support::{KEY, TestServer, corpus, record};

/// The shared corpus (markup, quotes, `]]>`, U+202E in names) plus names with characters
/// XML 1.0 cannot carry, and with tab, CR and LF, which it can.
fn lab() -> Vec<TorrentRecord> {
    let mut v = corpus();
    v.push(record(
        13,
        "ctl\u{1}name\u{FFFF}x\u{FFFE}\u{8}\u{b}\u{c}\u{1f}end",
        13 << 20,
        None,
        None,
    ));
    v.push(record(
        14,
        "tab\there\r\nnext line \u{85}\u{7f} '&amp;' <![CDATA[x]]>",
        14 << 20,
        Some(1),
        Some("music"),
    ));
    v
}

/// What XML 1.0 can carry of a name: everything but C0 controls other than tab, LF and
/// CR, and U+FFFE/U+FFFF.
fn visible(s: &str) -> String {
    s.chars()
        .filter(|c| {
            matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
        .collect()
}

#[derive(Debug)]
struct Item {
    title: String,
    guid: String,
    link: String,
    pub_date: String,
    category: Option<String>,
    enclosure_url: String,
    enclosure_type: String,
}

fn text_of(n: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    n.children()
        .find(|c| c.has_tag_name(name))
        .map(|c| c.text().unwrap_or("").to_owned())
}

/// The channel title and items of a feed.
fn parse(body: &str) -> (String, Vec<Item>) {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let rss = doc.root_element();
    assert!(rss.has_tag_name("rss"));
    assert_eq!(rss.attribute("version"), Some("2.0"));
    let channel = rss.children().find(|c| c.has_tag_name("channel")).unwrap();
    let items = channel
        .children()
        .filter(|c| c.has_tag_name("item"))
        .map(|i| {
            let enc = i.children().find(|c| c.has_tag_name("enclosure")).unwrap();
            Item {
                title: text_of(i, "title").unwrap(),
                guid: text_of(i, "guid").unwrap(),
                link: text_of(i, "link").unwrap(),
                pub_date: text_of(i, "pubDate").unwrap(),
                category: text_of(i, "category"),
                enclosure_url: enc.attribute("url").unwrap().to_owned(),
                enclosure_type: enc.attribute("type").unwrap().to_owned(),
            }
        })
        .collect();
    (text_of(channel, "title").unwrap(), items)
}

async fn feed(client: &reqwest::Client, server: &TestServer, query: &str) -> (String, Vec<Item>) {
    let r = client
        .get(server.url(&format!("/feed?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    assert_eq!(
        r.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    parse(&r.text().await.unwrap())
}

#[tokio::test]
async fn every_hostile_name_parses_back_as_text() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let r = client.get(server.url("/feed")).send().await.unwrap();
    let body = r.text().await.unwrap();
    for injected in ["<img", "<svg", "<details", "<![CDATA["] {
        assert!(!body.contains(injected), "{injected} in {body}");
    }
    let (_, items) = parse(&body);
    assert_eq!(items.len(), records.len());
    for r in &records {
        let h = r.info_hash.to_string();
        let it = items.iter().find(|i| i.guid == h).unwrap();
        assert_eq!(it.title, visible(&r.name), "{:?}", r.name);
        assert_eq!(it.link, server.url(&format!("/torrents/{h}")));
        assert!(
            it.enclosure_url
                .starts_with(&format!("magnet:?xt=urn:btih:{h}&dn="))
        );
        assert!(it.enclosure_url.ends_with(&format!("&xl={}", r.total_size)));
        assert_eq!(it.enclosure_type, "application/x-bittorrent");
        assert_eq!(it.category, r.content_type);
    }
    // The characters XML cannot carry are the only ones missing.
    let ctl = items
        .iter()
        .find(|i| i.guid == records[12].info_hash.to_string())
        .unwrap();
    assert_eq!(ctl.title, "ctlnamexend");
    let ws = items
        .iter()
        .find(|i| i.guid == records[13].info_hash.to_string())
        .unwrap();
    assert_eq!(
        ws.title, records[13].name,
        "tab, CR, LF, NEL and DEL survive"
    );
    server.stop().await;
}

#[tokio::test]
async fn newest_first_unless_sorted_and_filtered_like_a_search() {
    let records = lab();
    let server = TestServer::start(&records, true).await;
    let client = reqwest::Client::new();
    let (title, items) = feed(&client, &server, "").await;
    assert_eq!(title, "BitAgent");
    let mut newest: Vec<&TorrentRecord> = records.iter().collect();
    newest.sort_by_key(|r| std::cmp::Reverse(r.seen_at));
    assert_eq!(
        items.iter().map(|i| i.guid.clone()).collect::<Vec<_>>(),
        newest
            .iter()
            .map(|r| r.info_hash.to_string())
            .collect::<Vec<_>>()
    );
    // The newest, first seen at 1,700,000,000 + 14 h.
    assert_eq!(items[0].pub_date, "Wed, 15 Nov 2023 12:13:20 +0000");
    let (title, music) = feed(&client, &server, "type=music&q=jazz").await;
    assert_eq!(title, "BitAgent: jazz [music]");
    assert_eq!(music.len(), 1);
    assert_eq!(music[0].guid, records[11].info_hash.to_string());
    let (_, by_size) = feed(&client, &server, "sort=size&limit=3").await;
    let mut sizes: Vec<&TorrentRecord> = records.iter().collect();
    sizes.sort_by_key(|r| std::cmp::Reverse(r.total_size));
    assert_eq!(
        by_size.iter().map(|i| i.guid.clone()).collect::<Vec<_>>(),
        sizes[..3]
            .iter()
            .map(|r| r.info_hash.to_string())
            .collect::<Vec<_>>()
    );
    // A Host header that is not a host is not echoed into the links.
    let r = client
        .get(server.url("/feed?limit=1"))
        .header("host", "x\"><svg onload=alert(1)>")
        .send()
        .await
        .unwrap();
    let (_, odd) = parse(&r.text().await.unwrap());
    assert_eq!(
        odd[0].link,
        format!("http://localhost/torrents/{}", odd[0].guid)
    );
    let (_, few) = feed(&client, &server, "limit=2").await;
    assert_eq!(few.len(), 2);
    // A bad parameter is the API's 400 naming it.
    let r = client
        .get(server.url("/feed?type=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["parameter"], "type");
    server.stop().await;
}

#[tokio::test]
async fn closed_reads_need_the_key_as_apikey() {
    let server = TestServer::start(&lab(), false).await;
    let client = reqwest::Client::new();
    for q in ["", "?apikey=wrong", "?apikey="] {
        let r = client
            .get(server.url(&format!("/feed{q}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{q}");
    }
    let (_, items) = feed(&client, &server, &format!("apikey={KEY}&type=movie")).await;
    assert_eq!(items.len(), 3);
    server.stop().await;
}
