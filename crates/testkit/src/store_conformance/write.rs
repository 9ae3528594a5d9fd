//! Writes and reads by key: put/get, upserts, swarm numbers, touches, the file cap, deletes, blocks, dedup lookups.

use super::*;

/// A new store is empty, healthy and answers every read.
pub fn empty_store(store: &mut dyn Store) {
    let stats = store.stats().unwrap();
    assert_eq!((stats.torrents, stats.file_rows, stats.blocked), (0, 0, 0));
    assert!(stats.schema_version >= 1);
    assert_eq!(store.get(&test_hash(1)).unwrap(), None);
    assert_eq!(store.known(&[]).unwrap(), Vec::<bool>::new());
    assert_eq!(store.known(&[test_hash(1)]).unwrap(), [false]);
    assert!(store.search("anything", 10).unwrap().is_empty());
    assert!(!store.is_blocked(&test_hash(1)).unwrap());
    assert!(store.file_cap() > 0);
    assert!(store.hashes_after(None, 10).unwrap().is_empty());
    assert!(store.reclassify_batch("r", None, 10).unwrap().is_empty());
    assert_eq!(store.pending_reclassify("r").unwrap(), 0);
    assert!(store.counts_by_content_type().unwrap().is_empty());
    assert!(
        store
            .search_filtered("", &filter(Some("movie"), None), 10)
            .unwrap()
            .is_empty()
    );
    assert_healthy(store);
}

/// Every field of a record comes back from `get`.
pub fn put_then_get_round_trips(store: &mut dyn Store) {
    let mut rec = test_record(
        7,
        "Some Album (2024) [FLAC]",
        &[("01 - Intro.flac", 123_456), ("cover.jpg", 789)],
        1_700_000_000,
    );
    rec.private = true;
    rec.piece_length = Some(1 << 20);
    rec.meta_version = Some(2);
    rec.seeders = Some(12);
    rec.leechers = Some(3);
    rec.scraped_at = Some(1_700_000_005);
    let out = store.put_batch(std::slice::from_ref(&rec)).unwrap();
    assert_eq!(
        out,
        PutOutcome {
            inserted: 1,
            updated: 0,
            blocked: 0
        }
    );
    let got = store.get(&rec.info_hash).unwrap().expect("stored");
    assert_eq!(got.info_hash, rec.info_hash);
    assert_eq!(got.name, rec.name);
    assert_eq!(got.total_size, 124_245);
    assert_eq!(got.files, rec.files);
    assert_eq!(got.file_count, 2);
    assert!(got.private);
    assert_eq!(got.piece_length, Some(1 << 20));
    assert_eq!(got.meta_version, Some(2));
    assert_eq!(
        (got.first_seen, got.last_seen),
        (1_700_000_000, 1_700_000_000)
    );
    assert_eq!(
        (got.seeders, got.leechers, got.scraped_at),
        (Some(12), Some(3), Some(1_700_000_005))
    );
    // Swarm numbers without a scrape time are not data.
    let mut bare = test_record(8, "bare", &[("bare", 1)], 10);
    bare.seeders = Some(5);
    bare.piece_length = None;
    store.put_batch(&[bare]).unwrap();
    let got = store.get(&test_hash(8)).unwrap().unwrap();
    assert_eq!(
        (got.seeders, got.leechers, got.scraped_at, got.piece_length),
        (None, None, None, None)
    );
    assert_healthy(store);
}

/// Upsert: first_seen is the earliest sighting, last_seen the latest; the rest is replaced.
pub fn upsert_keeps_first_seen_and_replaces_fields(store: &mut dyn Store) {
    let first = test_record(
        1,
        "old name",
        &[("a.bin", 1), ("b.bin", 2), ("c.bin", 3)],
        100,
    );
    store.put_batch(&[first]).unwrap();
    let second = test_record(1, "new name", &[("z.bin", 9)], 200);
    let out = store
        .put_batch(&[second, test_record(2, "other", &[("o", 1)], 200)])
        .unwrap();
    assert_eq!(
        out,
        PutOutcome {
            inserted: 1,
            updated: 1,
            blocked: 0
        }
    );
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!((got.first_seen, got.last_seen), (100, 200));
    assert_eq!(got.name, "new name");
    assert_eq!(
        got.files,
        [FileEntry {
            path: "z.bin".into(),
            size: 9
        }]
    );
    assert_eq!((got.file_count, got.total_size), (1, 9));
    // An older sighting arriving late moves first_seen back, never last_seen.
    store
        .put_batch(&[test_record(1, "new name", &[("z.bin", 9)], 50)])
        .unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!((got.first_seen, got.last_seen), (50, 200));
    assert_eq!(
        store.stats().unwrap().file_rows,
        2,
        "replaced files leave no rows behind"
    );
    assert_eq!(
        names(store, "old", 10),
        Vec::<String>::new(),
        "old name left in the index"
    );
    assert_eq!(names(store, "new", 10), ["new name"]);
    assert_healthy(store);
}

