//! SQLite-specific retention: eviction shrinks the file on disk, the per-call bound, upgrading
//! a v1 database (written by the v1 code) and compacting it.

use std::path::{Path, PathBuf};

use store::{
    Classification, EvictOutcome, InfoHash, SearchFilter, SqliteStore, Store, TorrentRecord,
};
use testkit::store_conformance::{test_hash, test_record};

/// Main file plus WAL, as `du` would see them.
fn disk_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn record(n: u64, files: usize) -> TorrentRecord {
    let paths: Vec<String> = (0..files)
        .map(|f| format!("Some Show/Season {}/Episode {n} part {f} 1080p.mkv", n % 7))
        .collect();
    let files: Vec<(&str, u64)> = paths.iter().map(|p| (p.as_str(), 1 << 30)).collect();
    let mut rec = test_record(
        n,
        &format!("Some Show {n} complete 1080p"),
        &files,
        n as i64,
    );
    if !n.is_multiple_of(3) {
        (rec.seeders, rec.leechers, rec.scraped_at) = (Some((n % 100) as u32), Some(1), Some(1));
    }
    rec.content_type = Some("tv".into());
    rec.tags = vec!["hd".into()];
    rec.attributes = vec![("resolution".into(), "1080p".into())];
    rec
}

fn fill(store: &mut SqliteStore, from: u64, to: u64, files: usize) {
    let recs: Vec<TorrentRecord> = (from..to).map(|n| record(n, files)).collect();
    for chunk in recs.chunks(500) {
        store.put_batch(chunk).unwrap();
    }
}

/// Calls `evict_to_size` until it reports the budget met; returns the total evicted and the
/// last outcome.
fn evict_all(store: &mut SqliteStore, budget: u64) -> (u64, EvictOutcome) {
    let mut total = 0;
    for _ in 0..1_000 {
        let out = store.evict_to_size(budget, 20_000, false).unwrap();
        total += out.evicted;
        if out.within_budget || out.evicted == 0 {
            return (total, out);
        }
    }
    panic!("eviction did not converge");
}

#[test]
fn new_databases_vacuum_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("new.db")).unwrap();
    assert_eq!(store.auto_vacuum().unwrap(), 2);
    drop(store);
    // Reopening keeps it; so does an in-memory store.
    let store = SqliteStore::open(dir.path().join("new.db")).unwrap();
    assert_eq!(store.auto_vacuum().unwrap(), 2);
    assert_eq!(
        SqliteStore::open_in_memory()
            .unwrap()
            .auto_vacuum()
            .unwrap(),
        2
    );
}

/// The file on disk, not just the pages in use, ends within the budget, and stays there
/// while a crawler keeps inserting and evicting.
#[test]
fn eviction_shrinks_the_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bitagent.db");
    let mut store = SqliteStore::open(&db).unwrap();
    fill(&mut store, 0, 4_000, 8);
    store.checkpoint().unwrap();
    let full = disk_bytes(&db);
    let budget = full / 2;
    let (evicted, out) = evict_all(&mut store, budget);
    let left = store.stats().unwrap().torrents;
    eprintln!(
        "file {full} B, budget {budget} B: evicted {evicted} of 4000 (ideal ~2100), \
         data {} B, file {} B on disk",
        out.bytes_after,
        disk_bytes(&db)
    );
    assert!(out.within_budget && !out.needs_compact, "{out:?}");
    assert!(disk_bytes(&db) <= budget, "{} > {budget}", disk_bytes(&db));
    assert_eq!(out.file_bytes, disk_bytes(&db));
    // Deleting rows frees a page only once it is empty (SQLite merges pages under a third
    // full): evicted rows scattered over the table leave pages partly used, so more torrents
    // go than a perfect packing would need. This test's order is the worst case (seeders
    // interleave with insertion order); about 1,300 of an ideal ~1,900 stay.
    assert!(
        left >= 1_000,
        "over-evicted: {left} of 4000 left for half the bytes"
    );
    // Steady state: insert, evict, and the file never ends a round above the budget.
    for round in 0..4u64 {
        let from = 10_000 + round * 500;
        fill(&mut store, from, from + 500, 8);
        let (_, out) = evict_all(&mut store, budget);
        assert!(out.within_budget, "round {round}: {out:?}");
        assert!(
            disk_bytes(&db) <= budget,
            "round {round}: {} > {budget}",
            disk_bytes(&db)
        );
    }
    assert!(store.integrity_check().unwrap().is_empty());
    // The policy: the best-seeded survive, the oldest unmeasured went first.
    assert!(store.get(&test_hash(98)).unwrap().is_some(), "98 seeders");
    assert!(
        store.get(&test_hash(0)).unwrap().is_none(),
        "unmeasured, oldest"
    );
}

