//! The planner's vocabulary with its driver: the actions it asks for, how query failures
//! come back, the busy-retry rule, and the counters of its decisions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use dht::Id20;
use infohash::InfoHash;

#[cfg(doc)]
use super::Planner;
use super::Swarm;
use crate::filter::Candidate;

/// Identifies one candidate's resolution in [`Action`]s and `handle_*` calls.
pub type ResolveId = u64;

/// Why a direct query failed, as far as the planner cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// No answer.
    Timeout,
    /// A KRPC error answer.
    Remote,
    /// The engine was at a cap (after the retries [`busy_retry`] allows).
    Busy,
    /// Anything else (local).
    Other,
}

/// How long to wait before retrying a query the engine refused as busy, after `attempt`
/// earlier retries; `None`: give up.
pub fn busy_retry(attempt: u32) -> Option<Duration> {
    (attempt < 5).then(|| Duration::from_millis(200 * u64::from(attempt + 1)))
}

/// Something the planner wants done. Each names the `handle_*` call its result goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Discovery: `find_node` at `addr` → [`Planner::handle_find_node`].
    FindNode {
        /// The node.
        addr: SocketAddr,
        /// The target.
        target: Id20,
    },
    /// BEP-51 `sample_infohashes` at `addr` → [`Planner::handle_sample`].
    Sample {
        /// The node.
        addr: SocketAddr,
        /// The target.
        target: Id20,
    },
    /// Read the node's routing table → [`Planner::handle_routing_table`] (nothing on error).
    ReadRoutingTable,
    /// Look these hashes up in the store → [`Planner::handle_stored`].
    CheckStored {
        /// The hashes.
        hashes: Vec<InfoHash>,
    },
    /// Mark these stored hashes as seen again at `at` (Unix seconds). No answer.
    Touch {
        /// The hashes.
        hashes: Vec<InfoHash>,
        /// When.
        at: i64,
    },
    /// `get_peers` at the sampling node → [`Planner::handle_peers`].
    GetPeers {
        /// The resolution.
        id: ResolveId,
        /// The sampling node.
        source: SocketAddr,
        /// The infohash.
        info_hash: InfoHash,
    },
    /// A BEP-33 scrape (`get_peers` with `scrape=1`) at the sampling node →
    /// [`Planner::handle_scrape`].
    Scrape {
        /// The resolution.
        id: ResolveId,
        /// The sampling node.
        source: SocketAddr,
        /// The infohash.
        info_hash: InfoHash,
    },
    /// An iterative `get_peers` lookup (with scrape if configured) →
    /// [`Planner::handle_lookup`].
    Lookup {
        /// The resolution.
        id: ResolveId,
        /// The infohash.
        info_hash: InfoHash,
        /// A node to start from, besides the routing table.
        seed: Option<SocketAddr>,
    },
    /// Fetch the metadata from these peers, in order (a TCP slot is reserved for it) →
    /// [`Planner::handle_fetch`].
    Fetch {
        /// The resolution.
        id: ResolveId,
        /// The infohash.
        info_hash: InfoHash,
        /// The peers.
        peers: Vec<SocketAddr>,
    },
    /// Fetched: make the record (with `swarm`), run the post-fetch stage, store it →
    /// [`Planner::handle_finished`] once done (the candidate's slot is held until then).
    Finish {
        /// The resolution.
        id: ResolveId,
        /// The candidate.
        candidate: Candidate,
        /// The BEP-33 estimate, if any.
        swarm: Option<Swarm>,
        /// Time since the resolution started.
        took: Duration,
    },
}

/// Counters of the planner's decisions (the driver copies them into [`crate::Metrics`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Infohashes received in samples.
    pub samples_received: u64,
    /// Sampled infohashes the seen filter knew.
    pub dedup_seen: u64,
    /// New infohashes the store did not have.
    pub dedup_new: u64,
    /// New infohashes the store had.
    pub dedup_stored: u64,
    /// Pre-fetch filter passes.
    pub prefilter_pass: u64,
    /// Pre-fetch filter drops.
    pub prefilter_drop: u64,
    /// Swarm check passes.
    pub swarm_pass: u64,
    /// Swarm check drops.
    pub swarm_drop: u64,
    /// Candidates dropped because the queue was full.
    pub candidate_drops: u64,
    /// Resolutions by outcome (`ok` or a failure cause).
    pub fetch: BTreeMap<&'static str, u64>,
}
