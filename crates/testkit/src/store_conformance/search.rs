//! Search: ranking, exact infohashes, Unicode, inert query syntax, limits, filters and listings.

use super::*;

/// bm25 with the name weighted above paths: a name match outranks a path-only match.
pub fn search_name_outranks_file_paths(store: &mut dyn Store) {
    store
        .put_batch(&[
            test_record(
                1,
                "Assorted Linux ISOs",
                &[
                    (
                        "distros/ubuntu/ubuntu-24.04-desktop-amd64.iso",
                        6_000_000_000,
                    ),
                    ("distros/debian/debian-12.iso", 4_000_000_000),
                ],
                1,
            ),
            test_record(
                2,
                "Ubuntu 24.04 Desktop",
                &[("ubuntu.iso", 6_000_000_000)],
                1,
            ),
            test_record(
                3,
                "Unrelated Movie 1080p",
                &[("movie.mkv", 2_000_000_000)],
                1,
            ),
        ])
        .unwrap();
    let hits = store.search("ubuntu", 10).unwrap();
    let got: Vec<&str> = hits.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(got, ["Ubuntu 24.04 Desktop", "Assorted Linux ISOs"]);
    assert!(
        hits[0].score > hits[1].score,
        "scores must be best first: {hits:?}"
    );
    // Words are ANDed; case is ignored.
    assert_eq!(names(store, "DEBIAN iso", 10), ["Assorted Linux ISOs"]);
    assert_eq!(names(store, "ubuntu movie", 10), Vec::<String>::new());
    // Dots and dashes separate words in names and paths.
    assert_eq!(names(store, "1080p", 10), ["Unrelated Movie 1080p"]);
    assert_eq!(names(store, "amd64", 10), ["Assorted Linux ISOs"]);
}

/// A 40-hex query is an exact infohash lookup, either case; nothing else matches.
pub fn search_exact_infohash(store: &mut dyn Store) {
    let hash = test_hash(42);
    // A decoy whose name contains the hex.
    store
        .put_batch(&[
            test_record(42, "the one", &[("x", 1)], 1),
            test_record(43, &format!("decoy {hash}"), &[("y", 1)], 1),
        ])
        .unwrap();
    let hex = hash.to_string();
    for q in [hex.clone(), hex.to_uppercase(), format!("  {hex} ")] {
        let hits = store.search(&q, 10).unwrap();
        assert_eq!(hits.len(), 1, "{q:?}: {hits:?}");
        assert_eq!(
            (hits[0].info_hash, hits[0].name.as_str()),
            (hash, "the one")
        );
    }
    assert!(
        store
            .search(&test_hash(44).to_string(), 10)
            .unwrap()
            .is_empty()
    );
}

/// Unicode names: diacritics folded, case folded, CJK and emoji stored intact.
pub fn search_unicode(store: &mut dyn Store) {
    store
        .put_batch(&[
            test_record(
                1,
                "Émilie Jolie — Bande Originale",
                &[("01 Générique.mp3", 1)],
                1,
            ),
            test_record(2, "進撃の巨人 Season 1", &[("第01話.mkv", 1)], 1),
            test_record(3, "Straße 🎵 Ünïcödé", &[("дорога/файл.txt", 1)], 1),
        ])
        .unwrap();
    assert_eq!(
        store.get(&test_hash(3)).unwrap().unwrap().name,
        "Straße 🎵 Ünïcödé"
    );
    assert_eq!(
        names(store, "emilie", 10),
        ["Émilie Jolie — Bande Originale"]
    );
    assert_eq!(
        names(store, "ÉMILIE", 10),
        ["Émilie Jolie — Bande Originale"]
    );
    assert_eq!(
        names(store, "generique", 10),
        ["Émilie Jolie — Bande Originale"]
    );
    assert_eq!(names(store, "進撃の巨人", 10), ["進撃の巨人 Season 1"]);
    assert_eq!(names(store, "unicode", 10), ["Straße 🎵 Ünïcödé"]);
    assert_eq!(names(store, "ДОРОГА", 10), ["Straße 🎵 Ünïcödé"]);
}

/// User text that looks like FTS5 or SQL syntax: every backend must treat it as plain words
/// (or as no words at all). Shared with backend-specific tests of other search paths.
pub const SYNTAX_PROBES: &[&str] = &[
    "\"",
    "*",
    "-",
    "(",
    ")",
    "AND",
    "OR",
    "NOT",
    "NEAR(",
    "\"unterminated",
    "tom\"",
    "tom*",
    "-jerry",
    "tom AND",
    "(tom",
    "title:tom",
    "name:tom",
    "^tom",
    "tom OR jerry",
    "a\0b",
    "{name}: tom",
    "NEAR(tom jerry, 2)",
    "'",
    "tom'",
    "\\",
    "%",
    "_",
    "tom;DROP TABLE torrents",
];

