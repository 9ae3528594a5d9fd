//! The whole crawl pipeline against real libtorrent 2.1.1: 30 sessions on loopback, each
//! seeding 5 small v1 torrents (plus the swarm torrent seeded by 5 of them: 151 torrents),
//! libtorrent's DoS blocker at its real default. Our crawler (read-only DHT node, bootstrapped
//! from one session) must persist at least 90% of them, every row exactly what libtorrent
//! created and nothing else, and no session may ever block us.
//!
//! How long it takes is set by our politeness, not by libtorrent: each candidate costs two
//! queries (`get_peers`, then the BEP-33 scrape) to the session that sampled it, at 1 query/s
//! per IP, and the first sessions sampled are the source of ~20 candidates each (about 50 s
//! for 100%). libtorrent's sample interval stays at the harness default (0: a fresh sample per
//! query); at its real default (21,600 s) one sample per session finds ~95% of the torrents.
//!
//! The swarm lives on 127.0.6.10–39 and our node on 127.0.6.1, a range no other test uses.
//! Nothing leaves loopback.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::InfoHash;
use support::Swarm;
use testkit::crawl::{self, CrawlFixture};

const NODES: usize = 30;
const TORRENTS_PER_NODE: usize = 5;
const FIRST_IP: &str = "127.0.6.10";
const OUR_IP: &str = "127.0.6.1";
/// libtorrent bans a source IP at `dht_block_ratelimit * 10` packets within 10 s.
const BAN_AT: u64 = 50;

/// What libtorrent put in one torrent's info dictionary.
#[derive(Debug)]
struct Created {
    name: String,
    total_size: u64,
    piece_length: u64,
    files: Vec<(String, u64)>,
}

