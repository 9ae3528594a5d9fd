//! A sans-IO BitTorrent mainline DHT node.
//!
//! [`Engine`] is the whole node: routing table, transactions, iterative lookups, answers to
//! queries, write tokens, BEP-42 ids and checks, BEP-51 samples, and politeness budgets. It does
//! no IO: a driver (the `net` crate, or the `sim` crate's virtual network) feeds it datagrams
//! and the time, and sends what it asks to send. See [`Engine`] for the call protocol.
//!
//! BEPs: 5 (DHT), 32 (IPv6 fields), 33 (scrape), 42 (id/IP binding), 43 (read-only), 51
//! (sample_infohashes).

#![warn(missing_docs)]
// Sans-IO, enforced: no clock, socket, lock, thread or OS randomness (the list and the reasons
// are in the root clippy.toml). Unit tests are exempt: they may take `Instant::now()` as an
// arbitrary epoch.
#![cfg_attr(not(test), deny(clippy::disallowed_methods, clippy::disallowed_types))]

pub mod bep42;
mod config;
mod engine;
mod event;
mod ip_vote;
mod lookup;
mod peer_store;
pub mod rate_limit;
mod responder;
pub mod routing_table;
mod stats;
mod token;
mod transactions;

pub use config::{Config, IdCheck, Rate};
pub use engine::{Busy, Engine};
pub use event::{Event, LookupId, LookupResult, QueryFailure, QueryId, Reply, Transmit};
pub use krpc::{Id20, NodeInfo};
pub use lookup::LookupKind;
pub use stats::{PerMethod, RTT_BUCKETS_MS, RttHistogram, Stats};
