//! The shapes of KRPC messages.

use std::net::SocketAddr;

use infohash::InfoHash;

use crate::{Id20, Nodes, Peers, Samples};

/// Standard KRPC error codes (BEP-5).
pub mod error_code {
    /// 201 Generic Error
    pub const GENERIC: i64 = 201;
    /// 202 Server Error
    pub const SERVER: i64 = 202;
    /// 203 Protocol Error (malformed packet, invalid arguments, bad token)
    pub const PROTOCOL: i64 = 203;
    /// 204 Method Unknown
    pub const METHOD_UNKNOWN: i64 = 204;
}

/// One KRPC message: the envelope plus a query, response or error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Transaction id `t`, chosen by the querier and echoed back.
    pub tid: &'a [u8],
    /// Client version `v` (often 2 letters + 2 version bytes).
    pub version: Option<&'a [u8]>,
    /// BEP-42 `ip`: the address the responder sees the querier at.
    pub ip: Option<SocketAddr>,
    /// BEP-43 `ro=1`: the sender is read-only and must not be added to routing tables.
    pub read_only: bool,
    /// Query, response or error.
    pub kind: Kind<'a>,
}

/// The body of a [`Message`], by `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// `y=q`
    Query(Query<'a>),
    /// `y=r`
    Response(Response<'a>),
    /// `y=e`
    Error(ErrorReply<'a>),
}

/// A query: the sender's id and the method with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<'a> {
    /// The querying node's id (`a.id`).
    pub id: Id20,
    /// What it asks.
    pub method: Method<'a>,
}

/// BEP-32 `want`: which address families the querier wants in `nodes`/`nodes6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    /// `n4`
    pub v4: bool,
    /// `n6`
    pub v6: bool,
}

impl Want {
    /// Whether the field was absent or empty (answer in the querier's own family).
    pub fn is_unspecified(&self) -> bool {
        !self.v4 && !self.v6
    }
}

/// A query method with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// `ping`
    Ping,
    /// `find_node`
    FindNode {
        /// The id sought.
        target: Id20,
        /// BEP-32 families wanted.
        want: Want,
    },
    /// `get_peers`
    GetPeers {
        /// The torrent.
        info_hash: InfoHash,
        /// BEP-32 families wanted.
        want: Want,
        /// BEP-33 `noseed=1`: leave seeds out of `values`.
        noseed: bool,
        /// BEP-33 `scrape=1`: include `BFsd`/`BFpe`.
        scrape: bool,
    },
    /// `announce_peer`
    AnnouncePeer {
        /// The torrent.
        info_hash: InfoHash,
        /// The announced port (ignored when `implied_port`).
        port: u16,
        /// Use the UDP source port instead of `port`.
        implied_port: bool,
        /// The token from an earlier `get_peers` reply.
        token: &'a [u8],
        /// BEP-33 `seed=1`: the announcer is a seed.
        seed: bool,
    },
    /// BEP-51 `sample_infohashes`
    SampleInfohashes {
        /// Where in the keyspace to answer `nodes` from.
        target: Id20,
        /// BEP-32 families wanted.
        want: Want,
    },
    /// A method this codec does not know. BEP-5 asks nodes to answer unknown methods that
    /// carry a `target` or `info_hash` like `find_node`.
    Unknown {
        /// The `q` string.
        name: &'a [u8],
        /// `a.target`, if present and 20 bytes.
        target: Option<Id20>,
        /// `a.info_hash`, if present and 20 bytes.
        info_hash: Option<InfoHash>,
    },
}

impl Method<'_> {
    /// The `q` string on the wire.
    pub fn name(&self) -> &[u8] {
        match self {
            Method::Ping => b"ping",
            Method::FindNode { .. } => b"find_node",
            Method::GetPeers { .. } => b"get_peers",
            Method::AnnouncePeer { .. } => b"announce_peer",
            Method::SampleInfohashes { .. } => b"sample_infohashes",
            Method::Unknown { name, .. } => name,
        }
    }
}

/// A response. Every reply field is optional on the wire; which ones matter depends on the
/// query it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The responder's id.
    pub id: Id20,
    /// IPv4 contacts.
    pub nodes: Nodes<'a>,
    /// IPv6 contacts (BEP-32).
    pub nodes6: Nodes<'a>,
    /// Peers of the torrent (`get_peers`).
    pub values: Peers<'a>,
    /// Write token for a later `announce_peer`.
    pub token: Option<&'a [u8]>,
    /// BEP-51 infohash samples.
    pub samples: Option<Samples<'a>>,
    /// BEP-51 seconds before the responder's sample changes.
    pub interval: Option<i64>,
    /// BEP-51 number of infohashes the responder stores.
    pub num: Option<i64>,
    /// BEP-33 bloom filter of seeds.
    pub bf_seeds: Option<&'a [u8; 256]>,
    /// BEP-33 bloom filter of downloaders.
    pub bf_peers: Option<&'a [u8; 256]>,
}

impl<'a> Response<'a> {
    /// A response with only an id.
    pub fn new(id: Id20) -> Self {
        Response {
            id,
            nodes: Nodes::Compact {
                bytes: &[],
                v6: false,
            },
            nodes6: Nodes::Compact {
                bytes: &[],
                v6: true,
            },
            values: Peers::default(),
            token: None,
            samples: None,
            interval: None,
            num: None,
            bf_seeds: None,
            bf_peers: None,
        }
    }
}

/// An error reply: `e = [code, message]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorReply<'a> {
    /// See [`error_code`].
    pub code: i64,
    /// Human-readable text.
    pub message: &'a [u8],
}
