//! The shared conformance suite against the SQLite backend, in memory and on disk.

use store::{SqliteOptions, SqliteStore, Store};

mod in_memory {
    use super::*;

    testkit::store_conformance_tests!(|| {
        // A small cap keeps the file-cap case quick; the default is exercised on disk.
        let options = SqliteOptions {
            file_cap: 50,
            ..SqliteOptions::default()
        };
        Box::new(SqliteStore::open_in_memory_with(options).unwrap()) as Box<dyn Store>
    });
}

mod on_disk {
    use super::*;

    /// An on-disk store that owns (and on drop removes) its temporary directory.
    struct DiskStore {
        store: SqliteStore,
        _dir: tempfile::TempDir,
    }

    impl AsMut<dyn Store> for DiskStore {
        fn as_mut(&mut self) -> &mut (dyn Store + 'static) {
            &mut self.store
        }
    }

    fn fresh() -> DiskStore {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("bitagent.db")).unwrap();
        DiskStore { store, _dir: dir }
    }

    testkit::store_conformance_tests!(fresh);

    testkit::store_persistence_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        move || {
            Box::new(SqliteStore::open(dir.path().join("bitagent.db")).unwrap()) as Box<dyn Store>
        }
    });
}

#[test]
fn run_all_runs_every_case() {
    testkit::store_conformance::run_all(|| {
        Box::new(SqliteStore::open_in_memory().unwrap()) as Box<dyn Store>
    });
}
