//! The backend-neutral storage interface.

use crate::{
    Classification, EvictOutcome, Hit, InfoHash, PutOutcome, Result, SearchFilter, StoreStats,
    SwarmUpdate, TableSize, Torrent, TorrentRecord, UnixSeconds,
};

/// Default [`Store::file_cap`]: file rows kept per torrent.
pub const DEFAULT_FILE_CAP: usize = 1_000;

/// Where the crawler keeps what it found.
///
/// # Threading
///
/// The trait is synchronous and `Send`, not `Sync`: one owner drives it. The crawler gives its
/// store to one dedicated writer (a `std::thread`, or `tokio::task::spawn_blocking`) that
/// receives batches over a bounded channel and calls [`put_batch`](Store::put_batch) with a
/// few hundred records at a time: one transaction per batch is what makes SQLite fast and
/// keeps one writer. Readers in other processes (`bitagent search`, `bitagent stats`) open
/// their own store on the same database; with SQLite's WAL they never block the writer. (The
/// crawler's HTTP server answers only `/metrics` and `/healthz`, from its own counters; there
/// is no search API over HTTP yet.)
///
/// # Semantics every backend must honour
///
/// The conformance suite (`testkit::store_conformance`, run by `tests/conformance_sqlite.rs`)
/// checks each of these:
/// - A batch is atomic: after a crash either all of a batch's records are visible, or none.
/// - Upsert: `first_seen` is the earliest `seen_at`, `last_seen` the latest; name, sizes,
///   flags and files are replaced; swarm numbers are replaced only by a newer `scraped_at`.
/// - At most [`file_cap`](Store::file_cap) files are stored per torrent, the first ones in
///   order; `file_count` keeps the true count.
/// - A blocked infohash is never stored: [`block`](Store::block) deletes it, and later
///   [`put_batch`](Store::put_batch) records for it are dropped and counted. The block is
///   persistent: it survives closing and reopening the store.
/// - [`search`](Store::search) ranks a match in the name above a match only in file paths; a
///   40-hex query returns exactly that torrent (or nothing); user text never reaches the
///   backend as query syntax. [`search_filtered`](Store::search_filtered) restricts it by
///   content type and tag; without words it lists the newest matching torrents.
/// - Classification (content type, tags, attributes, rules revision) is written with the
///   record by [`put_batch`](Store::put_batch) and replaced as a whole by a later put or by
///   [`set_classification`](Store::set_classification); tags are a set and attributes a map
///   (see [`TorrentRecord`]).
/// - Retention: [`evict_to_size`](Store::evict_to_size) deletes torrents by the documented
///   policy (fewest seeders first, unmeasured counting as fewest, then oldest `last_seen`)
///   until the data fits the budget, at most `max_rows` per call; resumed calls converge to
///   the same end state. Evicted torrents are not blocked.
/// - [`torrent_count`](Store::torrent_count) equals [`stats`](Store::stats)' `torrents`
///   after every write.
pub trait Store: Send + std::fmt::Debug {
    /// File rows kept per torrent.
    fn file_cap(&self) -> usize;

    /// Batched dedup: for each hash, in order, whether it needs no fetch because it is stored
    /// **or blocked**. Meant for thousands of hashes per call.
    fn known(&self, hashes: &[InfoHash]) -> Result<Vec<bool>>;

    /// Upserts a batch in one transaction (see the trait docs for the rules). Records whose
    /// hash is blocked are dropped. A hash repeated within the batch is upserted twice, in
    /// order.
    fn put_batch(&mut self, records: &[TorrentRecord]) -> Result<PutOutcome>;

    /// Records fresh swarm measurements, in one transaction. Unknown hashes and measurements
    /// older than the stored one are ignored. Returns how many torrents changed.
    fn update_swarm(&mut self, updates: &[SwarmUpdate]) -> Result<usize>;

    /// Raises `last_seen` to `seen_at` for the stored ones among `hashes` (a known torrent
    /// sampled again). Returns how many changed.
    fn touch(&mut self, hashes: &[InfoHash], seen_at: UnixSeconds) -> Result<usize>;

    /// One torrent with its stored files.
    fn get(&self, hash: &InfoHash) -> Result<Option<Torrent>>;

