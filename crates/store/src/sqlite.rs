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
//! (the text lives in `torrents`/`files` only) and is written by this module inside the same
//! transaction as the rows it indexes, so the index can never disagree with the tables after
//! a crash; [`Store::integrity_check`] verifies that it does not.

pub mod migrations;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::query::{SearchQuery, fts5_match};
use crate::store::DEFAULT_FILE_CAP;
use crate::{
    Error, FileEntry, Hit, InfoHash, PutOutcome, Result, Store, StoreStats, SwarmUpdate, TableSize,
    Torrent, TorrentRecord, UnixSeconds,
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
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            file_cap: DEFAULT_FILE_CAP,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 32 * 1024,
        }
    }
}

/// The SQLite [`Store`].
pub struct SqliteStore {
    conn: Connection,
    path: Option<PathBuf>,
    file_cap: usize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("file_cap", &self.file_cap)
            .finish_non_exhaustive()
    }
}

const TORRENT_COLUMNS: &str = "info_hash, name, total_size, file_count, private, piece_length, \
     meta_version, first_seen, last_seen, seeders, leechers, scraped_at";

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
        // Returns the resulting mode: "wal" on disk, "memory" in memory.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib))?;
        migrations::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn,
            path,
            file_cap: options.file_cap,
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
    /// shutdown). Readers keep working; SQLite also checkpoints on its own every ~4 MiB.
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

fn hash_from_blob(b: Vec<u8>) -> rusqlite::Result<InfoHash> {
    <[u8; 20]>::try_from(b.as_slice())
        .map(InfoHash)
        .map_err(|_| {
            rusqlite::Error::InvalidColumnType(0, "info_hash".into(), rusqlite::types::Type::Blob)
        })
}

fn torrent_id(tx: &Transaction<'_>, hash: &InfoHash) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT id FROM torrents WHERE info_hash = ?1")?
        .query_row([&hash.0[..]], |r| r.get(0))
        .optional()
}

/// Deletes one torrent, its files (cascade) and its index entry. Returns whether it existed.
fn delete_one(tx: &Transaction<'_>, hash: &InfoHash) -> rusqlite::Result<bool> {
    let Some(id) = torrent_id(tx, hash)? else {
        return Ok(false);
    };
    tx.prepare_cached("DELETE FROM torrents_fts WHERE rowid = ?1")?
        .execute([id])?;
    tx.prepare_cached("DELETE FROM torrents WHERE id = ?1")?
        .execute([id])?;
    Ok(true)
}