/// Every torrent the swarm created (the per-session ones and the swarm torrent), by infohash.
fn created(swarm: &Swarm) -> BTreeMap<InfoHash, Created> {
    let mut all: Vec<&Value> = swarm.ready["torrents"].as_array().unwrap().iter().collect();
    if !swarm.ready["swarm_torrent"].is_null() {
        all.push(&swarm.ready["swarm_torrent"]);
    }
    all.into_iter()
        .map(|t| {
            let files = t["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let path: Vec<&str> = f["path"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect();
                    (path.join("/"), f["size"].as_u64().unwrap())
                })
                .collect();
            let c = Created {
                name: t["name"].as_str().unwrap().to_string(),
                total_size: t["total_size"].as_u64().unwrap(),
                piece_length: t["piece_length"].as_u64().unwrap(),
                files,
            };
            (t["infohash"].as_str().unwrap().parse().unwrap(), c)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawler_persists_a_30_session_libtorrent_swarm_without_being_blocked() {
    let seed = testkit::rng::seed_or(0xc4a1_5eed);
    let _seed = testkit::SeedGuard::new(
        "crawler_persists_a_30_session_libtorrent_swarm_without_being_blocked",
        seed,
    );
    eprintln!("crawl seed {seed} (set BITAGENT_TEST_SEED to reproduce another)");
    let t0 = Instant::now();
    let mut swarm = Swarm::start(
        NODES,
        FIRST_IP,
        6881,
        &["--torrents-per-node", &TORRENTS_PER_NODE.to_string()],
    );
    assert_eq!(
        swarm.ready["block_ratelimit"],
        json!(5),
        "libtorrent's real default DoS limit"
    );
    let created = created(&swarm);
    let total = created.len() as u64;
    assert!(
        total >= (NODES * TORRENTS_PER_NODE) as u64,
        "{total} torrents"
    );
    eprintln!(
        "libtorrent swarm of {NODES} sessions, {total} torrents, ready in {:?} (sample interval {})",
        t0.elapsed(),
        swarm.ready["sample_interval"]
    );

    // 30 sessions never reach the public-DHT threshold: sampling starts on the stall.
    let cfg = crawl::test_config(vec![swarm.node_addrs()[0].to_string()]);
    let fx = CrawlFixture::builder(format!("{OUR_IP}:0").parse().unwrap(), seed, cfg)
        .save_nodes()
        .start()
        .await;
    let marks = crawl::marks(total, &[50, 90, 100]);
    let progress = fx
        .wait_persisted(total, Duration::from_secs(150), &marks)
        .await;
    let (got, reached) = (progress.persisted, progress.marks);
    for (n, t) in &reached {
        eprintln!("{n} of {total} torrents persisted after {t:.1?}");
    }
    // The libtorrent swarm is another process: this one is the crawler (plus the harness).
    eprintln!("crawler process: {}", process_usage());
    let m = fx.crawler.metrics();
    eprintln!(
        "{}",
        crawl::metric_lines(
            &m.render(),
            &[
                "fetch_total",
                "persisted",
                "request_total",
                "dedup",
                "samples_received",
                "crawl_table_nodes",
                "routing_table_nodes",
                "packets_sent",
            ]
        )
    );
    let store = fx.crawler.shutdown(Duration::from_secs(5)).await;

    // What libtorrent saw of us: never blocked, never near the limit, nothing off loopback.
    let p = swarm.packets(OUR_IP);
    let bans = swarm.bans();
    let foreign = swarm.cmd(json!({"cmd": "foreign"}));
    eprintln!(
        "libtorrent received {} packets from {OUR_IP}: queries {}, ro=1 on {}, at most {} to one session in 10 s; bans {bans:?}",
        p["count"], p["queries"], p["ro_flags"], p["max_in_any_10s"]
    );
    let mut per_session: Vec<u64> = p["by_node"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .collect();
    per_session.sort_unstable();
    eprintln!("packets from us per session (sorted): {per_session:?}");
    assert!(
        !bans.iter().any(|b| b["ip"] == json!(OUR_IP)),
        "a libtorrent session blocked us: {bans:?}"
    );
    let max10 = p["max_in_any_10s"].as_u64().unwrap();
    assert!(
        max10 < BAN_AT,
        "{max10} packets from us to one session within 10 s"
    );
    assert_eq!(
        p["non_ro_queries"],
        json!(0),
        "every query is read-only: {p}"
    );
    assert_eq!(foreign["endpoints"], json!([]), "nothing off loopback");

    assert!(
        got * 100 >= total * 90,
        "only {got} of {total} torrents persisted in 150 s (seed {seed})"
    );
    // Every stored row is exactly what libtorrent created, and there is no other.
    let stats = store.stats().unwrap();
    let mut checked = 0u64;
    for (hash, t) in &created {
        let Some(row) = store.get(hash).unwrap() else {
            eprintln!("not persisted: {hash} {}", t.name);
            continue;
        };
        checked += 1;
        assert_eq!(row.name, t.name, "name of {hash}");
        assert_eq!(row.total_size, t.total_size, "size of {}", t.name);
        assert_eq!(
            row.file_count as usize,
            t.files.len(),
            "files of {}",
            t.name
        );
        let files: Vec<(String, u64)> =
            row.files.iter().map(|f| (f.path.clone(), f.size)).collect();
        assert_eq!(files, t.files, "files of {}", t.name);
        assert_eq!(
            row.piece_length,
            Some(t.piece_length),
            "piece length of {}",
            t.name
        );
        assert!(!row.private, "{} is not private", t.name);
        assert_eq!(row.meta_version, None, "{} is v1 only", t.name);
    }
    assert_eq!(
        checked, stats.torrents,
        "no row that libtorrent did not create"
    );
    assert!(checked * 100 >= total * 90, "{checked} of {total} stored");
    assert!(store.integrity_check().unwrap().is_empty());
}

/// CPU seconds (user + system, all threads) and peak RSS of this process, from /proc.
fn process_usage() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap_or("?")
        .trim()
        .to_owned();
    format!("{cpu:.2} CPU s, peak RSS {hwm}")
}
