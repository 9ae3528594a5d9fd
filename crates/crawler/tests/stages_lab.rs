//! Pre-fetch filtering end to end on our lab: infohashes on a double-hash blocklist are never
//! connected to (the lab counts TCP connections per infohash), never stored; a list that
//! arrives later (a file that changes while the crawler runs) purges the torrent it names
//! from the store (deleted, not blocked there: the pre-fetch check keeps it out); the default
//! rules classify everything that is stored.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use classify::blocklist::hex_digest_line;
use classify::rules::RuleSet;
use crawler::stages::{Filters, load_blocklist, watch_blocklist};
use infohash::InfoHash;
use lab::swarm::LabConfig;
use testkit::crawl::{CrawlFixture, start_lab};

const NODES: usize = 60;
const TORRENTS: usize = 200;
const BLOCKED: usize = 20;

fn write_list(path: &Path, hashes: &[InfoHash]) {
    let mut text = String::from("# test blocklist: SHA-256 of raw infohashes\n");
    for h in hashes {
        text.push_str(&hex_digest_line(&h.dht_key()));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Whether `f` holds within `limit` (polled with [`testkit::eventually`]).
async fn until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    testkit::eventually(limit, async || f().then_some(()))
        .await
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_infohashes_are_never_connected_to_and_late_lists_purge() {
    let seed = testkit::rng::seed_or(0xb10c);
    let _guard = testkit::SeedGuard::new("stages_lab", seed);
    let lab = start_lab(LabConfig {
        nodes: NODES,
        torrents: TORRENTS,
        first_ip: "127.0.10.10".parse().unwrap(),
        port: 0,
        seed,
        sample_interval: Duration::from_secs(2),
        ..LabConfig::default()
    })
    .await;
    let hashes: Vec<InfoHash> = lab.torrents().iter().map(|t| t.info_hash).collect();
    let (blocked, allowed) = hashes.split_at(BLOCKED);

    let lists = tempfile::tempdir().unwrap();
    let list_a = lists.path().join("abuse.txt");
    let list_b = lists.path().join("late.txt");
    write_list(&list_a, blocked);
    write_list(&list_b, &[]);
    let paths = vec![list_a.clone(), list_b.clone()];
    let filters = Arc::new(Filters::new(
        load_blocklist(&paths).unwrap(),
        RuleSet::load(None).unwrap(),
    ));

    let fx = CrawlFixture::on_lab(&lab, "127.0.10.1:0".parse().unwrap(), seed)
        .filters(filters.clone(), filters.clone())
        .start()
        .await;
    let crawler = &fx.crawler;
    tokio::spawn(watch_blocklist(
        paths,
        filters.clone(),
        crawler.writer().unwrap(),
    ));

    // Everything allowed gets stored.
    let reader = fx.open_store();
    let all_in = fx
        .wait_persisted(allowed.len() as u64, Duration::from_secs(120), &[])
        .await
        .persisted
        >= allowed.len() as u64;
    crawler.flush().await;
    let m = crawler.metrics();
    let stored_allowed = allowed
        .iter()
        .filter(|h| store::Store::get(&reader, h).unwrap().is_some())
        .count();
    eprintln!(
        "{stored_allowed}/{} allowed torrents stored; prefetch drops {}; filter metrics:\n{}",
        allowed.len(),
        m.prefilter.with("drop").get(),
        filters.metrics.render()
    );
    assert!(all_in, "the allowed torrents were not all persisted");
    assert_eq!(stored_allowed, allowed.len());
    // The blocked ones were sampled (the crawler saw them) but never connected to or stored.
    assert!(
        m.prefilter.with("drop").get() >= BLOCKED as u64,
        "every blocked hash reached the filter"
    );
    for h in blocked {
        assert_eq!(lab.connects(h), 0, "a blocked infohash was connected to");
        assert!(store::Store::get(&reader, h).unwrap().is_none());
    }
    // Control: the allowed ones were connected to.
    assert!(allowed.iter().all(|h| lab.connects(h) > 0));
    // The default rules classified every stored torrent.
    let t = store::Store::get(&reader, &allowed[0]).unwrap().unwrap();
    assert!(
        t.content_type.is_some(),
        "stored torrents carry a content type"
    );

    // A list arriving later names a stored torrent: the watcher reloads and purges it.
    let victim = allowed[0];
    write_list(&list_b, &[victim]);
    let purged = until(Duration::from_secs(30), || {
        store::Store::get(&reader, &victim).unwrap().is_none()
    })
    .await;
    assert!(purged, "the late list purged the stored torrent");
    // Deleted, and not written to the store's own blocklist (that would reveal the raw
    // infohash a double-hash list hides); the pre-fetch check keeps it out.
    assert!(!store::Store::is_blocked(&reader, &victim).unwrap());
    assert!(
        filters
            .metrics
            .render()
            .contains("bitagent_blocklist_purged_total 1\n")
    );
    let store = fx.crawler.shutdown(Duration::from_secs(5)).await;
    assert!(store.integrity_check().unwrap().is_empty());
    lab.shutdown().await;
}
