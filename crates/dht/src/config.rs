//! Engine configuration. Every table and queue has a cap here.

use std::time::Duration;

/// How strictly remote node ids are checked against their IP (BEP-42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdCheck {
    /// Accept any id.
    Off,
    /// Accept any id, but a verified node may displace an unverified one in a full bucket.
    #[default]
    Prefer,
    /// Never put a node whose id does not match its (public) IP into the routing table.
    Enforce,
}

/// A token-bucket rate: `rate` tokens per second, up to `burst` saved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket capacity.
    pub burst: f64,
}

/// Everything the engine can be tuned by. [`Config::default`] is a polite full node.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed of the engine's only randomness source.
    pub seed: u64,
    /// A fixed node id; by default a random one, replaced by a BEP-42 id once a vote of
    /// peers settles our external IP.
    pub node_id: Option<krpc::Id20>,
    /// How often routing-table maintenance runs (refreshes, pings of questionable nodes).
    pub maintenance_interval: Duration,
    /// Most queued pings of nodes heard about that would fit the routing table.
    pub max_pending_pings: usize,
    /// Bucket size K.
    pub k: usize,
    /// Lookup parallelism.
    pub alpha: usize,
    /// BEP-43 read-only: send `ro=1`, answer no queries.
    pub read_only: bool,
    /// BEP-42 check of remote ids.
    pub id_check: IdCheck,
    /// Client version string sent as `v`.
    pub version: [u8; 4],
    /// Per-destination-IP query budget (default 1/s, burst 4: far below libtorrent's DoS
    /// blocker, which ignores an IP that sends 50 packets in 10 s).
    pub per_ip_query_rate: Rate,
    /// Global outgoing query budget.
    pub global_query_rate: Rate,
    /// Per-source-IP budget for answering queries; beyond it queries are dropped unanswered.
    pub per_ip_answer_rate: Rate,
    /// How long a query may go unanswered before it fails.
    pub query_timeout: Duration,
    /// After this long without an answer, a lookup query stops counting against `alpha`.
    pub lookup_slow_after: Duration,
    /// Failed queries in a row before a node is bad (BEP-5: "multiple").
    pub max_failures: u8,
    /// A node unheard-of for this long is questionable (BEP-5: 15 minutes).
    pub questionable_after: Duration,
    /// A bucket untouched for this long is refreshed (BEP-5: 15 minutes).
    pub bucket_refresh: Duration,
    /// Longest refresh interval reached by backing off an unresponsive segment.
    pub max_refresh_backoff: Duration,
    /// Replacement-cache entries per bucket.
    pub replacements_per_bucket: usize,
    /// Most transactions in flight at once.
    pub max_transactions: usize,
    /// Most queries waiting for budget.
    pub max_pending_queries: usize,
    /// Most concurrent lookups.
    pub max_lookups: usize,
    /// Candidates a lookup keeps (closest first).
    pub lookup_candidates: usize,
    /// Most peers a get_peers lookup collects.
    pub lookup_max_peers: usize,
    /// Most undelivered events before the oldest are dropped.
    pub max_events: usize,
    /// Most undelivered datagrams before new answers are dropped.
    pub max_transmits: usize,
    /// Most infohashes stored from announces.
    pub max_torrents: usize,
    /// Most peers stored per infohash.
    pub max_peers_per_torrent: usize,
    /// How long an announced peer is kept.
    pub peer_ttl: Duration,
    /// Most `values` in one get_peers answer.
    pub max_values_per_reply: usize,
    /// How often the token secret rotates (a token is valid for one to two periods).
    pub token_rotation: Duration,
    /// BEP-51 `interval` we advertise.
    pub sample_interval: Duration,
    /// Most IPs tracked by each rate limiter.
    pub max_tracked_ips: usize,
    /// Distinct voters needed to accept a new external IP.
    pub external_ip_votes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 0,
            node_id: None,
            maintenance_interval: Duration::from_secs(5),
            max_pending_pings: 256,
            k: 20,
            alpha: 3,
            read_only: false,
            id_check: IdCheck::Prefer,
            version: *b"BA\x00\x01",
            per_ip_query_rate: Rate {
                per_second: 1.0,
                burst: 4.0,
            },
            global_query_rate: Rate {
                per_second: 250.0,
                burst: 500.0,
            },
            per_ip_answer_rate: Rate {
                per_second: 5.0,
                burst: 20.0,
            },
            query_timeout: Duration::from_secs(4),
            lookup_slow_after: Duration::from_millis(1000),
            max_failures: 2,
            questionable_after: Duration::from_secs(15 * 60),
            bucket_refresh: Duration::from_secs(15 * 60),
            max_refresh_backoff: Duration::from_secs(4 * 3600),
            replacements_per_bucket: 8,
            max_transactions: 2048,
            max_pending_queries: 1024,
            max_lookups: 64,
            lookup_candidates: 100,
            lookup_max_peers: 500,
            max_events: 8192,
            max_transmits: 4096,
            max_torrents: 10_000,
            max_peers_per_torrent: 200,
            peer_ttl: Duration::from_secs(2 * 3600),
            max_values_per_reply: 50,
            token_rotation: Duration::from_secs(5 * 60),
            sample_interval: Duration::from_secs(6 * 3600),
            max_tracked_ips: 8192,
            external_ip_votes: 3,
        }
    }
}
