//! Classification: round trips, replacement, the reclassify cursor, paging by infohash, counts by type.

use super::*;

/// Content type, tags (a set) and attributes (a map) come back from `get` and in hits; a
/// re-put replaces them with the record's.
pub fn classification_round_trips(store: &mut dyn Store) {
    let quote = "a \"b\" \\ c\n\t\u{1} é 進 🎵 {}[],:";
    let rec = TorrentRecord {
        content_type: Some("movie".into()),
        tags: strings(&["hd", "new", "hd", "", "action"]),
        attributes: pairs(&[
            ("year", "2024"),
            ("resolution", "720p"),
            ("resolution", "1080p"),
            ("quote", quote),
            ("", "empty key"),
        ]),
        classified_rev: Some("rules-1".into()),
        ..test_record(1, "Some Movie 2024 1080p", &[("movie.mkv", 5)], 10)
    };
    assert_eq!(store.put_batch(&[rec]).unwrap().inserted, 1);
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(got.content_type.as_deref(), Some("movie"));
    assert_eq!(
        got.tags,
        ["action", "hd", "new"],
        "a sorted set, no empty tag"
    );
    assert_eq!(
        got.attributes,
        pairs(&[
            ("", "empty key"),
            ("quote", quote),
            ("resolution", "1080p"),
            ("year", "2024")
        ]),
        "a map sorted by key, the last value of a key wins"
    );
    assert_eq!(got.classified_rev.as_deref(), Some("rules-1"));
    assert_eq!(got.files.len(), 1);
    let hits = store.search("movie", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].content_type.as_deref(), Some("movie"));
    assert_eq!(hits[0].tags, ["action", "hd", "new"]);
    let hits = store.search(&test_hash(1).to_string(), 10).unwrap();
    assert_eq!(
        (hits[0].content_type.as_deref(), hits[0].tags.len()),
        (Some("movie"), 3)
    );
    // An unclassified torrent.
    let mut plain = test_record(2, "plain", &[("p", 1)], 10);
    plain.content_type = Some(String::new());
    store.put_batch(&[plain]).unwrap();
    let got = store.get(&test_hash(2)).unwrap().unwrap();
    assert_eq!(
        (
            got.content_type,
            got.tags,
            got.attributes,
            got.classified_rev
        ),
        (None, vec![], vec![], None),
        "an empty content type is none"
    );
    // A re-put replaces the classification with the record's, like every other field.
    let rec = TorrentRecord {
        content_type: Some("tv".into()),
        tags: strings(&["sd"]),
        classified_rev: Some("rules-2".into()),
        ..test_record(1, "Some Movie 2024 1080p", &[("movie.mkv", 5)], 20)
    };
    store.put_batch(&[rec]).unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(
        (
            got.content_type.as_deref(),
            got.tags.as_slice(),
            got.attributes.len(),
            got.classified_rev.as_deref()
        ),
        (Some("tv"), &["sd".to_owned()][..], 0, Some("rules-2"))
    );
    store
        .put_batch(&[test_record(1, "Some Movie 2024 1080p", &[("m", 5)], 30)])
        .unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(
        (
            got.content_type,
            got.tags,
            got.attributes,
            got.classified_rev
        ),
        (None, vec![], vec![], None)
    );
    assert_healthy(store);
}

/// `set_classification` replaces the classification of stored torrents in one call and
/// ignores unknown hashes; nothing else about the torrent changes.
pub fn set_classification_replaces_it(store: &mut dyn Store) {
    store
        .put_batch(&[
            classified_record(1, "one", Some("movie"), &["a", "b"], 10),
            classified_record(2, "two", None, &[], 10),
        ])
        .unwrap();
    let before = store.get(&test_hash(1)).unwrap().unwrap();
    let updates = [
        Classification {
            info_hash: test_hash(1),
            content_type: Some("music".into()),
            tags: strings(&["flac", "lossless", "flac"]),
            attributes: pairs(&[("codec", "flac")]),
            rev: "r2".into(),
        },
        Classification {
            info_hash: test_hash(2),
            content_type: Some("software".into()),
            tags: vec![],
            attributes: vec![],
            rev: "r2".into(),
        },
        Classification {
            info_hash: test_hash(99),
            content_type: Some("movie".into()),
            rev: "r2".into(),
            ..Classification::default()
        },
    ];
    assert_eq!(store.set_classification(&updates).unwrap(), 2);
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(got.content_type.as_deref(), Some("music"));
    assert_eq!(got.tags, ["flac", "lossless"]);
    assert_eq!(got.attributes, pairs(&[("codec", "flac")]));
    assert_eq!(got.classified_rev.as_deref(), Some("r2"));
    assert_eq!(
        (
            &got.name,
            &got.files,
            got.first_seen,
            got.last_seen,
            got.seeders
        ),
        (
            &before.name,
            &before.files,
            before.first_seen,
            before.last_seen,
            before.seeders
        ),
        "only the classification changes"
    );
    assert_eq!(
        store
            .get(&test_hash(2))
            .unwrap()
            .unwrap()
            .content_type
            .as_deref(),
        Some("software")
    );
    assert_eq!(store.get(&test_hash(99)).unwrap(), None, "must not create");
    assert!(
        filtered(store, "one", &filter(None, Some("a")), 10).is_empty(),
        "old tags are gone"
    );
    assert_eq!(
        filtered(store, "one", &filter(Some("music"), Some("lossless")), 10),
        ["one"]
    );
    assert_eq!(store.set_classification(&[]).unwrap(), 0);
    // Back to unclassified, at a revision.
    store
        .set_classification(&[Classification {
            info_hash: test_hash(1),
            rev: "r3".into(),
            ..Classification::default()
        }])
        .unwrap();
    let got = store.get(&test_hash(1)).unwrap().unwrap();
    assert_eq!(
        (
            got.content_type,
            got.tags,
            got.attributes,
            got.classified_rev
        ),
        (None, vec![], vec![], Some("r3".into()))
    );
    assert_healthy(store);
}