    /// Full-text search, best first, at most `limit` hits. See
    /// [`SearchQuery`](crate::SearchQuery) for how user text is read; text with no word in it
    /// is [`Error::EmptyQuery`](crate::Error::EmptyQuery). The same as
    /// [`search_filtered`](Store::search_filtered) with no filter.
    ///
    /// A backend may bound the work of a very broad query: its hits are then the best of its
    /// most recent matches (SQLite: "Search at scale" in [`crate::sqlite`]).
    fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        self.search_filtered(query, &SearchFilter::default(), limit)
    }

    /// [`search`](Store::search) restricted to torrents matching every part of `filter`.
    /// With a non-empty filter, text with no word in it lists the matching torrents newest
    /// first (most recently inserted first; score 0) instead of being
    /// [`Error::EmptyQuery`](crate::Error::EmptyQuery). A 40-hex query returns that torrent
    /// only if it matches the filter.
    fn search_filtered(&self, query: &str, filter: &SearchFilter, limit: usize)
    -> Result<Vec<Hit>>;

    /// One page of a search with the full query syntax, ranges, sort and keyset cursor (see
    /// [`SearchRequest`](crate::SearchRequest)). The work per call is bounded whatever the
    /// store's size; what is counted over a bounded window says so in
    /// [`SearchPage::estimated`](crate::SearchPage::estimated).
    fn search_page(&self, request: &crate::SearchRequest) -> Result<crate::SearchPage>;

    /// Replaces the classification (content type, tags, attributes, revision) of stored
    /// torrents, in one transaction. Unknown (and blocked) hashes are ignored. Returns how
    /// many torrents were updated.
    fn set_classification(&mut self, updates: &[Classification]) -> Result<usize>;

    /// Up to `limit` stored torrents (with files and classification) whose revision is not
    /// `rev` (never classified, or by other rules), in infohash order, strictly after `after`.
    /// `bitagent reclassify` pages through with the last hash of each batch as the next
    /// cursor and writes the results back with
    /// [`set_classification`](Store::set_classification) at `rev`; a run that was interrupted
    /// resumes from `None`, skipping what it already did.
    fn reclassify_batch(
        &self,
        rev: &str,
        after: Option<InfoHash>,
        limit: usize,
    ) -> Result<Vec<Torrent>>;

    /// How many stored torrents [`reclassify_batch`](Store::reclassify_batch) would still
    /// return for `rev` (for a progress bar). Scans the store.
    fn pending_reclassify(&self, rev: &str) -> Result<u64>;

    /// Up to `limit` stored infohashes in order, strictly after `after`: to walk the whole
    /// store in pages (e.g. to purge what a newly loaded double-hash blocklist matches).
    fn hashes_after(&self, after: Option<InfoHash>, limit: usize) -> Result<Vec<InfoHash>>;

    /// Torrents per content type, most first (then by type); `None` counts the unclassified.
    fn counts_by_content_type(&self) -> Result<Vec<(Option<String>, u64)>>;

    /// Enforces a disk budget, a bounded step at a time. When the stored data (SQLite: pages
    /// in use) exceeds `max_bytes` — or, with `resume`, the previous call reported
    /// [`more`](EvictOutcome::more) and it still exceeds the low-water mark — deletes
    /// torrents in this order — fewest seeders first (never measured counts as fewest), then
    /// oldest `last_seen`, then oldest insertion — down to 95% of `max_bytes` (a low-water
    /// mark, so a crawler at its budget evicts in batches rather than after every insert),
    /// deleting at most `max_rows` torrents in this call, then gives the freed space back to
    /// the file system where the backend can do so incrementally. A caller holding up other
    /// work (the crawler's writer) passes a small `max_rows` and calls again with `resume`
    /// while [`EvictOutcome::more`] says so; the calls together end where one unbounded call
    /// would. Evicted torrents are not blocked: found again, they are stored again.
    fn evict_to_size(
        &mut self,
        max_bytes: u64,
        max_rows: u64,
        resume: bool,
    ) -> Result<EvictOutcome>;

    /// Rewrites the database to give all free space back to the file system (SQLite:
    /// `VACUUM`, switching on incremental vacuum for later evictions). Takes time and disk
    /// space proportional to the database and blocks other writers meanwhile: run it when
    /// [`EvictOutcome::needs_compact`] says so, not routinely.
    fn compact(&mut self) -> Result<()>;

    /// Deletes torrents (files and index entries with them). Returns how many existed.
    fn delete(&mut self, hashes: &[InfoHash]) -> Result<usize>;

    /// Deletes torrents and remembers their hashes forever, so they are never fetched or
    /// stored again. Returns how many were newly blocked.
    fn block(&mut self, hashes: &[InfoHash], at: UnixSeconds) -> Result<usize>;

    /// Whether a hash is blocked.
    fn is_blocked(&self, hash: &InfoHash) -> Result<bool>;

    /// How many torrents are stored, exactly, without reading them (SQLite: one row of the
    /// full-text index's statistics): cheap enough to call after every write.
    fn torrent_count(&self) -> Result<u64>;

    /// Counts and sizes, cheap enough to poll.
    fn stats(&self) -> Result<StoreStats>;

    /// Per-table on-disk sizes, largest first. Reads every page: for `bitagent stats`, not for
    /// polling.
    fn table_sizes(&self) -> Result<Vec<TableSize>>;

    /// Checks the database's physical and logical consistency (for SQLite:
    /// `integrity_check`, foreign keys, the FTS index, index rows = torrents). Returns the
    /// problems found; empty means healthy.
    fn integrity_check(&self) -> Result<Vec<String>>;
}
