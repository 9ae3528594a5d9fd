//! The backend-neutral storage interface.

use crate::{
    Hit, InfoHash, PutOutcome, Result, StoreStats, SwarmUpdate, TableSize, Torrent, TorrentRecord,
    UnixSeconds,
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
/// keeps one writer. Readers in other processes or threads (`bitagent search`, the HTTP API)
/// open their own store on the same database; with SQLite's WAL they never block the writer.
///
/// # Semantics every backend must honour
///
/// The [`conformance`](crate::conformance) suite checks each of these:
/// - A batch is atomic: after a crash either all of a batch's records are visible, or none.
/// - Upsert: `first_seen` is the earliest `seen_at`, `last_seen` the latest; name, sizes,
///   flags and files are replaced; swarm numbers are replaced only by a newer `scraped_at`.
/// - At most [`file_cap`](Store::file_cap) files are stored per torrent, the first ones in
///   order; `file_count` keeps the true count.
/// - A blocked infohash is never stored: [`block`](Store::block) deletes it, and later
///   [`put_batch`](Store::put_batch) records for it are dropped and counted.
/// - [`search`](Store::search) ranks a match in the name above a match only in file paths; a
///   40-hex query returns exactly that torrent (or nothing); user text never reaches the
///   backend as query syntax.
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
    /// is [`Error::EmptyQuery`](crate::Error::EmptyQuery).
    fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>>;

    /// Deletes torrents (files and index entries with them). Returns how many existed.
    fn delete(&mut self, hashes: &[InfoHash]) -> Result<usize>;

    /// Deletes torrents and remembers their hashes forever, so they are never fetched or
    /// stored again. Returns how many were newly blocked.
    fn block(&mut self, hashes: &[InfoHash], at: UnixSeconds) -> Result<usize>;

    /// Whether a hash is blocked.
    fn is_blocked(&self, hash: &InfoHash) -> Result<bool>;

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
