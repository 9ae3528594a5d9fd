//! Inspection: stats, table sizes, the exact torrent count.

use super::*;

/// `stats` counts what is there and sizes the database.
pub fn stats_counts(store: &mut dyn Store) {
    let mut scraped = test_record(1, "a", &[("1", 1), ("2", 1), ("3", 1)], 1);
    scraped.scraped_at = Some(5);
    scraped.seeders = Some(1);
    store
        .put_batch(&[scraped, test_record(2, "b", &[("1", 1)], 1)])
        .unwrap();
    store.block(&[test_hash(3)], 1).unwrap();
    let s = store.stats().unwrap();
    assert_eq!(
        (s.torrents, s.file_rows, s.files_total, s.blocked, s.scraped),
        (2, 4, 4, 1, 1)
    );
    assert!(
        s.db_bytes > 0 && s.page_count > 0 && s.page_size > 0,
        "{s:?}"
    );
}

/// `table_sizes` names the main tables.
pub fn table_sizes_lists_tables(store: &mut dyn Store) {
    store
        .put_batch(&[test_record(1, "sized", &[("f", 1)], 1)])
        .unwrap();
    let sizes = store.table_sizes().unwrap();
    assert!(sizes.iter().any(|t| t.name == "torrents"), "{sizes:?}");
    assert!(
        sizes.windows(2).all(|w| w[0].bytes >= w[1].bytes),
        "largest first: {sizes:?}"
    );
}

/// `torrent_count` is exact after every kind of write: inserts, upserts, blocked puts,
/// deletes, blocks and eviction.
pub fn torrent_count_is_exact(store: &mut dyn Store) {
    let check = |store: &dyn Store, want: u64, after: &str| {
        assert_eq!(store.torrent_count().unwrap(), want, "after {after}");
        assert_eq!(store.stats().unwrap().torrents, want, "after {after}");
    };
    check(store, 0, "nothing");
    let recs: Vec<TorrentRecord> = (0..10)
        .map(|n| test_record(n, &format!("counted {n}"), &[("f", 1)], 1))
        .collect();
    store.put_batch(&recs).unwrap();
    check(store, 10, "10 inserts");
    store.put_batch(&recs[..4]).unwrap();
    check(store, 10, "4 upserts");
    store
        .delete(&[test_hash(0), test_hash(1), test_hash(99)])
        .unwrap();
    check(store, 8, "deleting 2 (and an unknown)");
    store.block(&[test_hash(2), test_hash(98)], 5).unwrap();
    check(store, 7, "blocking 1 stored and 1 unknown");
    store.put_batch(&recs[2..3]).unwrap();
    check(store, 7, "a blocked put");
    store.evict_to_size(0, 3, false).unwrap();
    check(store, 4, "evicting 3");
    store.evict_to_size(0, u64::MAX, true).unwrap();
    check(store, 0, "evicting the rest");
    store.put_batch(&recs[5..6]).unwrap();
    check(store, 1, "an insert after eviction");
}
