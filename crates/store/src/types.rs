//! Plain data that crosses the [`Store`](crate::Store) boundary. No backend types leak here.

pub use infohash::{InfoHash, ParseInfoHashError};

/// Seconds since the Unix epoch. The store never reads the clock; callers pass time in.
pub type UnixSeconds = i64;

/// One file of a torrent, as listed in its info dict (path components joined with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path inside the torrent, components joined with `/`. A single-file torrent has one
    /// entry whose path is the torrent's name.
    pub path: String,
    /// Length in bytes.
    pub size: u64,
}

/// What the crawler hands the store for one fetched torrent: a plain mapping of the verified
/// info dict plus when it was seen, if known its swarm, and its classification.
///
/// `Default` is an empty record (zero hash, no files, unclassified): build one with
/// `TorrentRecord { info_hash, name, .., ..Default::default() }` so new fields do not break
/// callers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TorrentRecord {
    /// The key.
    pub info_hash: InfoHash,
    /// The info dict's `name` (lossily UTF-8).
    pub name: String,
    /// Sum of all file lengths.
    pub total_size: u64,
    /// The files; the store keeps at most [`Store::file_cap`](crate::Store::file_cap) of them,
    /// in order.
    pub files: Vec<FileEntry>,
    /// The true number of files in the info dict, even when `files` was truncated by the
    /// caller. The store records `max(file_count, files.len())`.
    pub file_count: u64,
    /// BEP-27 `private` flag.
    pub private: bool,
    /// `piece length`, when present.
    pub piece_length: Option<u64>,
    /// BEP-52 `meta version` (2 for v2/hybrid), when present.
    pub meta_version: Option<u8>,
    /// When the crawler saw the infohash (becomes `first_seen` on insert, `last_seen` always).
    pub seen_at: UnixSeconds,
    /// Seeders from a BEP-33 scrape, if one was done.
    pub seeders: Option<u32>,
    /// Leechers from a BEP-33 scrape, if one was done.
    pub leechers: Option<u32>,
    /// When the scrape was done; swarm numbers without it are ignored.
    pub scraped_at: Option<UnixSeconds>,
    /// Content type from the post-fetch rules (`movie`, `tv`, `music`, ...); `None`:
    /// unclassified. An empty string counts as `None`.
    pub content_type: Option<String>,
    /// Tags from the post-fetch rules. Stored as a set: sorted, duplicates and empty tags
    /// dropped.
    pub tags: Vec<String>,
    /// Attributes from the post-fetch rules (`resolution` = `1080p`, ...). Stored as a map:
    /// sorted by key; for a key given twice the last value wins.
    pub attributes: Vec<(String, String)>,
    /// The rules revision that produced the classification (see
    /// [`Store::reclassify_batch`](crate::Store::reclassify_batch)); `None`: not classified
    /// by any revision.
    pub classified_rev: Option<String>,
}

/// A stored torrent, as [`Store::get`](crate::Store::get) returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Torrent {
    /// The key.
    pub info_hash: InfoHash,
    /// Name.
    pub name: String,
    /// Sum of all file lengths (saturated at `i64::MAX` by SQL backends).
    pub total_size: u64,
    /// The stored files, at most the store's file cap, in info-dict order.
    pub files: Vec<FileEntry>,
    /// The true file count (may exceed `files.len()`).
    pub file_count: u64,
    /// BEP-27 private flag.
    pub private: bool,
    /// The info dict's `piece length` in bytes, `None` if it had none.
    pub piece_length: Option<u64>,
    /// The info dict's BEP-52 `meta version` (2 for v2/hybrid), `None` for a v1 torrent.
    pub meta_version: Option<u8>,
    /// First time the store saw the infohash.
    pub first_seen: UnixSeconds,
    /// Latest time the infohash was seen ([`Store::put_batch`](crate::Store::put_batch) or
    /// [`Store::touch`](crate::Store::touch)).
    pub last_seen: UnixSeconds,
    /// Seeders at `scraped_at`.
    pub seeders: Option<u32>,
    /// Leechers at `scraped_at`.
    pub leechers: Option<u32>,
    /// When the swarm was last measured.
    pub scraped_at: Option<UnixSeconds>,
    /// Content type; `None`: unclassified.
    pub content_type: Option<String>,
    /// Tags, sorted, distinct.
    pub tags: Vec<String>,
    /// Attributes, sorted by key, keys distinct.
    pub attributes: Vec<(String, String)>,
    /// The rules revision that classified it, if any.
    pub classified_rev: Option<String>,
}

