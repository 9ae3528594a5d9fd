//! Requests from [`Node`](crate::Node) handles to the driver task, and what they ask for.

use std::net::SocketAddr;

use dht::{Event, Id20, LookupId, LookupResult, NodeInfo};
use infohash::InfoHash;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::node::{NodeStats, Response};

/// One direct query to one address (the engine's `ping`, `find_node_at`, `sample`,
/// `get_peers_at` and `announce_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectQuery {
    /// `ping`.
    Ping,
    /// `find_node` for `target`.
    FindNode {
        /// The id whose neighbours we want.
        target: Id20,
    },
    /// BEP-51 `sample_infohashes`.
    Sample {
        /// Selects which part of the responder's table comes back in `nodes`.
        target: Id20,
    },
    /// `get_peers`, optionally with a BEP-33 scrape.
    GetPeers {
        /// The torrent.
        info_hash: InfoHash,
        /// Ask for the `BFsd`/`BFpe` bloom filters.
        scrape: bool,
    },
    /// `announce_peer` with a token the responder gave us.
    Announce {
        /// The torrent.
        info_hash: InfoHash,
        /// Our peer port, or `None` for `implied_port`.
        port: Option<u16>,
        /// The write token from its `get_peers` answer.
        token: Vec<u8>,
    },
}

impl DirectQuery {
    /// The KRPC method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::FindNode { .. } => "find_node",
            Self::Sample { .. } => "sample_infohashes",
            Self::GetPeers { .. } => "get_peers",
            Self::Announce { .. } => "announce_peer",
        }
    }
}

/// An iterative lookup (the engine's `bootstrap`, `find_node` and `get_peers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupRequest {
    /// Join through these routers (ids unknown); an empty list reuses the last ones given.
    Bootstrap(Vec<SocketAddr>),
    /// Find the nodes closest to `target`.
    FindNode(Id20),
    /// Find peers (and optionally a BEP-33 swarm estimate) for `info_hash`.
    GetPeers {
        /// The torrent.
        info_hash: InfoHash,
        /// Ask for BEP-33 scrape estimates.
        scrape: bool,
        /// Addresses to ask first, e.g. the node that sampled the hash.
        seeds: Vec<SocketAddr>,
    },
}

pub(crate) type Reply<T> = oneshot::Sender<T>;

#[derive(Debug)]
pub(crate) enum Command {
    Query {
        addr: SocketAddr,
        query: DirectQuery,
        reply: Reply<Result<Response, Error>>,
    },
    Lookup {
        request: LookupRequest,
        started: Reply<Result<LookupId, Error>>,
        done: Option<Reply<LookupResult>>,
    },
    AddLocalPeer {
        info_hash: InfoHash,
        peer: SocketAddr,
        seed: bool,
        reply: Reply<bool>,
    },
    Stats(Reply<NodeStats>),
    RoutingTable(Reply<Vec<NodeInfo>>),
    Subscribe {
        events: mpsc::Sender<Event>,
        reply: Reply<Result<(), Error>>,
    },
    Shutdown(Reply<()>),
}
