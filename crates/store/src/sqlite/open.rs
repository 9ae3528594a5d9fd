//! Opening a database: options, connection pragmas, migrations.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::{SqliteStore, migrations};
use crate::Result;
use crate::store::DEFAULT_FILE_CAP;

/// How [`SqliteStore::open_with`] and [`SqliteStore::open_in_memory_with`] set up a connection:
/// the per-torrent file cap, lock wait, page cache, WAL checkpoint size, memory map and search
/// window. Every field applies to this connection only and none is stored in the file, so two
/// connections to one database may differ (the crawler's writer and `bitagent search` do).
///
/// Build it with struct update syntax from [`SqliteOptions::default`] (the values the
/// benchmarks were taken with); `bitagent run` lowers `cache_kib` with the scaling factor and
/// sets `file_cap` from its config.
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
    /// memory, so the crawler's writer leaves it off; a long-lived reader (a future search
    /// server; today's readers are the short-lived `bitagent search`/`stats`) may turn it on. An I/O error under a map is a signal, not an error.
    pub mmap_mib: u32,
    /// Search work bound, in matches (see "Search at scale" in the module docs): a query
    /// whose every word is in at most this many torrents is ranked by bm25 over all its
    /// matches; a broader one looks at the newest this many torrents holding its rarest word.
    pub search_window: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
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

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options and brings its
    /// schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path`, creating it and its parent directory if needed, sets the
    /// connection up from `options` and migrates the schema to the newest version.
    ///
    /// Fails with [`Error::SchemaTooNew`](crate::Error::SchemaTooNew) if a newer BitAgent wrote
    /// the file, [`Error::ForeignDatabase`](crate::Error::ForeignDatabase) if it is some other
    /// application's SQLite database, [`Error::Io`](crate::Error::Io) if the directory cannot
    /// be created, and [`Error::Sqlite`](crate::Error::Sqlite) if the file is not a database
    /// or is locked past `busy_timeout`.
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

    /// A private in-memory database set up from `options`: no other connection sees it and
    /// it is gone when the store is dropped (tests, benchmarks).
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
        Ok(Self {
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
