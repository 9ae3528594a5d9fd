//! BitAgent's crawl pipeline: from BEP-51 samples to verified metadata in the store.
//!
//! It owns the crawl policy and the tasks that carry it out, on top of the DHT node (`net`,
//! `dht`), the metadata fetch (`peerwire` through `net`), the filters (`classify`) and the
//! `store`. The policy is the sans-IO [`planner`]: it reads no clock, opens no socket and takes
//! no lock, and its `#![deny(clippy::disallowed_methods, clippy::disallowed_types)]` (the ban
//! list is the workspace's `clippy.toml`) enforces that; the rest is the thin tokio layer that
//! performs its IO. Nothing below may depend on the crawler: only `bitagent` and the dev-only
//! `testkit` (feature `crawl`) do.
//!
//! Stages, in order (decided by the sans-IO [`planner`], performed by the tasks of
//! [`Crawler`]):
//! 1. bootstrap from the seeds and the routing table saved last time ([`nodes_file`]);
//! 2. a [`crawl_table`] of sampling candidates, fed by the `nodes` of every reply, sampled
//!    with `sample_infohashes` (BEP-51, `ro=1`) at the pace each node's `interval` allows;
//! 3. [`dedup`]: a rotating bloom filter, then a batched store lookup;
//! 4. the [`filter`] hook (before any TCP connection);
//! 5. `get_peers` to the sampling node (an iterative lookup if it has none), BEP-33 scrape;
//! 6. BEP-9 metadata over TCP (`net::fetch_from_any`, sans-IO `peerwire` underneath);
//! 7. batched, transactional writes ([`writer`]); the disk budget is enforced on the writer
//!    in bounded eviction jobs ([`retention`]).
//!
//! Everything is bounded by [`CrawlerConfig`] (scaled by `DHT_SCALING_FACTOR`) and counted in
//! [`Metrics`]; [`diagnosis`] turns the numbers into advice (starvation, thrash).

#![warn(missing_docs)]

mod config;
mod crawler;
pub mod diagnosis;
mod driver;
pub mod filter;
mod housekeeper;
pub mod http;
mod io;
pub mod metrics;
pub mod nodes_file;
pub mod planner;
mod record;
pub mod retention;
pub mod stages;
pub mod writer;

pub use config::CrawlerConfig;
pub use crawler::{Crawler, Status, status_of, unix_now};
pub use filter::{AllowAll, Candidate, PreFetchFilter, Verdict};
pub use metrics::Metrics;
pub use planner::{crawl_table, dedup, fair_queue};
pub use record::to_record;
