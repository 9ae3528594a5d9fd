//! Test and bench support shared by the workspace (a dev-dependency only; nothing here ships in
//! the binary).
//!
//! - [`rng`]: the one seeded RNG every test and bench draws from (ChaCha8), and the seed
//!   convention: `BITAGENT_TEST_SEED` overrides a test's default seed, and a [`rng::SeedGuard`]
//!   prints the seed when the test panics, so a failure can be replayed.
//! - [`wait`]: bounded waits for async tests: [`wait::within`] (a step with a deadline) and
//!   [`wait::eventually`] (poll a condition that has no event to await, bounded in count and
//!   time).
//! - `crawl` (feature `crawl`): a crawler on loopback for end-to-end tests: the shared test
//!   `CrawlerConfig`, a lab started with its timing printed, and `CrawlFixture` (node, SQLite
//!   store in a temporary directory, crawler) with a bounded wait for N persisted torrents.
//! - [`store_conformance`]: the conformance suite every `store::Store` backend runs
//!   ([`store_conformance_tests!`], [`store_persistence_tests!`], or
//!   [`store_conformance::run_all`] with a factory for a fresh store).

#![warn(missing_docs)]

#[cfg(feature = "crawl")]
pub mod crawl;
pub mod rng;
pub mod store_conformance;
pub mod wait;

pub use rng::{SeedGuard, TestRng, seeded};
pub use wait::{eventually, within};
