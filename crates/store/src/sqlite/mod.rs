//! The default backend: one SQLite file with FTS5, in WAL mode.
//!
//! # Durability
//!
//! Connections run `journal_mode=WAL`, `synchronous=NORMAL`, `foreign_keys=ON` and a busy
//! timeout. In WAL mode every commit is appended to the `-wal` file before it returns, and a
//! torn tail is ignored on recovery (checksummed frames), so **a killed process (kill -9,
//! panic, OOM kill) loses nothing it committed** and never corrupts the file. `NORMAL` skips
//! the fsync at each commit (WAL is synced at checkpoints only), so an **OS crash or power
//! loss** may roll back the last transactions — never half of one, and the file stays
//! consistent. For a crawler that re-finds what it lost, that trade (several times the write
//! rate) is right; `tests/crash.rs` kills a writer with SIGKILL and checks both claims.
//!
//! # Layout
//!
//! See [`migrations::MIGRATIONS`] for the schema. The FTS5 table `torrents_fts` is contentless
//! (the text lives in `torrents`/`torrent_files` only) and is written by this module inside
//! the same transaction as the rows it indexes, so the index can never disagree with the
//! tables after a crash; [`Store::integrity_check`] verifies that it does not.
//!
//! A torrent's stored files (schema v3) are one `torrent_files` row, a JSON array of
//! `[path, size]` pairs in info-dict order, read back with `json_each`; `torrents.stored_files`
//! counts them for [`Store::stats`]. Files are only ever written and read a torrent at a
//! time, and a row per file cost a B-tree insert per file.
//!
//! Classification (schema v2) lives in `torrents.content_type`, `torrents.attributes` (a JSON
//! object, read back with `json_each`), `torrents.classified_rev` and the `torrent_tags`
//! table, each indexed for the `--type`/`--tag` filters; deleting a torrent cascades to its
//! tags.
//!
//! # Write path
//!
//! [`Store::put_batch`] is one `IMMEDIATE` transaction. It writes every record's rows first
//! (torrent, files, tags) and the batch's full-text entries last: FTS5 keeps pending terms in
//! memory until the commit, but flushes them to a new index segment whenever a statement
//! that may need a statement journal starts (an insert checked by a foreign key, an upsert),
//! so interleaving the two made one segment per torrent and merge work to match (24% of the
//! ingest time). A new torrent costs a plain insert (`ON CONFLICT DO NOTHING`; a known one
//! is then updated), not an upsert, which runs with a statement journal. The writer
//! checkpoints the WAL every [`SqliteOptions::wal_autocheckpoint_kib`] (64 MiB, SQLite's
//! default is 4 MiB): the random-order infohash index dirties about one page per new
//! torrent at a million torrents, and a larger WAL copies such a page back once for many
//! batches. The WAL file grows to about that size.
//!
//! # Search at scale
//!
//! A word search runs in one read transaction. First each word's torrents are counted, up
//! to one past the *search window* ([`SqliteOptions::search_window`], 2,000): a count costs
//! at most the window, however common the word.
//!
//! - **Selective queries**, every word in at most `window` torrents: bm25 over every match,
//!   a name match weighted 10× a path match, best first (ties: most seeders, then oldest).
//!   Exact, and cheap because the window bounds bm25's work.
//! - **Broad queries**, some word in more torrents than that. bm25 is not used: its IDF
//!   alone walks each word's whole doclist once per query (about 10 ms for a word in 40% of
//!   a million torrents) and scoring costs about 1 µs per match (350 ms to rank all the
//!   torrents holding `mkv` at a million). Instead the hits are the newest `window` torrents
//!   with every word in the name, most seeders first (never measured last), then newest,
//!   scored 2; and, if fewer than `limit` of those pass the filter, the other matches among
//!   the newest `window` (some word only in file paths), likewise, scored 1.
//!
//! So a name match still ranks above a path match, and every match is found when a query
//! has at most `window` of them in a tier. What degrades for a query with more matches than
//! that: hits come from its most recent `window` matches only (an older, better seeded
//! release does not show up until the query is narrowed); within a tier, bm25's preference
//! for short names is replaced by swarm size; and a type or tag filter applies to those
//! newest matches only, so a broad query restricted to a type that is rare among its
//! matches can return fewer than `limit` hits although older ones exist. Cost: finding the
//! newest `window` matches reads the words' doclists from the newest end until it has them;
//! words that are each very common but rarely together are read to the end (the slowest
//! queries at a million torrents: three-word p99 14 ms, worst 21 ms; `BENCHMARKS.md`).
//!
//! # Retention (`--max-db-size`)
//!
//! [`Store::evict_to_size`] measures the data as pages in use (`page_count - freelist_count`)
//! × `page_size`. Above the budget it deletes torrents in this order, 1,000 per transaction
//! and at most the caller's `max_rows` per call (the crawler: 2,000 per writer job, resumed
//! until done):
//!
//! 1. fewest seeders first, a torrent never measured (`seeders` NULL) counting as fewest;
//! 2. then the oldest `last_seen` (not sampled for the longest time);
//! 3. then the oldest insertion (lowest id);
//!
//! (one scan of the table per call picks the call's candidates: since schema v4 no index
//! keeps this order, which cost every insert a random leaf; at a million torrents the scan
//! takes 0.2 s, 3 s from a cold disk cache) until the data is at or below
//! 95% of the budget, then runs `PRAGMA incremental_vacuum` and a `TRUNCATE` checkpoint so the
//! file itself shrinks. New databases are created with `auto_vacuum = INCREMENTAL` for this;
//! a database created before schema v2 has `auto_vacuum = NONE`, which only a `VACUUM` can
//! change: eviction still keeps its data within the budget (freed pages are reused, the file
//! stops growing) and reports [`EvictOutcome::needs_compact`]; one [`Store::compact`] then
//! rewrites it (this needs free disk space about the size of the compacted database, and
//! time) and switches incremental vacuum on for good.
//!
//! SQLite frees a page only when it is empty (pages under a third full are merged): evicting
//! rows scattered across the tables leaves pages partly used that new rows (appended at the
//! end of the id space) do not refill, so eviction can remove more torrents than a perfectly
//! packed file would need. When the eviction order follows age it is close to ideal (halving
//! a database evicted 56% of its torrents); when it is unrelated to insertion order it is not
//! (halving took 68%, and evicting 20% of 100,000 torrents freed 8% of the data; see
//! `BENCHMARKS.md`). [`Store::compact`] repacks.