/// The same hash twice in one batch: inserted, then updated.
pub fn duplicate_hash_in_one_batch(store: &mut dyn Store) {
    let a = test_record(3, "first", &[("f", 1)], 10);
    let b = test_record(3, "second", &[("g", 2)], 20);
    assert_eq!(
        store.put_batch(&[a, b]).unwrap(),
        PutOutcome {
            inserted: 1,
            updated: 1,
            blocked: 0
        }
    );
    let got = store.get(&test_hash(3)).unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.first_seen, got.last_seen),
        ("second", 10, 20)
    );
    assert_eq!(store.stats().unwrap().torrents, 1);
    assert_healthy(store);
}

/// Swarm numbers are replaced only by a measurement at least as new.
pub fn swarm_updates_only_move_forward(store: &mut dyn Store) {
    store
        .put_batch(&[test_record(1, "swarm", &[("s", 1)], 100)])
        .unwrap();
    let up = |seeders, scraped_at| SwarmUpdate {
        info_hash: test_hash(1),
        seeders,
        leechers: seeders / 2,
        scraped_at,
    };
    let unknown = SwarmUpdate {
        info_hash: test_hash(99),
        seeders: 1,
        leechers: 1,
        scraped_at: 1,
    };
    assert_eq!(store.update_swarm(&[up(10, 200), unknown]).unwrap(), 1);
    assert_eq!(
        store.update_swarm(&[up(3, 150)]).unwrap(),
        0,
        "an older scrape must not win"
    );
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(
        (got.seeders, got.leechers, got.scraped_at),
        (Some(10), Some(5), Some(200))
    );
    assert_eq!(store.update_swarm(&[up(20, 300)]).unwrap(), 1);
    // A re-put without a scrape keeps the swarm; with an older scrape too.
    store
        .put_batch(&[test_record(1, "swarm", &[("s", 1)], 400)])
        .unwrap();
    let mut old = test_record(1, "swarm", &[("s", 1)], 400);
    (old.seeders, old.leechers, old.scraped_at) = (Some(1), Some(1), Some(250));
    store.put_batch(&[old]).unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(
        (got.seeders, got.leechers, got.scraped_at),
        (Some(20), Some(10), Some(300))
    );
    // A newer one from put_batch wins.
    let mut new = test_record(1, "swarm", &[("s", 1)], 400);
    (new.seeders, new.leechers, new.scraped_at) = (Some(7), Some(8), Some(500));
    store.put_batch(&[new]).unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(
        (got.seeders, got.leechers, got.scraped_at),
        (Some(7), Some(8), Some(500))
    );
    assert_eq!(store.stats().unwrap().scraped, 1);
}

/// `touch` raises last_seen of stored torrents only, never lowers it.
pub fn touch_raises_last_seen(store: &mut dyn Store) {
    store
        .put_batch(&[test_record(1, "t", &[("t", 1)], 100)])
        .unwrap();
    assert_eq!(store.touch(&[test_hash(1), test_hash(2)], 300).unwrap(), 1);
    assert_eq!(store.touch(&[test_hash(1)], 200).unwrap(), 0);
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!((got.first_seen, got.last_seen), (100, 300));
    assert_eq!(
        store.get(&test_hash(2)).unwrap(),
        None,
        "touch must not create"
    );
}

