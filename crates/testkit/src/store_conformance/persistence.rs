//! Persistence: what must survive closing and reopening the store.

use super::*;

/// `bitagent block`: the torrent is deleted and stays out across restarts.
pub fn block_survives_reopen(open: &mut dyn FnMut() -> Box<dyn Store>) {
    let mut store = open();
    store
        .put_batch(&[
            classified_record(1, "blocked thing", Some("movie"), &["x"], 1),
            classified_record(2, "kept thing", Some("movie"), &["x"], 1),
        ])
        .unwrap();
    assert_eq!(store.block(&[test_hash(1), test_hash(3)], 10).unwrap(), 2);
    drop(store);
    for round in 0..2 {
        let mut store = open();
        assert!(store.is_blocked(&test_hash(1)).unwrap(), "round {round}");
        assert!(store.is_blocked(&test_hash(3)).unwrap(), "round {round}");
        assert_eq!(store.get(&test_hash(1)).unwrap(), None);
        assert_eq!(
            store
                .known(&[test_hash(1), test_hash(2), test_hash(3)])
                .unwrap(),
            [true, true, true]
        );
        let out = store
            .put_batch(&[
                classified_record(1, "blocked thing", Some("movie"), &["x"], 20),
                classified_record(3, "never stored", None, &[], 20),
            ])
            .unwrap();
        assert_eq!(out.blocked, 2, "round {round}");
        assert_eq!(names(&*store, "thing", 10), ["kept thing"]);
        assert_eq!(
            filtered(&*store, "", &filter(Some("movie"), None), 10),
            ["kept thing"]
        );
        let stats = store.stats().unwrap();
        assert_eq!((stats.torrents, stats.blocked), (1, 2));
        assert_eq!(store.block(&[test_hash(1)], 30).unwrap(), 0);
        assert_healthy(&*store);
    }
}

/// Classification written before a restart is there after it.
pub fn classification_survives_reopen(open: &mut dyn FnMut() -> Box<dyn Store>) {
    let rec = TorrentRecord {
        attributes: pairs(&[("resolution", "1080p"), ("year", "2024")]),
        ..classified_record(1, "kept movie", Some("movie"), &["hd", "new"], 1)
    };
    let mut store = open();
    store
        .put_batch(&[rec, classified_record(2, "other", None, &[], 1)])
        .unwrap();
    store
        .set_classification(&[Classification {
            info_hash: test_hash(2),
            content_type: Some("tv".into()),
            tags: strings(&["sd"]),
            attributes: pairs(&[("season", "1")]),
            rev: "rev2".into(),
        }])
        .unwrap();
    let before = [
        store.get(&test_hash(1)).unwrap().unwrap(),
        store.get(&test_hash(2)).unwrap().unwrap(),
    ];
    drop(store);
    let store = open();
    let after = [
        store.get(&test_hash(1)).unwrap().unwrap(),
        store.get(&test_hash(2)).unwrap().unwrap(),
    ];
    assert_eq!(before, after);
    assert_eq!(after[1].classified_rev.as_deref(), Some("rev2"));
    assert_eq!(
        filtered(&*store, "kept", &filter(Some("movie"), Some("new")), 10),
        ["kept movie"]
    );
    assert_eq!(store.pending_reclassify("rev2").unwrap(), 1);
}
