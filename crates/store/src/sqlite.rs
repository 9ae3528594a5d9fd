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
//! and at most 20,000 per call:
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

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{ToSql, Value};
use rusqlite::{
    Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params, params_from_iter,
};

use crate::query::{SearchQuery, fts5_match};
use crate::store::DEFAULT_FILE_CAP;
use crate::{
    Classification, Error, EvictOutcome, FileEntry, Hit, InfoHash, PutOutcome, Result,
    SearchFilter, Store, StoreStats, SwarmUpdate, TableSize, Torrent, TorrentRecord, UnixSeconds,
};

/// Tuning for [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// File rows kept per torrent ([`DEFAULT_FILE_CAP`]).
    pub file_cap: usize,
    /// How long a statement waits for another connection's lock before failing with `BUSY`.
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB.
    pub cache_kib: u32,
    /// The writer checkpoints the WAL into the main file once it holds this many KiB
    /// (SQLite's default is 4 MiB). A larger WAL lets a page written by many batches (random
    /// index pages, above all the infohash index) be copied back once instead of once per
    /// batch; the WAL file grows to about this size.
    pub wal_autocheckpoint_kib: u32,
    /// Reads pages through a memory map of up to this many MiB of the file instead of
    /// `read` calls (0: off, the default). Searches at 1 M torrents ran 20–40% faster with
    /// it (`BENCHMARKS.md`), but every mapped page a process touches counts in its resident
    /// memory, so the crawler's writer leaves it off; a long-lived reader (an HTTP API) may
    /// turn it on. An I/O error under a map is a signal, not an error.
    pub mmap_mib: u32,
    /// Search work bound, in matches (see "Search at scale" in the module docs): a query
    /// whose every word is in at most this many torrents is ranked by bm25 over all its
    /// matches; a broader one looks at the newest this many torrents holding its rarest word.
    pub search_window: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            file_cap: DEFAULT_FILE_CAP,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 32 * 1024,
            wal_autocheckpoint_kib: 64 * 1024,
            mmap_mib: 0,
            search_window: DEFAULT_SEARCH_WINDOW,
        }
    }
}

/// Default [`SqliteOptions::search_window`].
pub const DEFAULT_SEARCH_WINDOW: u32 = 2_000;

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

/// `id` and every column [`read_torrent`] maps, in its order.
const TORRENT_COLUMNS: &str = "id, info_hash, name, total_size, file_count, private, \
     piece_length, meta_version, first_seen, last_seen, seeders, leechers, scraped_at, \
     content_type, attributes, classified_rev";

/// The columns a [`Hit`] is read from ([`read_hit`]), for a `torrents AS t` in the query.
const HIT_COLUMNS: &str = "t.id, t.info_hash, t.name, t.total_size, t.file_count, t.seeders, \
     t.leechers, t.last_seen, t.content_type";

/// Torrents deleted per eviction transaction.
const EVICT_BATCH: u64 = 1_000;
/// Torrents deleted per [`Store::evict_to_size`] call at most.
const EVICT_PER_CALL: u64 = 20_000;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options and brings its
    /// schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path`, creating it and its parent directory if needed.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, Some(path.to_path_buf()), &options)
    }

    /// A private in-memory database (tests, benchmarks).
    pub fn open_in_memory() -> Result<Self> {
        Self::open_in_memory_with(SqliteOptions::default())
    }

    /// A private in-memory database with options.
    pub fn open_in_memory_with(options: SqliteOptions) -> Result<Self> {
        Self::init(Connection::open_in_memory()?, None, &options)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>, options: &SqliteOptions) -> Result<Self> {
        conn.busy_timeout(options.busy_timeout)?;
        migrations::prepare_new(&conn)?;
        // Returns the resulting mode: "wal" on disk, "memory" in memory.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib))?;
        if options.mmap_mib > 0 {
            // Returns the size in effect.
            let _: i64 = conn.query_row(
                &format!("PRAGMA mmap_size = {}", u64::from(options.mmap_mib) << 20),
                [],
                |r| r.get(0),
            )?;
        }
        migrations::migrate(&mut conn)?;
        // In pages; the page size is known once the schema exists.
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let wal_pages = i64::from(options.wal_autocheckpoint_kib) * 1024 / page_size.max(512);
        conn.pragma_update(None, "wal_autocheckpoint", wal_pages.max(1))?;
        // The search keeps a handful of statement shapes per filter combination.
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteStore {
            conn,
            path,
            file_cap: options.file_cap,
            search_window: i64::from(options.search_window.max(1)),
        })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        migrations::schema_version(&self.conn)
    }

    /// Copies the WAL into the main file and truncates it (e.g. before a backup or on a clean
    /// shutdown). Readers keep working; the writer also checkpoints on its own every
    /// [`SqliteOptions::wal_autocheckpoint_kib`].
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
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
    <[u8; 20]>::try_from(b.as_slice())
        .map(InfoHash)
        .map_err(|_| {
            rusqlite::Error::InvalidColumnType(0, "info_hash".into(), rusqlite::types::Type::Blob)
        })
}

/// A cursor as a blob: `None` is the empty blob, which sorts before every infohash.
fn cursor_blob(after: Option<InfoHash>) -> Vec<u8> {
    after.map(|h| h.0.to_vec()).unwrap_or_default()
}

fn torrent_id(conn: &Connection, hash: &InfoHash) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM torrents WHERE info_hash = ?1")?
        .query_row([&hash.0[..]], |r| r.get(0))
        .optional()
}

