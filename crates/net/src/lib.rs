//! The tokio UDP driver for the sans-IO [`dht::Engine`]: the only crate that touches sockets
//! and the clock.
//!
//! A [`Node`] is a handle on one task that owns one UDP socket and one engine. The task
//! feeds received datagrams to [`dht::Engine::handle_datagram`], sleeps until
//! [`dht::Engine::poll_timeout`] to call [`dht::Engine::handle_timeout`], and after every
//! input or command drains the engine in its documented order: `poll_transmit` (sent with
//! `send_to`; failures are counted, never fatal), then `poll_event` (completing the awaiting
//! [`Node`] calls and forwarded to [`Events`] subscribers).
//!
//! Every queue is bounded: commands wait for room in the command channel, events for a full
//! subscriber are dropped and counted ([`DriverStats::events_dropped`]), and every `Node`
//! method gives up after [`NodeConfig::max_wait`].
//!
//! The TCP side is [`fetch_metadata`]: one torrent's info dictionary from one peer, driving the
//! sans-IO [`peerwire::MetadataFetch`] over a [`tokio::net::TcpStream`] (and
//! [`fetch_from_any`] for several peers of one torrent, concurrently).
//!
//! ```no_run
//! # async fn demo() -> Result<(), net::Error> {
//! use net::{Node, NodeConfig};
//! let node = Node::bind("127.0.0.1:0".parse().unwrap(), NodeConfig::default()).await?;
//! let routers = net::resolve_routers(&["127.0.0.1:6881"], false).await?;
//! let joined = node.bootstrap(routers).await?;
//! println!("{} nodes answered", joined.responses);
//! let peers = node.lookup_peers(infohash::InfoHash::v1([7; 20]), true, Vec::new()).await?;
//! println!("{} peers", peers.peers.len());
//! node.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod command;
mod config;
mod driver;
mod error;
mod fetch;
mod node;
mod resolve;

pub use command::{DirectQuery, LookupRequest};
pub use config::NodeConfig;
pub use error::Error;
pub use fetch::{
    AnyOutcome, FetchFailure, PEER_ID_PREFIX, READ_BUFFER, fetch_from_any, fetch_metadata,
    fetch_metadata_on, peer_id,
};
pub use node::{DriverStats, Events, Node, NodeStats, Response};
pub use resolve::{DEFAULT_ROUTERS, RESOLVE_TIMEOUT, resolve, resolve_routers};

pub use dht;
pub use peerwire;