/// Upserts one record. `None`: blocked; `Some(true)`: inserted; `Some(false)`: updated.
fn put_one(tx: &Transaction<'_>, file_cap: usize, rec: &TorrentRecord) -> Result<Option<bool>> {
    let hash = &rec.info_hash.0[..];
    let blocked = tx
        .prepare_cached("SELECT 1 FROM blocked WHERE info_hash = ?1")?
        .exists([hash])?;
    if blocked {
        return Ok(None);
    }
    let stored = &rec.files[..rec.files.len().min(file_cap)];
    let file_count = to_sql(rec.file_count.max(rec.files.len() as u64));
    // Swarm numbers count only with the time they were measured.
    let (seeders, leechers) = match rec.scraped_at {
        Some(_) => (rec.seeders, rec.leechers),
        None => (None, None),
    };
    let existing = torrent_id(tx, &rec.info_hash)?;
    // One statement both ways: a new row takes the record as it is; a known one keeps its
    // first sighting and takes swarm numbers only from a measurement at least as new (every
    // right-hand side of DO UPDATE sees the row as it was).
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO torrents (info_hash, name, total_size, file_count, private, \
                 piece_length, meta_version, first_seen, last_seen, seeders, leechers, \
                 scraped_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11) \
             ON CONFLICT (info_hash) DO UPDATE SET name = ?2, total_size = ?3, \
                 file_count = ?4, private = ?5, piece_length = ?6, meta_version = ?7, \
                 first_seen = min(first_seen, ?8), last_seen = max(last_seen, ?8), \
                 seeders  = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?9 ELSE seeders END, \
                 leechers = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?10 ELSE leechers END, \
                 scraped_at = CASE WHEN ?11 >= coalesce(scraped_at, ?11) THEN ?11 ELSE scraped_at END \
             RETURNING id",
        )?
        .query_row(
            params![
                hash,
                rec.name,
                to_sql(rec.total_size),
                file_count,
                rec.private,
                rec.piece_length.map(to_sql),
                rec.meta_version,
                rec.seen_at,
                seeders,
                leechers,
                rec.scraped_at,
            ],
            |r| r.get(0),
        )?;
    if existing.is_some() {
        tx.prepare_cached("DELETE FROM files WHERE torrent_id = ?1")?
            .execute([id])?;
    }
    let mut insert_file = tx.prepare_cached(
        "INSERT INTO files (torrent_id, idx, path, size) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut paths = String::new();
    for (idx, f) in stored.iter().enumerate() {
        insert_file.execute(params![id, idx as i64, f.path, to_sql(f.size)])?;
        if idx > 0 {
            paths.push('\n');
        }
        paths.push_str(&f.path);
    }
    tx.prepare_cached(
        "INSERT OR REPLACE INTO torrents_fts (rowid, name, paths) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![id, rec.name, paths])?;
    Ok(Some(existing.is_none()))
}

impl SqliteStore {
    fn hit_by_hash(&self, hash: &InfoHash) -> Result<Vec<Hit>> {
        let hit = self
            .conn
            .prepare_cached(
                "SELECT name, total_size, file_count, seeders, leechers, last_seen \
                 FROM torrents WHERE info_hash = ?1",
            )?
            .query_row([&hash.0[..]], |r| {
                Ok(Hit {
                    info_hash: *hash,
                    name: r.get(0)?,
                    total_size: from_sql(r.get(1)?),
                    file_count: from_sql(r.get(2)?),
                    seeders: opt_u32(r.get(3)?),
                    leechers: opt_u32(r.get(4)?),
                    last_seen: r.get(5)?,
                    score: f64::INFINITY,
                })
            })
            .optional()?;
        Ok(hit.into_iter().collect())
    }

    fn count(&self, sql: &str) -> Result<u64> {
        Ok(from_sql(self.conn.query_row(sql, [], |r| r.get(0))?))
    }

    fn pragma_u64(&self, name: &str) -> Result<u64> {
        let v: i64 = self.conn.pragma_query_value(None, name, |r| r.get(0))?;
        Ok(from_sql(v))
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
        for rec in records {
            match put_one(&tx, self.file_cap, rec)? {
                None => outcome.blocked += 1,
                Some(true) => outcome.inserted += 1,
                Some(false) => outcome.updated += 1,
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
                "SELECT id, {TORRENT_COLUMNS} FROM torrents WHERE info_hash = ?1"
            ))?
            .query_row([&hash.0[..]], |r| {
                let id: i64 = r.get(0)?;
                Ok((
                    id,
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
                        files: Vec::new(),
                    },
                ))
            })
            .optional()?;
        let Some((id, mut torrent)) = row else {
            return Ok(None);
        };
        torrent.files = tx
            .prepare_cached("SELECT path, size FROM files WHERE torrent_id = ?1 ORDER BY idx")?
            .query_map([id], |r| {
                Ok(FileEntry {
                    path: r.get(0)?,
                    size: from_sql(r.get(1)?),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        tx.commit()?;
        Ok(Some(torrent))
    }

    fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        let words = match SearchQuery::parse(query)? {
            SearchQuery::InfoHash(h) => return self.hit_by_hash(&h),
            SearchQuery::Words(w) => w,
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        // `rank` is bm25 with the name weighted 10x the paths (configured in the migration);
        // lower is better. Rank and cut inside FTS5, then join the few survivors.
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.info_hash, t.name, t.total_size, t.file_count, t.seeders, t.leechers, \
                    t.last_seen, m.rank \
             FROM (SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ?1 \
                   ORDER BY rank LIMIT ?2) AS m \
             JOIN torrents AS t ON t.id = m.rowid \
             ORDER BY m.rank, coalesce(t.seeders, -1) DESC, t.id",
        )?;
        let hits = stmt
            .query_map(
                params![fts5_match(&words), i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(Hit {
                        info_hash: hash_from_blob(r.get(0)?)?,
                        name: r.get(1)?,
                        total_size: from_sql(r.get(2)?),
                        file_count: from_sql(r.get(3)?),
                        seeders: opt_u32(r.get(4)?),
                        leechers: opt_u32(r.get(5)?),
                        last_seen: r.get(6)?,
                        score: -r.get::<_, f64>(7)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(hits)
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
        let (torrents, files_total, scraped): (i64, i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(file_count), 0), count(scraped_at) FROM torrents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let file_rows = self.count("SELECT count(*) FROM files")?;
        let blocked = self.count("SELECT count(*) FROM blocked")?;
        let page_count = self.pragma_u64("page_count")?;
        let page_size = self.pragma_u64("page_size")?;
        let free_pages = self.pragma_u64("freelist_count")?;
        tx.commit()?;
        let wal_bytes = match &self.path {
            Some(p) => {
                let mut wal = p.clone().into_os_string();
                wal.push("-wal");
                std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
            }
            None => 0,
        };
        Ok(StoreStats {
            torrents: from_sql(torrents),
            file_rows,
            files_total: from_sql(files_total),
            blocked,
            scraped: from_sql(scraped),
            schema_version: self.schema_version()?,
            db_bytes: page_count * page_size,
            wal_bytes,
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
        Ok(problems)
    }
}