/// Deletes one torrent by id: its index entry, then the row (files and tags cascade).
fn delete_id(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM torrents_fts WHERE rowid = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM torrents WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Deletes one torrent, its files, tags and index entry. Returns whether it existed.
fn delete_one(tx: &Transaction<'_>, hash: &InfoHash) -> rusqlite::Result<bool> {
    let Some(id) = torrent_id(tx, hash)? else {
        return Ok(false);
    };
    delete_id(tx, id)?;
    Ok(true)
}

/// A content type as stored: an empty one is none.
fn norm_type(content_type: Option<&String>) -> Option<&str> {
    content_type.map(String::as_str).filter(|t| !t.is_empty())
}

/// Tags as stored: sorted, distinct, no empty ones.
fn norm_tags(tags: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Attributes as stored: a JSON object, keys sorted and distinct (the last value given for a
/// key wins); `None` when there are none.
fn attributes_json(attributes: &[(String, String)]) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let map: BTreeMap<&str, &str> = attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = String::from("{");
    for (i, (k, v)) in map.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(&mut out, k);
        out.push(':');
        json_string(&mut out, v);
    }
    out.push('}');
    Some(out)
}

/// Appends `s` as a JSON string (RFC 8259: quote, backslash and control characters escaped).
fn json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Everything that needs escaping is ASCII, so byte positions are char boundaries: copy the
    // runs between them whole (this runs for every stored file path).
    let mut rest = s;
    while let Some(i) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        out.push_str(&rest[..i]);
        match rest.as_bytes()[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Replaces a torrent's tags (`replace`: it may have some already).
fn write_tags(tx: &Transaction<'_>, id: i64, tags: &[String], replace: bool) -> Result<()> {
    if replace {
        tx.prepare_cached("DELETE FROM torrent_tags WHERE torrent_id = ?1")?
            .execute([id])?;
    }
    let tags = norm_tags(tags);
    if !tags.is_empty() {
        let mut insert =
            tx.prepare_cached("INSERT INTO torrent_tags (torrent_id, tag) VALUES (?1, ?2)")?;
        for tag in tags {
            insert.execute(params![id, tag])?;
        }
    }
    Ok(())
}

/// Upserts one record's rows (not its index entry: see [`put_batch`](Store::put_batch)).
/// `None`: blocked; else whether it was inserted (not updated), its id and its stored paths
/// newline-joined, for the index.
fn put_one(
    tx: &Transaction<'_>,
    file_cap: usize,
    rec: &TorrentRecord,
) -> Result<Option<(bool, i64, String)>> {
    let hash = &rec.info_hash.0[..];
    let blocked = tx
        .prepare_cached("SELECT 1 FROM blocked WHERE info_hash = ?1")?
        .exists([hash])?;
    if blocked {
        return Ok(None);
    }
    let stored = &rec.files[..rec.files.len().min(file_cap)];
    let stored_files = stored.len() as i64;
    let file_count = to_sql(rec.file_count.max(rec.files.len() as u64));
    // Swarm numbers count only with the time they were measured.
    let (seeders, leechers) = match rec.scraped_at {
        Some(_) => (rec.seeders, rec.leechers),
        None => (None, None),
    };
    let content_type = norm_type(rec.content_type.as_ref());
    let attributes = attributes_json(&rec.attributes);
    let (total_size, piece_length) = (to_sql(rec.total_size), rec.piece_length.map(to_sql));
    let mut values: Vec<&dyn ToSql> = vec![
        &hash,
        &rec.name,
        &total_size,
        &file_count,
        &rec.private,
        &piece_length,
        &rec.meta_version,
        &rec.seen_at,
        &seeders,
        &leechers,
        &rec.scraped_at,
        &content_type,
        &attributes,
        &rec.classified_rev,
        &stored_files,
    ];
    // A new torrent (the common case) costs one insert: the unique index finds a known one.
    // Not an upsert: an upsert runs with a statement journal, which copies every page it
    // touches.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO torrents (info_hash, name, total_size, file_count, private, \
                 piece_length, meta_version, first_seen, last_seen, seeders, leechers, \
                 scraped_at, content_type, attributes, classified_rev, stored_files) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (info_hash) DO NOTHING",
        )?
        .execute(values.as_slice())?
        == 1;
    let existing = if inserted {
        None
    } else {
        // DO NOTHING happened: the hash is stored.
        Some(torrent_id(tx, &rec.info_hash)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?)
    };
    let id = match existing {
        None => tx.last_insert_rowid(),
        Some(id) => {
            // A known one keeps its first sighting and takes swarm numbers only from a
            // measurement at least as new (every right-hand side sees the row as it was).
            values.push(&id);
            tx.prepare_cached(
                "UPDATE torrents SET name = ?2, total_size = ?3, \
                     file_count = ?4, private = ?5, piece_length = ?6, meta_version = ?7, \
                     first_seen = min(first_seen, ?8), last_seen = max(last_seen, ?8), \
                     seeders  = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?9 ELSE seeders END, \
                     leechers = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?10 ELSE leechers END, \
                     scraped_at = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?11 ELSE scraped_at END, \
                     content_type = ?12, attributes = ?13, classified_rev = ?14, \
                     stored_files = ?15 \
                 WHERE id = ?16",
            )?
            .execute(values.as_slice())?;
            id
        }
    };
    write_tags(tx, id, &rec.tags, existing.is_some())?;
    let text: usize = stored.iter().map(|f| f.path.len()).sum();
    let mut paths = String::with_capacity(text + stored.len());
    let mut json = String::with_capacity(text + 24 * stored.len() + 2);
    json.push('[');
    for (idx, f) in stored.iter().enumerate() {
        if idx > 0 {
            paths.push('\n');
            json.push(',');
        }
        paths.push_str(&f.path);
        json.push('[');
        json_string(&mut json, &f.path);
        let _ = write!(json, ",{}]", to_sql(f.size));
    }
    json.push(']');
    match (stored.is_empty(), existing.is_some()) {
        (true, false) => {}
        (true, true) => {
            tx.prepare_cached("DELETE FROM torrent_files WHERE torrent_id = ?1")?
                .execute([id])?;
        }
        (false, false) => {
            tx.prepare_cached("INSERT INTO torrent_files (torrent_id, files) VALUES (?1, ?2)")?
                .execute(params![id, json])?;
        }
        (false, true) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO torrent_files (torrent_id, files) VALUES (?1, ?2)",
            )?
            .execute(params![id, json])?;
        }
    }
    Ok(Some((existing.is_none(), id, paths)))
}

