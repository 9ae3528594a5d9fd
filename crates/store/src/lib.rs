//! The torrent store: what the crawler found, kept and searchable.
//!
//! - [`Store`] — the backend-neutral trait (sync, one owner; see its docs for threading and
//!   the semantics every backend honours).
//! - [`SqliteStore`] — the default backend: one SQLite file, FTS5 full-text index, WAL,
//!   versioned migrations ([`sqlite::migrations`]).
//! - The shared conformance suite every backend runs lives in the dev-only `testkit` crate
//!   (`testkit::store_conformance`); `tests/conformance_sqlite.rs` runs it against SQLite.
//! - Plain data: [`TorrentRecord`] and [`Classification`] in, [`Torrent`]/[`Hit`]/
//!   [`StoreStats`]/[`EvictOutcome`] out, keyed by [`InfoHash`]; [`SearchFilter`] narrows a
//!   search. The crate depends on no other BitAgent crate; the crawler maps its parsed
//!   info dict into a [`TorrentRecord`].
//!
//! The store never reads the clock: times are Unix seconds passed in by the caller.

mod error;
mod query;
pub mod sqlite;
mod store;
mod types;

pub use error::{Error, Result};
pub use query::{MAX_QUERY_WORDS, SearchQuery};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::{DEFAULT_FILE_CAP, Store};
pub use types::{
    Classification, EvictOutcome, FileEntry, Hit, InfoHash, ParseInfoHashError, PutOutcome,
    SearchFilter, StoreStats, SwarmUpdate, TableSize, Torrent, TorrentRecord, UnixSeconds,
};
