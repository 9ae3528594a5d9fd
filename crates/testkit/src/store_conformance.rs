//! The conformance suite every [`Store`] backend must pass (moved here from the `store`
//! library so it is not part of its public surface; `store`'s own tests run it against SQLite
//! in `crates/store/tests/conformance_sqlite.rs`).
//!
//! Each case is a public function taking a fresh, empty store. The entry points take a
//! factory, called once per case for a fresh store:
//!
//! - [`store_conformance_tests!`](crate::store_conformance_tests) instantiates every case as
//!   its own `#[test]` with one line:
//!
//!   ```ignore
//!   testkit::store_conformance_tests!(|| Box::new(MyStore::open_fresh()) as Box<dyn store::Store>);
//!   ```
//!
//! - [`run_all`] runs every case in one test instead.
//! - [`store_persistence_tests!`](crate::store_persistence_tests) adds the reopen cases
//!   ([`PERSISTENT_CASES`]) for backends that persist.
//!
//! The factory may return anything that is `AsMut<dyn Store>` (a `Box<dyn Store>`, or a struct
//! that also owns the temporary directory of an on-disk store, or the database of a server
//! backend). Cases panic on failure, naming the case and what differed.
//!
//! The helpers ([`test_hash`], [`test_record`], [`classified_record`]) and the
//! [`SYNTAX_PROBES`] are public for backend-specific tests that want the same data.

use store::{
    Classification, Error, FileEntry, InfoHash, PutOutcome, SearchFilter, Store, SwarmUpdate,
    TorrentRecord, UnixSeconds,
};

/// One conformance case: panics unless the fresh store it is given behaves.
pub type Case = fn(&mut dyn Store);

/// Every case, by name, in the order [`run_all`] runs them.
pub const CASES: &[(&str, Case)] = &[
    ("empty_store", empty_store),
    ("put_then_get_round_trips", put_then_get_round_trips),
    (
        "upsert_keeps_first_seen_and_replaces_fields",
        upsert_keeps_first_seen_and_replaces_fields,
    ),
    ("duplicate_hash_in_one_batch", duplicate_hash_in_one_batch),
    (
        "swarm_updates_only_move_forward",
        swarm_updates_only_move_forward,
    ),
    ("touch_raises_last_seen", touch_raises_last_seen),
    ("file_cap_keeps_true_count", file_cap_keeps_true_count),
    ("huge_sizes_do_not_fail", huge_sizes_do_not_fail),
    ("file_paths_keep_any_text", file_paths_keep_any_text),
    (
        "search_name_outranks_file_paths",
        search_name_outranks_file_paths,
    ),
    ("search_exact_infohash", search_exact_infohash),
    ("search_unicode", search_unicode),
    ("search_fts_syntax_is_inert", search_fts_syntax_is_inert),
    ("search_limit_and_updates", search_limit_and_updates),
    ("block_deletes_and_remembers", block_deletes_and_remembers),
    ("delete_removes_everything", delete_removes_everything),
    ("known_batch_of_10000", known_batch_of_10000),
    ("stats_counts", stats_counts),
    ("table_sizes_lists_tables", table_sizes_lists_tables),
    ("classification_round_trips", classification_round_trips),
    (
        "set_classification_replaces_it",
        set_classification_replaces_it,
    ),
    (
        "search_filtered_by_type_and_tag",
        search_filtered_by_type_and_tag,
    ),
    (
        "filter_without_words_lists_newest",
        filter_without_words_lists_newest,
    ),
    (
        "reclassify_pages_by_cursor_and_rev",
        reclassify_pages_by_cursor_and_rev,
    ),
    ("hashes_after_walks_the_store", hashes_after_walks_the_store),
    (
        "counts_by_content_type_counts",
        counts_by_content_type_counts,
    ),
    ("eviction_follows_the_policy", eviction_follows_the_policy),
    ("eviction_in_bounded_steps", eviction_in_bounded_steps),
    ("torrent_count_is_exact", torrent_count_is_exact),
    ("blocked_stays_out", blocked_stays_out),
];

/// One persistence case: gets a function that opens *the same* database on every call, and
/// checks that what it wrote survives closing and reopening.
pub type PersistentCase = fn(&mut dyn FnMut() -> Box<dyn Store>);

