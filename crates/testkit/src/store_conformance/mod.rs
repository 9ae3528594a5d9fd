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
//! The cases are grouped by concern: `write` (puts, upserts, swarm numbers, touches, deletes,
//! blocks, dedup), `search`, `classify`, `inspect` (stats, sizes, counts), `retention`
//! (eviction) and `persistence` (reopen cases); all are re-exported here.
//!
//! The helpers ([`test_hash`], [`test_record`], [`classified_record`]) and the
//! [`SYNTAX_PROBES`] are public for backend-specific tests that want the same data.

use store::{
    Classification, Error, FileEntry, InfoHash, PutOutcome, SearchFilter, Store, SwarmUpdate,
    TorrentRecord, UnixSeconds,
};

mod classify;
mod inspect;
mod persistence;
mod retention;
mod search;
mod write;

pub use classify::{
    classification_round_trips, counts_by_content_type_counts, hashes_after_walks_the_store,
    reclassify_pages_by_cursor_and_rev, set_classification_replaces_it,
};
pub use inspect::{stats_counts, table_sizes_lists_tables, torrent_count_is_exact};
pub use persistence::{block_survives_reopen, classification_survives_reopen};
pub use retention::{eviction_follows_the_policy, eviction_in_bounded_steps};
pub use search::{
    SYNTAX_PROBES, filter_without_words_lists_newest, search_exact_infohash,
    search_filtered_by_type_and_tag, search_fts_syntax_is_inert, search_limit_and_updates,
    search_name_outranks_file_paths, search_unicode,
};
pub use write::{
    block_deletes_and_remembers, blocked_stays_out, delete_removes_everything,
    duplicate_hash_in_one_batch, empty_store, file_cap_keeps_true_count, file_paths_keep_any_text,
    huge_sizes_do_not_fail, known_batch_of_10000, put_then_get_round_trips,
    swarm_updates_only_move_forward, touch_raises_last_seen,
    upsert_keeps_first_seen_and_replaces_fields,
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
    InfoHash::v1(out)
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
