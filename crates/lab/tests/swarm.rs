//! The lab swarm end to end on loopback (127.0.2.x, a range no other test uses): 100 nodes
//! seeding 1,000 torrents; every torrent's metadata fetched from its seeder; BEP-51 samples
//! from replica nodes; iterative `get_peers` lookups from an outside node finding the seeders;
//! handshake counting. Every await is bounded.

use std::collections::HashSet;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dht::Id20;
use infohash::InfoHash;
use lab::swarm::{Lab, LabConfig, LabTorrent};
use net::peerwire::FetchConfig;
use net::peerwire::handshake::encode_handshake;
use net::{Node, NodeConfig, fetch_metadata};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const LIMIT: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    testkit::within(LIMIT, what, f).await
}

fn check_metadata(t: &LabTorrent, m: &peerwire::Metadata) {
    assert_eq!(m.info.name, t.name);
    assert_eq!(m.info.total_size, t.total_size, "{}", t.name);
    assert_eq!(m.info.piece_length, Some(t.piece_length));
    assert_eq!(m.info.private, t.private);
    let files: Vec<(String, u64)> = m
        .info
        .files
        .iter()
        .map(|f| (f.path.join("/"), f.length))
        .collect();
    assert_eq!(files, t.files, "{}", t.name);
    assert_eq!(m.info_bytes, t.info_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_nodes_serve_a_thousand_torrents() {
    let first_ip = Ipv4Addr::new(127, 0, 2, 10);
    let t = Instant::now();
    let lab = within(
        "lab start",
        Lab::start(LabConfig {
            nodes: 100,
            torrents: 1000,
            first_ip,
            port: 0,
            seed: 2024,
            ..LabConfig::default()
        }),
    )
    .await
    .expect("lab starts");
    let report = lab.startup().clone();
    eprintln!(
        "lab of 100 nodes / 1,000 torrents ready in {:?}: {report:?}",
        t.elapsed()
    );

    // Layout: consecutive loopback addresses, every torrent seeded and replicated.
    assert_eq!(lab.node_addrs().len(), 100);
    assert_eq!(lab.bootstrap(), lab.node_addrs()[0]);
    for (i, a) in lab.node_addrs().iter().enumerate() {
        let want = Ipv4Addr::from(u32::from(first_ip) + i as u32);
        assert_eq!(a.ip(), want);
    }
    assert_eq!(lab.torrents().len(), 1000);
    let hashes: HashSet<InfoHash> = lab.torrents().iter().map(|t| t.info_hash).collect();
    assert_eq!(hashes.len(), 1000);
    for t in lab.torrents() {
        assert_eq!(t.seeders.len(), 1);
        assert_eq!(t.replicas.len(), 8);
    }
    assert!(report.min_near_known >= lab::swarm::NEAR_REQUIRED);

    // Every torrent's metadata from its seeder, 32 at a time.
    let t = Instant::now();
    let torrents: Arc<Vec<LabTorrent>> = Arc::new(lab.torrents().to_vec());
    let mut fetches = JoinSet::new();
    let mut next = 0;
    let mut done = 0;
    while done < torrents.len() {
        while next < torrents.len() && fetches.len() < 32 {
            let torrents = Arc::clone(&torrents);
            let i = next;
            fetches.spawn(async move {
                let t = &torrents[i];
                let m = fetch_metadata(
                    t.seeders[0],
                    t.info_hash,
                    net::peer_id(),
                    FetchConfig::default(),
                    Duration::from_secs(5),
                )
                .await
                .unwrap_or_else(|e| panic!("fetch {} from {}: {e}", t.name, t.seeders[0]));
                check_metadata(t, &m);
            });
            next += 1;
        }
        within("a metadata fetch", fetches.join_next())
            .await
            .expect("a fetch is running")
            .expect("fetch task");
        done += 1;
    }
    eprintln!("1,000 metadata fetches in {:?}", t.elapsed());
    for t in lab.torrents() {
        assert_eq!(lab.connects(&t.info_hash), 1, "{}", t.name);
    }
    assert_eq!(lab.total_connects(), 1000);
    assert!(lab.pieces_served() >= 1000);

    // A handshake for a hash the node does not seed: counted, then closed.
    let other = &lab.torrents()[1];
    let not_its_seeder = *lab
        .node_addrs()
        .iter()
        .find(|a| !other.seeders.contains(a))
        .unwrap();
    handshake_then_eof(not_its_seeder, other.info_hash).await;
    assert_eq!(lab.connects(&other.info_hash), 2);
    handshake_then_eof(lab.bootstrap(), InfoHash::v1([0xee; 20])).await;
    assert_eq!(lab.connects(&InfoHash::v1([0xee; 20])), 0);
    assert_eq!(lab.unknown_connects(), 1);
    assert_eq!(lab.total_connects(), 1002);

    // An outside node: BEP-51 samples from replica nodes hold lab hashes only.
    let mut cfg = NodeConfig::default();
    cfg.dht.seed = 7;
    cfg.dht.per_ip_query_rate = dht::Rate {
        per_second: 10.0,
        burst: 20.0,
    };
    let client = Node::bind("127.0.2.250:0".parse().unwrap(), cfg)
        .await
        .expect("client binds");
    for t in lab.torrents().iter().take(5) {
        let r = within("sample", client.sample(t.replicas[0], Id20([0x42; 20])))
            .await
            .expect("sample answered");
        assert!(!r.reply.samples.is_empty());
        assert!(r.reply.num.unwrap_or(0) >= r.reply.samples.len() as i64);
        assert_eq!(r.reply.interval, Some(5));
        for h in &r.reply.samples {
            assert!(hashes.contains(h), "sampled a hash the lab does not have");
        }
    }

    // Iterative lookups from the outside find the seeders.
    let t = Instant::now();
    let joined = within("client bootstrap", client.bootstrap(vec![lab.bootstrap()]))
        .await
        .expect("client joins");
    assert!(joined.responses > 0);
    for lt in lab.torrents().iter().step_by(50) {
        let r = within(
            "lookup",
            client.lookup_peers(lt.info_hash, false, Vec::new()),
        )
        .await
        .expect("lookup runs");
        assert!(
            r.peers.contains(&lt.seeders[0]),
            "{}: lookup found {:?}, seeder {}",
            lt.name,
            r.peers,
            lt.seeders[0]
        );
    }
    let r = within(
        "lookup",
        client.lookup_peers(InfoHash::v1([0xee; 20]), false, Vec::new()),
    )
    .await
    .expect("lookup runs");
    assert!(r.peers.is_empty());
    eprintln!("21 iterative lookups in {:?}", t.elapsed());

    client.shutdown().await;
    within("lab shutdown", lab.shutdown()).await;
}

/// Connects, sends a handshake for `hash`, and expects the node to close without a word.
async fn handshake_then_eof(addr: SocketAddr, hash: InfoHash) {
    let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
    s.write_all(&encode_handshake(&hash.dht_key(), &net::peer_id()))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = within("close", s.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(
        n, 0,
        "the node answered a handshake for a torrent it does not seed"
    );
}

#[tokio::test]
async fn refuses_addresses_outside_loopback() {
    let e = Lab::start(LabConfig {
        nodes: 3,
        torrents: 1,
        first_ip: Ipv4Addr::new(10, 0, 0, 1),
        ..LabConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(e, lab::swarm::LabError::NotLoopback(_)), "{e}");
}

#[tokio::test]
async fn a_single_node_lab_is_ready_at_once() {
    let lab = within(
        "lab start",
        Lab::start(LabConfig {
            nodes: 1,
            torrents: 3,
            first_ip: Ipv4Addr::new(127, 0, 3, 10),
            port: 0,
            ..LabConfig::default()
        }),
    )
    .await
    .expect("lab starts");
    let t = &lab.torrents()[0];
    let m = within(
        "fetch",
        fetch_metadata(
            t.seeders[0],
            t.info_hash,
            net::peer_id(),
            FetchConfig::default(),
            Duration::from_secs(5),
        ),
    )
    .await
    .expect("fetch");
    check_metadata(t, &m);
    within("lab shutdown", lab.shutdown()).await;
}