/// At most `file_cap` files are stored (the first ones); `file_count` keeps the true count.
pub fn file_cap_keeps_true_count(store: &mut dyn Store) {
    let cap = store.file_cap();
    let paths: Vec<String> = (0..cap + 5)
        .map(|i| format!("dir/file {i:05}.dat"))
        .collect();
    let files: Vec<(&str, u64)> = paths.iter().map(|p| (p.as_str(), 10)).collect();
    let rec = test_record(1, "many files", &files, 1);
    store.put_batch(&[rec]).unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(got.files.len(), cap);
    assert_eq!(got.file_count, cap as u64 + 5);
    assert_eq!(got.total_size, 10 * (cap as u64 + 5));
    assert_eq!(got.files[0].path, paths[0]);
    assert_eq!(got.files[cap - 1].path, paths[cap - 1]);
    // The caller may have truncated already: its true count is kept.
    let mut pre = test_record(2, "pretruncated", &[("one", 1)], 1);
    pre.file_count = 1_000_000;
    // A count below the files given is corrected up.
    let mut low = test_record(3, "undercounted", &[("x", 1), ("y", 1)], 1);
    low.file_count = 0;
    store.put_batch(&[pre, low]).unwrap();
    assert_eq!(
        store.get(&test_hash(2)).unwrap().unwrap().file_count,
        1_000_000
    );
    assert_eq!(store.get(&test_hash(3)).unwrap().unwrap().file_count, 2);
    let stats = store.stats().unwrap();
    assert_eq!(stats.file_rows, cap as u64 + 3);
    assert_eq!(stats.files_total, cap as u64 + 5 + 1_000_000 + 2);
    // A file past the cap is not searchable; one inside is.
    assert_eq!(
        names(store, &format!("{:05}", cap + 4), 10),
        Vec::<String>::new()
    );
    assert_eq!(names(store, "00000", 10), ["many files"]);
    assert_healthy(store);
}

/// Absurd sizes from hostile info dicts are stored (saturated by SQL backends), not errors.
pub fn huge_sizes_do_not_fail(store: &mut dyn Store) {
    let mut rec = test_record(1, "huge", &[("big", u64::MAX)], 1);
    rec.total_size = u64::MAX;
    rec.file_count = u64::MAX;
    rec.piece_length = Some(u64::MAX);
    store.put_batch(&[rec]).unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert!(got.total_size >= i64::MAX as u64);
    assert!(got.file_count >= i64::MAX as u64);
    assert!(got.files[0].size >= i64::MAX as u64);
}

/// File paths come back byte for byte, in order, whatever they hold (quotes, backslashes,
/// control characters, non-ASCII), through an insert and an upsert.
pub fn file_paths_keep_any_text(store: &mut dyn Store) {
    let paths = [
        "plain.txt",
        "quote\".txt",
        "back\\slash/and\\\\two",
        "new\nline\r\ttab",
        "nul\0and\u{1}\u{1f}\u{7f}",
        "ünïcödé/日本語/🎵.flac",
        "[\"json\", 1]",
        "",
    ];
    let files: Vec<(&str, u64)> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (*p, i as u64))
        .collect();
    store
        .put_batch(&[test_record(1, "odd paths", &files, 1)])
        .unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    let want: Vec<(String, u64)> = files.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect();
    let have: Vec<(String, u64)> = got.files.into_iter().map(|f| (f.path, f.size)).collect();
    assert_eq!(have, want);
    // Replaced by an upsert: reversed order, one fewer.
    let again: Vec<(&str, u64)> = files.iter().rev().skip(1).copied().collect();
    store
        .put_batch(&[test_record(1, "odd paths", &again, 2)])
        .unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    let have: Vec<(&str, u64)> = got
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.size))
        .collect();
    assert_eq!(have, again);
    assert_eq!(store.stats().unwrap().file_rows, again.len() as u64);
    // And emptied.
    store
        .put_batch(&[test_record(1, "odd paths", &[], 3)])
        .unwrap();
    assert!(store.get(&test_hash(1)).unwrap().unwrap().files.is_empty());
    assert_eq!(store.stats().unwrap().file_rows, 0);
    assert_healthy(store);
}

/// `block` deletes and remembers: never stored again, known to dedup.
pub fn block_deletes_and_remembers(store: &mut dyn Store) {
    store
        .put_batch(&[
            test_record(1, "bad thing", &[("bad", 1)], 1),
            test_record(2, "good thing", &[("good", 1)], 1),
        ])
        .unwrap();
    assert_eq!(store.block(&[test_hash(1), test_hash(3)], 50).unwrap(), 2);
    assert_eq!(
        store.block(&[test_hash(1)], 60).unwrap(),
        0,
        "already blocked"
    );
    assert!(store.is_blocked(&test_hash(1)).unwrap());
    assert!(store.is_blocked(&test_hash(3)).unwrap());
    assert!(!store.is_blocked(&test_hash(2)).unwrap());
    assert_eq!(store.get(&test_hash(1)).unwrap(), None);
    assert_eq!(names(store, "thing", 10), ["good thing"]);
    assert_eq!(
        store
            .known(&[test_hash(1), test_hash(2), test_hash(3), test_hash(4)])
            .unwrap(),
        [true, true, true, false]
    );
    let out = store
        .put_batch(&[
            test_record(1, "bad thing", &[("bad", 1)], 2),
            test_record(3, "x", &[("x", 1)], 2),
        ])
        .unwrap();
    assert_eq!(
        out,
        PutOutcome {
            inserted: 0,
            updated: 0,
            blocked: 2
        }
    );
    assert_eq!(store.get(&test_hash(1)).unwrap(), None);
    let stats = store.stats().unwrap();
    assert_eq!((stats.torrents, stats.file_rows, stats.blocked), (1, 1, 2));
    assert_healthy(store);
}

