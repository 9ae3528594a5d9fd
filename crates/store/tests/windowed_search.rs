//! The SQLite backend's windowed search ("Search at scale" in `store::sqlite`): past the
//! search window a query is ranked by tiers (name, then paths) and by swarm size instead of
//! bm25. Small windows make every path reachable with a handful of torrents.

use store::sqlite::{BROAD_NAME_SCORE, BROAD_PATHS_SCORE};
use store::{Hit, SearchFilter, SqliteOptions, SqliteStore, Store, TorrentRecord};

/// A store whose search window is `window` torrents.
fn windowed(window: u32) -> SqliteStore {
    SqliteStore::open_in_memory_with(SqliteOptions {
        search_window: window,
        ..SqliteOptions::default()
    })
    .unwrap()
}

fn seeded(mut rec: TorrentRecord, seeders: Option<u32>) -> TorrentRecord {
    rec.seeders = seeders;
    rec.scraped_at = seeders.map(|_| 1);
    rec
}

fn found(hits: &[Hit]) -> Vec<(String, f64)> {
    hits.iter().map(|h| (h.name.clone(), h.score)).collect()
}

/// Past the window, a search ranks name matches first, then path matches, each by
/// seeders (unmeasured last) then newest; every match is found while a tier's matches fit
/// the window.
#[test]
fn broad_search_ranks_name_then_paths_by_seeders() {
    use testkit::store_conformance::test_record;
    let mut store = windowed(3);
    store
        .put_batch(&[
            seeded(test_record(1, "common one", &[("a", 1)], 1), Some(5)),
            seeded(test_record(2, "common two", &[("b", 1)], 1), Some(50)),
            seeded(
                test_record(3, "other", &[("common/c.bin", 1)], 1),
                Some(100),
            ),
            seeded(test_record(4, "common four", &[("d", 1)], 1), None),
            seeded(test_record(5, "zzz", &[("common.txt", 1)], 1), Some(1)),
            seeded(test_record(6, "rare", &[("e", 1)], 1), Some(1)),
        ])
        .unwrap();
    // "common" is in 5 torrents, more than the window: a broad search.
    let hits = store.search("common", 10).unwrap();
    assert_eq!(
        found(&hits),
        [
            ("common two".to_owned(), BROAD_NAME_SCORE),
            ("common one".to_owned(), BROAD_NAME_SCORE),
            ("common four".to_owned(), BROAD_NAME_SCORE),
            ("other".to_owned(), BROAD_PATHS_SCORE),
            ("zzz".to_owned(), BROAD_PATHS_SCORE),
        ]
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // The limit cuts the name tier; the path tier is not even read.
    assert_eq!(store.search("common", 2).unwrap().len(), 2);
    // A selective query is still ranked by bm25 (and scored by it).
    let rare = store.search("rare", 10).unwrap();
    assert_eq!(rare.len(), 1);
    assert!(![BROAD_NAME_SCORE, BROAD_PATHS_SCORE].contains(&rare[0].score));
    // A broad word with a selective one: every match, and only matches.
    store
        .put_batch(&[seeded(test_record(7, "common rare", &[("f", 1)], 1), None)])
        .unwrap();
    assert_eq!(
        found(&store.search("rare common", 10).unwrap()),
        [("common rare".to_owned(), BROAD_NAME_SCORE)]
    );
    // A word that matches nothing makes an empty result, broad or not.
    assert!(store.search("common nothing", 10).unwrap().is_empty());
}

/// The window bounds a broad search to its newest matches, per tier; a filter applies
/// within them.
#[test]
fn broad_search_window_and_filters() {
    use testkit::store_conformance::classified_record;
    let mut store = windowed(2);
    let records: Vec<TorrentRecord> = [
        (1, "word a", "movie", 500),
        (2, "word b", "tv", 40),
        (3, "word c", "movie", 30),
        (4, "word d", "tv", 20),
        (5, "word e", "tv", 10),
    ]
    .into_iter()
    .map(|(n, name, ct, seeders)| {
        seeded(
            classified_record(n, name, Some(ct), &["x"], 1),
            Some(seeders),
        )
    })
    .collect();
    store.put_batch(&records).unwrap();
    let names = |q: &str, f: &SearchFilter| -> Vec<String> {
        store
            .search_filtered(q, f, 10)
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect()
    };
    // The newest two name matches (e, d), most seeded first; their paths repeat the
    // name, so the path tier adds nothing. "word a" has the most seeders but is older
    // than the window.
    assert_eq!(
        names("word", &SearchFilter::default()),
        ["word d", "word e"]
    );
    // A filter applies within the window: no movie among the newest two.
    assert!(names("word", &filter(Some("movie"), None)).is_empty());
    assert_eq!(
        names("word", &filter(Some("tv"), Some("x"))),
        ["word d", "word e"]
    );
    // Narrowing the query brings an older torrent back.
    assert_eq!(names("word a", &SearchFilter::default()), ["word a"]);
    assert_eq!(names("word a", &filter(Some("movie"), None)), ["word a"]);
}

/// User text stays inert on the broad path (column filters and NOT are built around it).
#[test]
fn broad_search_syntax_is_inert() {
    use testkit::store_conformance::test_record;
    let mut store = windowed(1);
    store
        .put_batch(&[
            test_record(1, "x Tom and Jerry", &[("tom-and-jerry.avi", 1)], 1),
            test_record(2, "x foo-bar baz", &[("f", 1)], 1),
            test_record(3, "x Title: NEAR Star*", &[("s", 1)], 1),
        ])
        .unwrap();
    // The shared probes, plus words that are column names or close the filter's
    // parentheses on this path.
    let extra = ["name", "paths", ") OR (", "x) OR (x"];
    for q in testkit::store_conformance::SYNTAX_PROBES
        .iter()
        .chain(&extra)
    {
        match store.search(&format!("x {q}"), 10) {
            Ok(_) => {}
            Err(e) => panic!("query {q:?} failed: {e}"),
        }
    }
    assert_eq!(
        found(&store.search("x foo-bar", 10).unwrap()),
        [("x foo-bar baz".to_owned(), BROAD_NAME_SCORE)]
    );
    assert_eq!(
        found(&store.search("x jerry", 10).unwrap()),
        [("x Tom and Jerry".to_owned(), BROAD_NAME_SCORE)]
    );
    assert_eq!(
        found(&store.search("x avi", 10).unwrap()),
        [("x Tom and Jerry".to_owned(), BROAD_PATHS_SCORE)]
    );
    // "x) OR (x" is three words, none an operator, and nothing holds "or".
    assert!(store.search("x) OR (x", 10).unwrap().is_empty());
}

fn filter(content_type: Option<&str>, tag: Option<&str>) -> SearchFilter {
    SearchFilter {
        content_type: content_type.map(str::to_owned),
        tag: tag.map(str::to_owned),
    }
}
