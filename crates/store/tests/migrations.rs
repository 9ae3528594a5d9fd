//! Opening, migrating and refusing databases; SQLite-specific settings and checks.

use rusqlite::Connection;
use store::sqlite::migrations::{APPLICATION_ID, latest_version};
use store::{Error, SqliteStore, Store, conformance::test_record};

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
        store.block(&[store::conformance::test_hash(2)], 1).unwrap();
    }
    let store = SqliteStore::open(db_path(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    assert_eq!(store.search("persisted", 10).unwrap().len(), 1);
    assert!(store.is_blocked(&store::conformance::test_hash(2)).unwrap());
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
