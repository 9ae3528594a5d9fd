//! Versioned schema migrations for the SQLite backend.
//!
//! [`MIGRATIONS`] is an append-only list of SQL scripts; `PRAGMA user_version` holds how many
//! have been applied. Opening a database applies the missing ones in order, each in its own
//! `IMMEDIATE` transaction together with the `user_version` bump, so a crash mid-migration
//! leaves the previous version intact. A file whose `user_version` is greater than
//! `MIGRATIONS.len()` was written by a newer binary and is refused
//! ([`Error::SchemaTooNew`]). Never edit a released script: add a new one.
//!
//! `PRAGMA application_id` marks the file as ours ([`APPLICATION_ID`]); a database with another
//! id, or with tables but no id and no version, is refused ([`Error::ForeignDatabase`]).
//!
//! A new database is created with `auto_vacuum = INCREMENTAL`, so eviction
//! ([`Store::evict_to_size`](crate::Store::evict_to_size)) can give freed pages back to the
//! file system a batch at a time. SQLite can switch that mode on only for an empty database
//! or by rewriting it: a database created before v2 keeps `auto_vacuum = NONE` after the
//! upgrade (its freed pages are reused, the file does not shrink) until it is compacted once
//! ([`Store::compact`](crate::Store::compact), a `VACUUM`).
//!
//! v3 rewrites the file rows into one row per torrent (about 10 s per million torrents on
//! the bench machine) and drops the old table; a database with incremental vacuum gives
//! the freed pages back right after the upgrade.

use rusqlite::{Connection, TransactionBehavior};

use crate::{Error, Result};

/// `application_id` of a BitAgent database: "BAGT".
pub const APPLICATION_ID: i32 = 0x4241_4754;