/// Every persistence case, by name. Backends with durable storage instantiate them with
/// [`store_persistence_tests!`](crate::store_persistence_tests).
pub const PERSISTENT_CASES: &[(&str, PersistentCase)] = &[
    ("block_survives_reopen", block_survives_reopen),
    (
        "classification_survives_reopen",
        classification_survives_reopen,
    ),
];

/// Runs every case in [`CASES`], each on a fresh store from `make`.
pub fn run_all<S: AsMut<dyn Store>>(make: impl Fn() -> S) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("conformance: {name}");
        case(store.as_mut());
    }
}

/// Instantiates every conformance case as its own `#[test]` for one backend.
///
/// `$make` is an expression evaluating to a `Fn() -> S` with `S: AsMut<dyn Store>`; each test
/// calls it once for a fresh store.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@cases $make;
            empty_store,
            put_then_get_round_trips,
            upsert_keeps_first_seen_and_replaces_fields,
            duplicate_hash_in_one_batch,
            swarm_updates_only_move_forward,
            touch_raises_last_seen,
            file_cap_keeps_true_count,
            huge_sizes_do_not_fail,
            file_paths_keep_any_text,
            search_name_outranks_file_paths,
            search_exact_infohash,
            search_unicode,
            search_fts_syntax_is_inert,
            search_limit_and_updates,
            block_deletes_and_remembers,
            delete_removes_everything,
            known_batch_of_10000,
            stats_counts,
            table_sizes_lists_tables,
            classification_round_trips,
            set_classification_replaces_it,
            search_filtered_by_type_and_tag,
            filter_without_words_lists_newest,
            reclassify_pages_by_cursor_and_rev,
            hashes_after_walks_the_store,
            counts_by_content_type_counts,
            eviction_follows_the_policy,
            eviction_in_bounded_steps,
            torrent_count_is_exact,
            blocked_stays_out
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let make = $make;
                let mut store = make();
                $crate::store_conformance::$case(::core::convert::AsMut::as_mut(&mut store));
            }
        )*

        #[test]
        fn conformance_macro_covers_every_case() {
            let names: &[&str] = &[$(stringify!($case)),*];
            let all: ::std::vec::Vec<&str> =
                $crate::store_conformance::CASES.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, all.as_slice(), "store_conformance_tests! is out of date");
        }
    };
}

/// Instantiates every persistence case ([`PERSISTENT_CASES`]) as its own `#[test]`.
///
/// `$make` is an expression evaluating to a `Fn() -> O`, called once per test for a fresh
/// database; `O: FnMut() -> Box<dyn Store>` opens that same database each time it is called
/// (and may own its temporary directory):
///
/// ```ignore
/// testkit::store_persistence_tests!(|| {
///     let dir = tempfile::tempdir().unwrap();
///     move || Box::new(MyStore::open(dir.path()).unwrap()) as Box<dyn store::Store>
/// });
/// ```
#[macro_export]
macro_rules! store_persistence_tests {
    ($make:expr) => {
        $crate::store_persistence_tests!(@cases $make;
            block_survives_reopen,
            classification_survives_reopen
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let make = $make;
                let mut open = make();
                $crate::store_conformance::$case(&mut open);
            }
        )*

        #[test]
        fn persistence_macro_covers_every_case() {
            let names: &[&str] = &[$(stringify!($case)),*];
            let all: ::std::vec::Vec<&str> =
                $crate::store_conformance::PERSISTENT_CASES.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, all.as_slice(), "store_persistence_tests! is out of date");
        }
    };
}

// ---- helpers ---------------------------------------------------------------------------------

/// A deterministic infohash for test number `n` (splitmix64 of `n`, repeated).
///
/// Not drawn from [`seeded`](crate::seeded): this mapping is baked into the checked-in
/// databases under `crates/store/tests/fixtures/` (written by older store code with these
/// hashes), which the migration tests look up by `test_hash(n)`. It is a fixed function of
/// `n`, not a random stream, so it needs no seed.
pub fn test_hash(n: u64) -> InfoHash {
    let mut out = [0u8; 20];
    let mut x = n;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
    InfoHash(out)
}

/// A record with the given name and files, seen at `seen_at`, no swarm data.
pub fn test_record(
    n: u64,
    name: &str,
    files: &[(&str, u64)],
    seen_at: UnixSeconds,
) -> TorrentRecord {
    let files: Vec<FileEntry> = files
        .iter()
        .map(|&(path, size)| FileEntry {
            path: path.to_owned(),
            size,
        })
        .collect();
    TorrentRecord {
        info_hash: test_hash(n),
        name: name.to_owned(),
        total_size: files.iter().map(|f| f.size).sum(),
        file_count: files.len() as u64,
        files,
        private: false,
        piece_length: Some(1 << 18),
        meta_version: None,
        seen_at,
        seeders: None,
        leechers: None,
        scraped_at: None,
        ..TorrentRecord::default()
    }
}