/// Query syntax characters are inert: no query errors except one with no words.
pub fn search_fts_syntax_is_inert(store: &mut dyn Store) {
    store
        .put_batch(&[
            test_record(1, "Tom and Jerry", &[("tom-and-jerry.avi", 1)], 1),
            test_record(2, "foo-bar baz", &[("f", 1)], 1),
            test_record(3, "Title: NEAR Star*", &[("s", 1)], 1),
        ])
        .unwrap();
    for q in SYNTAX_PROBES {
        match store.search(q, 10) {
            Ok(_) | Err(Error::EmptyQuery) => {}
            Err(e) => panic!("query {q:?} failed: {e}"),
        }
    }
    for q in ["\"", "*", "-", "(", "\"\"", " - * ( ) "] {
        assert!(
            matches!(store.search(q, 10), Err(Error::EmptyQuery)),
            "{q:?}"
        );
    }
    // Operators are words.
    assert_eq!(names(store, "AND", 10), ["Tom and Jerry"]);
    assert_eq!(names(store, "tom AND jerry", 10), ["Tom and Jerry"]);
    assert_eq!(names(store, "tom OR baz", 10), Vec::<String>::new());
    assert_eq!(names(store, "NEAR(", 10), ["Title: NEAR Star*"]);
    assert_eq!(names(store, "star*", 10), ["Title: NEAR Star*"]);
    assert_eq!(names(store, "title:", 10), ["Title: NEAR Star*"]);
    // A dash inside a word joins, it does not negate.
    assert_eq!(names(store, "foo-bar", 10), ["foo-bar baz"]);
    assert_eq!(names(store, "-jerry", 10), ["Tom and Jerry"]);
    assert_healthy(store);
}

/// `limit` caps the hits; a renamed torrent is found by its new name only.
pub fn search_limit_and_updates(store: &mut dyn Store) {
    let batch: Vec<TorrentRecord> = (0..50)
        .map(|i| test_record(i, &format!("common word {i}"), &[("f", 1)], 1))
        .collect();
    store.put_batch(&batch).unwrap();
    assert_eq!(store.search("common", 7).unwrap().len(), 7);
    assert_eq!(store.search("common", 1000).unwrap().len(), 50);
    assert!(store.search("common", 0).unwrap().is_empty());
    store
        .put_batch(&[test_record(3, "renamed", &[("f", 1)], 2)])
        .unwrap();
    assert_eq!(store.search("common", 1000).unwrap().len(), 49);
    assert_eq!(names(store, "renamed", 10), ["renamed"]);
    assert!(matches!(store.search("   ", 10), Err(Error::EmptyQuery)));
}

