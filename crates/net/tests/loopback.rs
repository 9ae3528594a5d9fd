//! Nodes talking to each other over loopback (127.0.0.0/8 only). Every await is bounded.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use dht::{Event, Id20, NodeInfo, Rate};
use infohash::InfoHash;
use net::{Error, Events, Node, NodeConfig};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(15);

async fn within<T>(f: impl Future<Output = T>) -> T {
    testkit::within(LIMIT, "test step", f).await
}

fn config(seed: u64) -> NodeConfig {
    let mut c = NodeConfig::default();
    c.dht.seed = seed;
    c.dht.query_timeout = Duration::from_millis(1500);
    let fast = Rate {
        per_second: 1000.0,
        burst: 1000.0,
    };
    c.dht.per_ip_query_rate = fast;
    c.dht.per_ip_answer_rate = fast;
    c.max_wait = LIMIT;
    c
}

async fn node_at(ip: &str, seed: u64) -> Node {
    node_with(ip, config(seed)).await
}

async fn node_with(ip: &str, cfg: NodeConfig) -> Node {
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    within(Node::bind(addr, cfg))
        .await
        .expect("bind on loopback")
}

async fn id_of(n: &Node) -> Id20 {
    within(n.id()).await.unwrap()
}

/// Waits for the first event matching `pred` (bounded by [`LIMIT`]).
async fn wait_for(events: &mut Events, mut pred: impl FnMut(&Event) -> bool) -> Event {
    within(async {
        loop {
            let e = events.recv().await.expect("event stream ended");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
}

/// Polls `f` until it returns true (bounded: 3 s), else fails the test.
async fn eventually(mut f: impl AsyncFnMut() -> bool) {
    let reached =
        testkit::eventually(Duration::from_secs(3), async || f().await.then_some(())).await;
    assert!(reached.is_some(), "condition not reached in 3 s");
}

fn hash(b: u8) -> InfoHash {
    InfoHash::v1([b; 20])
}

#[tokio::test]
async fn ping_between_two_nodes() {
    let a = node_at("127.0.0.1", 1).await;
    let b = node_at("127.0.0.2", 2).await;
    let pong = within(a.ping(b.local_addr())).await.unwrap();
    assert_eq!(pong.from, b.local_addr());
    assert_eq!(pong.reply.id, id_of(&b).await);
    assert_eq!(pong.reply.our_addr, Some(a.local_addr()));
    assert_eq!(pong.reply.version.as_deref(), Some(&b"BA\x00\x01"[..]));
    let sb = within(b.stats()).await.unwrap();
    assert_eq!(sb.engine.queries_received.ping, 1);
    assert_eq!(sb.engine.queries_answered, 1);
    let sa = within(a.stats()).await.unwrap();
    assert_eq!(sa.engine.replies, 1);
    assert_eq!(sa.driver.send_errors, 0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn unanswered_ping_times_out() {
    let a = node_at("127.0.0.1", 3).await;
    let silent = within(UdpSocket::bind("127.0.0.3:0")).await.unwrap();
    let to = silent.local_addr().unwrap();
    match within(a.ping(to)).await {
        Err(Error::Timeout { to: t }) => assert_eq!(t, to),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(within(a.stats()).await.unwrap().engine.timeouts, 1);
    a.shutdown().await;
}

#[tokio::test]
async fn find_node_at_returns_a_node_the_responder_knows() {
    let a = node_at("127.0.0.1", 4).await;
    let b = node_at("127.0.0.2", 5).await;
    let c = node_at("127.0.0.3", 6).await;
    let c_id = id_of(&c).await;
    let mut b_events = within(b.subscribe()).await.unwrap();
    // C's query makes B ping C back; C's answer puts C in B's table.
    within(c.ping(b.local_addr())).await.unwrap();
    wait_for(
        &mut b_events,
        |e| matches!(e, Event::NodeAdded(n) if n.id == c_id),
    )
    .await;
    let table = within(b.routing_table()).await.unwrap();
    let c_info = NodeInfo {
        id: c_id,
        addr: c.local_addr(),
    };
    assert!(table.contains(&c_info), "{table:?}");

    let r = within(a.find_node_at(b.local_addr(), c_id)).await.unwrap();
    assert_eq!(r.reply.id, id_of(&b).await);
    assert!(r.reply.nodes.contains(&c_info), "{:?}", r.reply.nodes);
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn sample_returns_locally_added_infohashes() {
    let a = node_at("127.0.0.1", 7).await;
    let b = node_at("127.0.0.2", 8).await;
    let peer: SocketAddr = "127.0.0.9:6881".parse().unwrap();
    assert!(
        within(b.add_local_peer(hash(0xab), peer, false))
            .await
            .unwrap()
    );
    assert!(
        within(b.add_local_peer(hash(0xcd), peer, true))
            .await
            .unwrap()
    );
    assert_eq!(within(b.stats()).await.unwrap().stored_infohashes, 2);

    let mut a_events = within(a.subscribe()).await.unwrap();
    let r = within(a.sample(b.local_addr(), Id20::ZERO)).await.unwrap();
    let mut samples = r.reply.samples.clone();
    samples.sort();
    assert_eq!(samples, vec![hash(0xab), hash(0xcd)]);
    assert_eq!(r.reply.num, Some(2));
    assert!(r.reply.interval.is_some_and(|i| i > 0));
    // The same samples are also published as an event for the crawler.
    let e = wait_for(&mut a_events, |e| matches!(e, Event::Samples { .. })).await;
    let Event::Samples { from, hashes, .. } = e else {
        unreachable!()
    };
    assert_eq!(from.addr, b.local_addr());
    assert_eq!(hashes.len(), 2);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn get_peers_announce_and_lookup() {
    let a = node_at("127.0.0.1", 9).await;
    let b = node_at("127.0.0.2", 10).await;
    let c = node_at("127.0.0.3", 11).await;
    let seeded: SocketAddr = "127.0.0.9:6881".parse().unwrap();
    within(b.add_local_peer(hash(1), seeded, true))
        .await
        .unwrap();

    // Direct get_peers: the stored peer and a write token.
    let r = within(a.get_peers_at(b.local_addr(), hash(1), true))
        .await
        .unwrap();
    assert_eq!(r.reply.peers, vec![seeded]);
    assert!(r.reply.scrape_seeds.is_some_and(|s| s >= 0.5));

    // Announce with the token for another hash, then find it from a third node.
    let r = within(a.get_peers_at(b.local_addr(), hash(2), false))
        .await
        .unwrap();
    let token = r.reply.token.expect("get_peers answers carry a token");
    let mut b_events = within(b.subscribe()).await.unwrap();
    within(a.announce_at(b.local_addr(), hash(2), Some(6000), token))
        .await
        .unwrap();
    let announced = SocketAddr::new(a.local_addr().ip(), 6000);
    wait_for(
        &mut b_events,
        |e| matches!(e, Event::Announced { info_hash, peer } if *info_hash == hash(2) && *peer == announced),
    )
    .await;

    // Bad token: a KRPC error comes back as Error::Remote.
    match within(a.announce_at(b.local_addr(), hash(2), Some(6000), b"nope".to_vec())).await {
        Err(Error::Remote { code: 203, to, .. }) => assert_eq!(to, b.local_addr()),
        other => panic!("expected KRPC error 203, got {other:?}"),
    }

    // Iterative: C joins through B, then looks both hashes up.
    let joined = within(c.bootstrap(vec![b.local_addr()])).await.unwrap();
    assert!(joined.responses >= 1, "{joined:?}");
    let found = within(c.lookup_peers(hash(2), false, Vec::new()))
        .await
        .unwrap();
    assert_eq!(found.peers, vec![announced]);
    assert!(found.closest.iter().any(|(n, _)| n.addr == b.local_addr()));
    let found = within(c.lookup_peers(hash(1), true, Vec::new()))
        .await
        .unwrap();
    assert_eq!(found.peers, vec![seeded]);
    assert!(found.scrape_seeds.is_some());
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn bootstrap_and_find_node_lookup_fill_tables() {
    let a = node_at("127.0.0.1", 12).await;
    let b = node_at("127.0.0.2", 13).await;
    let c = node_at("127.0.0.3", 14).await;
    let (a_id, b_id) = (id_of(&a).await, id_of(&b).await);
    let mut b_events = within(b.subscribe()).await.unwrap();

    let r = within(a.bootstrap(vec![b.local_addr()])).await.unwrap();
    assert!(r.closest.iter().any(|(n, _)| n.id == b_id), "{r:?}");
    let ta = within(a.routing_table()).await.unwrap();
    assert!(ta.iter().any(|n| n.id == b_id));
    // B heard A's query, pinged it back and took it in.
    wait_for(
        &mut b_events,
        |e| matches!(e, Event::NodeAdded(n) if n.id == a_id),
    )
    .await;

    // C joins through A and learns B from it.
    within(c.bootstrap(vec![a.local_addr()])).await.unwrap();
    let found = within(c.find_node(b_id)).await.unwrap();
    assert_eq!(found.target, b_id);
    assert_eq!(found.closest.first().map(|(n, _)| n.id), Some(b_id));
    let tc = within(c.routing_table()).await.unwrap();
    assert!(tc.iter().any(|n| n.id == a_id));
    assert!(within(c.stats()).await.unwrap().engine.lookups_done >= 2);
    for n in [a, b, c] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn read_only_node_sends_ro_and_answers_nothing() {
    let mut cfg = config(15);
    cfg.dht.read_only = true;
    let ro = node_with("127.0.0.1", cfg).await;
    let full = node_at("127.0.0.2", 16).await;

    // Its queries carry ro=1 ...
    let raw = within(UdpSocket::bind("127.0.0.3:0")).await.unwrap();
    let raw_addr = raw.local_addr().unwrap();
    let pinger = ro.clone();
    let pending = tokio::spawn(async move { pinger.ping(raw_addr).await });
    let mut buf = [0u8; 1500];
    let (n, from) = within(raw.recv_from(&mut buf)).await.unwrap();
    assert_eq!(from, ro.local_addr());
    let query = &buf[..n];
    assert!(
        query.windows(7).any(|w| w == b"2:roi1e"),
        "{:?}",
        String::from_utf8_lossy(query)
    );
    pending.abort();

    // ... so a full node answers but neither keeps nor pings it.
    within(ro.ping(full.local_addr())).await.unwrap();
    let sf = within(full.stats()).await.unwrap();
    assert_eq!(sf.routing_table_nodes, 0);
    assert_eq!(sf.engine.queries_sent.total(), 0);

    // And it answers no query.
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    within(raw.send_to(ping, ro.local_addr())).await.unwrap();
    eventually(async || {
        within(ro.stats())
            .await
            .unwrap()
            .engine
            .queries_ignored_read_only
            == 1
    })
    .await;
    let silence = tokio::time::timeout(Duration::from_millis(300), raw.recv_from(&mut buf)).await;
    assert!(silence.is_err(), "a read-only node answered");
    ro.shutdown().await;
    full.shutdown().await;
}

#[tokio::test]
async fn malformed_datagrams_are_counted_not_fatal() {
    let a = node_at("127.0.0.1", 17).await;
    let raw = within(UdpSocket::bind("127.0.0.2:0")).await.unwrap();
    for junk in [&b"hello"[..], b"", b"d1:y1:q", &[0xff; 1400]] {
        within(raw.send_to(junk, a.local_addr())).await.unwrap();
    }
    eventually(async || within(a.stats()).await.unwrap().engine.malformed == 4).await;
    // Still alive and answering.
    let b = node_at("127.0.0.3", 18).await;
    within(b.ping(a.local_addr())).await.unwrap();
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn full_subscriber_drops_and_counts() {
    let mut cfg = config(19);
    cfg.event_capacity = 1;
    let a = node_with("127.0.0.1", cfg).await;
    let b = node_at("127.0.0.2", 20).await;
    let mut events = within(a.subscribe()).await.unwrap();
    for _ in 0..3 {
        within(a.ping(b.local_addr())).await.unwrap();
    }
    let s = within(a.stats()).await.unwrap();
    assert_eq!(s.driver.subscribers, 1);
    assert!(s.driver.events_dropped >= 2, "{:?}", s.driver);
    // The first one (B entering the table) fitted and is still there; nothing after it.
    assert!(matches!(events.try_recv(), Some(Event::NodeAdded(_))));
    assert!(events.try_recv().is_none());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_socket_and_fails_later_calls() {
    let a = node_at("127.0.0.1", 21).await;
    let addr = a.local_addr();
    let mut events = within(a.subscribe()).await.unwrap();
    within(a.shutdown()).await;
    within(a.shutdown()).await; // idempotent
    assert!(a.is_closed());
    assert!(matches!(within(a.ping(addr)).await, Err(Error::Shutdown)));
    assert!(matches!(within(a.stats()).await, Err(Error::Shutdown)));
    assert!(within(events.recv()).await.is_none());
    // The port is free again.
    let again = within(Node::bind(addr, config(22))).await;
    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test]
async fn dropping_every_handle_stops_the_task() {
    let a = node_at("127.0.0.1", 23).await;
    let mut events = within(a.subscribe()).await.unwrap();
    drop(a);
    assert!(within(events.recv()).await.is_none());
}

#[tokio::test]
async fn bind_error_is_typed() {
    let a = node_at("127.0.0.1", 24).await;
    match Node::bind(a.local_addr(), config(25)).await {
        Err(Error::Bind { addr, .. }) => assert_eq!(addr, a.local_addr()),
        other => panic!("expected a bind error, got {other:?}"),
    }
    a.shutdown().await;
}

#[tokio::test]
async fn resolve_needs_no_dns_for_literals_and_rejects_junk() {
    let v4 = net::resolve("127.0.0.1:6881").await.unwrap();
    assert_eq!(v4, vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]);
    for bad in ["nonsense", "127.0.0.1", "host:99999", ":80", "::1:80"] {
        assert!(
            matches!(net::resolve(bad).await, Err(Error::Resolve { .. })),
            "{bad}"
        );
    }
    let mixed = ["127.0.0.1:1", "[::1]:2", "127.0.0.1:1"];
    let only4 = net::resolve_routers(&mixed, false).await.unwrap();
    assert_eq!(only4, vec!["127.0.0.1:1".parse::<SocketAddr>().unwrap()]);
    let only6 = net::resolve_routers(&mixed, true).await.unwrap();
    assert_eq!(only6, vec!["[::1]:2".parse::<SocketAddr>().unwrap()]);
    assert!(net::resolve_routers(&["[::1]:2"], false).await.is_err());
}

/// Regression: the driver read one datagram past its receive batch and dropped it, so a burst
/// longer than `recv_batch` lost one datagram per batch (found by the lab under load).
#[tokio::test]
async fn a_burst_longer_than_the_receive_batch_loses_nothing() {
    let mut cfg = config(41);
    cfg.recv_batch = 3;
    let node = node_with("127.0.0.81", cfg).await;
    let sender = UdpSocket::bind("127.0.0.82:0").await.unwrap();
    // 50 well-formed pings from one socket, sent back to back: most are queued in the
    // kernel before the driver wakes up.
    for i in 0..50u8 {
        let msg = format!(
            "d1:ad2:id20:{}e1:q4:ping1:t2:a{}1:y1:qe",
            "x".repeat(20),
            i as char
        );
        sender
            .send_to(msg.as_bytes(), node.local_addr())
            .await
            .unwrap();
    }
    eventually(async || node.stats().await.unwrap().engine.rx_datagrams == 50).await;
}