/// A row of [`TORRENT_COLUMNS`]: the id, the torrent without files, tags and attributes, and
/// the attributes' JSON (see [`fill_torrent`]).
fn read_torrent(r: &Row<'_>) -> rusqlite::Result<(i64, Torrent, Option<String>)> {
    Ok((
        r.get(0)?,
        Torrent {
            info_hash: hash_from_blob(r.get(1)?)?,
            name: r.get(2)?,
            total_size: from_sql(r.get(3)?),
            file_count: from_sql(r.get(4)?),
            private: r.get(5)?,
            piece_length: r.get::<_, Option<i64>>(6)?.map(from_sql),
            meta_version: r.get(7)?,
            first_seen: r.get(8)?,
            last_seen: r.get(9)?,
            seeders: opt_u32(r.get(10)?),
            leechers: opt_u32(r.get(11)?),
            scraped_at: r.get(12)?,
            content_type: r.get(13)?,
            classified_rev: r.get(15)?,
            files: Vec::new(),
            tags: Vec::new(),
            attributes: Vec::new(),
        },
        r.get(14)?,
    ))
}

fn read_tags(conn: &Connection, id: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT tag FROM torrent_tags WHERE torrent_id = ?1 ORDER BY tag")?
        .query_map([id], |r| r.get(0))?
        .collect()
}