/// At most `max_rows` (here 20,000) torrents per call, in batches; then "nothing left" is
/// reported as `evicted == 0 && !within_budget` so a caller does not spin.
#[test]
fn eviction_work_per_call_is_bounded() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let recs: Vec<TorrentRecord> = (0..21_000u64)
        .map(|n| test_record(n, "x", &[("x", 1)], 1))
        .collect();
    for chunk in recs.chunks(5_000) {
        store.put_batch(chunk).unwrap();
    }
    let first = store.evict_to_size(0, 20_000, false).unwrap();
    assert_eq!((first.evicted, first.within_budget), (20_000, false));
    let second = store.evict_to_size(0, 20_000, false).unwrap();
    assert_eq!((second.evicted, second.within_budget), (1_000, false));
    let third = store.evict_to_size(0, 20_000, false).unwrap();
    assert_eq!((third.evicted, third.within_budget), (0, false));
    assert_eq!(store.stats().unwrap().torrents, 0);
    assert!(store.integrity_check().unwrap().is_empty());
}

/// `tests/fixtures/v1.sqlite3` was written by the v1 store code (commit de020e2's
/// `crates/store`), with:
///
/// ```text
/// a = test_record(1, "Ubuntu 24.04 Desktop amd64", [("ubuntu-24.04-desktop-amd64.iso", 6e9)], 1_700_000_000)
///     with private = true, meta_version = Some(2)
/// b = test_record(2, "Émilie Jolie — Bande Originale", [("01 Générique.mp3", 1234), ("cover.jpg", 99)], 1_700_000_100)
/// c = test_record(3, "Some Movie 2024 1080p", [("movie.mkv", 2e9), ("subs/en.srt", 5000)], 1_700_000_200)
/// put_batch([a, b, c]); update_swarm(3: 42 seeders, 7 leechers at 1_700_000_300)
/// touch([1], 1_700_000_400); block([test_hash(9)], 1_700_000_500); checkpoint; VACUUM
/// ```
fn v1_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.sqlite3");
    let dst = dir.join("v1.sqlite3");
    std::fs::copy(src, &dst).unwrap();
    dst
}