/// `delete` removes the torrent, its files and its index entry; it can come back.
pub fn delete_removes_everything(store: &mut dyn Store) {
    store
        .put_batch(&[
            test_record(1, "gone soon", &[("a", 1), ("b", 2)], 1),
            test_record(2, "stays", &[("c", 1)], 1),
        ])
        .unwrap();
    assert_eq!(store.delete(&[test_hash(1), test_hash(9)]).unwrap(), 1);
    assert_eq!(store.delete(&[test_hash(1)]).unwrap(), 0);
    assert_eq!(store.get(&test_hash(1)).unwrap(), None);
    assert_eq!(store.known(&[test_hash(1)]).unwrap(), [false]);
    assert!(store.search("gone", 10).unwrap().is_empty());
    assert!(
        !store.is_blocked(&test_hash(1)).unwrap(),
        "delete is not block"
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.torrents, stats.file_rows), (1, 1));
    assert_healthy(store);
    assert_eq!(
        store
            .put_batch(&[test_record(1, "gone soon", &[("a", 1)], 5)])
            .unwrap()
            .inserted,
        1
    );
    assert_eq!(
        store.get(&test_hash(1)).unwrap().unwrap().first_seen,
        5,
        "a deleted torrent starts over"
    );
    assert_eq!(names(store, "gone", 10), ["gone soon"]);
}

/// Dedup of 10,000 hashes in one call, answers in input order, duplicates included.
pub fn known_batch_of_10000(store: &mut dyn Store) {
    // Store the even ones, in batches of 500.
    let stored: Vec<TorrentRecord> = (0..10_000u64)
        .filter(|n| n % 2 == 0)
        .map(|n| test_record(n, "k", &[], 1))
        .collect();
    for chunk in stored.chunks(500) {
        store.put_batch(chunk).unwrap();
    }
    store.block(&[test_hash(10_001)], 1).unwrap();
    let mut query: Vec<InfoHash> = (0..10_000u64).rev().map(test_hash).collect();
    query.push(test_hash(10_001));
    query.push(test_hash(0));
    let got = store.known(&query).unwrap();
    assert_eq!(got.len(), query.len());
    for (i, n) in (0..10_000u64).rev().enumerate() {
        assert_eq!(got[i], n % 2 == 0, "hash #{n}");
    }
    assert!(got[10_000], "blocked counts as known");
    assert!(got[10_001], "duplicates are answered too");
    assert_eq!(store.stats().unwrap().torrents, 5_000);
}

/// A blocked hash stays out whatever path tries to bring it back.
pub fn blocked_stays_out(store: &mut dyn Store) {
    store
        .put_batch(&[classified_record(1, "bad", Some("movie"), &["x"], 1)])
        .unwrap();
    store.block(&[test_hash(1)], 2).unwrap();
    assert_eq!(
        store
            .set_classification(&[Classification {
                info_hash: test_hash(1),
                content_type: Some("movie".into()),
                rev: "r".into(),
                ..Classification::default()
            }])
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .put_batch(&[classified_record(1, "bad", Some("movie"), &["x"], 3)])
            .unwrap()
            .blocked,
        1
    );
    assert_eq!(store.get(&test_hash(1)).unwrap(), None);
    assert!(store.hashes_after(None, 10).unwrap().is_empty());
    assert!(store.reclassify_batch("r2", None, 10).unwrap().is_empty());
    assert!(filtered(store, "", &filter(None, Some("x")), 10).is_empty());
    assert!(store.counts_by_content_type().unwrap().is_empty());
    assert_eq!(
        store
            .evict_to_size(u64::MAX, u64::MAX, false)
            .unwrap()
            .evicted,
        0
    );
    assert!(store.is_blocked(&test_hash(1)).unwrap());
    assert_healthy(store);
}