/// Loads what [`read_torrent`] leaves out: files, tags, attributes.
fn fill_torrent(
    conn: &Connection,
    id: i64,
    attributes: Option<String>,
    t: &mut Torrent,
) -> rusqlite::Result<()> {
    t.files = conn
        .prepare_cached(
            "SELECT j.value ->> 0, j.value ->> 1 \
             FROM torrent_files AS f, json_each(f.files) AS j \
             WHERE f.torrent_id = ?1 ORDER BY j.key",
        )?
        .query_map([id], |r| {
            Ok(FileEntry {
                path: r.get(0)?,
                size: from_sql(r.get(1)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    t.tags = read_tags(conn, id)?;
    if let Some(json) = attributes {
        t.attributes = conn
            .prepare_cached("SELECT key, value FROM json_each(?1) ORDER BY key")?
            .query_map([json], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(())
}

/// A row of [`HIT_COLUMNS`] followed by a score column, as the id and a hit without tags.
fn read_hit(r: &Row<'_>, score: impl FnOnce(Option<f64>) -> f64) -> rusqlite::Result<(i64, Hit)> {
    Ok((
        r.get(0)?,
        Hit {
            info_hash: hash_from_blob(r.get(1)?)?,
            name: r.get(2)?,
            total_size: from_sql(r.get(3)?),
            file_count: from_sql(r.get(4)?),
            seeders: opt_u32(r.get(5)?),
            leechers: opt_u32(r.get(6)?),
            last_seen: r.get(7)?,
            content_type: r.get(8)?,
            score: score(r.get(9)?),
            tags: Vec::new(),
        },
    ))
}

/// Runs a hit query: ids and hits without tags.
fn hit_rows(
    conn: &Connection,
    sql: &str,
    values: Vec<Value>,
    score: fn(Option<f64>) -> f64,
) -> Result<Vec<(i64, Hit)>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params_from_iter(values), |r| read_hit(r, score))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Fills in each hit's tags.
fn with_tags(conn: &Connection, rows: Vec<(i64, Hit)>) -> Result<Vec<Hit>> {
    let mut hits = Vec::with_capacity(rows.len());
    for (id, mut hit) in rows {
        hit.tags = read_tags(conn, id)?;
        hits.push(hit);
    }
    Ok(hits)
}

/// A word search ranked by bm25: the SQL (hit columns, then the rank) and its parameters.
///
/// `rank` is bm25 with the name weighted 10x the paths (configured in the migration); lower
/// is better. Unfiltered: rank and cut inside FTS5, then join the few survivors. Filtered:
/// rank every match, keep those that pass, cut.
fn words_query(words: &[String], filter: &SearchFilter, limit: Value) -> (String, Vec<Value>) {
    let mut values = vec![Value::Text(fts5_match(words))];
    let sql = if filter.is_empty() {
        values.push(limit);
        format!(
            "SELECT {HIT_COLUMNS}, m.rank \
             FROM (SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ? \
                   ORDER BY rank LIMIT ?) AS m \
             JOIN torrents AS t ON t.id = m.rowid \
             ORDER BY m.rank, coalesce(t.seeders, -1) DESC, t.id"
        )
    } else {
        let mut sql = format!(
            "SELECT {HIT_COLUMNS}, m.rank \
             FROM (SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ?) AS m \
             JOIN torrents AS t ON t.id = m.rowid WHERE 1"
        );
        filter_sql(filter, &mut sql, &mut values);
        sql.push_str(" ORDER BY m.rank, coalesce(t.seeders, -1) DESC, t.id LIMIT ?");
        values.push(limit);
        sql
    };
    (sql, values)
}

/// Appends the filter's conditions on `torrents AS t` (and their values).
fn filter_sql(filter: &SearchFilter, sql: &mut String, values: &mut Vec<Value>) {
    if let Some(ct) = &filter.content_type {
        sql.push_str(" AND t.content_type = ?");
        values.push(Value::Text(ct.clone()));
    }
    if let Some(tag) = &filter.tag {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM torrent_tags AS g \
             WHERE g.torrent_id = t.id AND g.tag = ?)",
        );
        values.push(Value::Text(tag.clone()));
    }
}

/// How many torrents an FTS5 expression matches, counted up to a bound (`?2`): a cost
/// proportional to the bound, however common the words.
const COUNT_UP_TO: &str = "SELECT count(*) FROM \
     (SELECT 1 FROM torrents_fts WHERE torrents_fts MATCH ?1 LIMIT ?2)";

/// The newest `?2` torrents an FTS5 expression matches, newest first.
const NEWEST_MATCHES: &str = "SELECT rowid FROM torrents_fts WHERE torrents_fts MATCH ?1 \
     ORDER BY rowid DESC LIMIT ?2";

/// One tier of a broad search: those of `ids` that pass the filter, most seeders first
/// (unmeasured last), then newest, as hits scored `score`.
fn broad_rows(
    conn: &Connection,
    ids: &[i64],
    filter: &SearchFilter,
    limit: usize,
    score: f64,
) -> Result<Vec<(i64, Hit)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The ids travel as one JSON array: no statement per id, no temporary table.
    let mut json = String::with_capacity(ids.len() * 8);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    let (sql, values) = broad_rows_query(json, filter, limit);
    let mut rows = hit_rows(conn, &sql, values, |_| 0.0)?;
    for (_, hit) in &mut rows {
        hit.score = score;
    }
    Ok(rows)
}

/// [`broad_rows`]' SQL and parameters, for `ids` as a JSON array.
fn broad_rows_query(ids: String, filter: &SearchFilter, limit: usize) -> (String, Vec<Value>) {
    let mut values = vec![Value::Text(ids)];
    // CROSS JOIN keeps this order: the ids drive, each torrent is found by primary key (left
    // to itself the planner may walk a filter's index over the whole table instead).
    let mut sql = format!(
        "SELECT {HIT_COLUMNS}, NULL FROM json_each(?) AS j \
         CROSS JOIN torrents AS t ON t.id = j.value WHERE 1"
    );
    filter_sql(filter, &mut sql, &mut values);
    sql.push_str(" ORDER BY coalesce(t.seeders, -1) DESC, t.id DESC LIMIT ?");
    values.push(Value::Integer(limit_sql(limit)));
    (sql, values)
}

/// Score of a broad search's hits whose every word is in the name.
const BROAD_NAME_SCORE: f64 = 2.0;
/// Score of a broad search's other hits (some word only in file paths).
const BROAD_PATHS_SCORE: f64 = 1.0;

/// A listing without words, newest (highest id) first, walking the filter's index backwards:
/// the SQL (hit columns, then a NULL score) and its parameters. `filter` is not empty.
fn listing_query(filter: &SearchFilter, limit: Value) -> (String, Vec<Value>) {
    let mut values = Vec::new();
    let sql = match (&filter.tag, &filter.content_type) {
        (Some(tag), content_type) => {
            values.push(Value::Text(tag.clone()));
            let mut sql = format!(
                "SELECT {HIT_COLUMNS}, NULL FROM torrent_tags AS g \
                 JOIN torrents AS t ON t.id = g.torrent_id WHERE g.tag = ?"
            );
            if let Some(ct) = content_type {
                sql.push_str(" AND t.content_type = ?");
                values.push(Value::Text(ct.clone()));
            }
            sql.push_str(" ORDER BY g.torrent_id DESC LIMIT ?");
            sql
        }
        (None, content_type) => {
            // An empty filter never gets here; if it did, it would list everything.
            values.extend(content_type.clone().map(Value::Text));
            format!(
                "SELECT {HIT_COLUMNS}, NULL FROM torrents AS t WHERE {} \
                 ORDER BY t.id DESC LIMIT ?",
                if content_type.is_some() {
                    "t.content_type = ?"
                } else {
                    "1"
                }
            )
        }
    };
    values.push(limit);
    (sql, values)
}

/// The next torrents to evict, in policy order: a scan of the table and a bounded sort.
const EVICT_SELECT: &str = "SELECT id FROM torrents ORDER BY seeders, last_seen, id LIMIT ?1";

/// Torrents not at a revision, after a cursor, in infohash order.
fn reclassify_sql() -> String {
    format!(
        "SELECT {TORRENT_COLUMNS} FROM torrents \
         WHERE info_hash > ?1 AND classified_rev IS NOT ?2 \
         ORDER BY info_hash LIMIT ?3"
    )
}

/// Stored hashes after a cursor, in order.
const HASHES_AFTER: &str =
    "SELECT info_hash FROM torrents WHERE info_hash > ?1 ORDER BY info_hash LIMIT ?2";

impl SqliteStore {
    /// Runs a hit query and fills in each hit's tags.
    fn hits(
        &self,
        sql: &str,
        values: Vec<Value>,
        score: fn(Option<f64>) -> f64,
    ) -> Result<Vec<Hit>> {
        let tx = self.conn.unchecked_transaction()?;
        let rows = hit_rows(&tx, sql, values, score)?;
        let hits = with_tags(&tx, rows)?;
        tx.commit()?;
        Ok(hits)
    }

    /// A word search (see "Search at scale" in the module docs).
    fn search_words(
        &self,
        words: &[String],
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let tx = self.conn.unchecked_transaction()?;
        let window = self.search_window;
        // Each word's number of torrents, counted up to one past the window.
        let mut counts: Vec<(String, i64)> = Vec::with_capacity(words.len());
        for word in words {
            let phrase = fts5_match(std::slice::from_ref(word));
            if counts.iter().any(|(p, _)| *p == phrase) {
                continue;
            }
            let n = tx
                .prepare_cached(COUNT_UP_TO)?
                .query_row(params![phrase, window + 1], |r| r.get(0))?;
            counts.push((phrase, n));
        }
        let rows = if counts.iter().all(|(_, n)| *n <= window) {
            // Selective: bm25 over every match (at most the window of them).
            let (sql, values) = words_query(words, filter, Value::Integer(limit_sql(limit)));
            hit_rows(&tx, &sql, values, |rank| -rank.unwrap_or(0.0))?
        } else {
            // Broad: the newest `window` torrents with every word in the name (all of them
            // if there are fewer), most seeded first; if they are not enough, then the other
            // matches among the newest `window`, likewise.
            let all = fts5_match(words);
            let names: Vec<i64> = tx
                .prepare_cached(NEWEST_MATCHES)?
                .query_map(params![format!("name : ({all})"), window], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut rows = broad_rows(&tx, &names, filter, limit, BROAD_NAME_SCORE)?;
            if rows.len() < limit {
                let in_name: HashSet<i64> = names.into_iter().collect();
                let paths: Vec<i64> = tx
                    .prepare_cached(NEWEST_MATCHES)?
                    .query_map(params![all, window], |r| r.get(0))?
                    .filter(|id| id.as_ref().map_or(true, |id| !in_name.contains(id)))
                    .collect::<rusqlite::Result<_>>()?;
                let rest = broad_rows(&tx, &paths, filter, limit - rows.len(), BROAD_PATHS_SCORE)?;
                rows.extend(rest);
            }
            rows
        };
        let hits = with_tags(&tx, rows)?;
        tx.commit()?;
        Ok(hits)
    }

    fn hit_by_hash(&self, hash: &InfoHash, filter: &SearchFilter) -> Result<Vec<Hit>> {
        let mut hits = self.hits(
            &format!("SELECT {HIT_COLUMNS}, NULL FROM torrents AS t WHERE t.info_hash = ?1"),
            vec![Value::Blob(hash.0.to_vec())],
            |_| f64::INFINITY,
        )?;
        hits.retain(|h| {
            filter
                .content_type
                .as_ref()
                .is_none_or(|ct| h.content_type.as_ref() == Some(ct))
                && filter.tag.as_ref().is_none_or(|tag| h.tags.contains(tag))
        });
        Ok(hits)
    }

    fn count(&self, sql: &str) -> Result<u64> {
        Ok(from_sql(self.conn.query_row(sql, [], |r| r.get(0))?))
    }

    fn pragma_u64(&self, name: &str) -> Result<u64> {
        let v: i64 = self.conn.pragma_query_value(None, name, |r| r.get(0))?;
        Ok(from_sql(v))
    }

    /// Bytes in pages that hold data (free pages excluded).
    fn used_bytes(&self) -> Result<u64> {
        let pages = self.pragma_u64("page_count")?;
        let free = self.pragma_u64("freelist_count")?;
        Ok(pages.saturating_sub(free) * self.pragma_u64("page_size")?)
    }

    /// Bytes on disk (main file and WAL), or all pages in memory.
    fn file_bytes(&self) -> Result<u64> {
        Ok(match &self.path {
            Some(p) => {
                let main = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                main + self.wal_bytes()
            }
            None => self.pragma_u64("page_count")? * self.pragma_u64("page_size")?,
        })
    }

    fn wal_bytes(&self) -> u64 {
        match &self.path {
            Some(p) => {
                let mut wal = p.clone().into_os_string();
                wal.push("-wal");
                std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
            }
            None => 0,
        }
    }

    /// `PRAGMA auto_vacuum`: 0 none, 1 full, 2 incremental.
    pub fn auto_vacuum(&self) -> Result<u8> {
        Ok(u8::try_from(self.pragma_u64("auto_vacuum")?).unwrap_or(0))
    }

    /// The first `n` torrents in eviction order: one scan of the table (no index keeps
    /// this order: it would cost every insert a random leaf, see schema v4).
    fn eviction_candidates(&self, n: u64) -> Result<Vec<i64>> {
        let ids = self
            .conn
            .prepare_cached(EVICT_SELECT)?
            .query_map([to_sql(n)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// Deletes these torrents (those still there) in one transaction.
    fn evict_batch(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for &id in ids {
            delete_id(&tx, id)?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn file_cap(&self) -> usize {
        self.file_cap
    }

    fn known(&self, hashes: &[InfoHash]) -> Result<Vec<bool>> {
        let mut out = vec![false; hashes.len()];
        if hashes.is_empty() {
            return Ok(out);
        }
        // Probe in key order so consecutive lookups share B-tree pages; one read transaction
        // for a consistent snapshot and one lock acquisition.
        let mut order: Vec<usize> = (0..hashes.len()).collect();
        order.sort_unstable_by_key(|&i| hashes[i]);
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM torrents WHERE info_hash = ?1) \
                 OR EXISTS (SELECT 1 FROM blocked WHERE info_hash = ?1)",
            )?;
            for i in order {
                out[i] = stmt.query_row([&hashes[i].0[..]], |r| r.get(0))?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn put_batch(&mut self, records: &[TorrentRecord]) -> Result<PutOutcome> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = PutOutcome::default();
        // The index entries go last, after every table write of the batch: a write statement
        // that may need a statement journal (an insert checked by a foreign key, an upsert)
        // makes FTS5 flush its pending terms to a new segment, so interleaving them gave one
        // segment per torrent and merge work to match.
        let mut index = Vec::with_capacity(records.len());
        for rec in records {
            match put_one(&tx, self.file_cap, rec)? {
                None => outcome.blocked += 1,
                Some((inserted, id, paths)) => {
                    if inserted {
                        outcome.inserted += 1;
                    } else {
                        outcome.updated += 1;
                    }
                    index.push((id, &rec.name, paths));
                }
            }
        }
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO torrents_fts (rowid, name, paths) VALUES (?1, ?2, ?3)",
            )?;
            for (id, name, paths) in index {
                insert.execute(params![id, name, paths])?;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn update_swarm(&mut self, updates: &[SwarmUpdate]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE torrents SET seeders = ?2, leechers = ?3, scraped_at = ?4 \
                 WHERE info_hash = ?1 AND coalesce(scraped_at, ?4) <= ?4",
            )?;
            for u in updates {
                changed += stmt.execute(params![
                    &u.info_hash.0[..],
                    u.seeders,
                    u.leechers,
                    u.scraped_at
                ])?;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    fn touch(&mut self, hashes: &[InfoHash], seen_at: UnixSeconds) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE torrents SET last_seen = ?2 WHERE info_hash = ?1 AND last_seen < ?2",
            )?;
            for h in hashes {
                changed += stmt.execute(params![&h.0[..], seen_at])?;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    fn get(&self, hash: &InfoHash) -> Result<Option<Torrent>> {
        let tx = self.conn.unchecked_transaction()?;
        let row = tx
            .prepare_cached(&format!(
                "SELECT {TORRENT_COLUMNS} FROM torrents WHERE info_hash = ?1"
            ))?
            .query_row([&hash.0[..]], read_torrent)
            .optional()?;
        let Some((id, mut torrent, attributes)) = row else {
            return Ok(None);
        };
        fill_torrent(&tx, id, attributes, &mut torrent)?;
        tx.commit()?;
        Ok(Some(torrent))
    }

    fn search_filtered(
        &self,
        query: &str,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let words = match SearchQuery::parse(query) {
            Ok(SearchQuery::InfoHash(h)) => return self.hit_by_hash(&h, filter),
            Ok(SearchQuery::Words(w)) => Some(w),
            Err(Error::EmptyQuery) if !filter.is_empty() => None,
            Err(e) => return Err(e),
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        match words {
            Some(words) => self.search_words(&words, filter, limit),
            None => {
                let (sql, values) = listing_query(filter, Value::Integer(limit_sql(limit)));
                self.hits(&sql, values, |_| 0.0)
            }
        }
    }

    fn set_classification(&mut self, updates: &[Classification]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0;
        for u in updates {
            let Some(id) = torrent_id(&tx, &u.info_hash)? else {
                continue;
            };
            tx.prepare_cached(
                "UPDATE torrents SET content_type = ?2, attributes = ?3, classified_rev = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                norm_type(u.content_type.as_ref()),
                attributes_json(&u.attributes),
                u.rev
            ])?;
            write_tags(&tx, id, &u.tags, true)?;
            changed += 1;
        }
        tx.commit()?;
        Ok(changed)
    }

    fn reclassify_batch(
        &self,
        rev: &str,
        after: Option<InfoHash>,
        limit: usize,
    ) -> Result<Vec<Torrent>> {
        let tx = self.conn.unchecked_transaction()?;
        let rows: Vec<(i64, Torrent, Option<String>)> = tx
            .prepare_cached(&reclassify_sql())?
            .query_map(
                params![cursor_blob(after), rev, limit_sql(limit)],
                read_torrent,
            )?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut torrent, attributes) in rows {
            fill_torrent(&tx, id, attributes, &mut torrent)?;
            out.push(torrent);
        }
        tx.commit()?;
        Ok(out)
    }

    fn pending_reclassify(&self, rev: &str) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM torrents WHERE classified_rev IS NOT ?1")?
            .query_row([rev], |r| r.get(0))?;
        Ok(from_sql(n))
    }

    fn hashes_after(&self, after: Option<InfoHash>, limit: usize) -> Result<Vec<InfoHash>> {
        let hashes = self
            .conn
            .prepare_cached(HASHES_AFTER)?
            .query_map(params![cursor_blob(after), limit_sql(limit)], |r| {
                hash_from_blob(r.get(0)?)
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(hashes)
    }

    fn counts_by_content_type(&self) -> Result<Vec<(Option<String>, u64)>> {
        let counts = self
            .conn
            .prepare_cached(
                "SELECT content_type, count(*) AS n FROM torrents \
                 GROUP BY content_type ORDER BY n DESC, content_type",
            )?
            .query_map([], |r| Ok((r.get(0)?, from_sql(r.get(1)?))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(counts)
    }

    fn evict_to_size(&mut self, max_bytes: u64) -> Result<EvictOutcome> {
        let bytes_before = self.used_bytes()?;
        let low_water = max_bytes - max_bytes / 20;
        let mut evicted = 0;
        if bytes_before > max_bytes {
            let mut torrents = self.count("SELECT count(*) FROM torrents")?;
            // This call's candidates, in order, from one scan; consumed from the front.
            let mut candidates = self.eviction_candidates(EVICT_PER_CALL)?.into_iter();
            while evicted < EVICT_PER_CALL && torrents > 0 {
                let used = self.used_bytes()?;
                if used <= low_water {
                    break;
                }
                // As many torrents as the excess holds at the average size; deleting frees
                // less than the average (pages stay partly used), so re-measure and repeat.
                let per_torrent = (used / torrents).max(1);
                let n = (used - low_water)
                    .div_ceil(per_torrent)
                    .clamp(1, EVICT_BATCH)
                    .min(EVICT_PER_CALL - evicted);
                let ids: Vec<i64> = candidates.by_ref().take(n as usize).collect();
                self.evict_batch(&ids)?;
                let deleted = ids.len() as u64;
                evicted += deleted;
                torrents = torrents.saturating_sub(deleted);
                if deleted < n {
                    break;
                }
            }
        }
        let vacuumed = self.auto_vacuum()? == 2 && self.pragma_u64("freelist_count")? > 0;
        if vacuumed {
            // Moves the free pages to the end and truncates them off (at the checkpoint in
            // WAL mode). It frees one page per step: step it to the end.
            let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        if (evicted > 0 || vacuumed) && self.path.is_some() {
            // Shrinks the main file and empties the WAL, unless a reader holds it (then the
            // next checkpoint does).
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        let bytes_after = self.used_bytes()?;
        let within_budget = bytes_after <= max_bytes;
        let file_bytes = self.file_bytes()?;
        Ok(EvictOutcome {
            evicted,
            bytes_before,
            bytes_after,
            file_bytes,
            within_budget,
            needs_compact: within_budget
                && self.auto_vacuum()? != 2
                && self.pragma_u64("page_count")? * self.pragma_u64("page_size")? > max_bytes,
        })
    }

    fn compact(&mut self) -> Result<()> {
        // Switching NONE -> INCREMENTAL takes effect with the VACUUM that rewrites the file.
        self.conn
            .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        self.conn.execute_batch("VACUUM")?;
        if self.path.is_some() {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    fn delete(&mut self, hashes: &[InfoHash]) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        for h in hashes {
            n += usize::from(delete_one(&tx, h)?);
        }
        tx.commit()?;
        Ok(n)
    }

    fn block(&mut self, hashes: &[InfoHash], at: UnixSeconds) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        for h in hashes {
            delete_one(&tx, h)?;
            n += tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO blocked (info_hash, blocked_at) VALUES (?1, ?2)",
                )?
                .execute(params![&h.0[..], at])?;
        }
        tx.commit()?;
        Ok(n)
    }

    fn is_blocked(&self, hash: &InfoHash) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM blocked WHERE info_hash = ?1")?
            .exists([&hash.0[..]])?)
    }

    fn stats(&self) -> Result<StoreStats> {
        let tx = self.conn.unchecked_transaction()?;
        let (torrents, files_total, scraped, file_rows): (i64, i64, i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(file_count), 0), count(scraped_at), \
                 coalesce(sum(stored_files), 0) \
             FROM torrents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let file_rows = from_sql(file_rows);
        let blocked = self.count("SELECT count(*) FROM blocked")?;
        let page_count = self.pragma_u64("page_count")?;
        let page_size = self.pragma_u64("page_size")?;
        let free_pages = self.pragma_u64("freelist_count")?;
        tx.commit()?;
        Ok(StoreStats {
            torrents: from_sql(torrents),
            file_rows,
            files_total: from_sql(files_total),
            blocked,
            scraped: from_sql(scraped),
            schema_version: self.schema_version()?,
            db_bytes: page_count * page_size,
            wal_bytes: self.wal_bytes(),
            page_count,
            page_size,
            free_pages,
        })
    }

    fn table_sizes(&self) -> Result<Vec<TableSize>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE schema = 'main' \
             GROUP BY name ORDER BY bytes DESC, name",
        )?;
        let sizes = stmt
            .query_map([], |r| {
                Ok(TableSize {
                    name: r.get(0)?,
                    bytes: from_sql(r.get(1)?),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(sizes)
    }

    fn integrity_check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        {
            let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for row in rows {
                let row = row?;
                if row != "ok" {
                    problems.push(format!("integrity_check: {row}"));
                }
            }
        }
        {
            let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
            let rows = stmt.query_map([], |r| {
                Ok(format!(
                    "foreign_key_check: {} row {:?} -> {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?
                ))
            })?;
            for row in rows {
                problems.push(row?);
            }
        }
        if let Err(e) = self.conn.execute(
            "INSERT INTO torrents_fts (torrents_fts) VALUES ('integrity-check')",
            [],
        ) {
            match e {
                rusqlite::Error::SqliteFailure(..) => problems.push(format!("fts: {e}")),
                e => return Err(Error::Sqlite(e)),
            }
        }
        let unindexed = self.count(
            "SELECT count(*) FROM torrents AS t \
             WHERE NOT EXISTS (SELECT 1 FROM torrents_fts_docsize AS d WHERE d.id = t.id)",
        )?;
        if unindexed > 0 {
            problems.push(format!("fts: {unindexed} torrents missing from the index"));
        }
        let orphans = self.count(
            "SELECT count(*) FROM torrents_fts_docsize AS d \
             WHERE NOT EXISTS (SELECT 1 FROM torrents AS t WHERE t.id = d.id)",
        )?;
        if orphans > 0 {
            problems.push(format!("fts: {orphans} index entries without a torrent"));
        }
        let bad_files = self.count(
            "SELECT count(*) FROM torrents AS t \
             LEFT JOIN torrent_files AS f ON f.torrent_id = t.id \
             WHERE t.stored_files IS NOT coalesce( \
                 CASE WHEN json_valid(f.files) THEN json_array_length(f.files) END, \
                 CASE WHEN f.files IS NULL THEN 0 END)",
        )?;
        if bad_files > 0 {
            problems.push(format!(
                "{bad_files} torrents whose stored files are missing, not a JSON array or \
                 not as many as recorded"
            ));
        }
        let bad_attributes = self.count(
            "SELECT count(*) FROM torrents \
             WHERE attributes IS NOT NULL \
             AND CASE WHEN json_valid(attributes) THEN json_type(attributes) END IS NOT 'object'",
        )?;
        if bad_attributes > 0 {
            problems.push(format!(
                "{bad_attributes} torrents with attributes that are not a JSON object"
            ));
        }
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EXPLAIN QUERY PLAN` of `sql`, one detail line per step.
    fn plan(store: &SqliteStore, sql: &str) -> String {
        let params = store.conn.prepare(sql).unwrap().parameter_count();
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt
            .query_map(params_from_iter(vec![Value::Null; params]), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    /// The classification and listing queries walk an index, never the whole table or a
    /// sort of it: they run on millions of rows. (Eviction scans on purpose, once per call.)
    #[test]
    fn queries_use_their_indexes() {
        let store = SqliteStore::open_in_memory().unwrap();
        let limit = Value::Integer(10);
        let by_tag = filter(None, Some("hd"));
        let by_both = filter(Some("movie"), Some("hd"));
        let by_type = filter(Some("movie"), None);
        for (what, sql, want) in [
            (
                "reclassify",
                reclassify_sql(),
                "sqlite_autoindex_torrents_1 (info_hash>?)",
            ),
            (
                "hashes_after",
                HASHES_AFTER.to_owned(),
                "sqlite_autoindex_torrents_1 (info_hash>?)",
            ),
            (
                "list by tag",
                listing_query(&by_tag, limit.clone()).0,
                "torrent_tags_tag (tag=?)",
            ),
            (
                "list by both",
                listing_query(&by_both, limit.clone()).0,
                "torrent_tags_tag (tag=?)",
            ),
            (
                "list by type",
                listing_query(&by_type, limit.clone()).0,
                "torrents_content_type (content_type=?)",
            ),
        ] {
            let p = plan(&store, &sql);
            assert!(p.contains(want), "{what}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{what} sorts: {p}");
        }
        let words = ["ubuntu".to_owned()];
        let p = plan(&store, &words_query(&words, &by_both, limit).0);
        // FTS5 drives; torrents are looked up by id.
        assert!(
            p.starts_with("SCAN torrents_fts VIRTUAL TABLE INDEX"),
            "{p}"
        );
        assert!(p.contains("SEARCH t USING INTEGER PRIMARY KEY"), "{p}");
    }

    /// The broad search's statements: FTS5 walks its doclists newest first (no sort), the
    /// ids drive the torrent lookups by primary key.
    #[test]
    fn broad_search_plans() {
        let store = SqliteStore::open_in_memory().unwrap();
        let p = plan(&store, NEWEST_MATCHES);
        assert!(
            p.starts_with("SCAN torrents_fts VIRTUAL TABLE INDEX"),
            "{p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{p}");
        let p = plan(&store, COUNT_UP_TO);
        assert!(p.contains("SCAN torrents_fts VIRTUAL TABLE INDEX"), "{p}");
        for f in [filter(None, None), filter(Some("movie"), Some("hd"))] {
            let p = plan(&store, &broad_rows_query("[1]".into(), &f, 20).0);
            assert!(p.starts_with("SCAN j VIRTUAL TABLE"), "{p}");
            assert!(p.contains("SEARCH t USING INTEGER PRIMARY KEY"), "{p}");
        }
    }

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
        use crate::conformance::test_record;
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
        use crate::conformance::classified_record;
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
        use crate::conformance::test_record;
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
        for q in crate::conformance::SYNTAX_PROBES.iter().chain(&extra) {
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

    #[test]
    fn attributes_are_json_objects() {
        let attrs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        };
        assert_eq!(attributes_json(&[]), None);
        assert_eq!(
            attributes_json(&attrs(&[("b", "2"), ("a", "1"), ("b", "3")])).unwrap(),
            r#"{"a":"1","b":"3"}"#
        );
        assert_eq!(
            attributes_json(&attrs(&[("q", "\"\\\n\u{1}\u{7f}é")])).unwrap(),
            "{\"q\":\"\\\"\\\\\\n\\u0001\u{7f}é\"}"
        );
    }
}
