//! What can go wrong when talking to a [`Node`](crate::Node).

use std::net::SocketAddr;
use std::time::Duration;

/// An error from the UDP driver or from a query it ran.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The UDP socket could not be created or bound.
    #[error("cannot bind UDP socket to {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The engine refused the command: too many queries or lookups at once.
    #[error("DHT engine busy: {0}")]
    Busy(#[from] dht::Busy),
    /// A direct query got no answer within the engine's query timeout.
    #[error("no answer from {to}")]
    Timeout {
        /// Whom we asked.
        to: SocketAddr,
    },
    /// A direct query was answered with a KRPC error.
    #[error("{to} answered with KRPC error {code}: {message}")]
    Remote {
        /// Whom we asked.
        to: SocketAddr,
        /// KRPC error code (201 generic, 202 server, 203 protocol, 204 method unknown).
        code: i64,
        /// The error text, lossily decoded.
        message: String,
    },
    /// The driver did not deliver a result within [`NodeConfig::max_wait`](crate::NodeConfig).
    /// A safety net only: the engine always finishes queries and lookups by itself.
    #[error("no result after {0:?}")]
    Deadline(Duration),
    /// The node's task has stopped (after [`Node::shutdown`](crate::Node::shutdown)).
    #[error("the DHT node has shut down")]
    Shutdown,
    /// A `HOST:PORT` could not be turned into a socket address.
    #[error("cannot resolve {name:?}: {reason}")]
    Resolve {
        /// What we were given.
        name: String,
        /// Why it failed.
        reason: String,
    },
    /// [`NodeConfig::max_subscribers`](crate::NodeConfig) event streams are already open.
    #[error("too many event subscribers")]
    TooManySubscribers,
}