pub mod migrations;

mod inspect;
mod open;
mod read;
mod retention;
mod search;
mod write;

use std::path::PathBuf;

use rusqlite::Connection;

use crate::{
    Classification, EvictOutcome, Hit, InfoHash, PutOutcome, Result, SearchFilter, Store,
    StoreStats, SwarmUpdate, TableSize, Torrent, TorrentRecord, UnixSeconds,
};

pub use open::{DEFAULT_SEARCH_WINDOW, SqliteOptions};
pub use search::{BROAD_NAME_SCORE, BROAD_PATHS_SCORE};

/// The SQLite [`Store`].
pub struct SqliteStore {
    conn: Connection,
    path: Option<PathBuf>,
    file_cap: usize,
    search_window: i64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("file_cap", &self.file_cap)
            .finish_non_exhaustive()
    }
}

/// u64 to SQLite's i64, saturating (a hostile info dict may claim 2^64-1 bytes).
fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn opt_u32(v: Option<i64>) -> Option<u32> {
    v.map(|v| u32::try_from(v.max(0)).unwrap_or(u32::MAX))
}

fn limit_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn hash_from_blob(b: Vec<u8>) -> rusqlite::Result<InfoHash> {
    InfoHash::from_v1_slice(&b).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(0, "info_hash".into(), rusqlite::types::Type::Blob)
    })
}

/// A cursor as a blob: `None` is the empty blob, which sorts before every infohash.
fn cursor_blob(after: Option<InfoHash>) -> Vec<u8> {
    after.map(|h| h.as_bytes().to_vec()).unwrap_or_default()
}

impl Store for SqliteStore {
    fn file_cap(&self) -> usize {
        self.file_cap
    }

    fn known(&self, hashes: &[InfoHash]) -> Result<Vec<bool>> {
        read::known(self, hashes)
    }

    fn put_batch(&mut self, records: &[TorrentRecord]) -> Result<PutOutcome> {
        write::put_batch(self, records)
    }

    fn update_swarm(&mut self, updates: &[SwarmUpdate]) -> Result<usize> {
        write::update_swarm(self, updates)
    }

    fn touch(&mut self, hashes: &[InfoHash], seen_at: UnixSeconds) -> Result<usize> {
        write::touch(self, hashes, seen_at)
    }

    fn get(&self, hash: &InfoHash) -> Result<Option<Torrent>> {
        read::get(self, hash)
    }

    fn search_filtered(
        &self,
        query: &str,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        search::search_filtered(self, query, filter, limit)
    }

    fn search_page(&self, request: &crate::SearchRequest) -> Result<crate::SearchPage> {
        search::search_page(self, request)
    }

    fn set_classification(&mut self, updates: &[Classification]) -> Result<usize> {
        write::set_classification(self, updates)
    }

    fn reclassify_batch(
        &self,
        rev: &str,
        after: Option<InfoHash>,
        limit: usize,
    ) -> Result<Vec<Torrent>> {
        read::reclassify_batch(self, rev, after, limit)
    }

    fn pending_reclassify(&self, rev: &str) -> Result<u64> {
        inspect::pending_reclassify(self, rev)
    }

    fn hashes_after(&self, after: Option<InfoHash>, limit: usize) -> Result<Vec<InfoHash>> {
        read::hashes_after(self, after, limit)
    }

    fn counts_by_content_type(&self) -> Result<Vec<(Option<String>, u64)>> {
        inspect::counts_by_content_type(self)
    }

    fn evict_to_size(
        &mut self,
        max_bytes: u64,
        max_rows: u64,
        resume: bool,
    ) -> Result<EvictOutcome> {
        retention::evict_to_size(self, max_bytes, max_rows, resume)
    }

    fn compact(&mut self) -> Result<()> {
        retention::compact(self)
    }

    fn delete(&mut self, hashes: &[InfoHash]) -> Result<usize> {
        write::delete(self, hashes)
    }

    fn block(&mut self, hashes: &[InfoHash], at: UnixSeconds) -> Result<usize> {
        write::block(self, hashes, at)
    }

    fn is_blocked(&self, hash: &InfoHash) -> Result<bool> {
        read::is_blocked(self, hash)
    }

    fn torrent_count(&self) -> Result<u64> {
        inspect::torrent_count(self)
    }

    fn stats(&self) -> Result<StoreStats> {
        inspect::stats(self)
    }

    fn table_sizes(&self) -> Result<Vec<TableSize>> {
        inspect::table_sizes(self)
    }

    fn integrity_check(&self) -> Result<Vec<String>> {
        inspect::integrity_check(self)
    }
}
