//! How a crawl is tuned. [`CrawlerConfig::scaled`] derives everything from
//! `DHT_SCALING_FACTOR`.

use std::path::PathBuf;
use std::time::Duration;

use peerwire::FetchConfig;
use rand::{RngCore as _, SeedableRng as _};

use crate::diagnosis::DiagnosisConfig;
use crate::planner::crawl_table::CrawlTableConfig;
use crate::writer::WriterConfig;

/// Everything the crawler can be tuned by.
#[derive(Debug, Clone)]
pub struct CrawlerConfig {
    /// The scaling factor these numbers were derived from (reported in logs and stats).
    pub scaling_factor: u32,
    /// Bootstrap seeds as `HOST:PORT`, resolved at start (and again if all fail).
    pub bootstrap: Vec<String>,
    /// Where the routing table is saved (on shutdown and every `save_nodes_every`) and read
    /// back at start; `None` keeps nothing.
    pub nodes_file: Option<PathBuf>,
    /// How often the routing table is saved while running.
    pub save_nodes_every: Duration,
    /// Routing-table nodes before BEP-51 sampling starts.
    pub sample_threshold: usize,
    /// Start sampling anyway when the routing table has not grown for this long.
    pub stall_after: Duration,
    /// The crawl table.
    pub crawl_table: CrawlTableConfig,
    /// Hashes per generation of the in-memory seen filter.
    pub seen_capacity: usize,
    /// Most sample (or discovery) queries in flight.
    pub sample_concurrency: usize,
    /// Most infohashes in progress at once (waiting for peers from the DHT, or fetching).
    /// Most of that time is spent waiting for a sampling node's query budget, so this is
    /// larger than the TCP cap.
    pub resolve_concurrency: usize,
    /// Most infohashes whose metadata is being fetched over TCP at once (the global fetch
    /// cap; each may hold `peers_in_parallel` connections).
    pub fetch_concurrency: usize,
    /// Candidates of one sampling node resolved at once (its answers come at most once a
    /// second: the engine's per-IP budget).
    pub per_source_in_flight: usize,
    /// Peers tried per infohash (in order).
    pub peers_per_hash: usize,
    /// Peers of one infohash connected to at once.
    pub peers_in_parallel: usize,
    /// Limits and deadlines of one metadata exchange (size cap, timeouts).
    pub fetch: FetchConfig,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Candidates waiting for a fetch slot. Sampling pauses while the queue is above half of
    /// this (back-pressure), so it only overflows (counted) on bursts.
    pub candidate_queue: usize,
    /// Files kept per torrent (the rest are counted, not listed).
    pub file_cap: usize,
    /// Ask for a BEP-33 scrape for each fetched torrent.
    pub scrape: bool,
    /// The store writer.
    pub writer: WriterConfig,
    /// Starvation and thrash thresholds.
    pub diagnosis: DiagnosisConfig,
    /// The TCP port we advertise to peers (BEP-10 `p`).
    pub peer_port: u16,
    /// Seeds the planner's RNG (sampling targets): the same seed gives the same decisions
    /// for the same inputs. [`CrawlerConfig::scaled`] draws one from the OS; the crawler logs
    /// it at start.
    pub seed: u64,
}

impl Default for CrawlerConfig {
    fn default() -> Self {
        Self::scaled(1)
    }
}

impl CrawlerConfig {
    /// The configuration for `DHT_SCALING_FACTOR = factor` (clamped to 1..=100). Factor 1 is
    /// sized for a home server (a few tens of MB); each step adds the same amount again of
    /// crawl table, seen filter, sampling and fetch concurrency.
    pub fn scaled(factor: u32) -> Self {
        let f = factor.clamp(1, 100) as usize;
        let fetch = FetchConfig {
            total_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(8),
            piece_timeout: Duration::from_secs(8),
            ..FetchConfig::default()
        };
        Self {
            scaling_factor: f as u32,
            bootstrap: net::DEFAULT_ROUTERS.iter().map(|s| s.to_string()).collect(),
            nodes_file: None,
            save_nodes_every: Duration::from_secs(300),
            sample_threshold: 300,
            stall_after: Duration::from_secs(30),
            crawl_table: CrawlTableConfig {
                capacity: 10_000 * f,
                ..CrawlTableConfig::default()
            },
            seen_capacity: 500_000 * f,
            sample_concurrency: 16 * f,
            resolve_concurrency: 128 * f,
            fetch_concurrency: 32 * f,
            per_source_in_flight: 2,
            peers_per_hash: 8,
            peers_in_parallel: 3,
            fetch,
            connect_timeout: Duration::from_secs(5),
            candidate_queue: 4096 * f,
            file_cap: store::DEFAULT_FILE_CAP,
            scrape: true,
            writer: WriterConfig::default(),
            diagnosis: DiagnosisConfig::default(),
            peer_port: 3334,
            seed: rand::rngs::StdRng::from_os_rng().next_u64(),
        }
    }

    /// The DHT node configuration that goes with this crawl: read-only (BEP-43), query
    /// budgets and queues scaled with the factor.
    pub fn node_config(&self, seed: u64) -> net::NodeConfig {
        let f = f64::from(self.scaling_factor);
        let mut n = net::NodeConfig::default();
        n.dht.seed = seed;
        n.dht.read_only = true;
        n.dht.global_query_rate = dht::Rate {
            per_second: 250.0 * f,
            burst: 500.0 * f,
        };
        let fu = self.scaling_factor as usize;
        n.dht.max_pending_queries = 2048 * fu;
        n.dht.max_transactions = 2048 * fu;
        n.dht.max_lookups = 64 * fu;
        n.command_capacity = 1024;
        n
    }
}
