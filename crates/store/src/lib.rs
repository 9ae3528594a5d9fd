//! The torrent store: what the crawler found, kept and searchable.
//!
//! It owns BitAgent's persistent state: the [`Store`] trait, its SQLite backend (schema and
//! migrations, full-text search, eviction to a disk budget) and the plain data that crosses it.
//! It is synchronous and passive: no network, no async runtime, no clock (times come in as
//! Unix seconds), and none of the crates that drive it (`crawler`, `net`, `dht`, `classify`,
//! `bitagent`). The crawler's writer thread owns the one writing store; `bitagent search` and
//! `stats` open their own.
//!
//! - [`Store`] — the backend-neutral trait (sync, one owner; see its docs for threading and
//!   the semantics every backend honours).
//! - [`SqliteStore`] — the default backend: one SQLite file, FTS5 full-text index, WAL,
//!   versioned migrations ([`sqlite::migrations`]).
//! - The shared conformance suite every backend runs lives in the dev-only `testkit` crate
//!   (`testkit::store_conformance`); `tests/conformance_sqlite.rs` runs it against SQLite.
//! - Plain data: [`TorrentRecord`] and [`Classification`] in, [`Torrent`]/[`Hit`]/
//!   [`StoreStats`]/[`EvictOutcome`] out, keyed by [`InfoHash`]; [`SearchFilter`] narrows a
//!   search. Of the other BitAgent crates it uses only `infohash` (the one torrent identity
//!   type, re-exported here); the crawler maps its parsed info dict into a [`TorrentRecord`].

#![warn(missing_docs)]

mod error;
mod query;
mod request;
pub mod sqlite;
mod store;
mod types;

pub use error::{Error, Result};
pub use query::{MAX_QUERY_WORDS, SearchQuery};
pub use request::{MAX_PAGE, Order, SearchPage, SearchRequest, SortKey};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::{DEFAULT_FILE_CAP, Store};
pub use types::{
    Classification, EvictOutcome, FileEntry, Hit, InfoHash, ParseInfoHashError, PutOutcome,
    SearchFilter, StoreStats, SwarmUpdate, TableSize, Torrent, TorrentRecord, UnixSeconds,
};