#[test]
fn a_v1_database_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = v1_copy(dir.path());
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1, "the fixture is a v1 database");
    }
    let mut store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        store::sqlite::migrations::latest_version()
    );
    assert!(store.integrity_check().unwrap().is_empty());
    let a = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(a.name, "Ubuntu 24.04 Desktop amd64");
    assert!(a.private);
    assert_eq!(a.meta_version, Some(2));
    assert_eq!((a.first_seen, a.last_seen), (1_700_000_000, 1_700_000_400));
    assert_eq!(a.files[0].size, 6_000_000_000);
    let b = store.get(&test_hash(2)).unwrap().unwrap();
    assert_eq!(b.files.len(), 2);
    assert_eq!(b.files[0].path, "01 Générique.mp3");
    let c = store.get(&test_hash(3)).unwrap().unwrap();
    assert_eq!(
        (c.seeders, c.leechers, c.scraped_at),
        (Some(42), Some(7), Some(1_700_000_300))
    );
    // Unclassified after the upgrade; everything is pending reclassification.
    for t in [&a, &b, &c] {
        assert_eq!(
            (
                &t.content_type,
                t.tags.len(),
                t.attributes.len(),
                &t.classified_rev
            ),
            (&None, 0, 0, &None)
        );
    }
    assert_eq!(store.pending_reclassify("rules-1").unwrap(), 3);
    assert_eq!(store.counts_by_content_type().unwrap(), [(None, 3)]);
    // Search, block and dedup still work on the old rows.
    assert_eq!(
        store.search("emilie", 10).unwrap()[0].info_hash,
        test_hash(2)
    );
    assert!(store.is_blocked(&test_hash(9)).unwrap());
    assert_eq!(
        store
            .put_batch(&[test_record(9, "blocked", &[("b", 1)], 1)])
            .unwrap()
            .blocked,
        1
    );
    // Classification lands on the old rows.
    store
        .set_classification(&[Classification {
            info_hash: test_hash(3),
            content_type: Some("movie".into()),
            tags: vec!["hd".into()],
            attributes: vec![("resolution".into(), "1080p".into())],
            rev: "rules-1".into(),
        }])
        .unwrap();
    let movie = SearchFilter {
        content_type: Some("movie".into()),
        tag: Some("hd".into()),
    };
    assert_eq!(
        store.search_filtered("1080p", &movie, 10).unwrap()[0].name,
        "Some Movie 2024 1080p"
    );
    assert_eq!(store.pending_reclassify("rules-1").unwrap(), 2);
    assert!(store.integrity_check().unwrap().is_empty());
    drop(store);
    // Opening again is a no-op.
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.get(&test_hash(3)).unwrap().unwrap().tags, ["hd"]);
}

/// A v1 database has no incremental vacuum: eviction frees pages the file keeps, says so, and
/// one `compact` gives the space back and switches incremental vacuum on.
#[test]
fn an_upgraded_database_needs_one_compact() {
    let dir = tempfile::tempdir().unwrap();
    let db = v1_copy(dir.path());
    let mut store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        store.auto_vacuum().unwrap(),
        0,
        "v1 files were created without it"
    );
    fill(&mut store, 100, 3_100, 8);
    store.checkpoint().unwrap();
    let full = disk_bytes(&db);
    let budget = full / 2;
    let (evicted, out) = evict_all(&mut store, budget);
    assert!(evicted > 0 && out.within_budget, "{out:?}");
    assert!(out.needs_compact, "{out:?}");
    assert!(disk_bytes(&db) > budget, "the file cannot shrink yet");
    let kept: Vec<InfoHash> = store.hashes_after(None, 10_000).unwrap();
    store.compact().unwrap();
    assert_eq!(store.auto_vacuum().unwrap(), 2);
    assert!(disk_bytes(&db) <= budget, "{} > {budget}", disk_bytes(&db));
    assert_eq!(store.hashes_after(None, 10_000).unwrap(), kept);
    assert!(store.integrity_check().unwrap().is_empty());
    // From now on eviction shrinks the file by itself.
    fill(&mut store, 10_000, 11_000, 8);
    let (_, out) = evict_all(&mut store, budget);
    assert!(out.within_budget && !out.needs_compact, "{out:?}");
    assert!(disk_bytes(&db) <= budget);
}

/// What `bitagent block` promises, on disk with this backend: the row, its files, tags and
/// index entry are gone, and a restart does not bring it back.
#[test]
fn block_is_forever_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bitagent.db");
    let mut store = SqliteStore::open(&db).unwrap();
    fill(&mut store, 0, 10, 3);
    store.block(&[test_hash(4)], 100).unwrap();
    drop(store);
    let mut store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.put_batch(&[record(4, 3)]).unwrap().blocked, 1);
    drop(store);
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.get(&test_hash(4)).unwrap(), None);
    assert!(store.known(&[test_hash(4)]).unwrap()[0]);
    assert_eq!(store.stats().unwrap().torrents, 9);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tags: i64 = conn
        .query_row("SELECT count(*) FROM torrent_tags", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tags, 9, "the blocked torrent's tags went with it");
    assert!(store.integrity_check().unwrap().is_empty());
}