/// Words plus a content type and/or a tag: only matches of every part come back, best first.
pub fn search_filtered_by_type_and_tag(store: &mut dyn Store) {
    store
        .put_batch(&[
            classified_record(
                1,
                "Ubuntu 24.04 Desktop",
                Some("software"),
                &["linux", "iso"],
                1,
            ),
            classified_record(2, "Ubuntu Movie Night 1080p", Some("movie"), &["hd"], 2),
            classified_record(3, "Some Movie 2024 1080p", Some("movie"), &["hd", "new"], 3),
            classified_record(4, "Ubuntu Server", None, &["linux"], 4),
            classified_record(5, "Cartoon 720p", Some("movie"), &[], 5),
        ])
        .unwrap();
    let movie = filter(Some("movie"), None);
    assert_eq!(
        filtered(store, "ubuntu", &movie, 10),
        ["Ubuntu Movie Night 1080p"]
    );
    assert_eq!(
        sorted(filtered(store, "ubuntu", &filter(None, Some("linux")), 10)),
        ["Ubuntu 24.04 Desktop", "Ubuntu Server"]
    );
    assert_eq!(
        filtered(store, "1080p", &filter(Some("movie"), Some("new")), 10),
        ["Some Movie 2024 1080p"]
    );
    assert_eq!(
        sorted(filtered(
            store,
            "1080p",
            &filter(Some("movie"), Some("hd")),
            10
        )),
        ["Some Movie 2024 1080p", "Ubuntu Movie Night 1080p"]
    );
    assert!(filtered(store, "1080p", &filter(Some("software"), None), 10).is_empty());
    assert!(filtered(store, "ubuntu", &filter(Some("nothing"), None), 10).is_empty());
    assert!(filtered(store, "ubuntu", &filter(None, Some("nothing")), 10).is_empty());
    assert!(filtered(store, "ubuntu", &movie, 0).is_empty());
    // The limit applies after the filter: two movies match "1080p", one is asked for.
    assert_eq!(filtered(store, "1080p", &movie, 1).len(), 1);
    // Types and tags are exact, case included.
    assert!(filtered(store, "ubuntu", &filter(Some("Movie"), None), 10).is_empty());
    assert!(filtered(store, "ubuntu", &filter(None, Some("LINUX")), 10).is_empty());
    // A filter is not a word: the name still has to match.
    assert!(filtered(store, "cartoon", &filter(None, Some("hd")), 10).is_empty());
    // Hits carry the classification; scores stay best first.
    let hits = store
        .search_filtered("1080p", &filter(None, Some("hd")), 10)
        .unwrap();
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "{hits:?}"
    );
    let three = hits
        .iter()
        .find(|h| h.info_hash == test_hash(3))
        .expect("hit");
    assert_eq!(three.content_type.as_deref(), Some("movie"));
    assert_eq!(three.tags, ["hd", "new"]);
    // An exact infohash passes only a filter it matches.
    let hex = test_hash(2).to_string();
    assert_eq!(filtered(store, &hex, &movie, 10).len(), 1);
    assert_eq!(
        filtered(store, &hex, &filter(None, Some("hd")), 10).len(),
        1
    );
    assert!(filtered(store, &hex, &filter(Some("software"), None), 10).is_empty());
    assert!(filtered(store, &hex, &filter(Some("movie"), Some("linux")), 10).is_empty());
    // The unfiltered search is unchanged.
    assert_eq!(
        sorted(names(store, "ubuntu", 10)),
        [
            "Ubuntu 24.04 Desktop",
            "Ubuntu Movie Night 1080p",
            "Ubuntu Server"
        ]
    );
    assert_eq!(
        store
            .search_filtered("ubuntu", &SearchFilter::default(), 10)
            .unwrap(),
        store.search("ubuntu", 10).unwrap()
    );
    // Query syntax stays inert with a filter too.
    for q in ["\"", "ubuntu\"", "NEAR(", "* OR -", "movie AND"] {
        match store.search_filtered(q, &movie, 10) {
            Ok(_) | Err(Error::EmptyQuery) => {}
            Err(e) => panic!("query {q:?} failed: {e}"),
        }
    }
}

/// A filter with no words lists what matches it, most recently inserted first; no filter and
/// no words is still an empty query.
pub fn filter_without_words_lists_newest(store: &mut dyn Store) {
    for (n, name, ct, tags) in [
        (1, "first movie", Some("movie"), &["hd"][..]),
        (2, "a show", Some("tv"), &["hd"][..]),
        (3, "second movie", Some("movie"), &[][..]),
        (4, "third movie", Some("movie"), &["hd", "new"][..]),
        (5, "unclassified", None, &["hd"][..]),
    ] {
        store
            .put_batch(&[classified_record(n, name, ct, tags, n as i64)])
            .unwrap();
    }
    let movie = filter(Some("movie"), None);
    assert_eq!(
        filtered(store, "", &movie, 10),
        ["third movie", "second movie", "first movie"]
    );
    assert_eq!(
        filtered(store, "   ", &movie, 2),
        ["third movie", "second movie"]
    );
    assert_eq!(
        filtered(store, " * - ", &filter(None, Some("hd")), 10),
        ["unclassified", "third movie", "a show", "first movie"],
        "text with no word in it is no words"
    );
    assert_eq!(
        filtered(store, "", &filter(Some("movie"), Some("hd")), 10),
        ["third movie", "first movie"]
    );
    assert!(filtered(store, "", &filter(Some("book"), None), 10).is_empty());
    assert!(filtered(store, "", &movie, 0).is_empty());
    let hits = store.search_filtered("", &movie, 1).unwrap();
    assert_eq!(
        (hits[0].score, hits[0].tags.as_slice()),
        (0.0, &["hd".to_owned(), "new".to_owned()][..])
    );
    assert!(matches!(
        store.search_filtered("", &SearchFilter::default(), 10),
        Err(Error::EmptyQuery)
    ));
    assert!(matches!(store.search("", 10), Err(Error::EmptyQuery)));
}