/// `reclassify_batch` pages through torrents not at a revision, in infohash order after a
/// cursor; work written back at that revision is skipped when a run starts over.
pub fn reclassify_pages_by_cursor_and_rev(store: &mut dyn Store) {
    let recs: Vec<TorrentRecord> = (0..10u64)
        .map(|n| test_record(n, &format!("torrent {n}"), &[("f", n)], 1))
        .collect();
    store.put_batch(&recs).unwrap();
    let at = |n: u64, rev: &str| Classification {
        info_hash: test_hash(n),
        content_type: Some("other".into()),
        tags: vec![],
        attributes: vec![],
        rev: rev.into(),
    };
    store
        .set_classification(&[at(1, "r2"), at(4, "r2"), at(7, "r2"), at(2, "r1")])
        .unwrap();
    assert_eq!(store.pending_reclassify("r2").unwrap(), 7);
    assert_eq!(store.pending_reclassify("r1").unwrap(), 9);
    assert_eq!(store.pending_reclassify("r9").unwrap(), 10);
    let mut want: Vec<InfoHash> = [0u64, 2, 3, 5, 6, 8, 9].map(test_hash).to_vec();
    want.sort();
    // Page through in threes.
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = Vec::new();
    loop {
        let batch = store.reclassify_batch("r2", after, 3).unwrap();
        if batch.is_empty() {
            break;
        }
        pages.push(batch.len());
        after = Some(batch.last().unwrap().info_hash);
        for t in &batch {
            assert_eq!(t.files.len(), 1, "batches carry the files");
            if t.info_hash == test_hash(2) {
                assert_eq!(t.classified_rev.as_deref(), Some("r1"));
                assert_eq!(t.content_type.as_deref(), Some("other"));
            }
        }
        seen.extend(batch.into_iter().map(|t| t.info_hash));
    }
    assert_eq!(pages, [3, 3, 1]);
    assert_eq!(seen, want, "in infohash order, each once");
    assert!(store.reclassify_batch("r2", None, 0).unwrap().is_empty());
    // Interrupted after the first page was written back: a new run from the start skips it.
    let first: Vec<Classification> = want[..3]
        .iter()
        .map(|h| Classification {
            info_hash: *h,
            rev: "r2".into(),
            ..Classification::default()
        })
        .collect();
    store.set_classification(&first).unwrap();
    assert_eq!(store.pending_reclassify("r2").unwrap(), 4);
    let rest: Vec<InfoHash> = store
        .reclassify_batch("r2", None, 100)
        .unwrap()
        .into_iter()
        .map(|t| t.info_hash)
        .collect();
    assert_eq!(rest, want[3..]);
    // A cursor past the end, and a cursor that is not a stored hash.
    assert!(
        store
            .reclassify_batch("r2", Some(InfoHash::v1([0xff; 20])), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .reclassify_batch("r2", Some(InfoHash::v1([0; 20])), 100)
            .unwrap()
            .len(),
        4
    );
}

/// `hashes_after` walks every stored hash once, in order, in pages.
pub fn hashes_after_walks_the_store(store: &mut dyn Store) {
    let recs: Vec<TorrentRecord> = (0..25u64)
        .map(|n| test_record(n, "h", &[("f", 1)], 1))
        .collect();
    store.put_batch(&recs).unwrap();
    store.block(&[test_hash(100)], 1).unwrap();
    let mut all: Vec<InfoHash> = (0..25u64).map(test_hash).collect();
    all.sort();
    let mut got = Vec::new();
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.hashes_after(after, 10).unwrap();
        if page.is_empty() {
            break;
        }
        pages.push(page.len());
        after = page.last().copied();
        got.extend(page);
    }
    assert_eq!(pages, [10, 10, 5]);
    assert_eq!(got, all, "blocked hashes are not stored ones");
    // A cursor that was deleted meanwhile still works.
    store.delete(&[all[9]]).unwrap();
    assert_eq!(store.hashes_after(Some(all[9]), 3).unwrap(), all[10..13]);
    assert!(store.hashes_after(None, 0).unwrap().is_empty());
}

/// Torrents per content type, most first, unclassified as `None`.
pub fn counts_by_content_type_counts(store: &mut dyn Store) {
    store
        .put_batch(&[
            classified_record(1, "a", Some("movie"), &[], 1),
            classified_record(2, "b", Some("movie"), &[], 1),
            classified_record(3, "c", Some("movie"), &[], 1),
            classified_record(4, "d", Some("tv"), &[], 1),
            classified_record(5, "e", Some("tv"), &[], 1),
            classified_record(6, "f", None, &[], 1),
            classified_record(7, "g", Some("book"), &[], 1),
        ])
        .unwrap();
    let counts = store.counts_by_content_type().unwrap();
    assert_eq!(
        counts[..2],
        [(Some("movie".into()), 3), (Some("tv".into()), 2)]
    );
    let mut ones = counts[2..].to_vec();
    ones.sort();
    assert_eq!(ones, [(None, 1), (Some("book".into()), 1)]);
    store.delete(&[test_hash(6)]).unwrap();
    assert!(
        !store
            .counts_by_content_type()
            .unwrap()
            .iter()
            .any(|(t, _)| t.is_none())
    );
}