/// A fresh swarm measurement for a stored torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmUpdate {
    /// Which torrent.
    pub info_hash: InfoHash,
    /// Seeders (BEP-33 estimate or peer count).
    pub seeders: u32,
    /// Leechers.
    pub leechers: u32,
    /// When measured. Older than the stored measurement means ignored.
    pub scraped_at: UnixSeconds,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The key.
    pub info_hash: InfoHash,
    /// Name.
    pub name: String,
    /// Total size in bytes.
    pub total_size: u64,
    /// The true file count, as [`Torrent::file_count`] (may exceed the stored file rows).
    pub file_count: u64,
    /// Seeders, if scraped.
    pub seeders: Option<u32>,
    /// Leechers, if scraped.
    pub leechers: Option<u32>,
    /// When the infohash was first seen, as [`Torrent::first_seen`].
    pub first_seen: UnixSeconds,
    /// When the infohash was last seen, as [`Torrent::last_seen`].
    pub last_seen: UnixSeconds,
    /// When seeders/leechers were measured, if ever.
    pub scraped_at: Option<UnixSeconds>,
    /// Relevance: higher is better. Backend-specific scale (SQLite: `-bm25`, or for a broad
    /// query 2 when every word is in the name and 1 otherwise); an exact infohash hit scores
    /// `f64::INFINITY`; a listing without words (a filter only) scores 0.
    pub score: f64,
    /// Content type; `None`: unclassified.
    pub content_type: Option<String>,
    /// Tags, sorted, distinct.
    pub tags: Vec<String>,
    /// Attributes (name-derived: resolution, year, season, ...), sorted by key, as
    /// [`Torrent::attributes`].
    pub attributes: Vec<(String, String)>,
}

/// Restricts [`Store::search_filtered`](crate::Store::search_filtered). The default (no
/// restriction) is plain [`Store::search`](crate::Store::search).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchFilter {
    /// Only torrents of exactly this content type.
    pub content_type: Option<String>,
    /// Only torrents carrying exactly this tag.
    pub tag: Option<String>,
}

impl SearchFilter {
    /// Whether the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self.content_type.is_none() && self.tag.is_none()
    }
}

/// A (re)classification of a stored torrent, for
/// [`Store::set_classification`](crate::Store::set_classification): replaces its content type,
/// tags, attributes and revision (normalised as in [`TorrentRecord`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classification {
    /// Which torrent (unknown ones are ignored).
    pub info_hash: InfoHash,
    /// Content type; `None`: unclassified.
    pub content_type: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
    /// The rules revision that produced it.
    pub rev: String,
}

/// What one [`Store::evict_to_size`](crate::Store::evict_to_size) call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvictOutcome {
    /// Torrents deleted by this call.
    pub evicted: u64,
    /// The call stopped at its `max_rows` bound with the data still above the low-water
    /// mark: call again with `resume` set (after letting other work run) to finish.
    pub more: bool,
    /// Bytes the data occupied before (SQLite: pages in use × page size, free pages excluded).
    pub bytes_before: u64,
    /// Bytes the data occupies now, same measure.
    pub bytes_after: u64,
    /// Bytes of the database file(s) now (SQLite: all pages, free ones included, plus the WAL;
    /// 0 in memory).
    pub file_bytes: u64,
    /// The data fits the budget (`bytes_after <= max_bytes`). `false` with `evicted > 0`:
    /// the per-call bound was hit (see [`more`](EvictOutcome::more)), call again; `false`
    /// with `evicted == 0`: nothing left to evict.
    pub within_budget: bool,
    /// The data fits but the file does not, and only
    /// [`Store::compact`](crate::Store::compact) can give the space back (a SQLite database
    /// created before schema v2 has no incremental vacuum until compacted once).
    pub needs_compact: bool,
}

/// What one [`Store::put_batch`](crate::Store::put_batch) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PutOutcome {
    /// New torrents.
    pub inserted: usize,
    /// Torrents that were already stored and got upserted.
    pub updated: usize,
    /// Records dropped because their infohash is blocked.
    pub blocked: usize,
}

/// Cheap counters for `bitagent stats`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Stored torrents.
    pub torrents: u64,
    /// Stored file rows (capped per torrent).
    pub file_rows: u64,
    /// Sum of the true file counts.
    pub files_total: u64,
    /// Blocked infohashes.
    pub blocked: u64,
    /// Torrents with a swarm measurement.
    pub scraped: u64,
    /// Schema version.
    pub schema_version: u32,
    /// Bytes of the main database (pages × page size; 0 where meaningless).
    pub db_bytes: u64,
    /// Bytes of the write-ahead log on disk, if any.
    pub wal_bytes: u64,
    /// Pages in the main database.
    pub page_count: u64,
    /// Page size in bytes.
    pub page_size: u64,
    /// Free (reusable) pages.
    pub free_pages: u64,
}

/// On-disk size of one table or index, from [`Store::table_sizes`](crate::Store::table_sizes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSize {
    /// Table or index name (FTS shadow tables are listed by their own names).
    pub name: String,
    /// Bytes used by its pages.
    pub bytes: u64,
}
