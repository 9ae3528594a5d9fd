//! Opening, migrating and refusing databases; SQLite-specific settings and checks.

use rusqlite::Connection;
use store::sqlite::migrations::{APPLICATION_ID, latest_version};
use store::{Error, SqliteStore, Store};
use testkit::store_conformance::test_record;

fn db_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("nested/dir/bitagent.db")
}

#[test]
fn fresh_database_is_at_latest_version_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    assert_eq!(store.stats().unwrap().schema_version, latest_version());
    drop(store);
    let conn = Connection::open(db_path(&dir)).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
}

#[test]
fn reopen_keeps_data_and_version() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = SqliteStore::open(db_path(&dir)).unwrap();
        store
            .put_batch(&[test_record(1, "persisted", &[("p", 1)], 1)])
            .unwrap();
        store
            .block(&[testkit::store_conformance::test_hash(2)], 1)
            .unwrap();
    }
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    assert_eq!(store.search("persisted", 10).unwrap().len(), 1);
    assert!(
        store
            .is_blocked(&testkit::store_conformance::test_hash(2))
            .unwrap()
    );
    assert!(store.integrity_check().unwrap().is_empty());
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(db_path(&dir)).unwrap());
    let conn = Connection::open(db_path(&dir)).unwrap();
    conn.pragma_update(None, "user_version", latest_version() + 1)
        .unwrap();
    drop(conn);
    match SqliteStore::open(db_path(&dir)) {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (latest_version() + 1, latest_version()));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn foreign_databases_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.db");
    let conn = Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&other),
        Err(Error::ForeignDatabase(_))
    ));
    let conn = Connection::open(&other).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 0, "a refused database must not be migrated");

    let tagged = dir.path().join("tagged.db");
    let conn = Connection::open(&tagged).unwrap();
    conn.pragma_update(None, "application_id", 0x1234).unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&tagged),
        Err(Error::ForeignDatabase(_))
    ));
}

#[test]
fn integrity_check_notices_an_index_out_of_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(db_path(&dir)).unwrap();
    store
        .put_batch(&[
            test_record(1, "one", &[("a", 1)], 1),
            test_record(2, "two", &[("b", 1)], 1),
        ])
        .unwrap();
    assert!(store.integrity_check().unwrap().is_empty());
    // Go behind the store's back: drop one index entry.
    let conn = Connection::open(db_path(&dir)).unwrap();
    conn.execute(
        "DELETE FROM torrents_fts WHERE rowid = (SELECT min(id) FROM torrents)",
        [],
    )
    .unwrap();
    let problems = store.integrity_check().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("missing from the index")),
        "{problems:?}"
    );
}

#[test]
fn default_file_cap_is_1000() {
    let store = SqliteStore::open_in_memory().unwrap();
    assert_eq!(store.file_cap(), store::DEFAULT_FILE_CAP);
    assert_eq!(store::DEFAULT_FILE_CAP, 1000);
}

#[test]
fn a_reader_sees_the_writers_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = SqliteStore::open(db_path(&dir)).unwrap();
    let reader = SqliteStore::open(db_path(&dir)).unwrap();
    writer
        .put_batch(&[test_record(1, "shared", &[("s", 1)], 1)])
        .unwrap();
    assert_eq!(reader.search("shared", 10).unwrap().len(), 1);
    let stats = reader.stats().unwrap();
    assert!(stats.wal_bytes > 0, "{stats:?}");
    writer.checkpoint().unwrap();
    assert_eq!(reader.stats().unwrap().torrents, 1);
}

