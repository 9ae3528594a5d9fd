//! The pre-fetch filter stage: every new infohash passes it before any TCP connection.
//!
//! Blocklists and rules plug in here (a later issue); today the crawler runs [`AllowAll`].
//! The stage and its metric (`bitagent_dht_crawler_prefetch_filter_total{verdict}`) exist
//! either way, so what a filter costs and drops is visible from the first run.

use std::net::SocketAddr;

/// What is known about an infohash before fetching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The infohash.
    pub info_hash: [u8; 20],
    /// The node whose BEP-51 sample named it.
    pub source: SocketAddr,
    /// When it was first sampled (Unix seconds).
    pub seen_at: i64,
}

/// A filter's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on: look for peers and fetch.
    Pass,
    /// Never connect for it. The reason is logged at debug level.
    Drop(&'static str),
}

/// A pre-fetch filter. Called on the crawler's sampling task for every new infohash: it must
/// be cheap (O(1) per hash) and must not block.
pub trait PreFetchFilter: Send + Sync + std::fmt::Debug {
    /// Decides about one candidate.
    fn check(&self, candidate: &Candidate) -> Verdict;
}

/// The filter that lets everything through.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl PreFetchFilter for AllowAll {
    fn check(&self, _: &Candidate) -> Verdict {
        Verdict::Pass
    }
}
