//! The store's one error type.

/// Everything a [`Store`](crate::Store) operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database was written by a newer BitAgent; opening it could corrupt it.
    #[error(
        "database schema version {found} is newer than this binary supports ({supported}); upgrade bitagent"
    )]
    SchemaTooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this binary knows.
        supported: u32,
    },
    /// The file is a database, but not one of ours.
    #[error("not a BitAgent database: {0}")]
    ForeignDatabase(String),
    /// A search query with no searchable word in it.
    #[error("search query has no words to search for")]
    EmptyQuery,
    /// A search cursor that this backend did not issue (or that belongs to another sort).
    #[error("invalid cursor: {0}")]
    BadCursor(String),
    /// Search text that breaks the query syntax (say where and why).
    #[error("invalid query: {0}")]
    BadQuery(String),
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Filesystem trouble outside SQLite (sizing the WAL, creating the directory).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