fn names(store: &dyn Store, query: &str, limit: usize) -> Vec<String> {
    store
        .search(query, limit)
        .unwrap_or_else(|e| panic!("search {query:?}: {e}"))
        .into_iter()
        .map(|h| h.name)
        .collect()
}

fn filtered(store: &dyn Store, query: &str, filter: &SearchFilter, limit: usize) -> Vec<String> {
    store
        .search_filtered(query, filter, limit)
        .unwrap_or_else(|e| panic!("search {query:?} {filter:?}: {e}"))
        .into_iter()
        .map(|h| h.name)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn filter(content_type: Option<&str>, tag: Option<&str>) -> SearchFilter {
    SearchFilter {
        content_type: content_type.map(str::to_owned),
        tag: tag.map(str::to_owned),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A record classified as `content_type` with `tags` at revision `rev`.
pub fn classified_record(
    n: u64,
    name: &str,
    content_type: Option<&str>,
    tags: &[&str],
    seen_at: UnixSeconds,
) -> TorrentRecord {
    TorrentRecord {
        content_type: content_type.map(str::to_owned),
        tags: strings(tags),
        classified_rev: Some("rev1".into()),
        ..test_record(n, name, &[(&format!("{name}.bin"), 1)], seen_at)
    }
}

fn assert_healthy(store: &dyn Store) {
    let problems = store.integrity_check().unwrap();
    assert!(problems.is_empty(), "integrity problems: {problems:?}");
}

// ---- cases -----------------------------------------------------------------------------------

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
            .reclassify_batch("r2", Some(InfoHash([0xff; 20])), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .reclassify_batch("r2", Some(InfoHash([0; 20])), 100)
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

/// Torrents the eviction cases store.
const EVICTABLE: u64 = 3_000;

/// Eviction key of evictable torrent n: (seeders, never measured = -1; last_seen; insertion
/// order).
fn evictable_key(n: u64) -> (i64, i64, u64) {
    const N: u64 = EVICTABLE;
    let seeders = if n.is_multiple_of(4) {
        -1
    } else {
        (n % 50) as i64
    };
    (seeders, 1_000 + ((n * 7_919) % N) as i64, n)
}

/// Stores the [`EVICTABLE`] torrents, keyed by [`evictable_key`].
fn fill_evictable(store: &mut dyn Store) {
    const N: u64 = EVICTABLE;
    let key = evictable_key;
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let recs: Vec<TorrentRecord> = chunk
            .iter()
            .map(|&n| {
                let (seeders, last_seen, _) = key(n);
                let paths: Vec<String> = (0..5)
                    .map(|f| format!("some/longer/directory name/file number {n} part {f}.bin"))
                    .collect();
                let files: Vec<(&str, u64)> = paths.iter().map(|p| (p.as_str(), 1_000)).collect();
                let mut rec = test_record(
                    n,
                    &format!("evictable torrent {n} with a name"),
                    &files,
                    last_seen,
                );
                if seeders >= 0 {
                    rec.seeders = Some(seeders as u32);
                    rec.leechers = Some(1);
                    rec.scraped_at = Some(1);
                }
                rec.tags = strings(&["t"]);
                rec
            })
            .collect();
        store.put_batch(&recs).unwrap();
    }
}

/// `evict_to_size` deletes fewest-seeders-first (unmeasured first), then oldest `last_seen`,
/// until the data fits; within the budget it does nothing; evicted torrents are not blocked.
pub fn eviction_follows_the_policy(store: &mut dyn Store) {
    const N: u64 = EVICTABLE;
    let key = evictable_key;
    fill_evictable(store);
    let idle = store.evict_to_size(u64::MAX, u64::MAX, false).unwrap();
    assert_eq!(idle.evicted, 0);
    assert!(idle.within_budget && idle.bytes_before > 0, "{idle:?}");
    assert_eq!(idle.bytes_after, idle.bytes_before);
    assert_eq!(store.stats().unwrap().torrents, N);

    let budget = idle.bytes_before / 2;
    let mut evicted = 0;
    let mut last = idle;
    for _ in 0..1_000 {
        last = store.evict_to_size(budget, u64::MAX, false).unwrap();
        evicted += last.evicted;
        if last.within_budget {
            break;
        }
        assert!(last.evicted > 0, "stuck over budget: {last:?}");
    }
    assert!(last.within_budget, "{last:?}");
    assert!(last.bytes_after <= budget, "{last:?}");
    let survivors = store.stats().unwrap().torrents;
    assert_eq!(survivors + evicted, N);
    assert!(evicted > 0 && survivors > N / 5, "evicted {evicted} of {N}");
    // Every evicted torrent ranks below every survivor.
    let mut kept = std::collections::HashSet::new();
    let mut after = None;
    loop {
        let page = store.hashes_after(after, 1_000).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        kept.extend(page);
    }
    let (gone, stay): (Vec<u64>, Vec<u64>) = (0..N).partition(|&n| !kept.contains(&test_hash(n)));
    let worst_kept = stay.iter().map(|&n| key(n)).min().unwrap();
    let best_gone = gone.iter().map(|&n| key(n)).max().unwrap();
    assert!(
        best_gone < worst_kept,
        "evicted {best_gone:?} ranks above kept {worst_kept:?}"
    );
    // Within budget now: nothing more goes.
    let again = store.evict_to_size(budget, u64::MAX, false).unwrap();
    assert_eq!((again.evicted, again.within_budget), (0, true), "{again:?}");
    // Evicted is not blocked: it can come back.
    assert!(!store.is_blocked(&test_hash(gone[0])).unwrap());
    assert_eq!(
        store
            .put_batch(&[test_record(gone[0], "back", &[("b", 1)], 5_000)])
            .unwrap()
            .inserted,
        1
    );
    assert_eq!(
        filtered(store, "evictable", &filter(None, Some("t")), 5).len(),
        5
    );
    assert_healthy(store);
}

/// Eviction in bounded steps (the crawler's writer: a few thousand rows per job): each call
/// deletes at most `max_rows` and says whether more is needed; resumed calls end within the
/// budget, at the low-water mark, with the same policy order as one unbounded call.
pub fn eviction_in_bounded_steps(store: &mut dyn Store) {
    const N: u64 = EVICTABLE;
    const STEP: u64 = 100;
    fill_evictable(store);
    let budget = store
        .evict_to_size(u64::MAX, STEP, false)
        .unwrap()
        .bytes_before
        / 2;
    let first = store.evict_to_size(budget, STEP, false).unwrap();
    assert_eq!(first.evicted, STEP, "{first:?}");
    assert!(first.more && !first.within_budget, "{first:?}");
    let mut evicted = first.evicted;
    let mut last = first;
    let mut calls = 1;
    while last.more {
        last = store.evict_to_size(budget, STEP, true).unwrap();
        assert!(last.evicted <= STEP, "{last:?}");
        evicted += last.evicted;
        calls += 1;
        assert!(calls < N, "eviction did not converge: {last:?}");
    }
    assert!(calls > 2, "{calls} calls");
    assert!(last.within_budget && last.bytes_after <= budget, "{last:?}");
    // Down to the low-water mark, as one call would go (the hysteresis survives the steps).
    assert!(last.bytes_after <= budget - budget / 20, "{last:?}");
    assert_eq!(store.stats().unwrap().torrents + evicted, N);
    assert_eq!(store.torrent_count().unwrap(), N - evicted);
    let mut kept = std::collections::HashSet::new();
    let mut after = None;
    loop {
        let page = store.hashes_after(after, 1_000).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        kept.extend(page);
    }
    let (gone, stay): (Vec<u64>, Vec<u64>) = (0..N).partition(|&n| !kept.contains(&test_hash(n)));
    let worst_kept = stay.iter().map(|&n| evictable_key(n)).min().unwrap();
    let best_gone = gone.iter().map(|&n| evictable_key(n)).max().unwrap();
    assert!(
        best_gone < worst_kept,
        "evicted {best_gone:?} ranks above kept {worst_kept:?}"
    );
    // Done: neither a new call nor a resumed one deletes anything more.
    for resume in [false, true] {
        let again = store.evict_to_size(budget, STEP, resume).unwrap();
        assert_eq!((again.evicted, again.more), (0, false), "{again:?}");
    }
    assert_healthy(store);
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

// ---- persistence cases -----------------------------------------------------------------------

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
