//! BitAgent's DHT node against a swarm of real libtorrent 2.1.1 sessions on loopback.
//!
//! Each test starts its own swarm of 20 libtorrent sessions (`tests/libtorrent/swarm.py`) on its
//! own range of 127.0.0.x addresses, each session seeding two small v1 torrents plus a "swarm
//! torrent" seeded by five of them. libtorrent's DoS blocker stays at its real default
//! (`dht_block_ratelimit` = 5: 50 packets from one IP in 10 s get that IP ignored for 5 minutes)
//! in every test. Our node binds its own 127.0.1.x address. Nothing leaves loopback.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use dht::Id20;
use infohash::InfoHash;
use net::{Node, NodeConfig};
use serde_json::json;
use support::Swarm;
use testkit::eventually;

const SWARM_SIZE: usize = 20;

async fn our_node(ip: &str, read_only: bool, seed: u64) -> Node {
    let mut cfg = NodeConfig::default();
    cfg.dht.read_only = read_only;
    cfg.dht.seed = seed;
    let bind: SocketAddr = format!("{ip}:0").parse().unwrap();
    Node::bind(bind, cfg)
        .await
        .expect("bind our node on loopback")
}

async fn table_size(node: &Node) -> usize {
    node.routing_table().await.expect("routing table").len()
}

/// Waits until our routing table holds at least `want` nodes (bounded); returns its size.
async fn wait_table(node: &Node, want: usize, limit: Duration) -> usize {
    let reached = eventually(limit, async || {
        let n = table_size(node).await;
        (n >= want).then_some(n)
    })
    .await;
    match reached {
        Some(n) => n,
        None => table_size(node).await,
    }
}