/// The schema, one script per version. Version *n* is the state after `MIGRATIONS[..n]`.
pub const MIGRATIONS: &[&str] = &[
    // v1: torrents, files, full-text index, blocklist.
    r#"
    -- One row per torrent. `id` is an internal key shared with `files` and `torrents_fts`;
    -- the public key is `info_hash`. Sizes are INTEGER (i64, saturated).
    CREATE TABLE torrents (
        id           INTEGER PRIMARY KEY,
        info_hash    BLOB    NOT NULL UNIQUE CHECK (length(info_hash) = 20),
        name         TEXT    NOT NULL,
        total_size   INTEGER NOT NULL,
        file_count   INTEGER NOT NULL,         -- true count, may exceed the stored file rows
        private      INTEGER NOT NULL DEFAULT 0,
        piece_length INTEGER,
        meta_version INTEGER,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        seeders      INTEGER,
        leechers     INTEGER,
        scraped_at   INTEGER
    );

    -- At most the store's file cap per torrent, in info-dict order.
    CREATE TABLE files (
        torrent_id INTEGER NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        path       TEXT    NOT NULL,
        size       INTEGER NOT NULL,
        PRIMARY KEY (torrent_id, idx)
    ) WITHOUT ROWID;

    -- Full-text index over the name and the stored file paths (newline-joined), rowid =
    -- torrents.id. Contentless: the text lives in torrents/files only; contentless_delete lets
    -- us delete and replace rows by rowid. Kept in sync by the Rust code inside the same
    -- transaction as the torrents/files writes (not triggers: `paths` aggregates many rows).
    CREATE VIRTUAL TABLE torrents_fts USING fts5 (
        name,
        paths,
        content = '',
        contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    -- `rank` = bm25 with a name match worth 10x a path match.
    INSERT INTO torrents_fts (torrents_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0)');

    -- Infohashes never to store or fetch again (`bitagent block`).
    CREATE TABLE blocked (
        info_hash  BLOB    PRIMARY KEY CHECK (length(info_hash) = 20),
        blocked_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // v2: classification (content type, tags, attributes, rules revision) and retention.
    r#"
    -- NULL: unclassified. Filtered listings walk this index newest (highest id) first.
    ALTER TABLE torrents ADD COLUMN content_type TEXT;
    -- A JSON object of string values, keys sorted and distinct; NULL: none.
    ALTER TABLE torrents ADD COLUMN attributes TEXT;
    -- The rules revision that classified the row; NULL: none (`bitagent reclassify`).
    ALTER TABLE torrents ADD COLUMN classified_rev TEXT;
    CREATE INDEX torrents_content_type ON torrents (content_type);

    -- Tags, a set per torrent. The second index serves `--tag` filters newest first.
    CREATE TABLE torrent_tags (
        torrent_id INTEGER NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
        tag        TEXT    NOT NULL,
        PRIMARY KEY (torrent_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX torrent_tags_tag ON torrent_tags (tag, torrent_id);

    -- Eviction order (`evict_to_size`): fewest seeders first (NULL, never measured, sorts
    -- first in SQLite), then oldest last_seen, then id (implicit in the index).
    CREATE INDEX torrents_eviction ON torrents (seeders, last_seen);
    "#,
    // v3: a torrent's stored files in one row instead of one row each.
    r#"
    -- Files are only ever written and read a whole torrent at a time; a row per file cost a
    -- B-tree insert per file (a quarter of the ingest time at a million torrents). One row per
    -- torrent that has files: a JSON array of [path, size] pairs, at most the store's file
    -- cap, in info-dict order.
    CREATE TABLE torrent_files (
        torrent_id INTEGER PRIMARY KEY REFERENCES torrents (id) ON DELETE CASCADE,
        files      TEXT    NOT NULL
    );
    INSERT INTO torrent_files (torrent_id, files)
        SELECT torrent_id, json_group_array(json_array(path, size) ORDER BY idx)
        FROM files GROUP BY torrent_id;
    -- How many files torrent_files holds for the torrent (summed by `stats` without
    -- parsing any JSON).
    ALTER TABLE torrents ADD COLUMN stored_files INTEGER NOT NULL DEFAULT 0;
    UPDATE torrents SET stored_files = c.n
        FROM (SELECT torrent_id, count(*) AS n FROM files GROUP BY torrent_id) AS c
        WHERE torrents.id = c.torrent_id;
    DROP TABLE files;
    "#,
    // v4: no index for the eviction order.
    r#"
    -- (seeders, last_seen) put every new torrent on a random leaf of its own index: at a
    -- million torrents a sixth of the pages a batch dirtied, and ingest went from 19,600 to
    -- 23,400 torrents/s without it. Eviction runs rarely (once a minute at most, and only
    -- over the budget); it now scans the table once per call instead.
    DROP INDEX torrents_eviction;
    "#,
];

/// Newest schema version this binary knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Reads `PRAGMA user_version`.
pub fn schema_version(conn: &Connection) -> Result<u32> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Chooses incremental vacuum for a brand-new database. Must run before anything writes the
/// file's first page (even `journal_mode = WAL` does); a no-op for any other database.
pub fn prepare_new(conn: &Connection) -> Result<()> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if app_id == 0 && tables == 0 && schema_version(conn)? == 0 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    Ok(())
}

/// Brings the database up to [`latest_version`], refusing foreign or newer files.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    check_ownership(conn)?;
    let supported = latest_version();
    // Fast path without a write lock, so an up-to-date database opens on a read-only medium
    // and a reader never waits for the crawler's writer.
    let found = schema_version(conn)?;
    if found > supported {
        return Err(Error::SchemaTooNew { found, supported });
    }
    if found == supported {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let found = schema_version(&tx)?;
        if found > supported {
            return Err(Error::SchemaTooNew { found, supported });
        }
        if found == supported {
            drop(tx);
            return give_back_free_pages(conn);
        }
        tx.execute_batch(MIGRATIONS[found as usize])?;
        tx.pragma_update(None, "user_version", found + 1)?;
        if found == 0 {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        tx.commit()?;
    }
}

/// After an upgrade: a migration that rewrote a table (v3) leaves the old one's pages free;
/// with incremental vacuum on, the file gives them back now rather than at the first
/// eviction.
fn give_back_free_pages(conn: &Connection) -> Result<()> {
    let auto_vacuum: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    if auto_vacuum == 2 && free > 0 {
        // One page per step: step it to the end.
        let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(())
}

fn check_ownership(conn: &Connection) -> Result<()> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id == APPLICATION_ID {
        return Ok(());
    }
    if app_id != 0 {
        return Err(Error::ForeignDatabase(format!(
            "application_id {app_id:#x}"
        )));
    }
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if tables > 0 {
        return Err(Error::ForeignDatabase(
            "it has tables but no BitAgent application_id".into(),
        ));
    }
    Ok(())
}
