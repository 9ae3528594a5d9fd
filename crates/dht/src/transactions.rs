//! Outstanding queries, keyed by transaction id, with deadlines.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Instant;

use infohash::InfoHash;
use krpc::Id20;

use crate::event::{LookupId, QueryId};

/// Why a query was sent; decides where its answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Part of a lookup; `seed` when sent to a router address with no known id.
    Lookup {
        /// The lookup.
        lookup: LookupId,
        /// Sent to a bootstrap address.
        seed: bool,
    },
    /// A direct query the application asked for.
    Direct(QueryId),
    /// Table maintenance: checking a questionable node or one we heard about.
    Maintenance,
}

/// A query to send, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// `ping`
    Ping,
    /// `find_node`
    FindNode(Id20),
    /// `get_peers`
    GetPeers {
        /// The torrent.
        info_hash: InfoHash,
        /// BEP-33 scrape.
        scrape: bool,
    },
    /// `sample_infohashes`
    Sample(Id20),
    /// `announce_peer`
    Announce {
        /// The torrent.
        info_hash: InfoHash,
        /// Our peer port.
        port: u16,
        /// Use the UDP source port.
        implied_port: bool,
        /// Token from `get_peers`.
        token: Vec<u8>,
    },
}

impl Outgoing {
    /// The wire method name.
    pub(crate) fn name(&self) -> &'static [u8] {
        match self {
            Self::Ping => b"ping",
            Self::FindNode(_) => b"find_node",
            Self::GetPeers { .. } => b"get_peers",
            Self::Sample(_) => b"sample_infohashes",
            Self::Announce { .. } => b"announce_peer",
        }
    }
}

/// One outstanding query.
#[derive(Debug, Clone)]
pub(crate) struct Txn {
    /// Where it went.
    pub dst: SocketAddr,
    /// What it asked.
    pub method: &'static [u8],
    /// Why.
    pub purpose: Purpose,
    /// When it was sent.
    pub sent: Instant,
    /// When it times out.
    pub deadline: Instant,
}

/// The transaction table.
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    map: BTreeMap<u32, Txn>,
    deadlines: BTreeSet<(Instant, u32)>,
}

impl Transactions {
    /// Number outstanding.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether `tid` is in use.
    pub(crate) fn contains(&self, tid: u32) -> bool {
        self.map.contains_key(&tid)
    }

    /// Registers a sent query.
    pub(crate) fn insert(&mut self, tid: u32, txn: Txn) {
        self.deadlines.insert((txn.deadline, tid));
        self.map.insert(tid, txn);
    }

    /// Removes and returns the query `tid` if it was sent to `from` (a reply from any other
    /// address is not an answer to it).
    pub(crate) fn take(&mut self, tid: &[u8], from: SocketAddr) -> Option<Txn> {
        let tid = u32::from_be_bytes(<[u8; 4]>::try_from(tid).ok()?);
        let t = self.map.get(&tid)?;
        if t.dst != from {
            return None;
        }
        let t = self.map.remove(&tid)?;
        self.deadlines.remove(&(t.deadline, tid));
        Some(t)
    }

    /// Removes and returns every query whose deadline has passed.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Txn> {
        let mut out = Vec::new();
        while let Some(&(d, tid)) = self.deadlines.first() {
            if d > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(t) = self.map.remove(&tid) {
                out.push(t);
            }
        }
        out
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Whether a query to `addr` is outstanding.
    pub(crate) fn to_addr(&self, addr: &SocketAddr) -> bool {
        self.map.values().any(|t| t.dst == *addr)
    }
}