fn hex_hash(s: &str) -> InfoHash {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_node_bootstraps_fills_its_table_and_libtorrent_adopts_it() {
    let mut swarm = Swarm::start(SWARM_SIZE, "127.0.0.10", 6881, &[]);
    let nodes = swarm.node_addrs();
    let node = our_node("127.0.1.1", false, 1).await;
    let us = node.local_addr();

    // Bootstrap from one libtorrent session only.
    let boot = node.bootstrap(vec![nodes[0]]).await.expect("bootstrap");
    assert!(boot.responses > 0, "bootstrap got answers: {boot:?}");
    // Our table fills with the others (all 20 sessions, we learn 19 of them through the first).
    let n = wait_table(&node, SWARM_SIZE - 1, Duration::from_secs(20)).await;
    assert!(
        n >= SWARM_SIZE - 1,
        "routing table holds {n} of {SWARM_SIZE} libtorrent nodes"
    );
    let ours: BTreeSet<SocketAddr> = node
        .routing_table()
        .await
        .unwrap()
        .iter()
        .map(|n| n.addr)
        .collect();
    let theirs: BTreeSet<SocketAddr> = nodes.iter().copied().collect();
    assert!(
        ours.is_subset(&theirs),
        "only swarm nodes in our table: {ours:?}"
    );

    // They query us, we answer, and they put us in their tables (we are not read-only).
    // Both are state in two processes; poll them together, bounded.
    let adopted = eventually(Duration::from_secs(40), async || {
        let k = swarm.tables_holding(us);
        let answered = node.stats().await.unwrap().engine.queries_answered;
        (k >= SWARM_SIZE / 2 && answered > 0).then_some(k)
    })
    .await;
    let stats = node.stats().await.unwrap();
    assert!(
        adopted.is_some(),
        "libtorrent sessions holding us: {} (we answered {} queries)",
        swarm.tables_holding(us),
        stats.engine.queries_answered
    );
    assert!(stats.engine.queries_answered > 0);
    let p = swarm.packets(&us.to_string());
    assert_eq!(
        p["ro_flags"],
        json!(0),
        "a full node does not send ro=1: {p}"
    );
    assert!(swarm.bans().is_empty(), "no DoS bans: {:?}", swarm.bans());
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterative_get_peers_finds_the_seeders_with_a_scrape() {
    let swarm = Swarm::start(SWARM_SIZE, "127.0.0.40", 6881, &[]);
    let nodes = swarm.node_addrs();
    let (hash, seeders) = swarm.swarm_torrent();
    let node = our_node("127.0.1.2", true, 2).await;
    node.bootstrap(vec![nodes[SWARM_SIZE - 1]])
        .await
        .expect("bootstrap");
    wait_table(&node, SWARM_SIZE / 2, Duration::from_secs(20)).await;

    let r = node
        .lookup_peers(hex_hash(&hash), true, vec![])
        .await
        .expect("get_peers lookup");
    let found: BTreeSet<SocketAddr> = r.peers.iter().copied().collect();
    let want: BTreeSet<SocketAddr> = seeders.iter().copied().collect();
    assert!(
        want.is_subset(&found),
        "lookup found {found:?}, seeders are {want:?}; result {r:?}"
    );
    assert!(
        !r.closest.is_empty() && r.closest.iter().all(|(_, t)| t.is_some()),
        "tokens from get_peers: {r:?}"
    );
    // BEP-33: libtorrent sends BFsd/BFpe; all seeders share 127.0.0.x IPs, the estimate sees them.
    let seeds = r.scrape_seeds.expect("scrape bloom filters in replies");
    assert!(seeds >= 1.0, "seed estimate {seeds}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_infohashes_returns_what_libtorrent_stores() {
    let swarm = Swarm::start(SWARM_SIZE, "127.0.0.70", 6881, &[]);
    let nodes = swarm.node_addrs();
    let known: BTreeSet<InfoHash> = swarm.infohashes().iter().map(|h| hex_hash(h)).collect();
    let node = our_node("127.0.1.3", true, 3).await;
    let mut sampled = BTreeSet::new();
    let mut replies = 0;
    for (i, a) in nodes.iter().enumerate() {
        let r = node
            .sample(*a, Id20([i as u8; 20]))
            .await
            .expect("sample_infohashes answered");
        replies += 1;
        assert!(
            r.reply.interval.is_some(),
            "interval present: {:?}",
            r.reply
        );
        assert!(
            r.reply
                .num
                .is_some_and(|n| n as usize >= r.reply.samples.len()),
            "num: {:?}",
            r.reply
        );
        assert!(
            !r.reply.nodes.is_empty(),
            "BEP-51 replies carry nodes: {:?}",
            r.reply
        );
        sampled.extend(r.reply.samples);
    }
    assert_eq!(replies, SWARM_SIZE);
    // libtorrent announces v1 hashes of our v1-only torrents; every sample is one of them.
    let strangers: Vec<_> = sampled.difference(&known).collect();
    assert!(
        strangers.is_empty(),
        "samples that are no swarm torrent: {strangers:?}"
    );
    let coverage = sampled.len() as f64 / known.len() as f64;
    assert!(
        coverage >= 0.9,
        "samples cover {}/{} torrents",
        sampled.len(),
        known.len()
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_node_sends_ro_and_stays_out_of_their_tables() {
    let mut swarm = Swarm::start(SWARM_SIZE, "127.0.0.100", 6881, &[]);
    let nodes = swarm.node_addrs();
    let node = our_node("127.0.1.4", true, 4).await;
    let us = node.local_addr();
    node.bootstrap(vec![nodes[0]]).await.expect("bootstrap");
    let n = wait_table(&node, SWARM_SIZE - 1, Duration::from_secs(20)).await;
    assert!(
        n >= SWARM_SIZE / 2,
        "a read-only node still fills its own table: {n}"
    );
    for i in 0..4u8 {
        node.find_node(Id20([i * 60; 20])).await.expect("lookup");
    }
    // Ask libtorrent to add us explicitly: it pings, we must not answer, so it never adds us.
    assert_eq!(
        swarm.cmd(json!({"cmd": "add_node", "addr": us.to_string()}))["ok"],
        json!(true)
    );
    tokio::time::sleep(Duration::from_secs(6)).await; // libtorrent's own ping cadence; nothing to await on our side
    let p = swarm.packets(&us.to_string());
    let queries: u64 = p["queries"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(queries > 0, "they received our queries: {p}");
    assert_eq!(
        p["ro_flags"].as_u64().unwrap(),
        queries,
        "every query carries ro=1: {p}"
    );
    assert_eq!(p["non_ro_queries"], json!(0), "{p}");
    assert_eq!(
        p["responses"],
        json!(0),
        "a read-only node answers nothing: {p}"
    );
    assert_eq!(
        swarm.tables_holding(us),
        0,
        "BEP-43: read-only nodes stay out of routing tables"
    );
    let stats = node.stats().await.unwrap();
    assert_eq!(stats.engine.queries_answered, 0);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_crawl_stays_under_libtorrents_real_dos_limit() {
    let mut swarm = Swarm::start(SWARM_SIZE, "127.0.0.130", 6881, &[]);
    assert_eq!(
        swarm.ready["block_ratelimit"],
        json!(5),
        "libtorrent's real default DoS limit"
    );
    let nodes = swarm.node_addrs();
    let hashes = swarm.infohashes();
    let node = our_node("127.0.1.5", true, 5).await;
    let us = node.local_addr();
    node.bootstrap(vec![nodes[0]]).await.expect("bootstrap");

    // Far more work than the budget allows at once: get_peers lookups for every torrent,
    // find_node lookups and samples of every node, all issued together. The per-IP budget
    // (1 query/s, burst 4) makes them queue; we watch for 20 s, then stop.
    let mut tasks = tokio::task::JoinSet::new();
    for h in &hashes {
        let n = node.clone();
        let h = hex_hash(h);
        tasks.spawn(async move { n.lookup_peers(h, true, vec![]).await.is_ok() });
    }
    for (i, a) in nodes.iter().enumerate() {
        let (n, a, t) = (node.clone(), *a, Id20([(i as u8).wrapping_mul(13); 20]));
        tasks.spawn(async move { n.sample(a, t).await.is_ok() });
        let n = node.clone();
        tasks.spawn(async move { n.find_node(t).await.is_ok() });
    }
    let offered = tasks.len();
    let mut completed = 0;
    let watch = tokio::time::sleep(Duration::from_secs(20));
    tokio::pin!(watch);
    loop {
        tokio::select! {
            r = tasks.join_next() => match r {
                Some(Ok(true)) => completed += 1,
                Some(_) => {}
                None => break,
            },
            _ = &mut watch => break,
        }
    }
    tasks.abort_all();
    assert!(completed > 0, "some of the {offered} operations completed");
    let stats = node.stats().await.unwrap();
    let p = swarm.packets("127.0.1.5");
    let bans = swarm.bans();
    eprintln!(
        "operations offered {offered}, completed in 20 s {completed}, queries sent {}, deferred by budget {}, \
         max packets from us to one session in 10 s: {}",
        stats.engine.queries_sent.total(),
        stats.engine.queries_deferred,
        p["max_in_any_10s"]
    );
    assert!(
        stats.engine.queries_deferred > 0,
        "the per-IP budget actually held queries back"
    );
    assert!(bans.is_empty(), "libtorrent banned us: {bans:?}");
    let max = p["max_in_any_10s"].as_u64().unwrap();
    assert!(
        max < 50,
        "{max} packets from {us} to one session within 10 s"
    );
    assert!(
        max <= 15,
        "budget is 1/s burst 4: at most 14 per 10 s, saw {max}"
    );

    // Control: the detector works. A raw flood from another loopback IP gets that IP banned.
    let sock = std::net::UdpSocket::bind("127.0.1.99:0").unwrap();
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    for _ in 0..120 {
        sock.send_to(ping, nodes[1]).unwrap();
    }
    let banned = eventually(Duration::from_secs(5), async || {
        swarm
            .bans()
            .iter()
            .any(|b| b["ip"] == json!("127.0.1.99"))
            .then_some(())
    })
    .await;
    assert!(banned.is_some(), "control flood was not detected as a ban");
    assert!(
        !swarm.bans().iter().any(|b| b["ip"] == json!("127.0.1.5")),
        "and we are still not banned"
    );
    node.shutdown().await;
}
