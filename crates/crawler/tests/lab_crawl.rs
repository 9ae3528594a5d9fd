//! End to end against our own lab: 100 full DHT nodes seeding 1,000 synthetic torrents on
//! loopback. The crawler must persist at least 95% of them, every row equal to what the lab
//! created, then shut down cleanly (routing table saved, database consistent), and a second
//! run must bootstrap from the saved routing table alone.

use std::net::SocketAddr;
use std::time::Duration;

use lab::swarm::LabConfig;
use testkit::crawl::{self, CrawlFixture};

const NODES: usize = 100;
const TORRENTS: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawls_at_least_95_percent_of_a_100_node_lab() {
    let seed = testkit::rng::seed_or(0x1ab_5eed);
    let _seed = testkit::SeedGuard::new("crawls_at_least_95_percent_of_a_100_node_lab", seed);
    eprintln!("lab seed {seed} (set BITAGENT_TEST_SEED to reproduce another)");
    let lab = crawl::start_lab(LabConfig {
        nodes: NODES,
        torrents: TORRENTS,
        first_ip: "127.0.4.10".parse().unwrap(),
        port: 0,
        seed,
        sample_interval: Duration::from_secs(2),
        ..LabConfig::default()
    })
    .await;

    let fx = CrawlFixture::on_lab(&lab, "127.0.4.1:0".parse().unwrap(), seed)
        .save_nodes()
        .start()
        .await;
    let marks = crawl::marks(TORRENTS as u64, &[50, 90, 95, 100]);
    let progress = fx
        .wait_persisted(TORRENTS as u64, Duration::from_secs(150), &marks)
        .await;
    let got = progress.persisted;
    for (n, t) in &progress.marks {
        eprintln!("{n} torrents persisted after {t:.1?}");
    }
    let crawler = fx.crawler;
    let m = crawler.metrics();
    eprintln!(
        "{}",
        crawl::metric_lines(
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
        let Some(row) = store.get(&t.info_hash).unwrap() else {
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
    let (saved, _) = crawler::nodes_file::load(&fx.dir.path().join(crawl::NODES_FILE)).unwrap();
    assert!(saved.len() >= 20, "only {} nodes saved", saved.len());
    let unreachable: SocketAddr = "127.0.4.250:9".parse().unwrap();
    let before = lab.total_connects();
    let fx = CrawlFixture::builder(
        "127.0.4.2:0".parse().unwrap(),
        seed + 1,
        crawl::test_config(vec![unreachable.to_string()]),
    )
    .save_nodes()
    .in_dir(fx.dir)
    .start()
    .await;
    let crawler = &fx.crawler;
    testkit::eventually(Duration::from_secs(60), async || {
        (crawler.metrics().dedup.with("stored").get() >= 100).then_some(())
    })
    .await;
    let m = crawler.metrics();
    let restarted_table = crawler.status().routing_table;
    let stored_hits = m.dedup.with("stored").get();
    let fetch_ok = m.fetch.with("ok").get();
    let store = fx.crawler.shutdown(Duration::from_secs(5)).await;
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
