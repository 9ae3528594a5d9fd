//! Decoding real datagrams captured from libtorrent 2.1.1 on loopback
//! (`tests/libtorrent/capture.py` wrote them; our socket was 127.0.1.50:50712).

use std::net::SocketAddr;

use krpc::{Kind, Message, Method, Response};

fn load(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/captured/lt211-{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn us() -> SocketAddr {
    "127.0.1.50:50712".parse().unwrap()
}

/// Decodes a captured reply, checks libtorrent's envelope (`v`, `ip`), returns the response.
fn reply<'a>(bytes: &'a [u8], tid: &[u8]) -> Response<'a> {
    let m = Message::decode(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.tid, tid);
    assert_eq!(&m.version.unwrap()[..2], b"LT");
    assert_eq!(m.ip, Some(us()), "BEP-42 ip field: where libtorrent saw us");
    assert!(!m.read_only);
    // Re-encoding keeps every field we model (libtorrent's extra `p` key is dropped).
    let mut out = Vec::new();
    m.encode(&mut out).unwrap();
    assert_eq!(Message::decode(&out).unwrap(), m);
    match m.kind {
        Kind::Response(r) => r,
        k => panic!("expected a response, got {k:?}"),
    }
}

#[test]
fn ping_reply() {
    let b = load("ping-reply");
    let r = reply(&b, b"p1");
    assert!(r.nodes.is_empty() && r.token.is_none());
}

#[test]
fn find_node_reply_has_seven_loopback_nodes() {
    let b = load("find_node-reply");
    let r = reply(&b, b"fn");
    let nodes: Vec<_> = r.nodes.iter().collect();
    assert_eq!(nodes.len(), 7, "182 bytes = 7 compact nodes");
    assert!(
        nodes
            .iter()
            .all(|n| n.addr.ip().is_loopback() && n.addr.port() == 6881)
    );
}

#[test]
fn get_peers_replies() {
    let b = load("get_peers-values-reply");
    let r = reply(&b, b"gp");
    let peers: Vec<SocketAddr> = r.values.iter().collect();
    assert_eq!(peers.len(), 3, "the three seeders of the swarm torrent");
    assert!(
        peers
            .iter()
            .all(|p| p.ip().is_loopback() && p.port() == 6881)
    );
    assert_eq!(
        r.token.map(<[u8]>::len),
        Some(4),
        "libtorrent tokens are 4 bytes"
    );

    let b = load("get_peers-nodes-reply");
    let r = reply(&b, b"gn");
    assert!(r.values.is_empty() && r.nodes.len() == 7 && r.token.is_some());
}

#[test]
fn get_peers_scrape_reply_has_filters_instead_of_values() {
    let b = load("get_peers-scrape-reply");
    let r = reply(&b, b"gs");
    assert!(
        r.values.is_empty(),
        "libtorrent answers scrape=1 without values"
    );
    let seeds = krpc::scrape_estimate(r.bf_seeds.expect("BFsd"));
    let peers = krpc::scrape_estimate(r.bf_peers.expect("BFpe"));
    // Three seeders on distinct loopback IPs, no downloaders.
    assert!((seeds - 3.0).abs() < 0.5, "seeds {seeds}");
    assert!(peers.abs() < 0.5, "peers {peers}");
}

#[test]
fn sample_infohashes_reply() {
    let b = load("sample_infohashes-reply");
    let r = reply(&b, b"si");
    let samples = r.samples.expect("samples");
    assert_eq!(samples.len(), 17);
    assert_eq!(r.num, Some(17));
    assert_eq!(
        r.interval,
        Some(0),
        "the swarm runs with dht_sample_infohashes_interval = 0"
    );
    assert_eq!(r.nodes.len(), 7);
}

#[test]
fn announce_peer_reply_and_errors() {
    let b = load("announce_peer-reply");
    reply(&b, b"an");
    for (name, tid) in [
        ("announce_peer-bad-token-error", &b"ab"[..]),
        ("unknown-method-error", b"uk"),
    ] {
        let b = load(name);
        let m = Message::decode(&b).unwrap();
        assert_eq!(m.tid, tid);
        match m.kind {
            // libtorrent answers both with 203 (protocol error), and adds an `r` we ignore.
            Kind::Error(e) => assert_eq!(
                e.code,
                203,
                "{name}: {:?}",
                String::from_utf8_lossy(e.message)
            ),
            k => panic!("{name}: {k:?}"),
        }
    }
}

#[test]
fn libtorrents_own_probe_query() {
    // libtorrent checks a new node with a get_peers for a random infohash, not a ping.
    let b = load("incoming-query");
    let m = Message::decode(&b).unwrap();
    assert!(!m.read_only);
    match m.kind {
        Kind::Query(q) => assert!(matches!(
            q.method,
            Method::GetPeers {
                scrape: false,
                noseed: false,
                ..
            }
        )),
        k => panic!("{k:?}"),
    }
}