/// A v2 database (one row per file) upgrades to one row of files per torrent: same files in
/// the same order, the old table's pages given back.
#[test]
fn a_v2_database_moves_its_files_into_one_row_per_torrent() {
    use store::sqlite::migrations::MIGRATIONS;
    use testkit::store_conformance::test_hash;
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(&path).unwrap();
    // As the v2 code created databases.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    for script in &MIGRATIONS[..2] {
        conn.execute_batch(script).unwrap();
    }
    conn.pragma_update(None, "user_version", 2).unwrap();
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    conn.execute(
        "INSERT INTO torrents (id, info_hash, name, total_size, file_count, first_seen, \
             last_seen) \
         VALUES (1, ?1, 'with files', 3, 4, 1, 1), (2, ?2, 'no files', 0, 0, 1, 1)",
        [test_hash(1).as_bytes(), test_hash(2).as_bytes()],
    )
    .unwrap();
    // Out of order on purpose: idx decides.
    conn.execute_batch(
        "INSERT INTO files (torrent_id, idx, path, size) VALUES \
             (1, 2, 'c \"q\"', 30), (1, 0, 'a', 10), (1, 1, 'b/ünï', 9223372036854775807); \
         INSERT INTO torrents_fts (rowid, name, paths) VALUES \
             (1, 'with files', 'a' || char(10) || 'b/ünï' || char(10) || 'c \"q\"'), \
             (2, 'no files', '');",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let files: Vec<(String, u64)> = store
        .get(&test_hash(1))
        .unwrap()
        .unwrap()
        .files
        .into_iter()
        .map(|f| (f.path, f.size))
        .collect();
    assert_eq!(
        files,
        [
            ("a".to_owned(), 10),
            ("b/ünï".to_owned(), i64::MAX as u64),
            ("c \"q\"".to_owned(), 30)
        ]
    );
    assert!(store.get(&test_hash(2)).unwrap().unwrap().files.is_empty());
    let stats = store.stats().unwrap();
    assert_eq!((stats.file_rows, stats.files_total), (3, 4));
    assert_eq!(stats.free_pages, 0, "{stats:?}");
    assert!(store.integrity_check().unwrap().is_empty());
    assert_eq!(store.search("unï", 10).unwrap().len(), 1);
    drop(store);
    let conn = Connection::open(&path).unwrap();
    let old: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('files', 'torrents_eviction')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "v3 drops files, v4 the eviction index");
}

#[test]
fn integrity_check_notices_files_out_of_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(db_path(&dir)).unwrap();
    store
        .put_batch(&[
            test_record(1, "one", &[("a", 1), ("b", 2)], 1),
            test_record(2, "two", &[("c", 1)], 1),
        ])
        .unwrap();
    assert!(store.integrity_check().unwrap().is_empty());
    let conn = Connection::open(db_path(&dir)).unwrap();
    for tamper in [
        "UPDATE torrent_files SET files = '[[\"a\",1]]' WHERE torrent_id = 1",
        "UPDATE torrent_files SET files = 'not json' WHERE torrent_id = 1",
        "DELETE FROM torrent_files WHERE torrent_id = 1",
    ] {
        // Behind the store's back, then repaired by putting the torrent again.
        conn.execute_batch(tamper).unwrap();
        let problems = store.integrity_check().unwrap();
        assert!(
            problems.iter().any(|p| p.contains("stored files")),
            "{tamper}: {problems:?}"
        );
        store
            .put_batch(&[test_record(1, "one", &[("a", 1), ("b", 2)], 2)])
            .unwrap();
        assert!(store.integrity_check().unwrap().is_empty(), "{tamper}");
    }
}

#[test]
fn an_infohash_column_of_another_length_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(db_path(&dir)).unwrap();
    store
        .put_batch(&[test_record(1, "oddlength", &[("a", 1)], 1)])
        .unwrap();
    // Go behind the store's back (and its CHECK): a 32-byte hash where 20 bytes belong.
    let conn = Connection::open(db_path(&dir)).unwrap();
    conn.pragma_update(None, "ignore_check_constraints", true)
        .unwrap();
    conn.execute("UPDATE torrents SET info_hash = zeroblob(32)", [])
        .unwrap();
    assert!(store.hashes_after(None, 10).is_err());
    assert!(store.search("oddlength", 10).is_err());
}
