//! End to end against our own lab: 100 full DHT nodes seeding 1,000 synthetic torrents on
//! loopback. The crawler must persist at least 95% of them, every row equal to what the lab
//! created, then shut down cleanly (routing table saved, database consistent), and a second
//! run must bootstrap from the saved routing table alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crawler::{AllowAll, Crawler, CrawlerConfig};
use lab::swarm::{Lab, LabConfig};
use net::Node;
use store::{InfoHash, SqliteStore};

const NODES: usize = 100;
const TORRENTS: usize = 1_000;

fn crawler_config(bootstrap: Vec<String>, dir: &std::path::Path) -> CrawlerConfig {
    let mut c = CrawlerConfig::scaled(1);
    c.bootstrap = bootstrap;
    c.nodes_file = Some(dir.join("dht_nodes.txt"));
    // A 100-node lab never reaches the public-DHT threshold: sampling starts on the stall.
    c.sample_threshold = 300;
    c.stall_after = Duration::from_secs(3);
    c.connect_timeout = Duration::from_secs(2);
    c.fetch.total_timeout = Duration::from_secs(10);
    c
}

async fn wait_for(
    crawler: &Crawler,
    want: u64,
    limit: Duration,
    marks: &mut Vec<(u64, Duration)>,
) -> u64 {
    let start = Instant::now();
    let mut next_mark = 0;
    let wanted: Vec<u64> = [50u64, 90, 95, 100]
        .iter()
        .map(|p| (TORRENTS as u64 * p).div_ceil(100))
        .collect();
    loop {
        let n = crawler.status().persisted;
        while next_mark < wanted.len() && n >= wanted[next_mark] {
            marks.push((wanted[next_mark], start.elapsed()));
            next_mark += 1;
        }
        if n >= want || start.elapsed() >= limit {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawls_at_least_95_percent_of_a_100_node_lab() {
    let seed = std::env::var("LAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1ab_5eed);
    eprintln!("lab seed {seed} (set LAB_SEED to reproduce another)");
    let t0 = Instant::now();
    let lab = Lab::start(LabConfig {
        nodes: NODES,
        torrents: TORRENTS,
        first_ip: "127.0.4.10".parse().unwrap(),
        port: 0,
        seed,
        sample_interval: Duration::from_secs(2),
        ..LabConfig::default()
    })
    .await
    .expect("lab starts");
    eprintln!("lab ready in {:?}", t0.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bitagent.sqlite3");
    let cfg = crawler_config(vec![lab.bootstrap().to_string()], dir.path());
    let node = Node::bind("127.0.4.1:0".parse().unwrap(), cfg.node_config(seed))
        .await
        .unwrap();
    let store = SqliteStore::open(&db).unwrap();
    let crawler = Crawler::start(node, Box::new(store), Arc::new(AllowAll), cfg).await;
    let mut marks = Vec::new();
    let got = wait_for(
        &crawler,
        TORRENTS as u64,
        Duration::from_secs(150),
        &mut marks,
    )
    .await;
    for (n, t) in &marks {
        eprintln!("{n} torrents persisted after {t:.1?}");
    }
    let m = crawler.metrics();
    eprintln!(
        "{}",
        grep(
            &m.render(),
            &[
                "fetch_total",
                "persisted",
                "request_total",
                "dedup",
                "crawl_table_nodes"
            ]
        )
    );
    let store = crawler.shutdown(Duration::from_secs(5)).await;
    assert!(
        got * 100 >= TORRENTS as u64 * 95,
        "only {got} of {TORRENTS} torrents persisted (seed {seed})"
    );

    // Every stored row is exactly what the lab created.
    let stats = store.stats().unwrap();
    assert!(stats.torrents * 100 >= TORRENTS as u64 * 95);
    let mut checked = 0;
    for t in lab.torrents() {
        let Some(row) = store.get(&InfoHash(t.info_hash)).unwrap() else {
            continue;
        };
        checked += 1;
        assert_eq!(row.name, t.name, "name of {}", row.info_hash);
        assert_eq!(row.total_size, t.total_size, "size of {}", row.info_hash);
        assert_eq!(
            row.file_count as usize,
            t.files.len(),
            "file count of {}",
            row.name
        );
        let files: Vec<(String, u64)> =
            row.files.iter().map(|f| (f.path.clone(), f.size)).collect();
        let want: Vec<(String, u64)> = t.files.iter().take(store.file_cap()).cloned().collect();
        assert_eq!(files, want, "files of {}", row.name);
        assert_eq!(row.private, t.private);
        assert_eq!(row.piece_length, Some(t.piece_length));
    }
    assert_eq!(
        checked as u64, stats.torrents,
        "no row that the lab did not create"
    );
    assert!(store.integrity_check().unwrap().is_empty());
    drop(store);

    // The routing table was saved; a restart with an unreachable router still joins through
    // it, and finds everything already stored (no fetch for a known torrent).
    let (saved, _) = crawler::nodes_file::load(&dir.path().join("dht_nodes.txt")).unwrap();
    assert!(saved.len() >= 20, "only {} nodes saved", saved.len());
    let unreachable: SocketAddr = "127.0.4.250:9".parse().unwrap();
    let cfg = crawler_config(vec![unreachable.to_string()], dir.path());
    let node = Node::bind("127.0.4.2:0".parse().unwrap(), cfg.node_config(seed + 1))
        .await
        .unwrap();
    let before = lab.total_connects();
    let crawler = Crawler::start(
        node,
        Box::new(SqliteStore::open(&db).unwrap()),
        Arc::new(AllowAll),
        cfg,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crawler.metrics().dedup.with("stored").get() < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let m = crawler.metrics();
    let restarted_table = crawler.status().routing_table;
    let stored_hits = m.dedup.with("stored").get();
    let fetch_ok = m.fetch.with("ok").get();
    let store = crawler.shutdown(Duration::from_secs(5)).await;
    eprintln!(
        "restart: routing table {restarted_table}, {stored_hits} sampled hashes found stored, {fetch_ok} fetched, {} new TCP connects",
        lab.total_connects() - before
    );
    assert!(
        restarted_table > 0,
        "the restart joined through the saved routing table"
    );
    assert!(
        stored_hits >= 100,
        "the restart sampled known torrents: {stored_hits}"
    );
    // Only the few torrents the first run missed may be fetched now.
    assert!(fetch_ok as u64 + got <= TORRENTS as u64);
    assert!(store.integrity_check().unwrap().is_empty());
    lab.shutdown().await;
}

fn grep(text: &str, keys: &[&str]) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#') && keys.iter().any(|k| l.contains(k)) && !l.ends_with(" 0"))
        .collect::<Vec<_>>()
        .join("\n")
}
