//! KRPC, the BitTorrent DHT's message protocol (BEP-5), with the extensions BitAgent speaks:
//! BEP-32 (`nodes6`, `want`), BEP-33 (`scrape`, `noseed`, `BFsd`, `BFpe`), BEP-42 (`ip`),
//! BEP-43 (`ro`) and BEP-51 (`sample_infohashes`).
//!
//! [`Message::decode`] borrows from the datagram and allocates nothing: node lists, peer lists
//! and samples are validated spans iterated lazily. [`Message::encode`] writes into any
//! [`bencode::Sink`]. Responses do not name their method on the wire, so one [`Response`] type
//! carries every optional reply field; the caller matches it to its query by transaction id.
//!
//! Decoding is lenient about unknown keys (they are skipped) and strict about lengths: a
//! `nodes` string that is not a multiple of 26 bytes, a peer that is not 6 or 18 bytes, or a
//! 19-byte id is a [`DecodeError`], never a panic.

#![warn(missing_docs)]
// Sans-IO, enforced: no clock, socket, lock, thread or OS randomness (the list and the reasons
// are in the root clippy.toml). Unit tests are exempt: they may take `Instant::now()` as an
// arbitrary epoch.
#![cfg_attr(not(test), deny(clippy::disallowed_methods, clippy::disallowed_types))]

mod compact;
mod decode;
mod encode;
mod id;
mod message;
mod scrape_filter;

pub use compact::{
    NODE_V4_LEN, NODE_V6_LEN, NodeInfo, Nodes, NodesIter, PEER_V4_LEN, PEER_V6_LEN, Peers,
    PeersIter, Samples, decode_compact_addr, encode_compact_addr, write_compact_node,
};
pub use decode::DecodeError;
pub use id::{Id20, ParseIdError};
pub use message::{ErrorReply, Kind, Message, Method, Query, Response, Want, error_code};
pub use scrape_filter::{ScrapeFilter, estimate as scrape_estimate};
