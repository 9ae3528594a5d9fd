//! What the engine hands back: datagrams to send, and events for the application.

use std::net::SocketAddr;

use infohash::InfoHash;
use krpc::{Id20, NodeInfo};

/// Handle of a single query started with one of the engine's direct-query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// Handle of an iterative lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// A datagram for the driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub dst: SocketAddr,
    /// Encoded KRPC message.
    pub data: Vec<u8>,
}

/// An owned copy of a KRPC response, delivered for direct queries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    /// The responder's id.
    pub id: Id20,
    /// Its `v`, if any.
    pub version: Option<Vec<u8>>,
    /// BEP-42 `ip`: where it sees us.
    pub our_addr: Option<SocketAddr>,
    /// `nodes` and `nodes6`, in that order.
    pub nodes: Vec<NodeInfo>,
    /// `values`.
    pub peers: Vec<SocketAddr>,
    /// Write token.
    pub token: Option<Vec<u8>>,
    /// BEP-51 samples.
    pub samples: Vec<InfoHash>,
    /// BEP-51 interval (seconds).
    pub interval: Option<i64>,
    /// BEP-51 num.
    pub num: Option<i64>,
    /// BEP-33 seeds estimate from `BFsd`.
    pub scrape_seeds: Option<f64>,
    /// BEP-33 downloaders estimate from `BFpe`.
    pub scrape_peers: Option<f64>,
}

/// Why a direct query failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFailure {
    /// No answer within the query timeout.
    Timeout,
    /// A KRPC error reply.
    Error {
        /// Error code.
        code: i64,
        /// Message (lossy UTF-8).
        message: String,
    },
}

/// The outcome of an iterative lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupResult {
    /// The handle returned when it started.
    pub id: LookupId,
    /// The target id, or a get_peers lookup's infohash as a key (`InfoHash::from(target)`).
    pub target: Id20,
    /// Up to K closest nodes that answered, closest first, with their write tokens.
    pub closest: Vec<(NodeInfo, Option<Vec<u8>>)>,
    /// Peers found (get_peers), deduplicated.
    pub peers: Vec<SocketAddr>,
    /// BEP-33 estimate of seeds (union of all `BFsd` received), if any node sent one.
    pub scrape_seeds: Option<f64>,
    /// BEP-33 estimate of downloaders (union of all `BFpe`).
    pub scrape_peers: Option<f64>,
    /// Queries sent.
    pub queries: u32,
    /// Answers received.
    pub responses: u32,
}

/// Something the application may want to know. Drain with `Engine::poll_event`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A node entered the routing table.
    NodeAdded(NodeInfo),
    /// A direct query was answered.
    Reply {
        /// Which query.
        query: QueryId,
        /// Where the answer came from.
        from: SocketAddr,
        /// The answer.
        reply: Reply,
        /// Time from sending the query (after any budget wait) to the answer.
        rtt: std::time::Duration,
    },
    /// A direct query failed.
    QueryFailed {
        /// Which query.
        query: QueryId,
        /// Whom it was sent to.
        to: SocketAddr,
        /// Why.
        reason: QueryFailure,
    },
    /// BEP-51 samples arrived (from any sample_infohashes reply, direct or not).
    Samples {
        /// The responder.
        from: NodeInfo,
        /// The infohashes.
        hashes: Vec<InfoHash>,
        /// Seconds before its sample changes.
        interval: Option<i64>,
        /// How many infohashes it stores.
        num: Option<i64>,
    },
    /// An iterative lookup finished.
    LookupDone(LookupResult),
    /// A peer announced itself to us.
    Announced {
        /// The torrent.
        info_hash: InfoHash,
        /// The peer's address.
        peer: SocketAddr,
    },
    /// A vote of `ip` fields settled on a new external address; our id was regenerated.
    ExternalIp {
        /// The address peers see us at.
        ip: std::net::IpAddr,
        /// Our new id.
        new_id: Id20,
    },
}
