//! The crawler's decision points, as traits the binary plugs its rules into.
//!
//! - [`PreFetchFilter::check`]: every new infohash, before anything is sent for it (the
//!   double-hash blocklist, rules over the infohash and its sampling node).
//! - [`PreFetchFilter::check_swarm`]: after `get_peers` (and the BEP-33 scrape, when
//!   [`PreFetchFilter::wants_swarm`]), before any TCP connection (rules over peer counts).
//! - [`PostFetch::decide`]: verified metadata, before it is stored (classification, drops,
//!   retention).
//!
//! The crawler runs [`AllowAll`] for both when given nothing. The stages and their metrics
//! (`bitagent_dht_crawler_prefetch_filter_total{verdict}`,
//! `bitagent_dht_crawler_postfetch_total{verdict}`) exist either way.

use std::net::SocketAddr;

use infohash::InfoHash;
use store::TorrentRecord;

/// What is known about an infohash before fetching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The infohash.
    pub info_hash: InfoHash,
    /// The node whose BEP-51 sample named it.
    pub source: SocketAddr,
    /// When it was first sampled (Unix seconds).
    pub seen_at: i64,
}

/// What `get_peers` and the scrape found, for [`PreFetchFilter::check_swarm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwarmFacts {
    /// Peers returned.
    pub peers: usize,
    /// BEP-33 seeders estimate, if scraped.
    pub seeders: Option<u32>,
    /// BEP-33 leechers estimate, if scraped.
    pub leechers: Option<u32>,
    /// How many samples named the infohash while it waited (at least 1).
    pub times_seen: u32,
}

/// A pre-fetch decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Pass,
    /// Never connect for it. The reason (a rule name, or `blocklist`) is counted and logged at
    /// debug level.
    Drop(String),
}

/// A pre-fetch filter. Called on the crawler's tasks for every new infohash: it must be cheap
/// (O(1) per hash for `check`) and must not block.
pub trait PreFetchFilter: Send + Sync + std::fmt::Debug {
    /// Decides about a new infohash, before anything is sent for it.
    fn check(&self, candidate: &Candidate) -> Verdict;

    /// Whether [`check_swarm`](PreFetchFilter::check_swarm) needs the BEP-33 scrape: the crawler
    /// then waits for it before connecting (otherwise it scrapes alongside the fetch).
    fn wants_swarm(&self) -> bool {
        false
    }

    /// Decides once peers (and, if wanted, the scrape) are known, before any TCP connection.
    fn check_swarm(&self, _candidate: &Candidate, _swarm: &SwarmFacts) -> Verdict {
        Verdict::Pass
    }
}

/// A post-fetch decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostVerdict {
    /// Store the record (as the filter may have annotated it).
    Keep,
    /// Do not store it. With `block`, remember the infohash so it is never fetched again.
    Drop {
        /// The rule that decided.
        rule: String,
        /// Block the infohash forever.
        block: bool,
    },
}

/// The post-fetch stage: classifies a verified torrent (it may set the record's content type,
/// tags and attributes) and decides whether it is kept.
pub trait PostFetch: Send + Sync + std::fmt::Debug {
    /// Decides about one verified torrent.
    fn decide(&self, record: &mut TorrentRecord) -> PostVerdict;
}

/// Lets everything through, at both stages.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl PreFetchFilter for AllowAll {
    fn check(&self, _: &Candidate) -> Verdict {
        Verdict::Pass
    }
}

impl PostFetch for AllowAll {
    fn decide(&self, _: &mut TorrentRecord) -> PostVerdict {
        PostVerdict::Keep
    }
}
