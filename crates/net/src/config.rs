//! Driver configuration: the engine's [`dht::Config`] plus the driver's own queue sizes.

use std::time::Duration;

/// How a [`Node`](crate::Node) is set up. [`NodeConfig::default`] wraps
/// [`dht::Config::default`] (a polite full node with seed 0: set `dht.seed` per process).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The engine's configuration.
    pub dht: dht::Config,
    /// Capacity of the command channel from [`Node`](crate::Node) handles to the driver task.
    /// A full channel makes callers wait (back-pressure), it never grows.
    pub command_capacity: usize,
    /// Capacity of each event stream opened with [`Node::subscribe`](crate::Node::subscribe).
    /// When a subscriber's queue is full, new events for it are dropped and counted in
    /// [`DriverStats::events_dropped`](crate::DriverStats).
    pub event_capacity: usize,
    /// Most event streams open at once.
    pub max_subscribers: usize,
    /// Requested kernel receive buffer (`SO_RCVBUF`) in bytes; `None` keeps the OS default.
    /// A failure to set it is logged and ignored.
    pub recv_buffer_bytes: Option<usize>,
    /// Longest a [`Node`](crate::Node) method waits for the driver to deliver a result before
    /// returning [`Error::Deadline`](crate::Error::Deadline). The engine times out queries and
    /// lookups by itself; this only bounds every await even if that ever fails.
    pub max_wait: Duration,
    /// Most datagrams read in one go before the driver sends what the engine produced.
    pub recv_batch: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            dht: dht::Config::default(),
            command_capacity: 256,
            event_capacity: 4096,
            max_subscribers: 16,
            recv_buffer_bytes: Some(1 << 20),
            max_wait: Duration::from_secs(300),
            recv_batch: 64,
        }
    }
}
